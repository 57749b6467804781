package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/svixsig"
)

// SendCommand signs and sends a realistic Clerk event to a running clerksync, so that a
// newcomer can test the server without Clerk and without a tunnel.
type SendCommand struct {
	*Main

	to         string
	secret     string
	svixID     string
	userID     string
	firstName  string
	lastName   string
	email      string
	username   string
	phone      string
	externalID string
	publicMeta string
	bodyFile   string
	timeout    time.Duration

	orgID        string
	orgName      string
	slug         string
	membershipID string
	invitationID string
	role         string
	roleID       string
	permissionID string
	key          string
	name         string
	permissions  string
	sessionID    string

	eventType string
	objectID  string
}

const sendSummary = `Sign and send a Clerk webhook event to a running clerksync and print the answer.
TYPE is any event type clerksync syncs, built like Clerk's from the flags below:
  user.created|updated|deleted
  organization.created|updated|deleted
  organizationMembership.created|updated|deleted   (carries the organization and the user)
  organizationInvitation.created|accepted|revoked
  role.created|updated|deleted, permission.created|updated|deleted
  session.created|pending|ended|removed|revoked    (carries the whole user)
or any type with --body-file. Details no flag gives (names, email, avatar, ids of a
membership or an invitation) are generated from the ids given, so they stay the same
across events for one object: send the same --org-id and --user-id to a membership's
created, updated and deleted.

Examples:
  clerksync send user.created --user-id user_2abc --first-name Ada --last-name Lovelace
  clerksync send organization.created --org-id org_2acme --org-name "Acme Inc" --user-id user_2abc
  clerksync send organizationMembership.created --org-id org_2acme --user-id user_2abc --role org:admin
  clerksync send organizationMembership.deleted --org-id org_2acme --user-id user_2abc
  clerksync send organizationInvitation.created --org-id org_2acme --email grace@example.com
  clerksync send organization.deleted --org-id org_2acme`

// Run parses TYPE and flags, builds the event, signs it and posts it.
func (c *SendCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("send TYPE [flags]", sendSummary, c.Stderr)
	fs.StringVar(&c.to, "to", "http://localhost"+addrFromEnv(c.Getenv)+"/api/webhooks/clerk", "webhook endpoint of the running clerksync")
	secret := c.Getenv("CLERK_WEBHOOK_SECRET")
	if strings.TrimSpace(secret) == "" {
		secret = c.Getenv("CLERK_WEBHOOK_SIGNING_SECRET")
	}
	fs.StringVar(&c.secret, "secret", secret, "signing secret, whsec_… (env CLERK_WEBHOOK_SECRET); the first one if several")
	fs.StringVar(&c.svixID, "svix-id", "", "svix-id of the delivery (default: a new one); repeat one to see a duplicate")
	fs.StringVar(&c.userID, "user-id", "", "Clerk user id (default: a new one)")
	fs.StringVar(&c.firstName, "first-name", "", "first name")
	fs.StringVar(&c.lastName, "last-name", "", "last name")
	fs.StringVar(&c.email, "email", "", "primary email address")
	fs.StringVar(&c.username, "username", "", "username")
	fs.StringVar(&c.phone, "phone", "", "primary phone number, E.164 (+12125550142)")
	fs.StringVar(&c.externalID, "external-id", "", "external_id")
	fs.StringVar(&c.publicMeta, "public-metadata", "", `public_metadata of the user, organization, membership or invitation as JSON, e.g. '{"plan":"pro"}'`)
	fs.StringVar(&c.orgID, "org-id", "", "Clerk organization id, org_… (default: a new one)")
	fs.StringVar(&c.orgName, "org-name", "", "organization name (default: generated from the id)")
	fs.StringVar(&c.slug, "slug", "", "organization slug (default: from the name)")
	fs.StringVar(&c.membershipID, "membership-id", "", "membership id, orgmem_… (default: fixed by --org-id and --user-id)")
	fs.StringVar(&c.invitationID, "invitation-id", "", "invitation id, orginv_… (default: fixed by --org-id and --email)")
	fs.StringVar(&c.role, "role", "", "role key of a membership or invitation (default org:member), or of a role.* event (default org:editor)")
	fs.StringVar(&c.roleID, "role-id", "", "role id, role_… (default: fixed by --role)")
	fs.StringVar(&c.permissionID, "permission-id", "", "permission id, perm_… (default: fixed by --key)")
	fs.StringVar(&c.key, "key", "", "permission key of a permission.* event (default org:posts:create)")
	fs.StringVar(&c.name, "name", "", "name of a role or permission (default: from its key)")
	fs.StringVar(&c.permissions, "permissions", "", "comma-separated permission keys a role.* event grants")
	fs.StringVar(&c.sessionID, "session-id", "", "session id of a session.* event, sess_… (default: a new one)")
	fs.StringVar(&c.bodyFile, "body-file", "", "send this file's bytes as the body instead (any event type; - for stdin)")
	fs.DurationVar(&c.timeout, "timeout", 15*time.Second, "how long to wait for the answer")

	// TYPE may come before or after the flags.
	rest := args
	for {
		if err := parseFlags(fs, rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		if c.eventType != "" {
			fs.Usage()
			return usagef("send takes one TYPE, got %q and %q", c.eventType, fs.Arg(0))
		}
		c.eventType = fs.Arg(0)
		rest = fs.Args()[1:]
	}
	if c.eventType == "" {
		fs.Usage()
		return usagef("send needs an event TYPE, such as user.created or organization.created (see clerksync send -h)")
	}
	if strings.TrimSpace(c.secret) == "" {
		return usagef("no signing secret: pass --secret whsec_… or set CLERK_WEBHOOK_SECRET to the secret the server uses")
	}
	first := splitSecrets(c.secret)[0]
	if err := checkWebhookSecrets(secretSource("--secret", flagsGiven(fs)["secret"], c.Getenv), []string{first}); err != nil {
		return err
	}
	key, err := svixsig.DecodeSecret(first)
	if err != nil {
		return &usageError{fmt.Errorf("--secret: %w", err)}
	}

	body, err := c.body()
	if err != nil {
		return err
	}
	if c.svixID == "" {
		c.svixID = newMessageID()
	}
	return c.post(ctx, key, body)
}

// body returns the event to send: a file's bytes, or an event built from the flags.
func (c *SendCommand) body() ([]byte, error) {
	if c.bodyFile != "" {
		var (
			b   []byte
			err error
		)
		if c.bodyFile == "-" {
			b, err = io.ReadAll(c.Stdin)
		} else {
			b, err = os.ReadFile(c.bodyFile)
		}
		if err != nil {
			return nil, fmt.Errorf("read --body-file: %w", err)
		}
		return b, nil
	}
	if !slices.Contains(sendTypes, c.eventType) {
		return nil, usagef("cannot build a %q event: use one of %s, or give the body with --body-file", c.eventType, strings.Join(sendTypes, ", "))
	}
	now := time.Now()
	if strings.HasPrefix(c.eventType, "user.") {
		if c.publicMeta != "" && !json.Valid([]byte(c.publicMeta)) {
			return nil, usagef("--public-metadata is not valid JSON: %s", c.publicMeta)
		}
		if err := checkID("user-id", c.userID, "user_"); err != nil {
			return nil, err
		}
		var meta json.RawMessage
		if c.publicMeta != "" {
			meta = json.RawMessage(c.publicMeta)
		}
		u := c.user(c.eventType, now, meta)
		c.objectID = u.ID
		return clerkfake.MarshalWebhookEvent(c.eventType, u, now)
	}
	data, id, err := c.eventData(now)
	if err != nil {
		return nil, err
	}
	c.objectID = id
	return clerkfake.MarshalEvent(c.eventType, data, now)
}

// post signs body, sends it and prints the answer. A non-2xx answer is an error.
func (c *SendCommand) post(ctx context.Context, key []byte, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.to, bytes.NewReader(body))
	if err != nil {
		return usagef("--to %q is not a URL: %v", c.to, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "clerksync-send/"+Version())
	svixsig.SetHeaders(req.Header, key, c.svixID, time.Now(), body)

	fmt.Fprintf(c.Stdout, "→ POST %s\n  %s  svix-id %s", c.to, c.eventType, c.svixID)
	if c.objectID != "" {
		fmt.Fprintf(c.Stdout, "  %s", c.objectID)
	}
	if c.userID != "" && c.userID != c.objectID {
		fmt.Fprintf(c.Stdout, "  user %s", c.userID)
	}
	fmt.Fprintf(c.Stdout, "  (%d bytes)\n", len(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("send to %s: %w (is clerksync serve running? start it, or pass --to)", c.to, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	fmt.Fprintf(c.Stdout, "← %s %s\n", resp.Status, bytes.TrimSpace(answer))
	if resp.StatusCode/100 != 2 {
		hint := ""
		if resp.StatusCode == http.StatusUnauthorized {
			hint = " (the server rejected the signature: --secret must be the server's CLERK_WEBHOOK_SECRET)"
		}
		return fmt.Errorf("server answered %s%s", resp.Status, hint)
	}
	return nil
}

// newMessageID returns a new id in the form Svix gives its messages: msg_ and 27 base62
// characters (the same form as Clerk's own ids).
func newMessageID() string {
	return "msg_" + strings.TrimPrefix(clerkfake.NewUserID(), "user_")
}
