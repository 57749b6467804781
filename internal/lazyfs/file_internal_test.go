package lazyfs

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestLazyFile_Model checks a lazyFile against a model of a file on a disk that loses
// what was not synced: random writes, truncations, syncs and drops, comparing what is
// read and what the backing file holds after every step.
func TestLazyFile_Model(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		path := filepath.Join(t.TempDir(), "f")
		initial := make([]byte, rng.IntN(3*pageSize))
		for i := range initial {
			initial[i] = byte('A' + i%26)
		}
		if err := os.WriteFile(path, initial, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		lf, err := openLazyFile(f)
		if err != nil {
			t.Fatal(err)
		}
		current, durable := bytes.Clone(initial), bytes.Clone(initial)
		for step := range 300 {
			switch op := rng.IntN(10); {
			case op < 5:
				off := rng.IntN(4 * pageSize)
				data := make([]byte, 1+rng.IntN(2*pageSize))
				for i := range data {
					data[i] = byte(rng.UintN(256))
				}
				if err := lf.WriteAt(data, int64(off)); err != nil {
					t.Fatal(err)
				}
				if end := off + len(data); end > len(current) {
					current = append(current, make([]byte, end-len(current))...)
				}
				copy(current[off:], data)
			case op < 8:
				size := rng.IntN(4 * pageSize)
				lf.Truncate(int64(size))
				if size <= len(current) {
					current = current[:size]
				} else {
					current = append(current, make([]byte, size-len(current))...)
				}
			case op < 9:
				if err := lf.Sync(); err != nil {
					t.Fatal(err)
				}
				durable = bytes.Clone(current)
			default:
				lf.Drop()
				current = bytes.Clone(durable)
			}
			got := make([]byte, len(current)+100)
			n, err := lf.ReadAt(got, 0)
			if err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:n], current) || lf.Size() != int64(len(current)) {
				t.Fatalf("seed %d step %d: read %d bytes (size %d), not the %d the model holds", seed, step, n, lf.Size(), len(current))
			}
			onDisk, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(onDisk, durable) {
				t.Fatalf("seed %d step %d: the backing file holds %d bytes that were not all synced (model: %d)", seed, step, len(onDisk), len(durable))
			}
		}
		lf.Close()
	}
}
