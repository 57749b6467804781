package web

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestBodyReader_BufferNeverOverTheCap(t *testing.T) {
	const limit = 1 << 20
	for _, tt := range []struct {
		name    string
		size    int
		chunked bool
		wantErr error
	}{
		{"SmallWithLength", 3_000, false, nil},
		{"AtTheCapWithLength", limit, false, nil},
		{"OneBelowTheCapWithLength", limit - 1, false, nil},
		{"SmallChunked", 3_000, true, nil},
		{"PooledSizeChunked", maxPooledBody, true, nil},
		{"AtTheCapChunked", limit, true, nil},
		{"OverTheCapChunked", limit + 1, true, errBodyTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			br := newBodyReader(limit, 1, time.Second, time.Minute)
			payload := bytes.Repeat([]byte("x"), tt.size)
			var src io.Reader = bytes.NewReader(payload)
			if tt.chunked {
				src = io.MultiReader(src)
			}
			req := httptest.NewRequest(http.MethodPost, "/", src)
			if tt.chunked {
				req.ContentLength = -1
			}
			b, err := br.read(httptest.NewRecorder(), req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("read = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !bytes.Equal(b.bytes, payload) {
				t.Fatalf("read %d bytes, want the %d sent", len(b.bytes), tt.size)
			}
			if cap(b.bytes) > limit {
				t.Fatalf("buffer of %d bytes for a %d-byte body under a %d-byte cap", cap(b.bytes), tt.size, limit)
			}
			if !tt.chunked && cap(b.bytes) > max(tt.size, maxPooledBody) {
				t.Fatalf("buffer of %d bytes for a body whose Content-Length is %d", cap(b.bytes), tt.size)
			}
			if tt.chunked && tt.size > maxPooledBody && cap(b.bytes) != tt.size {
				t.Fatalf("buffer of %d bytes for a chunked body of %d", cap(b.bytes), tt.size)
			}
			br.put(b)
			if got := br.large.Load(); got != 0 {
				t.Fatalf("%d large bodies still counted after put", got)
			}
		})
	}
}

func TestBodyReader_PoolKeepsNoLargeBuffer(t *testing.T) {
	br := newBodyReader(1<<20, 1, time.Second, time.Minute)
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(make([]byte, 512<<10)))
	b, err := br.read(httptest.NewRecorder(), req)
	if err != nil {
		t.Fatal(err)
	}
	pooled := b.pooled
	br.put(b)
	if cap(*pooled) > maxPooledBody {
		t.Fatalf("the pool keeps a buffer of %d bytes", cap(*pooled))
	}
}

func TestSizeText(t *testing.T) {
	for n, want := range map[int64]string{1 << 20: "1 MiB", 64 << 10: "64 KiB", 1500: "1500 bytes", 3 << 20: "3 MiB"} {
		if got := sizeText(n); got != want {
			t.Errorf("sizeText(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestDefaultMaxConcurrentBodies(t *testing.T) {
	for maxBody, want := range map[int64]int{1 << 20: 64, 64 << 10: 1024, 16 << 20: 8, 0: 64} {
		if got := DefaultMaxConcurrentBodies(maxBody); got != want {
			t.Errorf("DefaultMaxConcurrentBodies(%d) = %d, want %d", maxBody, got, want)
		}
	}
}
