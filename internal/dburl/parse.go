package dburl

import (
	"fmt"
	"net/url"
	"strings"
)

// DB says which database a DATABASE_URL names.
type DB struct {
	Kind string // "sqlite" or "postgres"
	Path string // SQLite file
	URL  string // PostgreSQL connection string
}

// Parse reads a DATABASE_URL: sqlite:PATH, file:PATH, postgres://… or
// postgresql://…. Its error lists the accepted forms.
func Parse(s string) (DB, error) {
	forms := "accepted forms: sqlite:PATH (e.g. sqlite:clerksync.db), file:PATH, " +
		"postgres://USER:PASSWORD@HOST:5432/DB or postgresql://…"
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return DB{}, fmt.Errorf("DATABASE_URL is empty; %s", forms)
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		u, err := url.Parse(s)
		if err != nil {
			// url.Parse's error would echo the password; say where instead.
			return DB{}, fmt.Errorf("DATABASE_URL is not a valid URL (check for unescaped characters in the password: %%-encode @ : / ?); %s", forms)
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return DB{}, fmt.Errorf("DATABASE_URL %q has no host; %s", Redact(s), forms)
		}
		return DB{Kind: "postgres", URL: s}, nil
	case strings.HasPrefix(s, "sqlite:"), strings.HasPrefix(s, "file:"):
		path := s[strings.IndexByte(s, ':')+1:]
		path = strings.TrimPrefix(path, "//")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			return DB{}, fmt.Errorf("DATABASE_URL %q has query parameters; clerksync sets the SQLite options itself (WAL, synchronous=FULL), give only the path; %s", Redact(s), forms)
		}
		if path == "" {
			return DB{}, fmt.Errorf("DATABASE_URL %q names no file; %s", Redact(s), forms)
		}
		if path == ":memory:" {
			return DB{}, fmt.Errorf("DATABASE_URL %q: an in-memory database would lose every change on restart; give a file path; %s", Redact(s), forms)
		}
		return DB{Kind: "sqlite", Path: path}, nil
	}
	scheme, _, found := strings.Cut(s, ":")
	if !found {
		hint := ""
		if strings.Contains(s, "=") {
			hint = " (a key=value connection string: give it as postgres://USER:PASSWORD@HOST:5432/DB)"
		}
		return DB{}, fmt.Errorf("DATABASE_URL %q has no scheme%s; %s", Redact(s), hint, forms)
	}
	return DB{}, fmt.Errorf("DATABASE_URL scheme %q is not supported; %s", scheme, forms)
}

// String returns the database for logs, with any password hidden (in the user info
// and in query parameters alike).
func (d DB) String() string {
	if d.Kind == "sqlite" {
		return "sqlite:" + d.Path
	}
	return Redact(d.URL)
}
