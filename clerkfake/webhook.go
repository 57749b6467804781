package clerkfake

import (
	"encoding/json"
	"fmt"
	"time"
)

// The event types Clerk sends about users.
const (
	EventUserCreated = "user.created"
	EventUserUpdated = "user.updated"
	EventUserDeleted = "user.deleted"
)

// envelope is the body of a Clerk webhook, in the order Clerk writes it.
type envelope struct {
	Data            any             `json:"data"`
	Object          string          `json:"object"`
	Type            string          `json:"type"`
	Timestamp       int64           `json:"timestamp"`
	InstanceID      string          `json:"instance_id"`
	EventAttributes eventAttributes `json:"event_attributes"`
}

type eventAttributes struct {
	HTTPRequest httpRequest `json:"http_request"`
}

type httpRequest struct {
	ClientIP  string `json:"client_ip"`
	UserAgent string `json:"user_agent"`
}

// DeletedObject is what Clerk says about a deleted user: the data of a user.deleted
// event and the answer to DELETE /v1/users/{user_id}.
type DeletedObject struct {
	Object     string  `json:"object"`
	ID         string  `json:"id"`
	Deleted    bool    `json:"deleted"`
	ExternalID *string `json:"external_id,omitempty"`
}

// WebhookEvent returns the body Clerk sends for an event of eventType about u at
// time at: the envelope with u as data, or for user.deleted the deleted object that
// carries only the id and the external id. The body is not signed. It panics if u
// holds metadata that is not valid JSON; MarshalWebhookEvent returns that error.
func WebhookEvent(eventType string, u *User, at time.Time) []byte {
	body, err := MarshalWebhookEvent(eventType, u, at)
	if err != nil {
		panic("clerkfake: " + err.Error())
	}
	return body
}

// MarshalWebhookEvent is WebhookEvent returning an error instead of panicking when
// u holds metadata that is not valid JSON.
func MarshalWebhookEvent(eventType string, u *User, at time.Time) ([]byte, error) {
	var data any = u
	if eventType == EventUserDeleted {
		// Clerk always writes external_id in user.deleted, null when there is none.
		data = struct {
			Object     string  `json:"object"`
			ID         string  `json:"id"`
			Deleted    bool    `json:"deleted"`
			ExternalID *string `json:"external_id"`
		}{"user", u.ID, true, u.ExternalID}
	}
	body, err := marshalEnvelope(eventType, data, at)
	if err != nil {
		return nil, fmt.Errorf("marshal %s event for %s: %w", eventType, u.ID, err)
	}
	return body, nil
}

// marshalEnvelope returns the body Clerk sends for an event of eventType whose data
// is data, at time at.
func marshalEnvelope(eventType string, data any, at time.Time) ([]byte, error) {
	return json.Marshal(envelope{
		Data:       data,
		Object:     "event",
		Type:       eventType,
		Timestamp:  at.UnixMilli(),
		InstanceID: DefaultInstanceID,
		EventAttributes: eventAttributes{HTTPRequest: httpRequest{
			ClientIP:  "192.0.2.10",
			UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
		}},
	})
}
