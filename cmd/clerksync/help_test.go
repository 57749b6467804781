package main

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

// Recognisable secrets: no help text, usage text or error may ever show them.
var (
	helpWebhookSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("webhook-secret-never-printed-1"))
	helpSigningSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("signing-secret-never-printed-2"))
	helpSecretKey     = "sk_test_SecretKeyNeverPrinted3"
	helpJWTKey        = "-----BEGIN PUBLIC KEY-----\nJwtKeyNeverPrinted4\n-----END PUBLIC KEY-----"
	helpDBPassword    = "DbPasswordNeverPrinted5"
	helpSSLPassword   = "SslPasswordNeverPrinted6"
	// Port 1 on loopback refuses at once: commands that reach the database fail fast.
	helpDatabaseURL = "postgres://app:" + helpDBPassword + "@127.0.0.1:1/app?sslmode=disable&sslpassword=" + helpSSLPassword
)

// helpSecrets returns the parts of the secrets above that must never be printed.
func helpSecrets() []string {
	return []string{
		strings.TrimPrefix(helpWebhookSecret, "whsec_"), strings.TrimPrefix(helpSigningSecret, "whsec_"),
		strings.TrimPrefix(helpSecretKey, "sk_test_"), "JwtKeyNeverPrinted4", helpDBPassword, helpSSLPassword,
	}
}

// commandLine matches a command's line in a usage text.
var commandLine = regexp.MustCompile(`^  ([a-z]+)  +\S`)

// commandPaths lists every command the top-level usage names, and every subcommand of
// events, so that a command added later is covered without changing this test.
func commandPaths(t testing.TB) [][]string {
	t.Helper()
	section := func(text, heading string) []string {
		_, after, ok := strings.Cut(text, heading+"\n")
		if !ok {
			t.Fatalf("usage has no %q section:\n%s", heading, text)
		}
		var names []string
		for _, line := range strings.Split(after, "\n") {
			if !strings.HasPrefix(line, "  ") {
				if line == "" && len(names) == 0 {
					continue
				}
				break
			}
			// "  name   what it does"; a continued description is indented further.
			if m := commandLine.FindStringSubmatch(line); m != nil {
				names = append(names, m[1])
			}
		}
		return names
	}
	m, stdout, _ := testMain(nil)
	m.usage(stdout)
	var paths [][]string
	for _, name := range section(stdout.String(), "Commands:") {
		paths = append(paths, []string{name})
	}
	m, stdout, _ = testMain(nil)
	(&EventsCommand{Main: m}).usage(stdout)
	for _, sub := range section(stdout.String(), "Subcommands:") {
		paths = append(paths, []string{"events", sub})
	}
	m, stdout, _ = testMain(nil)
	(&ChangesCommand{Main: m}).usage(stdout)
	for _, sub := range section(stdout.String(), "Subcommands:") {
		paths = append(paths, []string{"changes", sub})
	}
	if len(paths) < 12 {
		t.Fatalf("found only %d commands in the usage: %v", len(paths), paths)
	}
	return paths
}

// takesFlags reports whether a command parses flags (help and version print and exit).
func takesFlags(path []string) bool {
	return path[0] != "help" && path[0] != "version"
}

func TestHelp_NeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	envs := map[string]map[string]string{
		"WebhookSecret": {
			"CLERK_WEBHOOK_SECRET": helpWebhookSecret + "," + helpSigningSecret, "CLERK_SECRET_KEY": helpSecretKey,
			"CLERK_JWT_KEY": helpJWTKey, "DATABASE_URL": helpDatabaseURL, "LOG_LEVEL": "debug",
		},
		"SigningSecret": {
			"CLERK_WEBHOOK_SIGNING_SECRET": helpSigningSecret, "CLERK_SECRET_KEY": helpSecretKey,
			"DATABASE_URL": helpDatabaseURL, "LOG_LEVEL": "debug",
		},
	}
	paths := commandPaths(t)
	for envName, env := range envs {
		for _, path := range paths {
			runs := map[string][]string{"Help": append(append([]string{}, path...), "-h")}
			if takesFlags(path) {
				runs["BadFlag"] = append(append([]string{}, path...), "--no-such-flag")
				runs["BadValue"] = append(append([]string{}, path...), "--log-level=loud")
			}
			for runName, args := range runs {
				t.Run(envName+"/"+strings.Join(path, "_")+"/"+runName, func(t *testing.T) {
					t.Parallel()
					code, stdout, stderr := runMain(t, env, nil, args...)
					for _, secret := range helpSecrets() {
						if strings.Contains(stdout+stderr, secret) {
							t.Fatalf("clerksync %s printed the secret %q:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), secret, stdout, stderr)
						}
					}
					if runName != "Help" || !takesFlags(path) {
						return
					}
					// Help goes to stdout, so that `clerksync serve -h | less` works.
					if code != 0 || stderr != "" || !strings.Contains(stdout, "Usage:") {
						t.Fatalf("clerksync %s: exit %d, want 0 with the usage on stdout and nothing on stderr\nstdout:\n%s\nstderr:\n%s",
							strings.Join(args, " "), code, stdout, stderr)
					}
				})
			}
		}
	}
}

func TestHelp_FlagMistakeGoesToStderr(t *testing.T) {
	t.Parallel()
	for _, path := range commandPaths(t) {
		if !takesFlags(path) || (len(path) == 1 && (path[0] == "events" || path[0] == "changes")) {
			continue
		}
		t.Run(strings.Join(path, "_"), func(t *testing.T) {
			t.Parallel()
			args := append(append([]string{}, path...), "--no-such-flag")
			code, stdout, stderr := runMain(t, nil, nil, args...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, "flag provided but not defined: -no-such-flag") || !strings.Contains(stderr, "Usage: clerksync "+strings.Join(path, " ")) {
				t.Fatalf("clerksync %s: exit %d, want 2 with the mistake and the usage on stderr only\nstdout:\n%s\nstderr:\n%s",
					strings.Join(args, " "), code, stdout, stderr)
			}
		})
	}
}

func TestHelp_SecretErrorsNeverPrintSecrets(t *testing.T) {
	t.Parallel()
	// Commands that fail on a database or a secret they cannot use say so without it.
	env := map[string]string{
		"CLERK_WEBHOOK_SECRET": "whsec_NotBase64ButSecret!!7", "CLERK_SECRET_KEY": helpSecretKey,
		"DATABASE_URL": helpDatabaseURL, "LOG_LEVEL": "debug",
	}
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0"},
		{"serve", "--addr", "127.0.0.1:0", "--webhook-secret", helpSecretKey},
		{"send", "user.created", "--to", "http://127.0.0.1:1/"},
		{"migrate"},
		{"sync", "user_2abc"},
		{"backfill"},
		{"events", "list"},
	} {
		t.Run(strings.Join(args, "_"), func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runMain(t, env, nil, args...)
			if code == 0 {
				t.Fatalf("clerksync %s succeeded, want a failure:\n%s%s", strings.Join(args, " "), stdout, stderr)
			}
			for _, secret := range append(helpSecrets(), "NotBase64ButSecret") {
				if strings.Contains(stdout+stderr, secret) {
					t.Fatalf("clerksync %s printed the secret %q:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), secret, stdout, stderr)
				}
			}
		})
	}
}
