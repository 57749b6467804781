package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/clerksync/clerksync/devemu"
	"github.com/clerksync/clerksync/internal/dburl"
	"github.com/clerksync/clerksync/session"
	"github.com/clerksync/clerksync/web"
)

// liveKeyEnv are the variables in which a Clerk key may sit in an application's .env;
// dev refuses to start when any holds a production key.
var liveKeyEnv = []string{
	"CLERK_SECRET_KEY", "CLERK_PUBLISHABLE_KEY", "NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY",
	"VITE_CLERK_PUBLISHABLE_KEY", "PUBLIC_CLERK_PUBLISHABLE_KEY", "EXPO_PUBLIC_CLERK_PUBLISHABLE_KEY",
	"REACT_APP_CLERK_PUBLISHABLE_KEY", "CLERK_API_KEY",
}

// devPassEnv are the settings dev passes on to serve from the environment; the rest
// of the environment (DATABASE_URL, Clerk keys) is the application's and is ignored.
var devPassEnv = []string{"CLERKSYNC_PROFILE_SYNC_INTERVAL", "CLERKSYNC_PROFILE_SYNC_MAX_AGE"}

// DevCommand runs serve against a built-in Clerk emulator: no account, no tunnel.
type DevCommand struct {
	*Main

	addr        string
	databaseURL string
	parties     string
	seed        bool
	log         commonFlags // only --log-level and --log-format

	serve  *ServeCommand
	emu    *devemu.Emulator
	tmpDir string
	url    string
}

// ParseFlags reads the command's flags and refuses production keys.
func (c *DevCommand) ParseFlags(args []string) error {
	fs := newFlagSet("dev [flags]", "Run clerksync against a built-in Clerk emulator, with a development sign-in, "+
		"fake users and organizations, and webhooks sent for every change you make: the whole flow on this machine. Development only.", c.Stderr)
	addr := "127.0.0.1:3000"
	if p := strings.TrimSpace(c.Getenv("PORT")); p != "" && !strings.Contains(p, ":") {
		addr = "127.0.0.1:" + p
	}
	fs.StringVar(&c.addr, "addr", addr, "address to listen on; loopback by default, so nobody else can sign in as your fake users (env PORT)")
	fs.StringVar(&c.databaseURL, "database-url", "",
		"database for the development data (default: a new SQLite file, removed at exit); DATABASE_URL is ignored so that fake users never reach your real database")
	fs.StringVar(&c.parties, "authorized-parties", c.Getenv("CLERK_AUTHORIZED_PARTIES"),
		"other local origins whose pages may use /profile-sync.js and the profile API, such as http://localhost:5173 (env CLERK_AUTHORIZED_PARTIES)")
	fs.BoolVar(&c.seed, "seed", true, "start with a few demonstration users")
	c.log.registerLog(fs, c.Getenv)
	if err := parseFlagsOnly(fs, args, "dev", ""); err != nil {
		return err
	}
	setting, value := addrSetting(flagsGiven(fs)["addr"], c.addr, c.Getenv)
	if err := checkAddr(setting, value, c.addr); err != nil {
		return err
	}
	for _, k := range liveKeyEnv {
		if isLiveKey(c.Getenv(k)) {
			return usagef("refusing to start: %s holds a production key (%s…). clerksync dev runs a fake Clerk with fake users "+
				"and must never run beside a live instance's keys: unset %s (or use a shell without your production .env)", k, livePrefix(c.Getenv(k)), k)
		}
	}
	for _, a := range args {
		if isLiveKey(a) || strings.Contains(a, "sk_live_") || strings.Contains(a, "pk_live_") {
			return usagef("refusing to start: a flag holds a production key (sk_live_… or pk_live_…); clerksync dev never uses real keys")
		}
	}
	for _, p := range session.ParseAuthorizedParties(c.parties) {
		if u, err := url.Parse(p); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return usagef("--authorized-parties: %q is not an origin: use scheme://host[:port], such as http://localhost:5173", p)
		}
	}
	return nil
}

func isLiveKey(v string) bool {
	v = strings.TrimSpace(v)
	return strings.HasPrefix(v, "sk_live_") || strings.HasPrefix(v, "pk_live_")
}

func livePrefix(v string) string { return strings.TrimSpace(v)[:8] }

// Run serves until ctx ends, then stops and removes the temporary database.
func (c *DevCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	if err := c.Open(ctx); err != nil {
		return err
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-c.serve.serveErr:
		err = fmt.Errorf("http server: %w", err)
	}
	return errors.Join(err, c.Close())
}

// Open starts the emulator and the server, then creates the demonstration users
// (their webhooks go through the real webhook route).
func (c *DevCommand) Open(ctx context.Context) (err error) {
	logger, err := c.log.logger(c.Stderr)
	if err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", c.addr)
	if err != nil {
		return listenError(c.addr, err)
	}
	defer func() {
		if err != nil {
			_ = ln.Close()
			c.removeTmp()
		}
	}()
	c.url = listenerURL(ln)
	tcp := ln.Addr().(*net.TCPAddr)
	if !tcp.IP.IsLoopback() {
		logger.Warn("clerksync dev is listening beyond this machine: anyone who reaches " + ln.Addr().String() +
			" can sign in as any fake user; use --addr 127.0.0.1:PORT")
	}

	c.emu, err = devemu.New(devemu.Config{BaseURL: c.url, Stylesheet: web.StylesheetPath, Logger: logger})
	if err != nil {
		return err
	}
	dbURL := c.databaseURL
	if dbURL == "" {
		c.tmpDir, err = os.MkdirTemp("", "clerksync-dev-")
		if err != nil {
			return fmt.Errorf("create a temporary directory for the database: %w", err)
		}
		dbURL = "sqlite:" + filepath.Join(c.tmpDir, "clerksync-dev.db")
	}
	parties := append([]string{c.url}, session.ParseAuthorizedParties(c.parties)...)
	env := map[string]string{
		"CLERK_WEBHOOK_SECRET":     c.emu.WebhookSecret(),
		"DATABASE_URL":             dbURL,
		"CLERK_JWKS_URL":           c.emu.JWKSURL(),
		"CLERK_SECRET_KEY":         c.emu.SecretKey(),
		"CLERK_API_URL":            c.emu.APIURL(),
		"CLERK_AUTHORIZED_PARTIES": strings.Join(parties, ","),
		"CLERK_SIGN_IN_URL":        devemu.SignInPath,
		"CLERKSYNC_FORWARD_URL":    c.emu.ChangesURL(), // the emulator's receiver (devemu/changes.go)
		"CLERKSYNC_FORWARD_SECRET": c.emu.ChangesSecret(),
		"LOG_LEVEL":                c.log.LogLevel,
		"LOG_FORMAT":               c.log.LogFormat,
	}
	for _, k := range devPassEnv {
		if v := c.Getenv(k); v != "" {
			env[k] = v
		}
	}
	c.serve = &ServeCommand{Main: &Main{Stdin: c.Stdin, Stdout: c.Stdout, Stderr: c.Stderr, Now: c.Now,
		Getenv: func(k string) string { return env[k] }}}
	if err := c.serve.ParseFlags(nil); err != nil {
		return err
	}
	c.serve.listener = ln
	c.serve.profile.dev = true
	c.serve.profile.signOutURL = devemu.SignOutPath
	c.serve.profile.wrap = c.emu.Wrap
	if err := c.serve.Open(ctx); err != nil {
		return err
	}
	c.emu.UseStore(c.serve.store)
	if c.seed {
		if err := c.emu.Seed(); err != nil {
			_ = c.serve.Close()
			return fmt.Errorf("seed the emulator: %w", err)
		}
	}
	logger.Warn("development mode: a built-in Clerk emulator with fake users; never expose this server", "url", c.url)
	db := "a temporary SQLite file, removed at exit"
	if c.databaseURL != "" {
		db = dburl.Redact(c.databaseURL)
	}
	fmt.Fprintf(c.Stdout, `
  clerksync dev — development only: fake Clerk users, nothing leaves this machine

    Emulator       %[1]s/dev/
    Sign in        %[1]s/dev/sign-in
    Profile page   %[1]s/profile
    Drop-in        <script src="%[1]s/profile-sync.js" async></script>
    Webhooks       POST %[1]s/api/webhooks/clerk (secret generated for this run)
    Changes feed   %[1]s/dev/changes (forwarded to the emulator's receiver)
    Database       %[2]s

  Press Ctrl+C to stop.

`, c.url, db)
	return nil
}

// URL returns the server's base URL, such as http://127.0.0.1:3000.
func (c *DevCommand) URL() string { return c.url }

// Close stops the server and removes the temporary database.
func (c *DevCommand) Close() error {
	var err error
	if c.serve != nil {
		err = c.serve.Close()
	}
	c.removeTmp()
	return err
}

func (c *DevCommand) removeTmp() {
	if c.tmpDir != "" {
		_ = os.RemoveAll(c.tmpDir)
		c.tmpDir = ""
	}
}

// listenerURL returns the http URL of a listener, naming 127.0.0.1 for an
// unspecified address.
func listenerURL(ln net.Listener) string {
	addr := ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return fmt.Sprintf("http://%s", net.JoinHostPort(host, fmt.Sprint(addr.Port)))
}
