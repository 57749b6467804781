package clerkapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/clerksync/clerksync"
	"github.com/clerksync/clerksync/clerkapi"
	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/internal/clocktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// manualClock moves only when told to, or when the client sleeps.
type manualClock = clocktest.Clock

func newClock() *manualClock {
	return clocktest.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
}

// fixture is a fake Backend API behind a real HTTP server, with a clock shared by
// the fake and the clients made for it.
type fixture struct {
	fake  *clerkfake.Server
	srv   *httptest.Server
	clock *manualClock
}

func newFixture(tb testing.TB, opts ...clerkfake.Option) *fixture {
	tb.Helper()
	clk := newClock()
	fake := clerkfake.New(append([]clerkfake.Option{clerkfake.WithClock(clk.Now)}, opts...)...)
	srv := httptest.NewServer(fake)
	tb.Cleanup(srv.Close)
	return &fixture{fake: fake, srv: srv, clock: clk}
}

// client returns a client of the fake whose waits move the shared clock, changed
// by edit.
func (f *fixture) client(tb testing.TB, edit func(*clerkapi.Config)) *clerkapi.Client {
	tb.Helper()
	cfg := clerkapi.Config{
		BaseURL:    f.srv.URL + "/v1",
		SecretKey:  f.fake.SecretKey(),
		HTTPClient: f.srv.Client(),
		Now:        f.clock.Now,
		Sleep:      f.clock.Sleep,
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := clerkapi.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// mustCode fails unless err has code.
func mustCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := clerksync.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q, want %q (err: %v)", got, code, err)
	}
}

// apiError returns the *clerkapi.APIError in err's chain.
func apiError(tb testing.TB, err error) *clerkapi.APIError {
	tb.Helper()
	var e *clerkapi.APIError
	if !errors.As(err, &e) {
		tb.Fatalf("error %v has no *clerkapi.APIError", err)
	}
	return e
}

// ids returns the ids of users. Rather than decoding whole users, it reads the id
// where Clerk (and the fake) writes it: right after "object":"user".
func ids(tb testing.TB, users []json.RawMessage) []string {
	tb.Helper()
	const prefix = `{"object":"user","id":"`
	out := make([]string, len(users))
	for i, raw := range users {
		rest, ok := bytes.CutPrefix(raw, []byte(prefix))
		end := bytes.IndexByte(rest, '"')
		if !ok || end < 0 {
			tb.Fatalf("user %d does not start with %s", i, prefix)
		}
		out[i] = string(rest[:end])
	}
	return out
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()

	tests := []struct {
		Name     string
		Config   clerkapi.Config
		WantCode string
		WantHint string
	}{
		{Name: "MissingKey", Config: clerkapi.Config{}, WantCode: clerksync.ECONFIG, WantHint: "CLERK_SECRET_KEY"},
		{Name: "PublishableKey", Config: clerkapi.Config{SecretKey: "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k"}, WantCode: clerksync.ECONFIG, WantHint: "Secret Key"},
		{Name: "KeyWithSpace", Config: clerkapi.Config{SecretKey: "sk_test_abc def"}, WantCode: clerksync.ECONFIG, WantHint: "Secret Key"},
		{Name: "BadURL", Config: clerkapi.Config{SecretKey: "sk_test_abc", BaseURL: "api.clerk.com/v1"}, WantCode: clerksync.ECONFIG, WantHint: clerkapi.DefaultBaseURL},
		{Name: "Defaults", Config: clerkapi.Config{SecretKey: "sk_live_abc"}},
		{Name: "SurroundingSpace", Config: clerkapi.Config{SecretKey: " sk_test_abc\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			_, err := clerkapi.New(tt.Config)
			if tt.WantCode == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			mustCode(t, err, tt.WantCode)
			var e *clerksync.Error
			if !errors.As(err, &e) || !strings.Contains(e.Hint, tt.WantHint) {
				t.Fatalf("error %v: hint does not mention %q", err, tt.WantHint)
			}
			if key := tt.Config.SecretKey; key != "" && strings.Contains(err.Error(), strings.TrimSpace(key)) {
				t.Fatalf("error %q contains the secret key", err)
			}
		})
	}
}

func TestDefaultRateLimit(t *testing.T) {
	t.Parallel()

	for key, want := range map[string]int{"sk_test_abc": 100, "sk_live_abc": 1000, "unknown": 100} {
		if got := clerkapi.DefaultRateLimit(key); got != want {
			t.Fatalf("DefaultRateLimit(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestGetUser(t *testing.T) {
	t.Parallel()

	f := newFixture(t)
	u, err := f.fake.CreateUser(clerkfake.UserParams{Rich: true, PublicMetadata: json.RawMessage(`{"plan":"pro"}`)})
	if err != nil {
		t.Fatal(err)
	}
	c := f.client(t, nil)

	got, err := c.GetUser(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The bytes are Clerk's, untouched: the same as a plain GET answers.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, f.srv.URL+"/v1/users/"+u.ID, nil)
	req.Header.Set("Authorization", "Bearer "+f.fake.SecretKey())
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var want json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("user (-want +got):\n%s", diff)
	}
	if got, want := f.fake.Requests("GET /v1/users/{user_id}"), 2; got != want {
		t.Fatalf("requests = %d, want %d", got, want)
	}
}

func TestGetUserNotFound(t *testing.T) {
	t.Parallel()

	t.Run("ResourceNotFound", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		_, err := f.client(t, nil).GetUser(context.Background(), "user_2g7np7Hrk0SN6kj5EDMLDaKNL0X")
		mustCode(t, err, clerksync.ENOTFOUND)
		if got, want := apiError(t, err).Code, "resource_not_found"; got != want {
			t.Fatalf("code = %q, want %q", got, want)
		}
		if got, want := f.fake.Requests("GET /v1/users/{user_id}"), 1; got != want {
			t.Fatalf("requests = %d, want %d (404 is not retried)", got, want)
		}
	})
	t.Run("DeletedUser", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		u, err := f.fake.CreateUser(clerkfake.UserParams{})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.fake.DeleteUser(u.ID); err != nil {
			t.Fatal(err)
		}
		_, err = f.client(t, nil).GetUser(context.Background(), u.ID)
		mustCode(t, err, clerksync.ENOTFOUND)
	})

	// A 404 that is not Clerk saying the user does not exist must never read as
	// "deleted": a wrong CLERK_API_URL or a proxy's page.
	others := []struct {
		Name string
		Body string
	}{
		{Name: "HTMLPage", Body: "<html><body>404 Not Found</body></html>"},
		{Name: "OtherClerkCode", Body: `{"errors":[{"message":"not found","long_message":"no such route","code":"route_not_found"}]}`},
	}
	for _, tt := range others {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(tt.Body))
			}))
			defer srv.Close()
			c, err := clerkapi.New(clerkapi.Config{BaseURL: srv.URL + "/v1", SecretKey: "sk_test_abc", HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetUser(context.Background(), "user_2g7np7Hrk0SN6kj5EDMLDaKNL0X")
			mustCode(t, err, clerksync.ECONFIG)
			if got, want := apiError(t, err).StatusCode, http.StatusNotFound; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
		})
	}
	t.Run("InvalidID", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		for _, id := range []string{"", "user_1/../../users", "user 1", "user_1?limit=1"} {
			_, err := f.client(t, nil).GetUser(context.Background(), id)
			mustCode(t, err, clerksync.EINVALID)
		}
		if got := f.fake.RequestCounts(); len(got) != 0 {
			t.Fatalf("requests sent for invalid ids: %v", got)
		}
	})
}

func TestListUsersPages(t *testing.T) {
	t.Parallel()

	f := newFixture(t, clerkfake.WithRateLimit(0, 0))
	if err := f.fake.Seed(1234); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, u := range f.fake.Users() {
		want = append(want, u.ID)
	}
	c := f.client(t, nil)
	ctx := context.Background()

	t.Run("Offset", func(t *testing.T) {
		var got []string
		for offset := 0; ; offset += 500 {
			page, err := c.ListUsers(ctx, clerkapi.ListParams{Limit: 500, Offset: offset, OrderBy: "created_at"})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(t, page)...)
			if len(page) < 500 {
				break
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("ids (-want +got):\n%s", diff)
		}
	})
	t.Run("Cursor", func(t *testing.T) {
		var got []string
		cursor := ""
		for {
			page, err := c.ListUsers(ctx, clerkapi.ListParams{Limit: 500, StartingAfter: cursor})
			if err != nil {
				t.Fatal(err)
			}
			pageIDs := ids(t, page)
			got = append(got, pageIDs...)
			if len(page) < 500 {
				break
			}
			cursor = pageIDs[len(pageIDs)-1]
		}
		slices.Reverse(got) // Clerk's default order is newest first.
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("ids (-want +got):\n%s", diff)
		}
	})
	t.Run("UserIDs", func(t *testing.T) {
		page, err := c.ListUsers(ctx, clerkapi.ListParams{UserIDs: []string{want[7], want[3], "user_gone"}, OrderBy: "created_at"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{want[3], want[7]}, ids(t, page)); diff != "" {
			t.Fatalf("ids (-want +got):\n%s", diff)
		}
	})
	t.Run("DefaultLimit", func(t *testing.T) {
		page, err := c.ListUsers(ctx, clerkapi.ListParams{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(page), 10; got != want {
			t.Fatalf("len = %d, want %d", got, want)
		}
	})
	// Listing never counts: clerk-sdk-go's list does, once per page.
	if got := f.fake.Requests("GET /v1/users/count"); got != 0 {
		t.Fatalf("count requests = %d, want 0", got)
	}
}

func TestListUsersRejectsBadParams(t *testing.T) {
	t.Parallel()

	f := newFixture(t)
	c := f.client(t, nil)
	tests := []struct {
		Name   string
		Params clerkapi.ListParams
	}{
		{Name: "LimitTooLarge", Params: clerkapi.ListParams{Limit: 501}},
		{Name: "NegativeLimit", Params: clerkapi.ListParams{Limit: -1}},
		{Name: "NegativeOffset", Params: clerkapi.ListParams{Offset: -1}},
		{Name: "UnknownOrder", Params: clerkapi.ListParams{OrderBy: "-shoe_size"}},
		{Name: "DoubleSign", Params: clerkapi.ListParams{OrderBy: "+-created_at"}},
		{Name: "CursorWithOrder", Params: clerkapi.ListParams{StartingAfter: "user_x", OrderBy: "updated_at"}},
		{Name: "CursorWithOffset", Params: clerkapi.ListParams{StartingAfter: "user_x", Offset: 10}},
		{Name: "TooManyIDs", Params: clerkapi.ListParams{UserIDs: make([]string, 101)}},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			_, err := c.ListUsers(context.Background(), tt.Params)
			mustCode(t, err, clerksync.EINVALID)
		})
	}
	if got := f.fake.RequestCounts(); len(got) != 0 {
		t.Fatalf("requests sent for bad params: %v", got)
	}
}

func TestCountUsers(t *testing.T) {
	t.Parallel()

	f := newFixture(t)
	if err := f.fake.Seed(42); err != nil {
		t.Fatal(err)
	}
	n, err := f.client(t, nil).CountUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n, 42; got != want {
		t.Fatalf("CountUsers = %d, want %d", got, want)
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()

	const key = "sk_test_THIS-KEY-MUST-NOT-LEAK"
	tests := []struct {
		Name string
		// Setup prepares the fake and returns the client's config changes.
		Setup        func(f *fixture) func(*clerkapi.Config)
		WantCode     string
		WantStatus   int // of the APIError, 0 for none
		WantRequests int
		WantIs       error
	}{
		{
			Name: "WrongKey",
			Setup: func(f *fixture) func(*clerkapi.Config) {
				return func(c *clerkapi.Config) { c.SecretKey = key }
			},
			WantCode: clerksync.ECONFIG, WantStatus: http.StatusUnauthorized, WantRequests: 1,
		},
		{
			Name: "ServerErrorsExhaustRetries",
			Setup: func(f *fixture) func(*clerkapi.Config) {
				f.fake.FailNext(10, http.StatusInternalServerError)
				return func(c *clerkapi.Config) { c.MaxRetries = 2 }
			},
			WantCode: clerksync.EUNAVAILABLE, WantStatus: http.StatusInternalServerError, WantRequests: 3,
		},
		{
			Name: "RefusedParameters",
			Setup: func(f *fixture) func(*clerkapi.Config) {
				return nil // the fake orders by created_at and updated_at only: 422
			},
			WantCode: clerksync.EINVALID, WantStatus: http.StatusUnprocessableEntity, WantRequests: 1,
		},
		{
			Name: "NetworkErrorsExhaustRetries",
			Setup: func(f *fixture) func(*clerkapi.Config) {
				f.fake.DropNext(10)
				return func(c *clerkapi.Config) { c.MaxRetries = 3 }
			},
			WantCode: clerksync.EUNAVAILABLE, WantRequests: 4,
		},
		{
			Name: "RateLimitedWithoutRetries",
			Setup: func(f *fixture) func(*clerkapi.Config) {
				f.fake.SetRateLimit(1, 10*time.Second)
				if _, err := f.fake.CreateUser(clerkfake.UserParams{}); err != nil {
					panic(err)
				}
				return func(c *clerkapi.Config) { c.MaxRetries = -1; c.RateLimit = -1 }
			},
			WantCode: clerksync.EUNAVAILABLE, WantStatus: http.StatusTooManyRequests, WantRequests: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			c := f.client(t, tt.Setup(f))
			var err error
			if tt.Name == "RefusedParameters" {
				_, err = c.ListUsers(context.Background(), clerkapi.ListParams{OrderBy: "-last_sign_in_at"})
			} else {
				_, err = c.ListUsers(context.Background(), clerkapi.ListParams{Limit: 1})
				if tt.Name == "RateLimitedWithoutRetries" {
					_, err = c.ListUsers(context.Background(), clerkapi.ListParams{Limit: 1})
				}
			}
			mustCode(t, err, tt.WantCode)
			if tt.WantStatus != 0 {
				if got, want := apiError(t, err).StatusCode, tt.WantStatus; got != want {
					t.Fatalf("status = %d, want %d", got, want)
				}
			}
			if got, want := f.fake.Requests("GET /v1/users"), tt.WantRequests; got != want {
				t.Fatalf("requests = %d, want %d", got, want)
			}
			if strings.Contains(err.Error(), key) {
				t.Fatalf("error %q contains the secret key", err)
			}
		})
	}
}

func TestRetriesThenSucceeds(t *testing.T) {
	t.Parallel()

	tests := []struct {
		Name   string
		Inject func(*clerkfake.Server)
	}{
		{Name: "ServiceUnavailable", Inject: func(s *clerkfake.Server) { s.FailNext(2, http.StatusServiceUnavailable) }},
		{Name: "InternalError", Inject: func(s *clerkfake.Server) { s.FailNext(2, http.StatusInternalServerError) }},
		{Name: "DroppedConnection", Inject: func(s *clerkfake.Server) { s.DropNext(2) }},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			u, err := f.fake.CreateUser(clerkfake.UserParams{})
			if err != nil {
				t.Fatal(err)
			}
			tt.Inject(f.fake)
			c := f.client(t, func(c *clerkapi.Config) { c.RateLimit = -1 })
			if _, err := c.GetUser(context.Background(), u.ID); err != nil {
				t.Fatal(err)
			}
			if got, want := f.fake.Requests("GET /v1/users/{user_id}"), 3; got != want {
				t.Fatalf("requests = %d, want %d", got, want)
			}
			// Two backoffs, the second drawn from a window twice as large.
			sleeps := f.clock.Sleeps()
			if got, want := len(sleeps), 2; got != want {
				t.Fatalf("sleeps = %v, want %d", sleeps, want)
			}
			if sleeps[0] < 250*time.Millisecond || sleeps[0] > 500*time.Millisecond || sleeps[1] < 500*time.Millisecond || sleeps[1] > time.Second {
				t.Fatalf("sleeps = %v, want about 0.5 s then 1 s", sleeps)
			}
		})
	}
}

func TestHonoursRetryAfter(t *testing.T) {
	t.Parallel()

	f := newFixture(t, clerkfake.WithRateLimit(2, 10*time.Second))
	u, err := f.fake.CreateUser(clerkfake.UserParams{})
	if err != nil {
		t.Fatal(err)
	}
	// The client's own limiter is off: only Clerk's 429 can slow it down.
	c := f.client(t, func(c *clerkapi.Config) { c.RateLimit = -1 })
	ctx := context.Background()
	start := f.clock.Now()
	for range 3 {
		if _, err := c.GetUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := f.fake.RateLimited(), 1; got != want {
		t.Fatalf("429s = %d, want %d", got, want)
	}
	if diff := cmp.Diff([]time.Duration{10 * time.Second}, f.clock.Sleeps()); diff != "" {
		t.Fatalf("sleeps (-want +got):\n%s", diff)
	}
	if got, want := f.clock.Now().Sub(start), 10*time.Second; got != want {
		t.Fatalf("elapsed = %s, want %s", got, want)
	}
}

func TestRetryAfterPausesEveryCall(t *testing.T) {
	t.Parallel()

	f := newFixture(t, clerkfake.WithRateLimit(1, 10*time.Second))
	u, err := f.fake.CreateUser(clerkfake.UserParams{})
	if err != nil {
		t.Fatal(err)
	}
	c := f.client(t, func(c *clerkapi.Config) { c.RateLimit = -1; c.MaxRetries = -1 })
	ctx := context.Background()
	if _, err := c.GetUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.clock.Sleep(ctx, 4*time.Second); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetUser(ctx, u.ID)
	mustCode(t, err, clerksync.EUNAVAILABLE)
	if got, want := apiError(t, err).RetryAfter, 6*time.Second; got != want {
		t.Fatalf("RetryAfter = %s, want %s", got, want)
	}
	// The next call, whoever makes it, waits out the 6 s before sending anything.
	if _, err := c.CountUsers(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]time.Duration{4 * time.Second, 6 * time.Second}, f.clock.Sleeps()); diff != "" {
		t.Fatalf("sleeps (-want +got):\n%s", diff)
	}
	if got, want := f.fake.RateLimited(), 1; got != want {
		t.Fatalf("429s = %d, want %d", got, want)
	}
}

func TestLimiterStaysUnderClerkLimit(t *testing.T) {
	t.Parallel()

	// 10,000 users in pages of 50: 201 requests against the development limit of
	// 100 requests per 10 s, on a clock that moves only when the client waits.
	f := newFixture(t, clerkfake.WithSecretKeys("sk_test_dev"))
	if err := f.fake.Seed(10_000); err != nil {
		t.Fatal(err)
	}
	// listAll lists every user with a client limited to rateLimit; it stops at the
	// first 429 if stopAt429 is set.
	listAll := func(rateLimit int, stopAt429 bool) []string {
		c := f.client(t, func(c *clerkapi.Config) { c.SecretKey = "sk_test_dev"; c.RateLimit = rateLimit; c.MaxRetries = 10 })
		var got []string
		cursor := ""
		for {
			page, err := c.ListUsers(context.Background(), clerkapi.ListParams{Limit: 50, StartingAfter: cursor})
			if err != nil {
				t.Fatal(err)
			}
			pageIDs := ids(t, page)
			got = append(got, pageIDs...)
			if len(page) < 50 || (stopAt429 && f.fake.RateLimited() > 0) {
				return got
			}
			cursor = pageIDs[len(pageIDs)-1]
		}
	}

	start := f.clock.Now()
	if got, want := len(listAll(0, false)), 10_000; got != want {
		t.Fatalf("listed %d users, want %d", got, want)
	}
	if got := f.fake.RateLimited(); got != 0 {
		t.Fatalf("429s = %d, want 0", got)
	}
	// 201 requests at 100 per 10 s cannot take less than 20 s.
	if elapsed := f.clock.Now().Sub(start); elapsed < 20*time.Second {
		t.Fatalf("201 requests took %s of the clock: the limiter did not hold them back", elapsed)
	}

	// Without the limiter, the same listing runs into Clerk's limit: the limiter
	// is what keeps the 429s away.
	if err := f.clock.Sleep(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	listAll(-1, true)
	if f.fake.RateLimited() == 0 {
		t.Fatal("no 429 without the limiter")
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()

	f := newFixture(t)
	f.fake.SetLatency(time.Hour)
	c := f.client(t, func(c *clerkapi.Config) {
		c.Timeout = 20 * time.Millisecond
		c.MaxRetries = 1
	})
	_, err := c.CountUsers(context.Background())
	mustCode(t, err, clerksync.EUNAVAILABLE)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded in its chain", err)
	}
	// One backoff between the two attempts: a timed out attempt is retried.
	if got, want := len(f.clock.Sleeps()), 1; got != want {
		t.Fatalf("backoffs = %d, want %d", got, want)
	}
}

func TestCancellation(t *testing.T) {
	t.Parallel()

	t.Run("WhileWaitingForClerk", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		arrived := make(chan struct{}, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			f.fake.ServeHTTP(w, r)
		}))
		defer srv.Close()
		f.fake.SetLatency(time.Hour)
		c, err := clerkapi.New(clerkapi.Config{BaseURL: srv.URL + "/v1", SecretKey: f.fake.SecretKey(), HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := c.ListUsers(ctx, clerkapi.ListParams{})
			done <- err
		}()
		<-arrived
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("WhileBackingOff", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.fake.FailNext(10, http.StatusServiceUnavailable)
		ctx, cancel := context.WithCancel(context.Background())
		c := f.client(t, func(c *clerkapi.Config) {
			// The first backoff ends the context, as Ctrl-C during a wait would.
			c.Sleep = func(ctx context.Context, d time.Duration) error {
				cancel()
				return ctx.Err()
			}
		})
		_, err := c.CountUsers(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if got, want := f.fake.Requests("GET /v1/users/count"), 1; got != want {
			t.Fatalf("requests = %d, want %d", got, want)
		}
	})
	t.Run("AlreadyCanceled", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := f.client(t, nil).GetUser(ctx, "user_2g7np7Hrk0SN6kj5EDMLDaKNL0X")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if got := f.fake.RequestCounts(); len(got) != 0 {
			t.Fatalf("requests sent after cancellation: %v", got)
		}
	})
}

func TestConcurrentCalls(t *testing.T) {
	t.Parallel()

	f := newFixture(t, clerkfake.WithRateLimit(0, 0))
	var users []string
	for range 20 {
		u, err := f.fake.CreateUser(clerkfake.UserParams{})
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u.ID)
	}
	// Real time here: a limit of 1000 per 10 s gives a burst of 100, so the 40
	// calls share the limiter without waiting.
	c, err := clerkapi.New(clerkapi.Config{BaseURL: f.srv.URL + "/v1", SecretKey: f.fake.SecretKey(), HTTPClient: f.srv.Client(), RateLimit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(users))
	for _, id := range users {
		wg.Go(func() {
			_, err := c.GetUser(context.Background(), id)
			errs <- err
		})
		wg.Go(func() {
			_, err := c.ListUsers(context.Background(), clerkapi.ListParams{UserIDs: []string{id}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
