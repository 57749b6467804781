package main

import (
	"flag"
	"strings"

	"github.com/clerksync/clerksync/internal/dburl"
)

// Secrets are never printed: not in logs, not in errors, not in the defaults that usage
// text shows (which come from the environment, so `serve -h` would otherwise print
// CLERK_WEBHOOK_SECRET and DATABASE_URL's password). This file masks them.

// secretFlagWords name the flags whose values are secrets.
var secretFlagWords = []string{"secret", "password", "token"}

// secretPrefixes are the well-known, non-secret prefixes a masked value keeps, so that
// the reader still sees which kind of value is set.
var secretPrefixes = []string{"whsec_", "sk_test_", "sk_live_"}

// printDefaults prints fs's flags as flag.PrintDefaults does, with the defaults of secret
// flags masked and any password in a URL replaced by xxxxx.
func printDefaults(fs *flag.FlagSet) {
	saved := make(map[*flag.Flag]string)
	fs.VisitAll(func(f *flag.Flag) {
		if m := maskedDefault(f); m != f.DefValue {
			saved[f] = f.DefValue
			f.DefValue = m
		}
	})
	fs.PrintDefaults()
	for f, v := range saved {
		f.DefValue = v
	}
}

// maskedDefault returns the default of f as usage text may show it.
func maskedDefault(f *flag.Flag) string {
	name := strings.ToLower(f.Name)
	for _, w := range secretFlagWords {
		if strings.Contains(name, w) {
			return maskSecret(f.DefValue)
		}
	}
	if strings.Contains(f.DefValue, "://") {
		return dburl.Redact(f.DefValue)
	}
	return f.DefValue
}

// maskSecret hides a secret (or a list of them, separated by spaces or commas), keeping
// only a well-known prefix such as whsec_: "whsec_… (hidden)". Empty stays empty.
func maskSecret(v string) string {
	parts := splitSecrets(v)
	if len(parts) == 0 {
		return ""
	}
	masked := make([]string, len(parts))
	for i, p := range parts {
		masked[i] = "…"
		for _, prefix := range secretPrefixes {
			if strings.HasPrefix(p, prefix) {
				masked[i] = prefix + "…"
				break
			}
		}
	}
	return strings.Join(masked, " ") + " (hidden)"
}
