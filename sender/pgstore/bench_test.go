package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/sender/storetest"
)

// publishN publishes n events to ep_1 in batches and returns nothing; the
// deliveries are due at t0.
func publishN(b testing.TB, bd *testBundle, n int) {
	b.Helper()
	ctx := context.Background()
	for start := 0; start < n; start += 1000 {
		reqs := make([]sender.PublishRequest, 0, 1000)
		for i := start; i < min(start+1000, n); i++ {
			ev := stored(fmt.Sprintf("evt_%d_%d", time.Now().UnixNano(), i))
			reqs = append(reqs, sender.PublishRequest{Event: ev, EndpointIDs: []string{"ep_1"}, Now: t0})
		}
		_, err := bd.store.PublishBatch(ctx, reqs)
		require.NoError(b, err)
	}
}

// BenchmarkPublishBatch measures events/s into the outbox, 1000 per call.
func BenchmarkPublishBatch(b *testing.B) {
	bd := setup(b, setupOpts{noListener: true})
	require.NoError(b, bd.store.CreateEndpoint(context.Background(), storetest.Endpoint("ep_1")))
	b.ReportAllocs()
	b.ResetTimer()
	publishN(b, bd, b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkClaimSettle measures the store's share of one delivery: claims of
// 32 and one Settle per delivery from 32 goroutines, as the Sender does.
func BenchmarkClaimSettle(b *testing.B) {
	for _, perCall := range []int{1, 32} {
		b.Run(fmt.Sprintf("settle %d per call", perCall), func(b *testing.B) {
			bd := setup(b, setupOpts{noListener: true, maxConns: 16})
			ctx := context.Background()
			require.NoError(b, bd.store.CreateEndpoint(ctx, storetest.Endpoint("ep_1")))
			publishN(b, bd, b.N)
			now := t0.Add(time.Second)
			b.ReportAllocs()
			b.ResetTimer()
			var settled atomic.Int64
			var wg sync.WaitGroup
			for w := range 32 / perCall {
				wg.Go(func() {
					owner := fmt.Sprintf("w%d", w)
					for settled.Load() < int64(b.N) {
						cs, err := bd.store.Claim(ctx, sender.ClaimRequest{Owner: owner, Now: now, Limit: 32, Lease: time.Minute})
						if err != nil {
							b.Error(err)
							return
						}
						if len(cs) == 0 {
							return
						}
						for i := 0; i < len(cs); i += perCall {
							var sts []sender.Settlement
							for _, c := range cs[i:min(i+perCall, len(cs))] {
								sts = append(sts, sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleDelivered, Health: sender.HealthSucceeded,
									Attempt: &sender.Attempt{StartedAt: now, Duration: time.Millisecond, StatusCode: 204, Outcome: "delivered"}})
							}
							if err := bd.store.Settle(ctx, sender.SettleRequest{Owner: owner, Now: now, Settlements: sts}); err != nil {
								b.Error(err)
								return
							}
							settled.Add(int64(len(sts)))
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}
