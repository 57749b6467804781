package web

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
	"github.com/clerksync/clerksync/svixsig"
)

// Retry-After values, in seconds, for the two kinds of 503.
const (
	retryAfterUnavailable = "5" // the database is down: give it a moment
	retryAfterOverloaded  = "1" // the write queue is full: it drains in milliseconds
)

// deliveryTimeout bounds how long a delivery waits for its change to commit, time in
// the write queue included, before it is answered 503. Svix counts an answer after 15 s
// as a failure; the engine's own timeout bounds one transaction, but while the database
// hangs a delivery can queue behind transactions that are waiting out theirs, so the
// bound has to be on the delivery itself.
const deliveryTimeout = 10 * time.Second

// bodyPool recycles webhook body buffers. A buffer goes back to the pool only once the
// engine has answered, because the change it carries points into the buffer.
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody keeps one unusually large body from pinning its buffer in the pool.
const maxPooledBody = 64 << 10

// handleWebhook receives a Clerk webhook: cap, verify, decode, apply, answer — in that
// order, so that nothing unauthenticated is ever parsed (see DESIGN.md, "Webhook answers").
func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.reject(w, start, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	if r.ContentLength > s.MaxBodyBytes {
		s.reject(w, start, http.StatusRequestEntityTooLarge, "too_large", "body too large")
		return
	}

	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	recycle := true
	defer func() {
		if recycle && buf.Cap() <= maxPooledBody {
			bodyPool.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.MaxBodyBytes)); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.reject(w, start, http.StatusRequestEntityTooLarge, "too_large", "body too large")
			return
		}
		s.Logger.Info("webhook body could not be read", attrError, err)
		s.reject(w, start, http.StatusBadRequest, "bad_request", "body could not be read")
		return
	}
	body := buf.Bytes()

	msg, err := s.Verifier.Verify(r.Header, body)
	if err != nil {
		// The reason is logged, never echoed: a caller probing signatures learns nothing.
		if svixsig.IsBadRequest(err) {
			s.Logger.Info("webhook rejected: bad signature headers", attrReason, err.Error())
			s.reject(w, start, http.StatusBadRequest, "bad_request", "missing svix-id, svix-timestamp or svix-signature header")
			return
		}
		s.Logger.Warn("webhook rejected: signature verification failed", attrSvixID, msg.ID, attrReason, err.Error())
		s.reject(w, start, http.StatusUnauthorized, "unauthorized", "invalid signature")
		return
	}

	ch := clerkdecode.ChangeFromEvent(msg.ID, body, s.Decode)
	if !s.KeepEventBodies && ch.Op != clerksync.OpDeadLetter {
		ch.Body = nil
	}
	s.logReceived(r.Context(), &ch)

	ctx, cancel := context.WithTimeout(r.Context(), deliveryTimeout)
	defer cancel()
	results, err := s.Engine.Apply(ctx, ch)
	if err != nil {
		if ctx.Err() != nil {
			// The sender hung up, or the database took too long, while the change was
			// queued or being written: the writer may still hold the body, so the buffer
			// must not be reused. Svix will retry; the svix-id makes the retry a no-op if
			// the change did commit.
			recycle = false
			if r.Context().Err() == nil {
				err = &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "database did not answer in time", Err: err}
			}
		}
		s.failed(w, start, &ch, err)
		return
	}
	s.answer(r.Context(), w, start, &ch, results[0])
}

// logReceived writes DESIGN.md's first log lines for a delivery.
func (s *Server) logReceived(ctx context.Context, ch *clerksync.Change) {
	if ch.UserID != "" {
		s.Logger.LogAttrs(ctx, slog.LevelInfo, "Webhook received: "+ch.EventType+" for user: "+ch.UserID,
			slog.String(attrSvixID, ch.EventID), slog.String(attrEventType, ch.EventType), slog.String(attrUserID, ch.UserID))
	} else {
		typ := ch.EventType
		if typ == "" {
			typ = "(no type)"
		}
		s.Logger.LogAttrs(ctx, slog.LevelInfo, "Webhook received: "+typ,
			slog.String(attrSvixID, ch.EventID), slog.String(attrEventType, ch.EventType))
	}
	if ch.Op == clerksync.OpUpsertUser {
		msg := "Syncing profile for " + ch.UserID
		if s.LogNames {
			if name := ch.Profile.Name(); name != "" {
				msg += " (" + name + ")"
			}
		}
		s.Logger.LogAttrs(ctx, slog.LevelInfo, msg, slog.String(attrSvixID, ch.EventID), slog.String(attrUserID, ch.UserID))
	}
}

// answer writes 200 with the event's outcome and logs what happened.
func (s *Server) answer(ctx context.Context, w http.ResponseWriter, start time.Time, ch *clerksync.Change, res clerksync.Result) {
	l := s.Logger
	switch res.Outcome {
	case clerksync.OutcomeApplied:
		switch res.Action {
		case clerksync.ActionDeleted:
			l.LogAttrs(ctx, slog.LevelInfo, "Deleted profile for user "+ch.UserID,
				slog.String(attrSvixID, ch.EventID), slog.String(attrUserID, ch.UserID))
		default:
			l.LogAttrs(ctx, slog.LevelInfo, "Successfully synced profile for user "+ch.UserID,
				slog.String(attrSvixID, ch.EventID), slog.String(attrUserID, ch.UserID),
				slog.String(attrAction, res.Action.String()), slog.Duration(attrDuration, time.Since(start)))
		}
	case clerksync.OutcomeStale:
		l.LogAttrs(ctx, slog.LevelInfo, "Skipped stale event for user "+ch.UserID+": a newer version or a deletion is already stored",
			slog.String(attrSvixID, ch.EventID), slog.String(attrUserID, ch.UserID))
	case clerksync.OutcomeDuplicate:
		l.LogAttrs(ctx, slog.LevelInfo, "Duplicate delivery "+ch.EventID+": already processed",
			slog.String(attrSvixID, ch.EventID), slog.String(attrUserID, ch.UserID))
	case clerksync.OutcomeIgnored:
		l.LogAttrs(ctx, slog.LevelInfo, "Ignored event type "+ch.EventType,
			slog.String(attrSvixID, ch.EventID), slog.String(attrEventType, ch.EventType))
	case clerksync.OutcomeDeadLetter:
		// Answered 2xx on purpose: an event we cannot use would otherwise be retried for
		// 27 hours and get the endpoint disabled. It waits in the event log for replay.
		l.Warn("Stored undecodable event as a dead letter; fix and run `clerksync events replay "+ch.EventID+"`",
			attrSvixID, ch.EventID, attrEventType, ch.EventType, attrError, res.Error)
	}
	s.observe(res.Outcome.String(), start)

	b := make([]byte, 0, 96)
	b = append(b, `{"ok":true,"svix_id":`...)
	b = strconv.AppendQuote(b, ch.EventID)
	b = append(b, `,"outcome":"`...)
	b = append(b, res.Outcome.String()...)
	b = append(b, `","action":"`...)
	b = append(b, res.Action.String()...)
	b = append(b, "\"}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// failed answers a delivery whose change could not be committed. Every such answer is
// a 5xx so that Svix retries it later.
func (s *Server) failed(w http.ResponseWriter, start time.Time, ch *clerksync.Change, err error) {
	switch clerksync.ErrorCode(err) {
	case clerksync.EOVERLOADED:
		w.Header().Set("Retry-After", retryAfterOverloaded)
		s.Logger.Warn("webhook deferred: write queue full", attrSvixID, ch.EventID)
		s.reject(w, start, http.StatusServiceUnavailable, "overloaded", "busy, retry later")
	case clerksync.EUNAVAILABLE:
		w.Header().Set("Retry-After", retryAfterUnavailable)
		s.Logger.Error("webhook deferred: database unavailable", attrSvixID, ch.EventID, attrError, err)
		s.reject(w, start, http.StatusServiceUnavailable, "unavailable", "database unavailable, retry later")
	default:
		w.Header().Set("Retry-After", retryAfterUnavailable)
		s.Logger.Error("webhook failed", attrSvixID, ch.EventID, attrError, err)
		s.reject(w, start, http.StatusServiceUnavailable, "error", "temporarily unable to process, retry later")
	}
}

// reject answers an error as {"error": msg} and counts it under result.
func (s *Server) reject(w http.ResponseWriter, start time.Time, code int, result, msg string) {
	s.observe(result, start)
	writeJSON(w, code, map[string]string{"error": msg})
}

func (s *Server) observe(result string, start time.Time) {
	if s.Metrics == nil {
		return
	}
	s.Metrics.Deliveries.WithLabelValues(result).Inc()
	s.Metrics.DeliveryDuration.Observe(time.Since(start).Seconds())
}
