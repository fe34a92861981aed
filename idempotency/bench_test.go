package idempotency_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/idempotency"
)

// keys returns n distinct keys, built before the timer starts: in a receiver
// the key (the event id) already exists when Claim is called.
func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "evt_" + strconv.Itoa(i)
	}
	return keys
}

// BenchmarkMemoryStoreClaimComplete: Claim then Complete of a new key, the
// receiver's common path.
func BenchmarkMemoryStoreClaimComplete(b *testing.B) {
	ctx := context.Background()
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{SweepInterval: -1})
	defer s.Close()
	keys := benchKeys(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c, err := s.Claim(ctx, keys[i], time.Minute)
		if err != nil || c.State != idempotency.Claimed {
			b.Fatal(c, err)
		}
		if err := s.Complete(ctx, keys[i], c.Token, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemoryStoreClaimCompleteParallel(b *testing.B) {
	ctx := context.Background()
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{SweepInterval: -1})
	defer s.Close()
	keys := benchKeys(b.N)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := keys[next.Add(1)-1]
			c, err := s.Claim(ctx, k, time.Minute)
			if err != nil || c.State != idempotency.Claimed {
				b.Error(c, err)
				return
			}
			if err := s.Complete(ctx, k, c.Token, time.Hour); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkMemoryStoreClaimDuplicate: Claim of a key that is already done
// (a sender's retry).
func BenchmarkMemoryStoreClaimDuplicate(b *testing.B) {
	ctx := context.Background()
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{SweepInterval: -1})
	defer s.Close()
	keys := benchKeys(1024)
	for _, k := range keys {
		c, _ := s.Claim(ctx, k, time.Minute)
		_ = s.Complete(ctx, k, c.Token, time.Hour)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c, err := s.Claim(ctx, keys[i&1023], time.Minute)
			if err != nil || c.State != idempotency.Done {
				b.Error(c, err)
				return
			}
			i++
		}
	})
}

// BenchmarkMemoryStoreClaimCompleteFull: Claim+Complete on a store at its
// size limit, so every new key evicts the oldest completed one.
func BenchmarkMemoryStoreClaimCompleteFull(b *testing.B) {
	ctx := context.Background()
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{MaxKeys: 10_000, SweepInterval: -1})
	defer s.Close()
	keys := benchKeys(b.N + 20_000)
	for _, k := range keys[:20_000] {
		c, _ := s.Claim(ctx, k, time.Minute)
		_ = s.Complete(ctx, k, c.Token, time.Hour)
	}
	keys = keys[20_000:]
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c, err := s.Claim(ctx, keys[i], time.Minute)
		if err != nil || c.State != idempotency.Claimed {
			b.Fatal(c, err)
		}
		if err := s.Complete(ctx, keys[i], c.Token, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
