package sender_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/sender/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) sender.Store {
		return sender.NewMemoryStore(sender.MemoryStoreConfig{})
	})
}

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func memEvent(id string) sender.StoredEvent {
	return sender.StoredEvent{ID: id, Type: "invoice.paid", Payload: []byte(`{"event_id":"` + id + `"}`), CreatedAt: t0}
}

func newMemStore(t testing.TB, endpoints ...sender.Endpoint) *sender.MemoryStore {
	t.Helper()
	s := sender.NewMemoryStore(sender.MemoryStoreConfig{})
	for _, ep := range endpoints {
		require.NoError(t, s.CreateEndpoint(context.Background(), ep))
	}
	return s
}

func claimIDs(t *testing.T, s sender.Store, now time.Time) []sender.DeliveryID {
	t.Helper()
	cs, err := s.Claim(t.Context(), sender.ClaimRequest{Owner: "w", Now: now, Limit: 100, Lease: time.Minute})
	require.NoError(t, err)
	out := make([]sender.DeliveryID, len(cs))
	for i, c := range cs {
		out[i] = c.Delivery.ID
	}
	return out
}

func TestMemoryStoreOrderedToggle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T, s *sender.MemoryStore, ids []sender.DeliveryID)
	}{
		{"turning Ordered on queues pending deliveries behind the one in flight", func(t *testing.T, s *sender.MemoryStore, ids []sender.DeliveryID) {
			cs, err := s.Claim(t.Context(), sender.ClaimRequest{Owner: "w", Now: t0, Limit: 1, Lease: time.Minute})
			require.NoError(t, err)
			require.Equal(t, ids[0], cs[0].Delivery.ID)
			ep, err := s.GetEndpoint(t.Context(), "ep")
			require.NoError(t, err)
			ep.Ordered = true
			require.NoError(t, s.UpdateEndpoint(t.Context(), ep))
			require.Empty(t, claimIDs(t, s, t0), "the others wait for the in-flight one")
			require.NoError(t, s.Settle(t.Context(), sender.SettleRequest{Owner: "w", Now: t0, Settlements: []sender.Settlement{{DeliveryID: ids[0], Kind: sender.SettleDelivered}}}))
			require.Equal(t, ids[1:2], claimIDs(t, s, t0))
		}},
		{"turning Ordered off releases the queue", func(t *testing.T, s *sender.MemoryStore, ids []sender.DeliveryID) {
			ep, err := s.GetEndpoint(t.Context(), "ep")
			require.NoError(t, err)
			ep.Ordered = true
			require.NoError(t, s.UpdateEndpoint(t.Context(), ep))
			require.Equal(t, ids[:1], claimIDs(t, s, t0))
			ep.Ordered = false
			require.NoError(t, s.UpdateEndpoint(t.Context(), ep))
			require.Equal(t, ids[1:], claimIDs(t, s, t0))
		}},
		{"an ordered endpoint disabled and enabled resumes in order", func(t *testing.T, s *sender.MemoryStore, ids []sender.DeliveryID) {
			ep, err := s.GetEndpoint(t.Context(), "ep")
			require.NoError(t, err)
			ep.Ordered, ep.Disabled = true, true
			require.NoError(t, s.UpdateEndpoint(t.Context(), ep))
			require.Empty(t, claimIDs(t, s, t0))
			ep.Disabled = false
			require.NoError(t, s.UpdateEndpoint(t.Context(), ep))
			require.Equal(t, ids[:1], claimIDs(t, s, t0))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newMemStore(t, sender.Endpoint{ID: "ep"})
			var ids []sender.DeliveryID
			for i := range 3 {
				res, err := s.Publish(t.Context(), sender.PublishRequest{Event: memEvent(fmt.Sprint("evt_", i)), EndpointIDs: []string{"ep"}, Now: t0})
				require.NoError(t, err)
				ids = append(ids, res.Deliveries[0].ID)
			}
			tt.run(t, s, ids)
		})
	}
}

func TestMemoryStoreNotifyBroadcasts(t *testing.T) {
	t.Parallel()
	s := newMemStore(t, sender.Endpoint{ID: "ep"})
	a, b := s.Notify(), s.Notify()
	_, err := s.Publish(t.Context(), sender.PublishRequest{Event: memEvent("evt_1"), EndpointIDs: []string{"ep"}, Now: t0})
	require.NoError(t, err)
	for _, ch := range []<-chan struct{}{a, b} {
		select {
		case <-ch:
		default:
			t.Fatal("every waiter is woken")
		}
	}
	c := s.Notify()
	select {
	case <-c:
		t.Fatal("a new channel waits for the next change")
	default:
	}
	// A delivered settlement makes nothing claimable: no wake-up.
	cs, err := s.Claim(t.Context(), sender.ClaimRequest{Owner: "w", Now: t0, Limit: 1, Lease: time.Minute})
	require.NoError(t, err)
	require.NoError(t, s.Settle(t.Context(), sender.SettleRequest{Owner: "w", Now: t0, Settlements: []sender.Settlement{{DeliveryID: cs[0].Delivery.ID, Kind: sender.SettleDelivered}}}))
	select {
	case <-c:
		t.Fatal("woken without new work")
	default:
	}
}

func TestMemoryStoreClaimedSnapshotsAreStable(t *testing.T) {
	t.Parallel()
	s := newMemStore(t, sender.Endpoint{ID: "ep", URL: "https://a.example/", Headers: map[string]string{"X-A": "1"}})
	_, err := s.Publish(t.Context(), sender.PublishRequest{Event: memEvent("evt_1"), EndpointIDs: []string{"ep"}, Now: t0})
	require.NoError(t, err)
	cs, err := s.Claim(t.Context(), sender.ClaimRequest{Owner: "w", Now: t0, Limit: 1, Lease: time.Minute})
	require.NoError(t, err)
	require.NoError(t, s.UpdateEndpoint(t.Context(), sender.Endpoint{ID: "ep", URL: "https://b.example/", Headers: map[string]string{"X-A": "2"}}))
	require.Equal(t, "https://a.example/", cs[0].Endpoint.URL, "a claim keeps the endpoint as it was")
	require.Equal(t, "1", cs[0].Endpoint.Headers["X-A"])
}

// TestMemoryStoreHeapOrder publishes deliveries with shuffled due times and
// checks that claims come out in due order, across reschedules.
func TestMemoryStoreHeapOrder(t *testing.T) {
	t.Parallel()
	s := newMemStore(t, sender.Endpoint{ID: "ep"})
	const n = 500
	for i := range n {
		due := t0.Add(time.Duration((i*7919)%n) * time.Second)
		_, err := s.Publish(t.Context(), sender.PublishRequest{Event: memEvent(fmt.Sprint("evt_", i)), EndpointIDs: []string{"ep"}, Now: t0, NextAttemptAt: due})
		require.NoError(t, err)
	}
	var last time.Time
	var rescheduled []sender.Settlement
	for claimed := 0; claimed < n; {
		cs, err := s.Claim(t.Context(), sender.ClaimRequest{Owner: "w", Now: t0.Add(time.Hour), Limit: 16, Lease: 2 * time.Hour})
		require.NoError(t, err)
		require.NotEmpty(t, cs)
		for _, c := range cs {
			require.False(t, c.Delivery.NextAttemptAt.Before(last), "claims come out in due order")
			last = c.Delivery.NextAttemptAt
			if c.Delivery.ID%3 == 0 && len(rescheduled) < 50 && c.Delivery.Attempts == 0 && !c.Delivery.NextAttemptAt.After(t0.Add(time.Hour)) {
				rescheduled = append(rescheduled, sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleReschedule, NextAttemptAt: t0.Add(2 * time.Hour)})
			}
		}
		claimed += len(cs)
	}
	require.NoError(t, s.Settle(t.Context(), sender.SettleRequest{Owner: "w", Now: t0.Add(time.Hour), Settlements: rescheduled}))
	got := claimIDs(t, s, t0.Add(2*time.Hour))
	require.Len(t, got, len(rescheduled))
	next, ok, err := s.NextDue(t.Context())
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, t0.Add(2*time.Hour+time.Minute), next, "the remaining work is the leases taken at 1h for 2h and the new ones")
}

// BenchmarkMemoryStoreClaimSettle measures the store's share of a delivery:
// publish, claim and settle in batches of 64 with 100k deliveries pending.
func BenchmarkMemoryStoreClaimSettle(b *testing.B) {
	ctx := context.Background()
	s := newMemStore(b)
	const endpoints = 100
	eps := make([]string, endpoints)
	for i := range eps {
		eps[i] = fmt.Sprint("ep_", i)
		require.NoError(b, s.CreateEndpoint(ctx, sender.Endpoint{ID: eps[i]}))
	}
	payload := make([]byte, 1024)
	seq := 0
	publish := func(now time.Time, due time.Time) {
		seq++
		ev := sender.StoredEvent{ID: fmt.Sprint("evt_", seq), Type: "invoice.paid", Payload: payload, CreatedAt: now}
		_, err := s.Publish(ctx, sender.PublishRequest{Event: ev, EndpointIDs: eps[seq%endpoints : seq%endpoints+1], Now: now, NextAttemptAt: due})
		if err != nil {
			b.Fatal(err)
		}
	}
	for range 100_000 {
		publish(t0, t0.Add(time.Hour)) // a backlog that is not due yet
	}
	const batch = 64
	sts := make([]sender.Settlement, 0, batch)
	now := t0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for range batch {
			publish(now, now)
		}
		cs, err := s.Claim(ctx, sender.ClaimRequest{Owner: "w", Now: now, Limit: batch, Lease: time.Minute})
		if err != nil || len(cs) != batch {
			b.Fatalf("claimed %d: %v", len(cs), err)
		}
		sts = sts[:0]
		for _, c := range cs {
			sts = append(sts, sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleDelivered, Attempt: &sender.Attempt{StartedAt: now, StatusCode: 200, Outcome: "delivered"}})
		}
		if err := s.Settle(ctx, sender.SettleRequest{Owner: "w", Now: now, Settlements: sts}); err != nil {
			b.Fatal(err)
		}
		if seq%(batch*256) == 0 {
			if _, err := s.Prune(ctx, sender.PruneRequest{DeliveredBefore: now.Add(time.Nanosecond)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/delivery")
}

// BenchmarkMemoryPerPendingDelivery measures the heap memory a pending
// delivery costs beyond its payload, with 1M pending deliveries, in two
// shapes: one event per delivery (the worst case: every delivery carries its
// own event record) and ten endpoints per event. Run it once:
//
//	go test -run '^$' -bench MemoryPerPendingDelivery -benchtime 1x ./sender/
func BenchmarkMemoryPerPendingDelivery(b *testing.B) {
	for _, fanout := range []int{1, 10} {
		b.Run(fmt.Sprintf("endpoints_per_event=%d", fanout), func(b *testing.B) {
			const deliveries = 1_000_000
			const payloadSize = 256 // a malloc size class: the payload costs exactly this
			for b.Loop() {
				ctx := context.Background()
				eps := make([]string, fanout)
				var ms0, ms1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms0)
				s := sender.NewMemoryStore(sender.MemoryStoreConfig{})
				for i := range eps {
					eps[i] = fmt.Sprint("ep_", i)
					require.NoError(b, s.CreateEndpoint(ctx, sender.Endpoint{ID: eps[i], URL: "https://example.com/"}))
				}
				payload := make([]byte, payloadSize)
				events := deliveries / fanout
				for i := range events {
					ev := sender.StoredEvent{ID: "evt_01936f1e-7c3a-7d2b-9a41-" + strconv.FormatInt(int64(100000000000+i), 10), Type: "invoice.paid", Payload: payload, CreatedAt: t0}
					if _, err := s.Publish(ctx, sender.PublishRequest{Event: ev, EndpointIDs: eps, Now: t0}); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&ms1)
				perDelivery := (float64(ms1.HeapAlloc) - float64(ms0.HeapAlloc) - float64(events*payloadSize)) / deliveries
				b.ReportMetric(perDelivery, "B/pending-delivery")
				runtime.KeepAlive(s)
			}
		})
	}
}

func TestMemoryStoreListsTheNewestOfMany(t *testing.T) {
	t.Parallel()
	s := newMemStore(t, sender.Endpoint{ID: "ep"})
	var ids []sender.DeliveryID
	for i := range 1000 {
		res, err := s.Publish(t.Context(), sender.PublishRequest{Event: memEvent(fmt.Sprint("evt_", i)), EndpointIDs: []string{"ep"}, Now: t0.Add(time.Duration(i) * time.Second)})
		require.NoError(t, err)
		ids = append(ids, res.Deliveries[0].ID)
	}
	ds, err := s.ListDeliveries(t.Context(), sender.DeliveryFilter{Limit: 10, BeforeID: ids[500]})
	require.NoError(t, err)
	require.Len(t, ds, 10)
	for i, d := range ds {
		require.Equal(t, ids[499-i], d.ID)
	}
	// Dead-letter 300 of them in one batch and list the most recent.
	cs, err := s.Claim(t.Context(), sender.ClaimRequest{Owner: "w", Now: t0.Add(time.Hour), Limit: 300, Lease: time.Minute})
	require.NoError(t, err)
	sts := make([]sender.Settlement, len(cs))
	for i, c := range cs {
		sts[i] = sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleDead, Attempt: &sender.Attempt{StartedAt: t0.Add(time.Duration(i) * time.Millisecond)}}
	}
	require.NoError(t, s.Settle(t.Context(), sender.SettleRequest{Owner: "w", Now: t0.Add(time.Hour), Settlements: sts}))
	dl, err := s.ListDeadLetters(t.Context(), sender.DeadLetterFilter{Limit: 5})
	require.NoError(t, err)
	require.Len(t, dl, 5)
	for i, d := range dl {
		require.Equal(t, ids[299-i], d.ID, "same dead-letter time: highest id first")
	}
	as, err := s.ListAttempts(t.Context(), sender.AttemptFilter{Limit: 3})
	require.NoError(t, err)
	require.Len(t, as, 3)
	for i, a := range as {
		require.Equal(t, ids[299-i], a.DeliveryID, "latest start first")
	}
}

func TestMemoryStoreLargeFanOut(t *testing.T) {
	t.Parallel()
	s := newMemStore(t)
	ids := make([]string, 0, 2000)
	for i := range 1000 {
		id := fmt.Sprint("ep_", i)
		require.NoError(t, s.CreateEndpoint(t.Context(), sender.Endpoint{ID: id}))
		ids = append(ids, id, id) // every id twice
	}
	res, err := s.Publish(t.Context(), sender.PublishRequest{Event: memEvent("evt_1"), EndpointIDs: ids, Now: t0})
	require.NoError(t, err)
	require.Len(t, res.Deliveries, 1000, "one delivery per endpoint")
	res, err = s.Publish(t.Context(), sender.PublishRequest{Event: memEvent("evt_1"), EndpointIDs: ids, Now: t0})
	require.NoError(t, err)
	require.Empty(t, res.Deliveries, "republishing the event adds nothing")
}
