package clerkfake

import (
	"testing"
	"time"
)

func TestNewIDEncodesKSUID(t *testing.T) {
	t.Parallel()

	// Payload bytes are drawn from a generator; check the encoding on the two ends
	// of the 160-bit range, whose KSUID strings are published.
	tests := []struct {
		Name string
		Raw  [20]byte
		Want string
	}{
		{Name: "Zero", Want: "000000000000000000000000000"},
		{Name: "Max", Raw: [20]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, Want: "aWgEPTl1tmebfsQzFP4bxwgy80V"},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			if got := encodeBase62(tt.Raw); got != tt.Want {
				t.Fatalf("encodeBase62 = %q, want %q", got, tt.Want)
			}
		})
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	t.Parallel()

	rng := newRand(7)
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	prev := newID("user_", at, rng)
	for i := 1; i < 100; i++ {
		id := newID("user_", at.Add(time.Duration(i)*time.Second), rng)
		if id <= prev {
			t.Fatalf("id %d = %q sorts before the earlier %q", i, id, prev)
		}
		prev = id
	}
}

func TestIDTime(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 30, 45, 0, time.UTC)
	for _, prefix := range []string{"org_", "orgmem_", "user_"} {
		id := NewID(prefix, at)
		got, ok := IDTime(id)
		if !ok || !got.Equal(at) {
			t.Fatalf("IDTime(%s) = %v, %v; want %v", id, got, ok, at)
		}
	}
	for _, bad := range []string{"org_short", "nounderscore2g7np7Hrk0SN6kj5EDMLDaKNL0S", "org_2g7np7Hrk0SN6kj5EDMLDaKNL0!", "org_zzzzzzzzzzzzzzzzzzzzzzzzzzz"} {
		if _, ok := IDTime(bad); ok {
			t.Fatalf("IDTime(%q) read a time", bad)
		}
	}
}
