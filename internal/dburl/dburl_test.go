package dburl_test

import (
	"strings"
	"testing"

	"github.com/clerksync/clerksync/internal/dburl"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in, want string
	}{
		{"UserInfo", "postgres://app:hunter2@db.example.com:5432/app?sslmode=require",
			"postgres://app:xxxxx@db.example.com:5432/app?sslmode=require"},
		{"QueryPassword", "postgres://app@db.example.com/app?sslmode=disable&password=hunter2",
			"postgres://app@db.example.com/app?sslmode=disable&password=xxxxx"},
		{"QueryPasswordUpperCase", "postgresql://db/app?PASSWORD=hunter2", "postgresql://db/app?PASSWORD=xxxxx"},
		{"SSLPassword", "postgres://db/app?sslpassword=hunter2&sslkey=/k", "postgres://db/app?sslpassword=xxxxx&sslkey=/k"},
		{"EscapedKey", "postgres://db/app?pass%77ord=hunter2", "postgres://db/app?pass%77ord=xxxxx"},
		{"Both", "postgres://app:hunter2@db/app?password=hunter2", "postgres://app:xxxxx@db/app?password=xxxxx"},
		{"NoPassword", "postgres://app@db/app?sslmode=disable", "postgres://app@db/app?sslmode=disable"},
		{"KeyValue", "host=db.example.com user=app password=hunter2 dbname=app",
			"host=db.example.com user=app password=xxxxx dbname=app"},
		{"KeyValueQuoted", "host=db password='hunter 2 \\' x' dbname=app", "host=db password=xxxxx dbname=app"},
		{"KeyValueSpaces", "host=db password = hunter2", "host=db password = xxxxx"},
		{"UnparsableURL", "postgres://app:hun%ter2@db/app", "postgres://app:xxxxx@db/app"},
		{"SQLite", "sqlite:clerksync.db", "sqlite:clerksync.db"},
		{"SQLiteQuery", "sqlite:x.db?password=hunter2", "sqlite:x.db?password=xxxxx"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := dburl.Redact(tt.in)
			if got != tt.want {
				t.Fatalf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.Contains(got, "hunter") {
				t.Fatalf("Redact(%q) = %q shows the password", tt.in, got)
			}
		})
	}
}
