package svixsig

import (
	"net/http"
	"strconv"
	"time"
)

// SetStandardHeaders sets the webhook-id, webhook-timestamp and webhook-signature
// headers of h for a delivery of body signed with key, as the Standard Webhooks
// specification names them: the same scheme as Svix's, so a receiver verifies them
// with any Standard Webhooks or Svix library.
func SetStandardHeaders(h http.Header, key []byte, id string, ts time.Time, body []byte) {
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderWebhookSignature, Sign(key, id, ts, body))
}
