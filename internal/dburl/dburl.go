// Package dburl hides the secrets of database connection strings, so that they can be
// shown in logs, errors and help.
package dburl

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask is what a hidden secret is shown as.
const Mask = "xxxxx"

// secretParams are the connection parameters that hold secrets: libpq's password and
// sslpassword (the passphrase of the client key).
var secretParams = []string{"password", "sslpassword"}

// Redact returns the connection string s with every password hidden, whatever its
// form: a URL (postgres://user:PASSWORD@host/db?password=PASSWORD&sslpassword=…), a
// libpq key=value string (host=… password=PASSWORD or password='PASS WORD'), or a
// string that is neither and merely looks like one. Anything else in s is kept, so
// that the operator can still tell which database it names.
func Redact(s string) string {
	if i := strings.Index(s, "://"); i > 0 && !strings.ContainsAny(s[:i], " =") {
		return redactURL(s)
	}
	return redactKeyValues(s)
}

// redactURL hides the password of a URL's user info and of its query parameters.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		// Not a URL after all: hide whatever could be a password in it.
		return redactKeyValues(looseUserInfo.ReplaceAllString(s, "${1}:"+Mask+"@"))
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Mask)
	}
	if u.RawQuery != "" {
		params := strings.Split(u.RawQuery, "&")
		for i, p := range params {
			k, _, _ := strings.Cut(p, "=")
			if key, err := url.QueryUnescape(k); err == nil && isSecret(key) || err != nil && isSecret(k) {
				params[i] = k + "=" + Mask
			}
		}
		u.RawQuery = strings.Join(params, "&")
	}
	return u.String()
}

// looseUserInfo matches the user info of a string that looks like a URL but does not
// parse as one: scheme://user:anything@.
var looseUserInfo = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://[^:@/]*):[^@]*@`)

// keyValue matches a secret parameter and its value in a key=value string (spaces
// around =, a value in single quotes with \' escapes, or up to the next space or &).
var keyValue = regexp.MustCompile(`(?i)\b(` + strings.Join(secretParams, "|") + `)(\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&]*)`)

// redactKeyValues hides the values of the secret parameters of a key=value string.
func redactKeyValues(s string) string {
	return keyValue.ReplaceAllString(s, "${1}${2}"+Mask)
}

func isSecret(param string) bool {
	for _, p := range secretParams {
		if strings.EqualFold(param, p) {
			return true
		}
	}
	return false
}
