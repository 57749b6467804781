package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestProfile_HostileStrings stores a user whose name is markup and whose image URLs
// are not http(s), as anyone can make theirs, and checks what the page and the API
// make of them: the page shows the markup as text, and neither hands the URL on.
func TestProfile_HostileStrings(t *testing.T) {
	t.Parallel()
	for _, image := range []string{
		"javascript:alert(document.cookie)",
		"JaVaScRiPt:alert(1)",
		"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
		"data:image/svg+xml,<svg onload=alert(1)>",
		"vbscript:msgbox(1)",
	} {
		t.Run(image[:strings.IndexByte(image, ':')], func(t *testing.T) {
			t.Parallel()
			e := MustRunProfileServer(t, profileOptions{})
			u := e.MustCreateUser(t, `<script>alert("first")</script>`, `"><img src=x onerror=alert(2)>`, "hostile@example.com")
			u.ImageURL = image
			u.ProfileImageURL = image
			e.MustStore(t, u)
			token := e.Token(t, u.ID, "")

			api := e.Do(t, request{method: http.MethodGet, path: "/api/profile", cookie: token})
			if api.Status != http.StatusOK {
				t.Fatalf("GET /api/profile = %d %s", api.Status, api.Body)
			}
			if got := api.JSON(t)["image_url"]; got != nil {
				t.Fatalf("API image_url = %v, want null for a URL that is not http(s)", got)
			}

			page := e.Do(t, request{method: http.MethodGet, path: "/profile", cookie: token})
			if page.Status != http.StatusOK {
				t.Fatalf("GET /profile = %d", page.Status)
			}
			body := page.Body
			for _, bad := range []string{`<script>alert`, `<img src=x`, strings.ToLower(image[:strings.IndexByte(image, ':')+1])} {
				if strings.Contains(strings.ToLower(body), strings.ToLower(bad)) {
					t.Errorf("the page contains %q unescaped:\n%s", bad, body)
				}
			}
			for _, want := range []string{`&lt;script&gt;alert(&#34;first&#34;)&lt;/script&gt;`, `&#34;&gt;&lt;img src=x onerror=alert(2)&gt;`} {
				if !strings.Contains(body, want) {
					t.Errorf("the page lacks the name as text, %s", want)
				}
			}
		})
	}
}
