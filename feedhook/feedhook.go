// Package feedhook is the application's side of the changes feed that clerksync
// forwards (serve --forward-url): an http.Handler that verifies each delivery's
// Standard Webhooks signature with the shared Signing Secret, decodes the entry and
// hands it to the application's function, answering 2xx only once that function has
// returned nil.
//
// clerksync sends every entry at least once and an object's entries in order: an entry
// that is not acknowledged with a 2xx is sent again, with the same id, after a backoff,
// and the object's later entries wait for it. So the function may see an entry twice
// (after a crash, or a timeout that hid a success) and should act once per entry id:
// keep the ids it has acted on, or pass the id as an idempotency key to the service it
// calls.
//
//	h, err := feedhook.New(os.Getenv("CLERKSYNC_FORWARD_SECRET"),
//		func(ctx context.Context, e clerksync.FeedEntry) error {
//			if e.Type == "profile.created" {
//				return sendWelcome(ctx, e.ID, e.ObjectID)
//			}
//			return nil // entries the application does not need are acknowledged
//		})
//	if err != nil {
//		log.Fatal(err)
//	}
//	http.Handle("POST /clerksync/changes", h)
package feedhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/svixsig"
)

// Func handles one entry of the feed. It returns nil once the application has done
// what the entry calls for (the delivery is then acknowledged), or an error to have
// the entry sent again later.
type Func func(ctx context.Context, e clerksync.FeedEntry) error

// DefaultMaxBodyBytes is the largest delivery a Handler reads unless WithMaxBodyBytes
// says otherwise: an entry holds one row of a table without its raw payload, a few KB.
const DefaultMaxBodyBytes = 1 << 20

// Handler receives forwarded deliveries of the changes feed. It is safe for
// concurrent use; clerksync sends several objects' entries at once.
//
// Its answers:
//
//   - 204 No Content: the delivery is authentic and the function returned nil.
//   - 400 Bad Request: a signature header is missing or malformed, or the body is
//     not an entry of the feed (or not the entry the webhook-id names).
//   - 401 Unauthorized: the signature does not match the secret, or the timestamp is
//     more than 5 minutes from now.
//   - 405 Method Not Allowed, 413 Content Too Large: not a POST, a body over the cap.
//   - 500 Internal Server Error: the function returned an error; the entry is sent
//     again. 503 Service Unavailable instead when the error matches ErrUnavailable.
//
// Why a delivery was refused is logged, never told to the caller.
type Handler struct {
	verifier *svixsig.Verifier
	fn       Func
	maxBody  int64
	log      *slog.Logger
	verify   []svixsig.Option
}

// Option configures a Handler.
type Option func(*Handler)

// WithMaxBodyBytes sets the largest delivery accepted (DefaultMaxBodyBytes by
// default); larger ones are answered 413.
func WithMaxBodyBytes(n int64) Option { return func(h *Handler) { h.maxBody = n } }

// WithLogger sets where refused deliveries and the function's errors are logged
// (slog.Default() by default).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithVerifierOptions passes options to the signature verifier, such as
// svixsig.WithTolerance or svixsig.WithClock.
func WithVerifierOptions(opts ...svixsig.Option) Option {
	return func(h *Handler) { h.verify = append(h.verify, opts...) }
}

// ErrUnavailable, wrapped by an error the function returns, answers the delivery 503
// Service Unavailable rather than 500: the application is briefly unable to act on
// the entry (its database is down), not failing on it. Either way clerksync sends the
// entry again.
var ErrUnavailable = errors.New("feedhook: unavailable for now")

// ErrInvalidSecret is matched (with errors.Is) by the error New returns for a secret
// that is not a Signing Secret.
var ErrInvalidSecret = svixsig.ErrInvalidSecret

// New returns a Handler that accepts deliveries signed with secret, the Signing
// Secret (whsec_…) given to clerksync as CLERKSYNC_FORWARD_SECRET, and calls fn with
// each entry. Several secrets separated by spaces or commas are all accepted, for a
// rotation. It returns an error matching ErrInvalidSecret, which never holds the
// secret, when one cannot be used, and an error when fn is nil.
func New(secret string, fn Func, opts ...Option) (*Handler, error) {
	if fn == nil {
		return nil, errors.New("feedhook: no function to call with the entries")
	}
	h := &Handler{fn: fn, maxBody: DefaultMaxBodyBytes}
	for _, o := range opts {
		o(h)
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	secrets := strings.FieldsFunc(secret, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if len(secrets) == 0 {
		return nil, fmt.Errorf("feedhook: the Signing Secret is empty (give the whsec_… secret clerksync signs with, CLERKSYNC_FORWARD_SECRET): %w", ErrInvalidSecret)
	}
	v, err := svixsig.NewVerifier(secrets, h.verify...)
	if err != nil {
		var se *svixsig.SecretError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("feedhook: Signing Secret #%d %s (give the whsec_… secret clerksync signs with, CLERKSYNC_FORWARD_SECRET): %w",
				se.Position, se.Reason, ErrInvalidSecret)
		}
		return nil, fmt.Errorf("feedhook: %w", err)
	}
	h.verifier = v
	return h, nil
}

// Log attribute keys.
const (
	attrChangeID = "change_id"
	attrType     = "type"
	attrError    = "error"
)

// ServeHTTP verifies a delivery, decodes its entry and calls the function.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	// The headers first: a request that cannot be authentic costs no body read.
	hd, err := h.verifier.CheckHeaders(r.Header)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.log.Warn("feedhook: delivery refused: body over the cap", slog.Int64("max_bytes", h.maxBody))
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		h.log.Warn("feedhook: could not read a delivery", slog.Any(attrError, err))
		http.Error(w, "could not read the body", http.StatusBadRequest)
		return
	}
	msg, err := h.verifier.VerifyBody(hd, body)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	var e clerksync.FeedEntry
	if err := json.Unmarshal(body, &e); err != nil || e.ID == "" || e.Type == "" || e.ObjectID == "" {
		h.log.Warn("feedhook: an authentic delivery is not an entry of the changes feed", slog.String(attrChangeID, msg.ID))
		http.Error(w, "not an entry of the changes feed", http.StatusBadRequest)
		return
	}
	if e.ID != msg.ID {
		h.log.Warn("feedhook: the delivery's webhook-id is not its entry's id", slog.String(attrChangeID, e.ID), slog.String("webhook_id", msg.ID))
		http.Error(w, "webhook-id does not name the entry", http.StatusBadRequest)
		return
	}
	if err := h.fn(r.Context(), e); err != nil {
		if errors.Is(err, ErrUnavailable) {
			h.log.Debug("feedhook: the change is refused for now; clerksync sends it again",
				slog.String(attrChangeID, e.ID), slog.String(attrType, e.Type), slog.Any(attrError, err))
			w.Header().Set("Retry-After", "1")
			http.Error(w, "unavailable; send the change again", http.StatusServiceUnavailable)
			return
		}
		h.log.Warn("feedhook: the change was not handled; clerksync sends it again",
			slog.String(attrChangeID, e.ID), slog.String(attrType, e.Type), slog.Any(attrError, err))
		http.Error(w, "the change was not handled; send it again", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// refuse answers a delivery whose signature check failed, logging why.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Warn("feedhook: delivery refused", slog.Any(attrError, err), slog.String("remote", r.RemoteAddr))
	if svixsig.IsBadRequest(err) {
		http.Error(w, "missing or malformed signature headers", http.StatusBadRequest)
		return
	}
	http.Error(w, "signature does not verify", http.StatusUnauthorized)
}
