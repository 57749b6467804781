package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
	"github.com/clerksync/clerksync/svixsig"
)

// Retry-After values, in seconds, for the two kinds of 503.
const (
	retryAfterUnavailable = "5" // the database is down: give it a moment
	retryAfterOverloaded  = "1" // the write queue is full, or too many bodies are being read: both drain fast
)

// deliveryTimeout bounds how long a delivery waits for its change to commit, time in
// the write queue included, before it is answered 503. Svix counts an answer after 15 s
// as a failure; the engine's own timeout bounds one transaction, but while the database
// hangs a delivery can queue behind transactions that are waiting out theirs, so the
// bound has to be on the delivery itself.
const deliveryTimeout = 10 * time.Second

// handleWebhook receives a Clerk webhook: headers, cap, body, verify, decode, apply,
// answer — in that order, so that nothing unauthenticated is ever parsed and a request
// that cannot be authentic is refused before its body is read (see DESIGN.md, "Webhook
// answers").
func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// Until the body is in, any answer closes the connection: otherwise the server
	// would read what is left of the body, from a client that may never send it,
	// before answering.
	w.Header().Set("Connection", "close")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.reject(w, start, http.StatusMethodNotAllowed, "method_not_allowed", "use POST", errNotPost)
		return
	}
	if r.ContentLength > s.MaxBodyBytes {
		s.reject(w, start, http.StatusRequestEntityTooLarge, "too_large", s.tooLarge, errBodyTooLarge)
		return
	}
	hd, err := s.Verifier.CheckHeaders(r.Header)
	if err != nil {
		// The reason is logged, never echoed: a caller probing signatures learns nothing.
		if svixsig.IsBadRequest(err) {
			s.reject(w, start, http.StatusBadRequest, "bad_request", "missing svix-id, svix-timestamp or svix-signature header", err)
			return
		}
		s.reject(w, start, http.StatusUnauthorized, "unauthorized", "invalid signature", err)
		return
	}

	if err := s.bodies.acquire(r.Context()); err != nil {
		w.Header().Set("Retry-After", retryAfterOverloaded)
		s.reject(w, start, http.StatusServiceUnavailable, "busy", "busy, retry later", err)
		return
	}
	b, err := s.bodies.read(w, r)
	if err != nil {
		s.bodies.done()
		switch {
		case errors.Is(err, errBodyTooLarge):
			s.reject(w, start, http.StatusRequestEntityTooLarge, "too_large", s.tooLarge, err)
		case errors.Is(err, errBodyTimeout):
			s.reject(w, start, http.StatusRequestTimeout, "timeout", "body not received in time", err)
		default:
			s.reject(w, start, http.StatusBadRequest, "bad_request", "body could not be read", err)
		}
		return
	}
	w.Header().Del("Connection")
	recycle := true
	defer func() {
		if recycle {
			s.bodies.put(b)
		}
	}()
	body := b.bytes

	msg, err := s.Verifier.VerifyBody(hd, body)
	// Verified or not, the body no longer waits on its sender: the slot is free for
	// the next one. An authentic body stays in memory until its change is applied.
	s.bodies.done()
	if err != nil {
		if errors.Is(err, svixsig.ErrNoMatchingSignature) {
			s.warnBadSignature()
		}
		s.reject(w, start, http.StatusUnauthorized, "unauthorized", "invalid signature", err, slog.String(attrSvixID, hd.ID))
		return
	}
	if s.Metrics != nil {
		s.Metrics.LastVerified.Set(float64(time.Now().Unix()))
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
			s.bodies.forget(b)
			if r.Context().Err() == nil {
				err = &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: "database did not answer in time", Err: err}
			}
		}
		s.failed(w, start, &ch, err)
		return
	}
	s.answer(r.Context(), w, start, &ch, results[0])
}

// errNotPost is why a request other than a POST is refused, for the debug log.
var errNotPost = errors.New("method is not POST")

// badSignatureWarnEvery is how often, at most, a warning says that deliveries with a
// current timestamp failed the signature check. Each is logged at debug only, so that
// a flood of forged requests cannot flood the log, but a wrong CLERK_WEBHOOK_SECRET
// must not go unnoticed.
const badSignatureWarnEvery = time.Minute

// warnBadSignature counts a delivery whose signature did not match and logs, at most
// once per badSignatureWarnEvery, how many did since the last warning.
func (s *Server) warnBadSignature() {
	s.badSignatures.Add(1)
	now := time.Now().UnixNano()
	last := s.lastBadSignatureWarn.Load()
	if now-last < int64(badSignatureWarnEvery) || !s.lastBadSignatureWarn.CompareAndSwap(last, now) {
		return
	}
	s.Logger.LogAttrs(context.Background(), slog.LevelWarn,
		"webhook deliveries refused: signature did not match; if Clerk's deliveries fail too, check CLERK_WEBHOOK_SECRET against the endpoint's Signing Secret",
		slog.Int64("count", s.badSignatures.Swap(0)))
}

// logReceived writes DESIGN.md's first log lines for a delivery. Users keep the lines
// DESIGN.md gives; other objects say their kind.
func (s *Server) logReceived(ctx context.Context, ch *clerksync.Change) {
	switch {
	case ch.Kind == clerksync.KindUser && ch.ID != "":
		s.Logger.LogAttrs(ctx, slog.LevelInfo, "Webhook received: "+ch.EventType+" for user: "+ch.ID,
			slog.String(attrSvixID, ch.EventID), slog.String(attrEventType, ch.EventType), slog.String(attrUserID, ch.ID))
	case ch.Kind.Valid() && ch.ID != "":
		s.Logger.LogAttrs(ctx, slog.LevelInfo, "Webhook received: "+ch.EventType+" for "+ch.Kind.String()+": "+ch.ID,
			slog.String(attrSvixID, ch.EventID), slog.String(attrEventType, ch.EventType),
			slog.String(attrKind, ch.Kind.String()), slog.String(attrObjectID, ch.ID))
	default:
		typ := ch.EventType
		if typ == "" {
			typ = "(no type)"
		}
		s.Logger.LogAttrs(ctx, slog.LevelInfo, "Webhook received: "+typ,
			slog.String(attrSvixID, ch.EventID), slog.String(attrEventType, ch.EventType))
	}
	if ch.Op != clerksync.OpUpsert {
		return
	}
	if p := ch.Profile(); p != nil {
		msg := "Syncing profile for " + ch.ID
		if s.LogNames {
			if name := p.Name(); name != "" {
				msg += " (" + name + ")"
			}
		}
		s.Logger.LogAttrs(ctx, slog.LevelInfo, msg, slog.String(attrSvixID, ch.EventID), slog.String(attrUserID, ch.ID))
		return
	}
	s.Logger.LogAttrs(ctx, slog.LevelInfo, "Syncing "+ch.Kind.String()+" "+ch.ID,
		slog.String(attrKind, ch.Kind.String()), slog.String(attrObjectID, ch.ID))
}

// answer writes 200 with the event's outcome and logs what happened.
func (s *Server) answer(ctx context.Context, w http.ResponseWriter, start time.Time, ch *clerksync.Change, res clerksync.Result) {
	l := s.Logger
	what := ch.Kind.String() + " " + ch.ID // "organization org_123"
	if ch.Kind == clerksync.KindUser {
		what = "user " + ch.ID
	}
	ids := []slog.Attr{slog.String(attrSvixID, ch.EventID), slog.String(attrKind, ch.Kind.String()), slog.String(attrObjectID, ch.ID)}
	if ch.Kind == clerksync.KindUser {
		ids = []slog.Attr{slog.String(attrSvixID, ch.EventID), slog.String(attrUserID, ch.ID)}
	}
	switch res.Outcome {
	case clerksync.OutcomeApplied:
		switch {
		case res.Action == clerksync.ActionDeleted && ch.Kind == clerksync.KindUser:
			l.LogAttrs(ctx, slog.LevelInfo, "Deleted profile for user "+ch.ID, ids...)
		case res.Action == clerksync.ActionDeleted:
			l.LogAttrs(ctx, slog.LevelInfo, "Deleted "+what, ids...)
		case ch.Kind == clerksync.KindUser:
			l.LogAttrs(ctx, slog.LevelInfo, "Successfully synced profile for user "+ch.ID,
				append(ids, slog.String(attrAction, res.Action.String()), slog.Duration(attrDuration, time.Since(start)))...)
		default:
			l.LogAttrs(ctx, slog.LevelInfo, "Successfully synced "+what,
				append(ids, slog.String(attrAction, res.Action.String()), slog.Duration(attrDuration, time.Since(start)))...)
		}
	case clerksync.OutcomeStale:
		l.LogAttrs(ctx, slog.LevelInfo, "Skipped stale event for "+what+": "+res.Reason.Explain(),
			append(ids, slog.String(attrReason, res.Reason.String()))...)
	case clerksync.OutcomeDuplicate:
		l.LogAttrs(ctx, slog.LevelInfo, "Duplicate delivery "+ch.EventID+": already processed", ids...)
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
	if res.Reason != clerksync.ReasonNone {
		b = append(b, `","reason":"`...)
		b = append(b, res.Reason.String()...)
	}
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
		s.reject(w, start, http.StatusServiceUnavailable, "overloaded", "busy, retry later", nil)
	case clerksync.EUNAVAILABLE:
		w.Header().Set("Retry-After", retryAfterUnavailable)
		s.Logger.Error("webhook deferred: database unavailable", attrSvixID, ch.EventID, attrError, err)
		s.reject(w, start, http.StatusServiceUnavailable, "unavailable", "database unavailable, retry later", nil)
	default:
		w.Header().Set("Retry-After", retryAfterUnavailable)
		s.Logger.Error("webhook failed", attrSvixID, ch.EventID, attrError, err)
		s.reject(w, start, http.StatusServiceUnavailable, "error", "temporarily unable to process, retry later", nil)
	}
}

// reject answers an error as {"error": msg} and counts it under result. A delivery
// refused before it reached the engine (why says why) is logged at debug: those are
// what a flood of junk requests is made of, and the count by result is in /metrics.
func (s *Server) reject(w http.ResponseWriter, start time.Time, code int, result, msg string, why error, attrs ...slog.Attr) {
	s.observe(result, start)
	if why != nil && s.Logger.Enabled(context.Background(), slog.LevelDebug) {
		attrs = append(attrs, slog.Int("status", code), slog.String(attrReason, result), slog.String(attrError, why.Error()))
		s.Logger.LogAttrs(context.Background(), slog.LevelDebug, "webhook delivery refused: "+msg, attrs...)
	}
	writeJSON(w, code, map[string]string{"error": msg})
}

func (s *Server) observe(result string, start time.Time) {
	if s.Metrics == nil {
		return
	}
	s.Metrics.Deliveries.WithLabelValues(result).Inc()
	s.Metrics.DeliveryDuration.Observe(time.Since(start).Seconds())
}
