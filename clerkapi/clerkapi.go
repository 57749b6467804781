// Package clerkapi reads Clerk's Backend API: one user by id, pages of the user
// list and the user count; organizations, their memberships and invitations, a
// user's memberships, roles and permissions; each object as the raw JSON Clerk sent,
// for the backfill, the reconcile, and the one-object syncs.
//
// A Client stays under Clerk's rate limits with a client-side limiter, honours
// Retry-After when Clerk answers 429 anyway, retries server errors and network
// failures with exponential backoff and jitter, bounds every attempt with a
// timeout, and stops at once when its context ends. Its errors are
// *clerksync.Error values whose code says what to do: ENOTFOUND only when Clerk
// says the object asked for (a user, an organization) does not exist, ECONFIG when
// the secret key or the address is wrong, EUNAVAILABLE when Clerk could not be
// reached or kept failing.
package clerkapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/user"
	"golang.org/x/time/rate"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkdecode"
)

// Defaults of Config.
const (
	DefaultBaseURL    = clerk.APIURL // https://api.clerk.com/v1
	DefaultTimeout    = 10 * time.Second
	DefaultMaxRetries = 4
	DefaultRateWindow = 10 * time.Second
)

// Clerk's Backend API limits per secret key, in requests per 10 seconds.
const (
	DevRateLimit  = 100  // development instances (sk_test_ keys)
	ProdRateLimit = 1000 // production instances (sk_live_ keys)
)

const (
	// apiVersion is the Backend API version clerk-sdk-go v2.4.2 sends; the direct
	// calls send the same so that every answer has the same shape.
	apiVersion = "2025-04-10"
	userAgent  = "clerksync"

	// maxBodyBytes bounds an answer: a page of 500 rich users is about 2 MB.
	maxBodyBytes = 64 << 20
	// maxRetryAfter is the longest Retry-After the client waits for within a call;
	// a longer one fails the call with EUNAVAILABLE.
	maxRetryAfter = time.Minute

	backoffBase = 500 * time.Millisecond
	backoffMax  = 30 * time.Second

	// MaxLimit is the largest page Clerk answers.
	MaxLimit = 500
	// MaxUserIDs is how many ids ListParams.UserIDs may hold.
	MaxUserIDs = 100
)

// Log attribute keys.
const (
	logOp      = "op"
	logStatus  = "status"
	logAttempt = "attempt"
	logDelay   = "delay"
	logError   = "error"
)

// Config configures a Client. Only SecretKey is required.
type Config struct {
	// BaseURL is the Backend API's address including /v1 (CLERK_API_URL); it
	// defaults to DefaultBaseURL.
	BaseURL string
	// SecretKey is the instance's secret key (CLERK_SECRET_KEY).
	SecretKey string
	// RateLimit is how many requests the client sends per RateWindow at most; 0
	// means Clerk's limit for the key (DefaultRateLimit), a negative value turns
	// the limiter off. The client keeps 10% below it.
	RateLimit int
	// RateWindow is the window of RateLimit; it defaults to Clerk's 10 seconds.
	RateWindow time.Duration
	// Timeout bounds each attempt of a request, reading the answer included; it
	// defaults to DefaultTimeout, and a negative value means none.
	Timeout time.Duration
	// MaxRetries is how many times a request is retried after a server error, a
	// 429 or a network failure; 0 means DefaultMaxRetries, a negative value none.
	MaxRetries int
	// HTTPClient sends the requests; it defaults to a client of its own.
	HTTPClient *http.Client
	// Logger receives a warning for each retry; it defaults to discarding.
	Logger *slog.Logger

	// Now and Sleep replace the clock and the waits of the limiter, Retry-After
	// and backoff, for tests. Sleep must return ctx.Err() when ctx ends first.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultRateLimit returns Clerk's limit for secretKey in requests per 10
// seconds: ProdRateLimit for a production key (sk_live_), DevRateLimit otherwise.
func DefaultRateLimit(secretKey string) int {
	if strings.HasPrefix(secretKey, "sk_live_") {
		return ProdRateLimit
	}
	return DevRateLimit
}

// Client calls Clerk's Backend API. It is safe for concurrent use.
type Client struct {
	baseURL    string
	key        string
	http       *http.Client
	transport  http.RoundTripper
	timeout    time.Duration
	maxRetries int
	log        *slog.Logger
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error

	limiter  *rate.Limiter // nil when off
	baseRate rate.Limit

	mu         sync.Mutex
	pauseUntil time.Time // set by a 429: no request leaves before
}

// New returns a Client for cfg, or an error with code ECONFIG when the secret key
// is missing or malformed or the base URL is not an http(s) URL.
func New(cfg Config) (*Client, error) {
	key := strings.TrimSpace(cfg.SecretKey)
	switch {
	case key == "":
		return nil, &clerksync.Error{Code: clerksync.ECONFIG, Message: "CLERK_SECRET_KEY is not set: the Clerk Backend API cannot be used",
			Hint: "set CLERK_SECRET_KEY to the Secret Key from the Clerk Dashboard → API keys"}
	case strings.HasPrefix(key, "pk_"):
		return nil, &clerksync.Error{Code: clerksync.ECONFIG, Message: "CLERK_SECRET_KEY holds a publishable key (pk_…)",
			Hint: "use the Secret Key (sk_test_… or sk_live_…) from the Clerk Dashboard → API keys"}
	case strings.IndexFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return nil, &clerksync.Error{Code: clerksync.ECONFIG, Message: "CLERK_SECRET_KEY contains spaces or control characters",
			Hint: "copy the Secret Key again from the Clerk Dashboard → API keys"}
	}

	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &clerksync.Error{Code: clerksync.ECONFIG, Message: fmt.Sprintf("CLERK_API_URL %q is not an http or https URL", cfg.BaseURL),
			Hint: "use Clerk's Backend API address, " + DefaultBaseURL}
	}

	c := &Client{
		baseURL:    base,
		key:        key,
		http:       cfg.HTTPClient,
		timeout:    cfg.Timeout,
		maxRetries: cfg.MaxRetries,
		log:        cfg.Logger,
		now:        cfg.Now,
		sleep:      cfg.Sleep,
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	c.transport = c.http.Transport
	if c.transport == nil {
		c.transport = http.DefaultTransport
	}
	switch {
	case c.timeout == 0:
		c.timeout = DefaultTimeout
	case c.timeout < 0:
		c.timeout = 0
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepContext
	}

	limit := cfg.RateLimit
	if limit == 0 {
		limit = DefaultRateLimit(key)
	}
	window := cfg.RateWindow
	if window <= 0 {
		window = DefaultRateWindow
	}
	if limit > 0 {
		// Clerk counts requests per window. A token bucket of burst b refilled at r
		// per second lets through at most b + r·window requests in any window:
		// keep that at 90% of the limit, leaving room for clock skew and for
		// requests the bucket does not see (another process with the same key).
		budget := 0.9 * float64(limit)
		burst := max(1, limit/10)
		perSecond := (budget - float64(burst)) / window.Seconds()
		if perSecond <= 0 {
			perSecond = budget / window.Seconds()
		}
		c.baseRate = rate.Limit(perSecond)
		c.limiter = rate.NewLimiter(c.baseRate, burst)
	}
	return c, nil
}

// ListParams selects a page of the user list.
type ListParams struct {
	// Limit is the page size, 1 to MaxLimit; 0 leaves Clerk's default of 10.
	Limit int
	// Offset skips that many users. Clerk walks and discards them, so deep offsets
	// get slow: prefer StartingAfter to walk a long list.
	Offset int
	// OrderBy is a field such as created_at or updated_at, prefixed with - for
	// descending order; Clerk defaults to -created_at.
	OrderBy string
	// StartingAfter is the id of the last user of the previous page: the page
	// starts after it. It requires ordering by created_at and no Offset.
	StartingAfter string
	// UserIDs restricts the list to these users (at most MaxUserIDs); an id that
	// Clerk does not have is left out of the answer.
	UserIDs []string
}

// orderFields are the fields Clerk can order the user list by.
var orderFields = map[string]bool{
	"created_at": true, "updated_at": true, "email_address": true, "web3wallet": true,
	"first_name": true, "last_name": true, "phone_number": true, "username": true,
	"last_active_at": true, "last_sign_in_at": true,
}

// query returns p as query parameters, or an EINVALID error.
func (p ListParams) query() (url.Values, error) {
	q := url.Values{}
	if p.Limit < 0 || p.Limit > MaxLimit {
		return nil, clerksync.Errorf(clerksync.EINVALID, "list users: limit %d is outside 1 to %d", p.Limit, MaxLimit)
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Offset < 0 {
		return nil, clerksync.Errorf(clerksync.EINVALID, "list users: negative offset %d", p.Offset)
	}
	if p.Offset > 0 {
		q.Set("offset", strconv.Itoa(p.Offset))
	}
	if p.OrderBy != "" {
		field := strings.TrimLeft(p.OrderBy, "+-")
		if !orderFields[field] || len(p.OrderBy)-len(field) > 1 {
			return nil, clerksync.Errorf(clerksync.EINVALID, "list users: Clerk cannot order users by %q", p.OrderBy)
		}
		q.Set("order_by", p.OrderBy)
	}
	if p.StartingAfter != "" {
		if field := strings.TrimLeft(p.OrderBy, "+-"); field != "" && field != "created_at" {
			return nil, clerksync.Errorf(clerksync.EINVALID, "list users: starting_after needs ordering by created_at, not %q", p.OrderBy)
		}
		if p.Offset != 0 {
			return nil, clerksync.Errorf(clerksync.EINVALID, "list users: starting_after cannot be combined with an offset")
		}
		q.Set("starting_after", p.StartingAfter)
	}
	if len(p.UserIDs) > MaxUserIDs {
		return nil, clerksync.Errorf(clerksync.EINVALID, "list users: %d user ids, Clerk accepts up to %d", len(p.UserIDs), MaxUserIDs)
	}
	for _, id := range p.UserIDs {
		q.Add("user_id", id)
	}
	return q, nil
}

// GetUser returns the user id as the raw JSON object Clerk sent. It returns an
// error with code ENOTFOUND only when Clerk answers 404 resource_not_found: the
// user does not exist (or was deleted).
func (c *Client) GetUser(ctx context.Context, id string) ([]byte, error) {
	op := "get user " + id
	if !validUserID(id) {
		return nil, clerksync.Errorf(clerksync.EINVALID, "get user: %q is not a Clerk user id", id)
	}
	res, err := c.do(ctx, op, func(ctx context.Context) (*result, error) {
		return c.getWithSDK(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK {
		return nil, c.failure(op, res, "user")
	}
	return res.body, nil
}

// ListUsers returns one page of users, each the raw JSON object Clerk sent.
//
// It calls Clerk directly rather than through clerk-sdk-go, whose user list sends
// a second request to /users/count for every page (halving what a backfill gets
// out of the rate limit) and knows no starting_after.
func (c *Client) ListUsers(ctx context.Context, p ListParams) ([]json.RawMessage, error) {
	const op = "list users"
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	res, err := c.do(ctx, op, func(ctx context.Context) (*result, error) {
		return c.get(ctx, "/users", q)
	})
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK {
		return nil, c.failure(op, res, "")
	}
	// A page is up to 500 users, ~2 MB: split it with the lean scanner the webhook
	// path uses rather than encoding/json, which a backfill would spend most of its
	// time in. The users are sub-slices of the answer, not copies.
	elems, err := clerkdecode.SplitArray(res.body)
	if err != nil {
		return nil, &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: op + ": Clerk answered something other than a list of users", Err: err}
	}
	users := make([]json.RawMessage, len(elems))
	for i, e := range elems {
		users[i] = e
	}
	return users, nil
}

// CountUsers returns how many users the instance has.
func (c *Client) CountUsers(ctx context.Context) (int, error) {
	const op = "count users"
	res, err := c.do(ctx, op, func(ctx context.Context) (*result, error) {
		return c.get(ctx, "/users/count", nil)
	})
	if err != nil {
		return 0, err
	}
	if res.status != http.StatusOK {
		return 0, c.failure(op, res, "")
	}
	var count struct {
		Object     string `json:"object"`
		TotalCount *int   `json:"total_count"`
	}
	if err := json.Unmarshal(res.body, &count); err != nil || count.TotalCount == nil {
		if err == nil {
			err = errors.New("no total_count")
		}
		return 0, &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: op + ": Clerk answered something other than a count", Err: err}
	}
	return *count.TotalCount, nil
}

// validUserID reports whether id can be put in a URL path as it is: Clerk's ids
// are a prefix and base62 characters.
func validUserID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// result is an answer of the Backend API, read whole.
type result struct {
	status int
	header http.Header
	body   []byte
}

// do runs attempt until it gets an answer that is not worth retrying, waiting for
// the limiter before each attempt. It returns the final answer, whatever its
// status, unless every attempt failed (network errors, 429s, server errors) or ctx
// ended.
func (c *Client) do(ctx context.Context, op string, attempt func(context.Context) (*result, error)) (*result, error) {
	for try := 0; ; try++ {
		if err := c.wait(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		actx, cancel := ctx, context.CancelFunc(func() {})
		if c.timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, c.timeout)
		}
		res, err := attempt(actx)
		cancel()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", op, ctx.Err())
		}

		var delay time.Duration
		var failure error
		switch {
		case err != nil:
			failure = &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: op + ": Clerk API is unreachable", Err: err}
			delay = backoff(try)
		case res.status == http.StatusTooManyRequests:
			apiErr := newAPIError(res, c.now())
			failure = &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: op + ": Clerk API rate limit exceeded", Err: apiErr}
			if apiErr.RetryAfter > maxRetryAfter {
				c.pause(maxRetryAfter)
				return nil, failure
			}
			c.pause(apiErr.RetryAfter)
			c.slowDown()
			delay = max(apiErr.RetryAfter, backoff(0))
		case res.status >= 500:
			apiErr := newAPIError(res, c.now())
			failure = &clerksync.Error{Code: clerksync.EUNAVAILABLE, Message: fmt.Sprintf("%s: Clerk API is unavailable (%d)", op, res.status), Err: apiErr}
			delay = max(apiErr.RetryAfter, backoff(try))
		default:
			if res.status < 300 {
				c.speedUp()
			}
			return res, nil
		}
		if try >= c.maxRetries || delay > maxRetryAfter {
			return nil, failure
		}
		status := 0
		if res != nil {
			status = res.status
		}
		c.log.Warn("Clerk API request failed; retrying", logOp, op, logStatus, status, logAttempt, try+1, logDelay, delay, logError, errors.Unwrap(failure))
		if err := c.sleep(ctx, delay); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
}

// failure returns the error for an answer that is not 200 and was not retried. A 404
// resource_not_found is ENOTFOUND when the request names an object (missing says
// what: "user", "organization"), and a wrong address otherwise.
func (c *Client) failure(op string, res *result, missing string) error {
	apiErr := newAPIError(res, c.now())
	switch {
	case apiErr.Code == "organization_not_enabled_in_instance":
		return &clerksync.Error{Code: clerksync.ECONFIG, Message: op + ": the organizations feature is not enabled for this Clerk instance",
			Err: errors.Join(ErrOrganizationsNotEnabled, apiErr), Hint: "enable Organizations in the Clerk Dashboard to sync them"}
	case res.status == http.StatusNotFound && missing != "" && apiErr.Code == "resource_not_found":
		return &clerksync.Error{Code: clerksync.ENOTFOUND, Message: op + ": Clerk has no such " + missing, Err: apiErr}
	case res.status == http.StatusUnauthorized || res.status == http.StatusForbidden:
		return &clerksync.Error{Code: clerksync.ECONFIG, Message: op + ": Clerk rejected the secret key", Err: apiErr,
			Hint: "check CLERK_SECRET_KEY: copy the Secret Key of this instance from the Clerk Dashboard → API keys"}
	case res.status == http.StatusNotFound:
		return &clerksync.Error{Code: clerksync.ECONFIG, Message: op + ": Clerk API answered 404 for an endpoint it has", Err: apiErr,
			Hint: "check CLERK_API_URL: it must be the Backend API's address including /v1, such as " + DefaultBaseURL}
	case res.status == http.StatusBadRequest || res.status == http.StatusUnprocessableEntity:
		return &clerksync.Error{Code: clerksync.EINVALID, Message: op + ": Clerk refused the request", Err: apiErr}
	}
	return &clerksync.Error{Code: clerksync.EINTERNAL, Message: fmt.Sprintf("%s: unexpected answer %d from Clerk API", op, res.status), Err: apiErr}
}

// get sends GET path?q to the Backend API and reads the answer.
func (c *Client) get(ctx context.Context, path string, q url.Values) (*result, error) {
	target := c.baseURL + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	resp, err := c.send(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// A page of 500 users is ~2 MB: read it into a buffer of the announced size
	// rather than letting io.ReadAll double its way there.
	var buf bytes.Buffer
	if n := resp.ContentLength; n > 0 && n <= maxBodyBytes {
		buf.Grow(int(n) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxBodyBytes+1)); err != nil {
		return nil, err
	}
	body := buf.Bytes()
	if len(body) > maxBodyBytes {
		return nil, fmt.Errorf("answer larger than %d bytes", maxBodyBytes)
	}
	return &result{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// send sends a request of method for target with body to the Backend API, with the
// headers every call carries, and returns the answer.
func (c *Client) send(ctx context.Context, method, target string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Clerk-API-Version", apiVersion)
	req.Header.Set("User-Agent", userAgent)
	return c.http.Do(req)
}

// getWithSDK fetches one user with clerk-sdk-go's user client. The SDK makes one
// attempt and decodes the answer into its own types; the client keeps the raw
// bytes it read (Response.RawJSON), and a recorder under the SDK's HTTP client
// keeps the status and headers, which the SDK drops for error bodies that are not
// Clerk's (an HTML 503 from a proxy, say). Retries, limits and timeouts stay in
// do, around this single attempt.
func (c *Client) getWithSDK(ctx context.Context, id string) (*result, error) {
	rec := &recorder{base: c.transport}
	hc := *c.http
	hc.Transport = rec
	sdk := user.NewClient(&clerk.ClientConfig{BackendConfig: clerk.BackendConfig{
		HTTPClient: &hc,
		URL:        &c.baseURL,
		Key:        &c.key,
	}})
	u, err := sdk.Get(ctx, id)
	if rec.status == 0 || rec.readErr != nil {
		// No complete answer: the request or the reading of the body failed.
		if err == nil {
			err = rec.readErr
		}
		if err == nil {
			err = errors.New("no answer")
		}
		return nil, err
	}
	res := &result{status: rec.status, header: rec.header}
	var apiErr *clerk.APIErrorResponse
	switch {
	case u != nil && u.Response != nil:
		// Kept even when the SDK could not decode it into its own types: decoding
		// is the caller's business, and lenient.
		res.body = u.Response.RawJSON
	case errors.As(err, &apiErr) && apiErr.Response != nil:
		res.body = apiErr.Response.RawJSON
	case err != nil:
		// For a body that is not Clerk's error, the SDK's error is the body.
		res.body = []byte(err.Error())
	}
	return res, nil
}

// recorder is an http.RoundTripper that keeps the status and headers of the last
// answer and whether its body was read to the end.
type recorder struct {
	base    http.RoundTripper
	status  int
	header  http.Header
	readErr error
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	r.status, r.header, r.readErr = resp.StatusCode, resp.Header, nil
	resp.Body = &recordingBody{ReadCloser: resp.Body, rec: r}
	return resp, nil
}

type recordingBody struct {
	io.ReadCloser
	rec *recorder
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.rec.readErr = err
	}
	return n, err
}

// APIError is an error answer of the Backend API. It is the cause (errors.As) of
// the *clerksync.Error a call returns for an answer other than 200.
type APIError struct {
	StatusCode int
	// Code is the code of Clerk's first error, such as resource_not_found; empty
	// when the body was not Clerk's error body.
	Code    string
	Message string
	TraceID string
	// RetryAfter is what the Retry-After header asked for (0 when absent).
	RetryAfter time.Duration
}

// Error returns the status, Clerk's code and message, and the trace id.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.TraceID != "" {
		b.WriteString(" [clerk_trace_id " + e.TraceID + "]")
	}
	return b.String()
}

// newAPIError reads Clerk's error body and Retry-After header of res.
func newAPIError(res *result, now time.Time) *APIError {
	e := &APIError{StatusCode: res.status, RetryAfter: parseRetryAfter(res.header.Get("Retry-After"), now)}
	var body clerk.APIErrorResponse
	if json.Unmarshal(res.body, &body) == nil && len(body.Errors) > 0 {
		first := body.Errors[0]
		e.Code, e.Message, e.TraceID = first.Code, first.LongMessage, body.TraceID
		if e.Message == "" {
			e.Message = first.Message
		}
	} else if text := http.StatusText(res.status); text != "" {
		e.Message = text
	}
	return e
}

// parseRetryAfter reads a Retry-After value: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff returns the wait before retry number try+1: exponential from 500 ms,
// capped at 30 s, with half of it random so that clients do not retry in step.
func backoff(try int) time.Duration {
	d := backoffMax
	if try < 16 {
		d = min(backoffMax, backoffBase<<try)
	}
	return d/2 + rand.N(d/2+1)
}

// wait blocks until a request may leave: after any pause a 429 asked for, and
// when the limiter has a token.
func (c *Client) wait(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.mu.Lock()
		until := c.pauseUntil
		c.mu.Unlock()
		now := c.now()
		if !now.Before(until) {
			break
		}
		if err := c.sleep(ctx, until.Sub(now)); err != nil {
			return err
		}
	}
	if c.limiter == nil {
		return nil
	}
	now := c.now()
	r := c.limiter.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		if err := c.sleep(ctx, d); err != nil {
			r.CancelAt(c.now())
			return err
		}
	}
	return nil
}

// pause holds every request of the client for d, as a 429's Retry-After asks.
func (c *Client) pause(d time.Duration) {
	if d <= 0 {
		return
	}
	until := c.now().Add(d)
	c.mu.Lock()
	defer c.mu.Unlock()
	if until.After(c.pauseUntil) {
		c.pauseUntil = until
	}
}

// slowDown halves the limiter's rate after a 429, down to an eighth of the
// configured rate: something else uses the same key, or Clerk's limit is lower.
func (c *Client) slowDown() {
	if c.limiter == nil {
		return
	}
	c.limiter.SetLimitAt(c.now(), max(c.limiter.Limit()/2, c.baseRate/8))
}

// speedUp moves the limiter's rate back towards the configured rate by a
// twentieth of it after each success.
func (c *Client) speedUp() {
	if c.limiter == nil {
		return
	}
	if cur := c.limiter.Limit(); cur < c.baseRate {
		c.limiter.SetLimitAt(c.now(), min(c.baseRate, cur+c.baseRate/20))
	}
}

// sleepContext waits for d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
