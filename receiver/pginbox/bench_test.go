package pginbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/pginbox"
)

// BenchmarkEnqueue measures the request path's cost of the inbox: one
// committed INSERT (with its NOTIFY) per delivery, from 4 × GOMAXPROCS goroutines.
func BenchmarkEnqueue(b *testing.B) {
	bb := setup(b)
	in := bb.inbox(b, pginbox.Config{MaxPending: -1, DisableListener: true})
	d := delivery(b, "bench.event")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(4) // 4 × GOMAXPROCS concurrent requests
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := in.Enqueue(ctx, d); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkDequeueAck measures the worker side: claim (batched across the
// waiting workers) and delete, with 8 workers.
func BenchmarkDequeueAck(b *testing.B) {
	bb := setup(b)
	in := bb.inbox(b, pginbox.Config{MaxPending: -1, PollInterval: 10 * time.Millisecond})
	ctx := context.Background()
	d := delivery(b, "bench.event")
	for range b.N {
		if err := in.Enqueue(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(4) // 4 × GOMAXPROCS workers
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			got, err := in.Dequeue(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			if err := in.Ack(ctx, got, receiver.Processed); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
