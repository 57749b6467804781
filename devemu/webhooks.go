package devemu

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/svixsig"
)

// Delivery is one webhook the emulator sent, or skipped.
type Delivery struct {
	At        time.Time
	MessageID string // svix-id
	Type      string // user.created, organization.created, organizationMembership.deleted, …
	UserID    string
	// UserName is what the event is about, as the page shows it: the user's name, or
	// the organization's (with the member's, for a membership).
	UserName string
	// ObjectID is the id of the object an organization event is about ("" for a
	// user event).
	ObjectID string
	// Skipped is set for a change made with "don't send webhook": nothing was sent.
	Skipped bool
	// Status is the HTTP status clerksync answered (0 when skipped or unreachable).
	Status int
	// Outcome and Action are what clerksync said it did (applied/updated, …).
	Outcome string
	Action  string
	// Error says why the delivery failed, if it did.
	Error string

	seq uint64 // the order of recording
}

// OK reports whether the delivery was sent and accepted.
func (d *Delivery) OK() bool { return !d.Skipped && d.Error == "" && d.Status/100 == 2 }

// Deliveries returns the recent deliveries, newest first.
func (e *Emulator) Deliveries() []Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := slices.Clone(e.deliveries)
	slices.Reverse(out)
	return out
}

// lastDelivery returns the newest delivery of eventType about userID, or nil.
func (e *Emulator) lastDelivery(userID, eventType string) *Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.deliveries) - 1; i >= 0; i-- {
		if d := e.deliveries[i]; d.UserID == userID && d.Type == eventType {
			return &d
		}
	}
	return nil
}

func (e *Emulator) record(d Delivery) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	d.seq = e.seq
	e.deliveries = append(e.deliveries, d)
	if n := len(e.deliveries) - maxDeliveries; n > 0 {
		e.deliveries = slices.Delete(e.deliveries, 0, n)
	}
}

// onChange is the fake's change hook: it sends the webhook Clerk would send, at once
// and on the goroutine that made the change, so that the page the developer lands on
// next already shows its effect.
func (e *Emulator) onChange(eventType string, u *clerkfake.User) {
	e.mu.Lock()
	skip := e.takeSkip(u.ID)
	e.mu.Unlock()
	d := Delivery{At: e.now(), Type: eventType, UserID: u.ID, UserName: displayName(u), Skipped: skip}
	if skip {
		e.log.Info("Emulator: "+eventType+" for "+u.ID+" not sent (simulated missed event)", "user_id", u.ID, "event_type", eventType)
		e.record(d)
		return
	}
	d.MessageID = "msg_" + rand.Text()
	e.deliver(context.Background(), &d, u)
	e.record(d)
}

// deliver signs the event like Svix and posts it to clerksync's webhook route.
func (e *Emulator) deliver(ctx context.Context, d *Delivery, u *clerkfake.User) {
	body, err := clerkfake.MarshalWebhookEvent(d.Type, u, d.At)
	if err != nil {
		d.Error = err.Error()
		return
	}
	e.post(ctx, d, body)
}

// post signs body like Svix, posts it to clerksync's webhook route and records the
// answer in d.
func (e *Emulator) post(ctx context.Context, d *Delivery, body []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.base+WebhookPath, bytes.NewReader(body))
	if err != nil {
		d.Error = err.Error()
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Svix-Webhooks/1.99 (clerksync dev emulator)")
	svixsig.SetHeaders(req.Header, e.signingKey, d.MessageID, e.now(), body)
	resp, err := e.client.Do(req)
	if err != nil {
		d.Error = "clerksync did not answer: " + err.Error()
		e.log.Warn("Emulator: webhook not delivered", "svix_id", d.MessageID, "event_type", d.Type, "object_id", cmp.Or(d.ObjectID, d.UserID), "error", err)
		return
	}
	defer resp.Body.Close()
	d.Status = resp.StatusCode
	var answer struct {
		Outcome string `json:"outcome"`
		Action  string `json:"action"`
		Error   string `json:"error"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(raw, &answer)
	d.Outcome, d.Action = answer.Outcome, answer.Action
	if resp.StatusCode/100 != 2 {
		d.Error = fmt.Sprintf("clerksync answered %s", resp.Status)
		if answer.Error != "" {
			d.Error += ": " + answer.Error
		}
	}
	e.log.Info("Emulator: sent "+d.Type+" for "+cmp.Or(d.ObjectID, d.UserID), "svix_id", d.MessageID, "event_type", d.Type,
		"object_id", cmp.Or(d.ObjectID, d.UserID), "status", d.Status, "outcome", d.Outcome)
}

// displayName returns the name the emulator shows for u.
func displayName(u *clerkfake.User) string {
	var parts []string
	for _, p := range []*string{u.FirstName, u.LastName} {
		if p != nil && *p != "" {
			parts = append(parts, *p)
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, " ")
	}
	if u.Username != nil && *u.Username != "" {
		return *u.Username
	}
	return u.ID
}

// primaryEmail returns u's primary email address, or "".
func primaryEmail(u *clerkfake.User) string {
	for _, a := range u.EmailAddresses {
		if u.PrimaryEmailAddressID != nil && a.ID == *u.PrimaryEmailAddressID {
			return a.EmailAddress
		}
	}
	return ""
}

// primaryPhone returns u's primary phone number, or "".
func primaryPhone(u *clerkfake.User) string {
	for _, p := range u.PhoneNumbers {
		if u.PrimaryPhoneNumberID != nil && p.ID == *u.PrimaryPhoneNumberID {
			return p.PhoneNumber
		}
	}
	return ""
}
