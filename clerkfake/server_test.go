package clerkfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/clerksync/clerksync/clerkfake"
	"github.com/clerksync/clerksync/internal/clocktest"
)

// manualClock is a clock that moves only when told to.
type manualClock = clocktest.Clock

func newClock() *manualClock {
	return clocktest.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
}

// answer is a recorded answer of the fake.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// call sends a request with the server's secret key straight to its handler.
func call(tb testing.TB, s *clerkfake.Server, method, target, body string) answer {
	tb.Helper()
	return callWithKey(tb, s, s.SecretKey(), method, target, body)
}

func callWithKey(tb testing.TB, s *clerkfake.Server, key, method, target, body string) answer {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequestWithContext(tb.Context(), method, target, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return answer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// mustOK fails unless a is a 200 and returns its body.
func mustOK(tb testing.TB, a answer) []byte {
	tb.Helper()
	if a.Status != http.StatusOK {
		tb.Fatalf("status = %d, want 200; body %s", a.Status, a.Body)
	}
	return a.Body
}

// errorCode returns the code of the first error of a Clerk error body, checking
// that the body has Clerk's shape.
func errorCode(tb testing.TB, a answer) string {
	tb.Helper()
	var body clerk.APIErrorResponse
	if err := json.Unmarshal(a.Body, &body); err != nil {
		tb.Fatalf("error body %s: %v", a.Body, err)
	}
	if len(body.Errors) != 1 || body.TraceID == "" {
		tb.Fatalf("error body %s lacks Clerk's fields", a.Body)
	}
	e := body.Errors[0]
	if e.Message == "" || e.LongMessage == "" || e.Code == "" {
		tb.Fatalf("error %s lacks message, long_message or code", a.Body)
	}
	return e.Code
}

// listIDs lists with query and returns the ids in order.
func listIDs(tb testing.TB, s *clerkfake.Server, query string) []string {
	tb.Helper()
	var users []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(mustOK(tb, call(tb, s, "GET", "/v1/users"+query, "")), &users); err != nil {
		tb.Fatal(err)
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	return ids
}

// createUsers creates n users a minute apart and returns their ids, oldest first.
func createUsers(tb testing.TB, s *clerkfake.Server, clk *manualClock, n int) []string {
	tb.Helper()
	ids := make([]string, n)
	for i := range n {
		u, err := s.CreateUser(clerkfake.UserParams{})
		if err != nil {
			tb.Fatal(err)
		}
		ids[i] = u.ID
		clk.Advance(time.Minute)
	}
	return ids
}

func reversed(ids []string) []string {
	r := slices.Clone(ids)
	slices.Reverse(r)
	return r
}

func TestServerAnswersClerkShapes(t *testing.T) {
	t.Parallel()

	s := clerkfake.New()
	if err := s.AddUser(clerkfake.NewUser(clerkfake.UserParams{Seed: 9, Rich: true})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(clerkfake.UserParams{}); err != nil {
		t.Fatal(err)
	}
	fixture := readFixture(t, "user.updated.json")["data"].(map[string]any)

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		body := mustOK(t, call(t, s, "GET", "/v1/users", ""))
		var users []map[string]any
		if err := json.Unmarshal(body, &users); err != nil {
			t.Fatalf("listing is not a bare array: %v", err)
		}
		if got, want := len(users), 2; got != want {
			t.Fatalf("len = %d, want %d", got, want)
		}
		for _, u := range users {
			if missing := missingKeys(u, fixture); len(missing) > 0 {
				t.Fatalf("listed user lacks %v", missing)
			}
		}
		var sdk []clerk.User
		if err := json.Unmarshal(body, &sdk); err != nil {
			t.Fatalf("decode with clerk-sdk-go: %v", err)
		}
	})
	t.Run("Get", func(t *testing.T) {
		t.Parallel()
		u := s.Users()[0]
		a := call(t, s, "GET", "/v1/users/"+u.ID, "")
		if got, want := a.Header.Get("Content-Type"), "application/json"; got != want {
			t.Fatalf("Content-Type = %q, want %q", got, want)
		}
		if diff := cmp.Diff(toMap(t, u), toMap(t, json.RawMessage(mustOK(t, a)))); diff != "" {
			t.Fatalf("user (-want +got):\n%s", diff)
		}
	})
	t.Run("Count", func(t *testing.T) {
		t.Parallel()
		if got, want := string(mustOK(t, call(t, s, "GET", "/v1/users/count", ""))), `{"object":"total_count","total_count":2}`; got != want {
			t.Fatalf("count = %s, want %s", got, want)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		a := call(t, s, "GET", "/v1/users/user_2g7np7Hrk0SN6kj5EDMLDaKNL0X", "")
		if got, want := a.Status, http.StatusNotFound; got != want {
			t.Fatalf("status = %d, want %d", got, want)
		}
		got := toMap(t, json.RawMessage(a.Body))
		want := readFixture(t, "api-error-404.json")
		if missing := missingKeys(got, want); len(missing) > 0 {
			t.Fatalf("404 body lacks %v", missing)
		}
		gotErr := got["errors"].([]any)[0].(map[string]any)
		wantErr := want["errors"].([]any)[0].(map[string]any)
		gotErr["meta"], wantErr["meta"] = nil, nil
		if diff := cmp.Diff(wantErr, gotErr); diff != "" {
			t.Fatalf("404 error (-want +got):\n%s", diff)
		}
	})
}

func TestServerAuthentication(t *testing.T) {
	t.Parallel()

	s := clerkfake.New(clerkfake.WithSecretKeys("sk_test_right"))
	tests := []struct {
		Name       string
		Header     string
		WantStatus int
		WantCode   string
	}{
		{Name: "Missing", Header: "", WantStatus: http.StatusUnauthorized, WantCode: "authentication_invalid"},
		{Name: "NotBearer", Header: "Basic c2tfdGVzdF9yaWdodDo=", WantStatus: http.StatusUnauthorized, WantCode: "authentication_invalid"},
		{Name: "WrongKey", Header: "Bearer sk_test_wrong", WantStatus: http.StatusUnauthorized, WantCode: "clerk_key_invalid"},
		{Name: "RightKey", Header: "Bearer sk_test_right", WantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/v1/users", nil)
			if tt.Header != "" {
				req.Header.Set("Authorization", tt.Header)
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			a := answer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
			if got, want := a.Status, tt.WantStatus; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			if tt.WantCode != "" {
				if got, want := errorCode(t, a), tt.WantCode; got != want {
					t.Fatalf("code = %q, want %q", got, want)
				}
			}
		})
	}
	if got, want := s.SecretKey(), "sk_test_right"; got != want {
		t.Fatalf("SecretKey() = %q, want %q", got, want)
	}
}

func TestServerRateLimit(t *testing.T) {
	t.Parallel()

	t.Run("Window", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		s := clerkfake.New(clerkfake.WithClock(clk.Now), clerkfake.WithRateLimit(3, 10*time.Second))
		for i := range 3 {
			if got, want := call(t, s, "GET", "/v1/users/count", "").Status, http.StatusOK; got != want {
				t.Fatalf("request %d: status = %d, want %d", i, got, want)
			}
		}
		clk.Advance(3500 * time.Millisecond)
		a := call(t, s, "GET", "/v1/users/count", "")
		if got, want := a.Status, http.StatusTooManyRequests; got != want {
			t.Fatalf("status = %d, want %d", got, want)
		}
		if got, want := errorCode(t, a), "too_many_requests"; got != want {
			t.Fatalf("code = %q, want %q", got, want)
		}
		// 6.5 s are left in the window: Retry-After rounds up.
		if got, want := a.Header.Get("Retry-After"), "7"; got != want {
			t.Fatalf("Retry-After = %q, want %q", got, want)
		}
		clk.Advance(6500 * time.Millisecond)
		if got, want := call(t, s, "GET", "/v1/users/count", "").Status, http.StatusOK; got != want {
			t.Fatalf("after the window: status = %d, want %d", got, want)
		}
		if got, want := s.RateLimited(), 1; got != want {
			t.Fatalf("RateLimited() = %d, want %d", got, want)
		}
		if got, want := s.Requests("GET /v1/users/count"), 5; got != want {
			t.Fatalf("Requests = %d, want %d", got, want)
		}
	})
	t.Run("ClerkDefaults", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			Name  string
			Key   string
			Limit int
		}{
			{Name: "Development", Key: "sk_test_dev", Limit: 100},
			{Name: "Production", Key: "sk_live_prod", Limit: 1000},
		}
		for _, tt := range tests {
			t.Run(tt.Name, func(t *testing.T) {
				t.Parallel()
				clk := newClock()
				s := clerkfake.New(clerkfake.WithClock(clk.Now), clerkfake.WithSecretKeys(tt.Key))
				for i := range tt.Limit {
					if got := callWithKey(t, s, tt.Key, "GET", "/v1/users/count", "").Status; got != http.StatusOK {
						t.Fatalf("request %d: status = %d, want 200", i, got)
					}
				}
				if got, want := callWithKey(t, s, tt.Key, "GET", "/v1/users/count", "").Status, http.StatusTooManyRequests; got != want {
					t.Fatalf("request %d: status = %d, want %d", tt.Limit, got, want)
				}
			})
		}
	})
	t.Run("Off", func(t *testing.T) {
		t.Parallel()
		s := clerkfake.New(clerkfake.WithRateLimit(0, 0))
		for i := range 150 {
			if got := call(t, s, "GET", "/v1/users/count", "").Status; got != http.StatusOK {
				t.Fatalf("request %d: status = %d, want 200", i, got)
			}
		}
		if got := s.RateLimited(); got != 0 {
			t.Fatalf("RateLimited() = %d, want 0", got)
		}
	})
}

func TestServerListParameters(t *testing.T) {
	t.Parallel()

	s := clerkfake.New(clerkfake.WithRateLimit(0, 0))
	if err := s.Seed(12); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		Name     string
		Query    string
		WantLen  int
		WantCode string
	}{
		{Name: "DefaultLimit", Query: "", WantLen: 10},
		{Name: "Limit", Query: "?limit=3", WantLen: 3},
		{Name: "MaxLimit", Query: "?limit=500", WantLen: 12},
		{Name: "OffsetPastEnd", Query: "?offset=50", WantLen: 0},
		{Name: "LimitZero", Query: "?limit=0", WantCode: "form_param_value_invalid"},
		{Name: "LimitTooLarge", Query: "?limit=501", WantCode: "form_param_value_invalid"},
		{Name: "LimitNotANumber", Query: "?limit=ten", WantCode: "form_param_format_invalid"},
		{Name: "NegativeOffset", Query: "?offset=-1", WantCode: "form_param_value_invalid"},
		{Name: "UnknownOrder", Query: "?order_by=-shoe_size", WantCode: "form_param_value_invalid"},
		{Name: "CursorWithUpdatedAt", Query: "?order_by=updated_at&starting_after=user_x", WantCode: "form_param_value_invalid"},
		{Name: "CursorWithOffset", Query: "?offset=2&starting_after=user_x", WantCode: "form_param_value_invalid"},
		{Name: "UnknownCursor", Query: "?starting_after=user_x", WantCode: "form_param_value_invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			a := call(t, s, "GET", "/v1/users"+tt.Query, "")
			if tt.WantCode != "" {
				if got, want := a.Status, http.StatusUnprocessableEntity; got != want {
					t.Fatalf("status = %d, want %d", got, want)
				}
				if got, want := errorCode(t, a), tt.WantCode; got != want {
					t.Fatalf("code = %q, want %q", got, want)
				}
				return
			}
			var users []json.RawMessage
			if err := json.Unmarshal(mustOK(t, a), &users); err != nil {
				t.Fatal(err)
			}
			if got, want := len(users), tt.WantLen; got != want {
				t.Fatalf("len = %d, want %d", got, want)
			}
		})
	}
}

func TestServerOrdersAndPages(t *testing.T) {
	t.Parallel()

	clk := newClock()
	s := clerkfake.New(clerkfake.WithClock(clk.Now), clerkfake.WithRateLimit(0, 0))
	oldestFirst := createUsers(t, s, clk, 7)
	// Touch the second user: it becomes the most recently updated.
	if _, err := s.UpdateUser(oldestFirst[1], func(u *clerkfake.User) { u.FirstName = ptr("Changed") }); err != nil {
		t.Fatal(err)
	}
	byUpdated := append(slices.Delete(slices.Clone(oldestFirst), 1, 2), oldestFirst[1])

	tests := []struct {
		Name  string
		Query string
		Want  []string
	}{
		{Name: "DefaultNewestFirst", Query: "", Want: reversed(oldestFirst)},
		{Name: "CreatedAtImpliesAscending", Query: "?order_by=created_at", Want: oldestFirst},
		{Name: "CreatedAtAscending", Query: "?order_by=%2Bcreated_at", Want: oldestFirst},
		{Name: "UpdatedAtDescending", Query: "?order_by=-updated_at", Want: reversed(byUpdated)},
		{Name: "UpdatedAtAscending", Query: "?order_by=updated_at", Want: byUpdated},
		{Name: "FirstOrderByWins", Query: "?order_by=created_at&order_by=-updated_at", Want: oldestFirst},
		{Name: "Offset", Query: "?order_by=created_at&offset=2&limit=3", Want: oldestFirst[2:5]},
		{Name: "CursorAscending", Query: "?order_by=created_at&starting_after=" + oldestFirst[2] + "&limit=2", Want: oldestFirst[3:5]},
		{Name: "CursorDescending", Query: "?starting_after=" + oldestFirst[4], Want: reversed(oldestFirst[:4])},
		{Name: "IncludeIDs", Query: "?order_by=created_at&user_id=" + oldestFirst[5] + "&user_id=%2B" + oldestFirst[0], Want: []string{oldestFirst[0], oldestFirst[5]}},
		{Name: "ExcludeIDs", Query: "?order_by=created_at&user_id=-" + oldestFirst[0] + "&user_id=-" + oldestFirst[6], Want: oldestFirst[1:6]},
		{Name: "FilterWithOffset", Query: "?order_by=created_at&user_id=-" + oldestFirst[0] + "&offset=1&limit=2", Want: oldestFirst[2:4]},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.Want, listIDs(t, s, tt.Query)); diff != "" {
				t.Fatalf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServerCursorSurvivesDelete(t *testing.T) {
	t.Parallel()

	clk := newClock()
	s := clerkfake.New(clerkfake.WithClock(clk.Now), clerkfake.WithRateLimit(0, 0))
	ids := createUsers(t, s, clk, 5)
	if err := s.DeleteUser(ids[2]); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids[3:], listIDs(t, s, "?order_by=created_at&starting_after="+ids[2])); diff != "" {
		t.Fatalf("ids after the deleted cursor (-want +got):\n%s", diff)
	}
}

func TestServerWalksSeededUsersWithCursor(t *testing.T) {
	t.Parallel()

	s := clerkfake.New(clerkfake.WithRateLimit(0, 0), clerkfake.WithSeed(5))
	if err := s.Seed(1234); err != nil {
		t.Fatal(err)
	}
	var walked []string
	cursor := ""
	for {
		q := "?limit=100"
		if cursor != "" {
			q += "&starting_after=" + cursor
		}
		page := listIDs(t, s, q)
		walked = append(walked, page...)
		if len(page) < 100 {
			break
		}
		cursor = page[len(page)-1]
	}
	var want []string
	for _, u := range s.Users() {
		want = append(want, u.ID)
	}
	if diff := cmp.Diff(reversed(want), walked); diff != "" {
		t.Fatalf("walk (-want +got):\n%s", diff)
	}
}

func TestServerFilters(t *testing.T) {
	t.Parallel()

	s := clerkfake.New(clerkfake.WithRateLimit(0, 0))
	a, err := s.CreateUser(clerkfake.UserParams{Email: "Ada@Example.com", Username: "ada", ExternalID: "ext-1"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateUser(clerkfake.UserParams{Email: "bob@example.com", ExtraEmails: []string{"robert@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		Name  string
		Query string
		Want  []string
	}{
		{Name: "Email", Query: "email_address=ada@example.com", Want: []string{a.ID}},
		{Name: "SecondaryEmail", Query: "email_address=robert@example.org", Want: []string{b.ID}},
		{Name: "Username", Query: "username=ADA", Want: []string{a.ID}},
		{Name: "ExternalID", Query: "external_id=ext-1", Want: []string{a.ID}},
		{Name: "ExcludeExternalID", Query: "external_id=-ext-1", Want: []string{b.ID}},
		{Name: "NoMatch", Query: "email_address=nobody@example.com", Want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			got := listIDs(t, s, "?"+tt.Query)
			if diff := cmp.Diff(tt.Want, got); diff != "" {
				t.Fatalf("ids (-want +got):\n%s", diff)
			}
			count := fmt.Sprintf(`{"object":"total_count","total_count":%d}`, len(tt.Want))
			if got, want := string(mustOK(t, call(t, s, "GET", "/v1/users/count?"+tt.Query, ""))), count; got != want {
				t.Fatalf("count = %s, want %s", got, want)
			}
		})
	}
}

func TestServerMutationsBumpUpdatedAt(t *testing.T) {
	t.Parallel()

	clk := newClock()
	s := clerkfake.New(clerkfake.WithClock(clk.Now))
	var mu sync.Mutex
	var events []string
	s.OnChange(func(eventType string, u *clerkfake.User) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, eventType+" "+u.ID)
	})

	u, err := s.CreateUser(clerkfake.UserParams{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.UpdatedAt, clk.Now().UnixMilli(); got != want {
		t.Fatalf("created: updated_at = %d, want %d", got, want)
	}
	// Same millisecond: updated_at still moves forward.
	v, err := s.UpdateUser(u.ID, func(u *clerkfake.User) { u.LastName = ptr("Byron") })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.UpdatedAt, u.UpdatedAt+1; got != want {
		t.Fatalf("updated in the same ms: updated_at = %d, want %d", got, want)
	}
	clk.Advance(time.Hour)
	w, err := s.UpdateUser(u.ID, func(u *clerkfake.User) { u.Banned = true })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := w.UpdatedAt, clk.Now().UnixMilli(); got != want {
		t.Fatalf("updated an hour later: updated_at = %d, want %d", got, want)
	}
	stored, ok := s.User(u.ID)
	if !ok {
		t.Fatal("User: not found")
	}
	if got, want := *stored.LastName+fmt.Sprint(stored.Banned), "Byrontrue"; got != want {
		t.Fatalf("stored user = %q, want %q", got, want)
	}
	if err := s.DeleteUser(u.ID); err != nil {
		t.Fatal(err)
	}
	if got, want := call(t, s, "GET", "/v1/users/"+u.ID, "").Status, http.StatusNotFound; got != want {
		t.Fatalf("after delete: status = %d, want %d", got, want)
	}

	if _, err := s.UpdateUser(u.ID, func(*clerkfake.User) {}); !errors.Is(err, clerkfake.ErrUserNotFound) {
		t.Fatalf("UpdateUser of a deleted user: err = %v, want ErrUserNotFound", err)
	}
	if err := s.DeleteUser(u.ID); !errors.Is(err, clerkfake.ErrUserNotFound) {
		t.Fatalf("DeleteUser twice: err = %v, want ErrUserNotFound", err)
	}
	if err := s.AddUser(u); !errors.Is(err, clerkfake.ErrUserExists) {
		t.Fatalf("AddUser of a deleted id: err = %v, want ErrUserExists", err)
	}
	want := []string{"user.created " + u.ID, "user.updated " + u.ID, "user.updated " + u.ID, "user.deleted " + u.ID}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, events); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

func TestServerIdentifiersAreUnique(t *testing.T) {
	t.Parallel()

	s := clerkfake.New()
	a, err := s.CreateUser(clerkfake.UserParams{Email: "ada@example.com", Username: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(clerkfake.UserParams{Email: "ADA@example.com"}); !errors.Is(err, clerkfake.ErrIdentifierTaken) {
		t.Fatalf("same email: err = %v, want ErrIdentifierTaken", err)
	}
	b, err := s.CreateUser(clerkfake.UserParams{Email: "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(b.ID, func(u *clerkfake.User) { u.Username = ptr("Ada") }); !errors.Is(err, clerkfake.ErrIdentifierTaken) {
		t.Fatalf("taken username: err = %v, want ErrIdentifierTaken", err)
	}
	// A user keeps its own identifiers through an update; a deleted user frees them.
	if _, err := s.UpdateUser(a.ID, func(u *clerkfake.User) { u.FirstName = ptr("Augusta") }); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(clerkfake.UserParams{Email: "ada@example.com", Username: "ada"}); err != nil {
		t.Fatalf("identifiers of a deleted user: %v", err)
	}
	// Generated identifiers never collide.
	for range 300 {
		if _, err := s.CreateUser(clerkfake.UserParams{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestServerUserEndpoints(t *testing.T) {
	t.Parallel()

	clk := newClock()
	s := clerkfake.New(clerkfake.WithClock(clk.Now), clerkfake.WithRateLimit(0, 0))
	var mu sync.Mutex
	var events []string
	s.OnChange(func(eventType string, _ *clerkfake.User) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, eventType)
	})

	// Create.
	body := mustOK(t, call(t, s, "POST", "/v1/users", `{"email_address":["ada@example.com","ada@example.org"],"phone_number":["+12125550142"],"first_name":"Ada","last_name":"Lovelace","external_id":"ext-1","public_metadata":{"role":"admin"},"password":"correct horse"}`))
	var u clerkfake.User
	if err := json.Unmarshal(body, &u); err != nil {
		t.Fatal(err)
	}
	if !userIDPattern.MatchString(u.ID) {
		t.Fatalf("id %q is not of Clerk's form", u.ID)
	}
	got := map[string]any{
		"primary":  *u.PrimaryEmailAddressID == u.EmailAddresses[0].ID,
		"strategy": u.EmailAddresses[1].Verification.Strategy, "status": u.EmailAddresses[1].Verification.Status,
		"phone": *u.PrimaryPhoneNumberID == u.PhoneNumbers[0].ID,
		"name":  *u.FirstName + " " + *u.LastName, "username": u.Username, "external_id": *u.ExternalID,
		"public": string(u.PublicMetadata), "unsafe": string(u.UnsafeMetadata), "password": u.PasswordEnabled,
		"created_at": u.CreatedAt, "last_sign_in_at": u.LastSignInAt,
	}
	want := map[string]any{
		"primary": true, "strategy": "admin", "status": "verified", "phone": true,
		"name": "Ada Lovelace", "username": (*string)(nil), "external_id": "ext-1",
		"public": `{"role":"admin"}`, "unsafe": `{}`, "password": true,
		"created_at": clk.Now().UnixMilli(), "last_sign_in_at": (*int64)(nil),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("created user (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(body, mustOK(t, call(t, s, "GET", "/v1/users/"+u.ID, ""))); diff != "" {
		t.Fatalf("GET differs from the answer to POST:\n%s", diff)
	}

	// Update.
	clk.Advance(time.Second)
	body = mustOK(t, call(t, s, "PATCH", "/v1/users/"+u.ID, `{"first_name":"Augusta","username":"ada","primary_email_address_id":"`+u.EmailAddresses[1].ID+`","unsafe_metadata":{"theme":"dark"}}`))
	var v clerkfake.User
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(*v.FirstName, " ", *v.Username, " ", *v.PrimaryEmailAddressID, " ", string(v.UnsafeMetadata), " ", v.UpdatedAt),
		fmt.Sprint("Augusta ada ", u.EmailAddresses[1].ID, ` {"theme":"dark"} `, clk.Now().UnixMilli()); got != want {
		t.Fatalf("updated user = %q, want %q", got, want)
	}

	// Merge metadata.
	body = mustOK(t, call(t, s, "PATCH", "/v1/users/"+u.ID+"/metadata", `{"public_metadata":{"team":{"name":"core"},"role":null}}`))
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if got, want := string(v.PublicMetadata), `{"team":{"name":"core"}}`; got != want {
		t.Fatalf("merged public_metadata = %s, want %s", got, want)
	}

	// Ban.
	body = mustOK(t, call(t, s, "POST", "/v1/users/"+u.ID+"/ban", ""))
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if !v.Banned {
		t.Fatal("banned = false after POST /ban")
	}

	// Errors.
	errTests := []struct {
		Name       string
		Method     string
		Path       string
		Body       string
		WantStatus int
		WantCode   string
	}{
		{Name: "CreateTakenEmail", Method: "POST", Path: "/v1/users", Body: `{"email_address":["ada@example.com"]}`, WantStatus: 422, WantCode: "form_identifier_exists"},
		{Name: "CreateUnknownParam", Method: "POST", Path: "/v1/users", Body: `{"email_address":["x@example.com"],"shoe_size":44}`, WantStatus: 422, WantCode: "form_param_unknown"},
		{Name: "CreateNoIdentifier", Method: "POST", Path: "/v1/users", Body: `{"first_name":"Nobody"}`, WantStatus: 422, WantCode: "form_param_missing"},
		{Name: "CreateShortPassword", Method: "POST", Path: "/v1/users", Body: `{"email_address":["y@example.com"],"password":"short"}`, WantStatus: 422, WantCode: "form_password_length_too_short"},
		{Name: "CreateMalformed", Method: "POST", Path: "/v1/users", Body: `{"email_address":`, WantStatus: 400, WantCode: "malformed_request"},
		{Name: "UpdateUnknownUser", Method: "PATCH", Path: "/v1/users/user_none", Body: `{"first_name":"X"}`, WantStatus: 404, WantCode: "resource_not_found"},
		{Name: "UpdateWrongType", Method: "PATCH", Path: "/v1/users/" + u.ID, Body: `{"first_name":42}`, WantStatus: 422, WantCode: "form_param_format_invalid"},
		{Name: "UpdatePrimaryNotOwned", Method: "PATCH", Path: "/v1/users/" + u.ID, Body: `{"primary_email_address_id":"idn_none"}`, WantStatus: 422, WantCode: "form_param_value_invalid"},
		{Name: "UpdateMetadataNotObject", Method: "PATCH", Path: "/v1/users/" + u.ID, Body: `{"public_metadata":[1]}`, WantStatus: 422, WantCode: "form_param_format_invalid"},
		{Name: "DeleteUnknownUser", Method: "DELETE", Path: "/v1/users/user_none", WantStatus: 404, WantCode: "resource_not_found"},
		{Name: "UnknownPath", Method: "GET", Path: "/v1/sessions", WantStatus: 404, WantCode: "resource_not_found"},
	}
	for _, tt := range errTests {
		t.Run(tt.Name, func(t *testing.T) {
			a := call(t, s, tt.Method, tt.Path, tt.Body)
			if got, want := a.Status, tt.WantStatus; got != want {
				t.Fatalf("status = %d, want %d; body %s", got, want, a.Body)
			}
			if got, want := errorCode(t, a), tt.WantCode; got != want {
				t.Fatalf("code = %q, want %q", got, want)
			}
		})
	}

	// Delete.
	if got, want := string(mustOK(t, call(t, s, "DELETE", "/v1/users/"+u.ID, ""))), `{"object":"user","id":"`+u.ID+`","deleted":true}`; got != want {
		t.Fatalf("DELETE = %s, want %s", got, want)
	}
	if got, want := call(t, s, "GET", "/v1/users/"+u.ID, "").Status, http.StatusNotFound; got != want {
		t.Fatalf("GET after DELETE: status = %d, want %d", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"user.created", "user.updated", "user.updated", "user.updated", "user.deleted"}, events); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

func TestServerFaults(t *testing.T) {
	t.Parallel()

	t.Run("FailNext", func(t *testing.T) {
		t.Parallel()
		s := clerkfake.New()
		s.FailNext(2, http.StatusServiceUnavailable)
		for i := range 2 {
			a := call(t, s, "GET", "/v1/users/count", "")
			if got, want := a.Status, http.StatusServiceUnavailable; got != want {
				t.Fatalf("request %d: status = %d, want %d", i, got, want)
			}
			errorCode(t, a)
		}
		mustOK(t, call(t, s, "GET", "/v1/users/count", ""))
		if got, want := s.RequestCounts(), map[string]int{"GET /v1/users/count": 3}; !cmp.Equal(got, want) {
			t.Fatalf("RequestCounts() = %v, want %v", got, want)
		}
		s.ResetCounters()
		if got := s.Requests("GET /v1/users/count"); got != 0 {
			t.Fatalf("after ResetCounters: Requests = %d, want 0", got)
		}
	})
	t.Run("DropNext", func(t *testing.T) {
		t.Parallel()
		s := clerkfake.New()
		ts := httptest.NewServer(s)
		defer ts.Close()
		s.DropNext(1)
		get := func() (*http.Response, error) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+"/v1/users/count", nil)
			req.Header.Set("Authorization", "Bearer "+s.SecretKey())
			return ts.Client().Do(req)
		}
		if resp, err := get(); err == nil {
			resp.Body.Close()
			t.Fatalf("dropped request answered %d", resp.StatusCode)
		}
		resp, err := get()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got, want := resp.StatusCode, http.StatusOK; got != want {
			t.Fatalf("status = %d, want %d", got, want)
		}
	})
	t.Run("Latency", func(t *testing.T) {
		t.Parallel()
		s := clerkfake.New()
		arrived := make(chan struct{}, 1)
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			s.ServeHTTP(w, r)
		}))
		defer ts.Close()
		s.SetLatency(time.Hour)
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/v1/users/count", nil)
		req.Header.Set("Authorization", "Bearer "+s.SecretKey())
		done := make(chan error, 1)
		go func() {
			resp, err := ts.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		<-arrived
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		// ts.Close waits for the handler: it returns only if the handler stopped
		// waiting when its client left.
	})
}

func TestSeedIsDeterministic(t *testing.T) {
	t.Parallel()

	page := func() []byte {
		s := clerkfake.New(clerkfake.WithSeed(11), clerkfake.WithClock(newClock().Now), clerkfake.WithRateLimit(0, 0))
		if err := s.Seed(300); err != nil {
			t.Fatal(err)
		}
		if got, want := s.Len(), 300; got != want {
			t.Fatalf("Len() = %d, want %d", got, want)
		}
		return mustOK(t, call(t, s, "GET", "/v1/users?limit=500", ""))
	}
	a, b := page(), page()
	if string(a) != string(b) {
		t.Fatal("the same seed gave different users")
	}
	var users []clerkfake.User
	if err := json.Unmarshal(a, &users); err != nil {
		t.Fatal(err)
	}
	emails := map[string]bool{}
	var rich, banned int
	for _, u := range users {
		for _, e := range u.EmailAddresses {
			if emails[e.EmailAddress] {
				t.Fatalf("email %s seeded twice", e.EmailAddress)
			}
			emails[e.EmailAddress] = true
		}
		if len(u.ExternalAccounts) > 0 {
			rich++
		}
		if u.Banned {
			banned++
		}
	}
	if rich == 0 || banned == 0 || rich == len(users) {
		t.Fatalf("seeded users lack variety: %d rich, %d banned of %d", rich, banned, len(users))
	}
}

func ptr[T any](v T) *T { return &v }

func BenchmarkSeed(b *testing.B) {
	for b.Loop() {
		s := clerkfake.New(clerkfake.WithSeed(1))
		if err := s.Seed(100_000); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListPage(b *testing.B) {
	s := clerkfake.New(clerkfake.WithSeed(1), clerkfake.WithRateLimit(0, 0))
	if err := s.Seed(100_000); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/v1/users?limit=500&offset=50000", nil)
	req.Header.Set("Authorization", "Bearer "+s.SecretKey())
	for b.Loop() {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		b.SetBytes(int64(rec.Body.Len()))
	}
}
