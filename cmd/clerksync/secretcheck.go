package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/clerksync/clerksync/svixsig"
)

// secretSource names where the webhook secret came from, for errors: the flag when it
// was given, else the variable that held it.
func secretSource(flagName string, flagGiven bool, getenv func(string) string) string {
	switch {
	case flagGiven:
		return flagName
	case strings.TrimSpace(getenv("CLERK_WEBHOOK_SECRET")) == "" && strings.TrimSpace(getenv("CLERK_WEBHOOK_SIGNING_SECRET")) != "":
		return "CLERK_WEBHOOK_SIGNING_SECRET"
	}
	return "CLERK_WEBHOOK_SECRET"
}

// checkWebhookSecrets decodes each secret as the signature check will, and says what is
// wrong with one that cannot be used in the terms of the person who set it (source
// names the setting). The error never holds the secret.
func checkWebhookSecrets(source string, secrets []string) error {
	for i, s := range secrets {
		if _, err := svixsig.DecodeSecret(s); err != nil {
			which := source
			if len(secrets) > 1 {
				which = fmt.Sprintf("the %s of the %d secrets in %s", ordinal(i+1), len(secrets), source)
			}
			return &usageError{secretError(which, strings.TrimSpace(s), err)}
		}
	}
	return nil
}

// copyHint says where the right secret is.
const copyHint = "copy it from the Clerk Dashboard → Webhooks → your endpoint → Signing Secret"

// secretError explains err, the decoding error of secret s, for the setting which.
func secretError(which, s string, err error) error {
	var se *svixsig.SecretError
	if !errors.As(err, &se) {
		return fmt.Errorf("%s cannot be used: %w", which, err)
	}
	switch {
	case strings.HasPrefix(s, "sk_") || strings.HasPrefix(s, "pk_"):
		return fmt.Errorf("%s holds a Clerk API key (%s…), not the webhook endpoint's signing secret, which starts with whsec_: %s",
			which, s[:3], copyHint)
	case !strings.HasPrefix(s, svixsig.SecretPrefix):
		return fmt.Errorf("%s is not a Clerk signing secret: it should start with whsec_ followed by base64 (%s)", which, copyHint)
	case strings.TrimPrefix(s, svixsig.SecretPrefix) == "":
		return fmt.Errorf("%s is only whsec_, with nothing after it: %s", which, copyHint)
	}
	return fmt.Errorf("%s is not a Clerk signing secret: after whsec_ it should be base64, and it is not (cut short or mistyped when copied?); %s",
		which, copyHint)
}

// ordinal returns 1st, 2nd, 3rd, 4th….
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}
