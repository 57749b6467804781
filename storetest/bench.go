package storetest

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/clerksync/clerksync"
)

// BenchmarkApply measures a store's Apply, the transaction of a group commit: batches
// of 1, 64 and 256 realistic upserts (~3 KB raw user objects), every batch a newer
// version of the same users under new svix-ids. It reports ns per change. Each store
// package calls it from a Benchmark function with a fresh store per sub-benchmark.
func BenchmarkApply(b *testing.B, open func(b *testing.B) clerksync.Store) {
	for _, size := range []int{1, 64, 256} {
		b.Run(fmt.Sprintf("Batch%d", size), func(b *testing.B) {
			s := open(b)
			ctx := context.Background()
			base := make([]clerksync.Change, size)
			for i := range base {
				base[i] = Upsert("", NewProfile(fmt.Sprintf("user_%05d", i), 1716883500000))
			}
			batch := make([]clerksync.Change, size)
			profiles := make([]clerksync.Profile, size)
			for n := 0; b.Loop(); n++ {
				for i, c := range base {
					profiles[i] = *c.Profile()
					profiles[i].UpdatedAt += int64(n)
					c.Object = &profiles[i]
					c.EventID = "msg_" + strconv.Itoa(n) + "_" + strconv.Itoa(i)
					batch[i] = c
				}
				if _, err := s.Apply(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/change")
		})
	}
}
