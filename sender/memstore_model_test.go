package sender_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/sender"
)

// TestMemoryStoreRandomOperations runs random publishes, claims, settlements,
// lease extensions, replays and endpoint changes against the memory store and
// checks after every claim that it handed out exactly the claimable
// deliveries: due, not held by a live lease, endpoint enabled, and for Ordered
// endpoints only the oldest unsettled one.
func TestMemoryStoreRandomOperations(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			runRandomOperations(t, seed, 600)
		})
	}
}

func runRandomOperations(t *testing.T, seed uint64, ops int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, seed*7))
	s := sender.NewMemoryStore(sender.MemoryStoreConfig{})
	eps := []string{"ep_0", "ep_1", "ep_2", "ep_3"}
	for i, id := range eps {
		require.NoError(t, s.CreateEndpoint(ctx, sender.Endpoint{ID: id, Ordered: i%2 == 1}))
	}
	owners := []string{"w0", "w1", "w2"}
	now := t0
	evN := 0
	all := func() []sender.Delivery {
		ds, err := s.ListDeliveries(ctx, sender.DeliveryFilter{Limit: 1 << 20})
		require.NoError(t, err)
		return ds
	}
	endpoints := func() map[string]sender.Endpoint {
		list, err := s.ListEndpoints(ctx, sender.EndpointFilter{})
		require.NoError(t, err)
		m := make(map[string]sender.Endpoint, len(list))
		for _, ep := range list {
			m[ep.ID] = ep
		}
		return m
	}
	claimable := func(ds []sender.Delivery, epm map[string]sender.Endpoint) map[sender.DeliveryID]bool {
		out := make(map[sender.DeliveryID]bool)
		oldest := make(map[string]sender.Delivery) // oldest unsettled per endpoint
		liveLease := make(map[string]int)          // deliveries in flight with a live lease
		for _, d := range ds {
			if d.State.Settled() {
				continue
			}
			if d.State == sender.StateInFlight && d.LeaseExpiresAt.After(now) {
				liveLease[d.EndpointID]++
			}
			if o, ok := oldest[d.EndpointID]; !ok || d.ID < o.ID {
				oldest[d.EndpointID] = d
			}
		}
		for _, d := range ds {
			ep := epm[d.EndpointID]
			due := (d.State == sender.StatePending && !d.NextAttemptAt.After(now)) ||
				(d.State == sender.StateInFlight && !d.LeaseExpiresAt.After(now))
			if !due || ep.Disabled {
				continue
			}
			if ep.Ordered && (oldest[d.EndpointID].ID != d.ID || liveLease[d.EndpointID] > 0 && d.State != sender.StateInFlight) {
				continue
			}
			out[d.ID] = true
		}
		return out
	}
	for op := range ops {
		now = now.Add(time.Duration(rng.IntN(20)) * time.Second)
		switch r := rng.IntN(100); {
		case r < 30: // publish
			evN++
			n := 1 + rng.IntN(len(eps))
			targets := append([]string(nil), eps[:n]...)
			rng.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
			_, err := s.Publish(ctx, sender.PublishRequest{
				Event:       sender.StoredEvent{ID: fmt.Sprint("evt_", evN), Type: "a.b", Payload: []byte("{}"), CreatedAt: now},
				EndpointIDs: targets, Now: now, NextAttemptAt: now.Add(time.Duration(rng.IntN(30)) * time.Second),
			})
			require.NoError(t, err)
		case r < 60: // claim and check
			before, epm := all(), endpoints()
			want := claimable(before, epm)
			limit := 1 + rng.IntN(8)
			owner := owners[rng.IntN(len(owners))]
			cs, err := s.Claim(ctx, sender.ClaimRequest{Owner: owner, Now: now, Limit: limit, Lease: time.Duration(10+rng.IntN(60)) * time.Second})
			require.NoError(t, err)
			require.LessOrEqual(t, len(cs), limit)
			if len(cs) != min(limit, len(want)) {
				var detail []string
				for id := range want {
					for _, d := range before {
						if d.ID == id {
							detail = append(detail, fmt.Sprintf("%+v ep=%+v", d, epm[d.EndpointID]))
						}
					}
				}
				t.Fatalf("op %d: claimed %d of %d claimable (limit %d) at %v: %v", op, len(cs), len(want), limit, now, detail)
			}
			seen := make(map[string]bool)
			for _, c := range cs {
				require.True(t, want[c.Delivery.ID], "op %d: delivery %d was not claimable (claimable: %v, before: %+v)", op, c.Delivery.ID, want, before)
				if epm[c.Delivery.EndpointID].Ordered {
					require.False(t, seen[c.Delivery.EndpointID], "op %d: two deliveries of an ordered endpoint in one claim", op)
					seen[c.Delivery.EndpointID] = true
				}
			}
		case r < 85: // settle something in flight
			var inflight []sender.Delivery
			for _, d := range all() {
				if d.State == sender.StateInFlight {
					inflight = append(inflight, d)
				}
			}
			if len(inflight) == 0 {
				continue
			}
			d := inflight[rng.IntN(len(inflight))]
			st := sender.Settlement{DeliveryID: d.ID, Kind: sender.SettleKind(1 + rng.IntN(5)), NextAttemptAt: now.Add(time.Duration(rng.IntN(40)) * time.Second), Error: "e"}
			if st.Kind == sender.SettleRetry || st.Kind == sender.SettleDelivered {
				st.Attempt = &sender.Attempt{StartedAt: now}
			}
			owner := d.LeaseOwner
			if rng.IntN(10) == 0 {
				owner = "intruder"
			}
			err := s.Settle(ctx, sender.SettleRequest{Owner: owner, Now: now, Settlements: []sender.Settlement{st}})
			held := owner == d.LeaseOwner && d.LeaseExpiresAt.After(now)
			if held {
				require.NoError(t, err, "op %d", op)
				got, err := s.GetDelivery(ctx, d.ID)
				require.NoError(t, err)
				require.NotEqual(t, sender.StateInFlight, got.State)
			} else {
				require.True(t, errors.Is(err, sender.ErrLeaseLost), "op %d: settle without the lease: %v", op, err)
			}
		case r < 90: // extend a lease
			for _, d := range all() {
				if d.State == sender.StateInFlight {
					err := s.ExtendLeases(ctx, sender.ExtendRequest{Owner: d.LeaseOwner, IDs: []sender.DeliveryID{d.ID}, Now: now, Until: now.Add(time.Minute)})
					if d.LeaseExpiresAt.After(now) {
						require.NoError(t, err)
					} else {
						require.ErrorIs(t, err, sender.ErrLeaseLost)
					}
					break
				}
			}
		case r < 94: // replay
			_, err := s.Replay(ctx, sender.ReplayRequest{EndpointID: eps[rng.IntN(len(eps))], Now: now})
			require.NoError(t, err)
		default: // toggle Ordered or Disabled
			ep, err := s.GetEndpoint(ctx, eps[rng.IntN(len(eps))])
			require.NoError(t, err)
			inFlight := false
			for _, d := range all() {
				inFlight = inFlight || d.EndpointID == ep.ID && d.State == sender.StateInFlight
			}
			if rng.IntN(2) == 0 {
				// Deliveries in flight when Ordered is turned on finish unordered, so
				// only turn it on when none is.
				if ep.Ordered || !inFlight {
					ep.Ordered = !ep.Ordered
				}
			} else {
				ep.Disabled = !ep.Disabled
			}
			require.NoError(t, s.UpdateEndpoint(ctx, ep))
		}
		// NextDue is never later than the earliest claimable delivery.
		if next, ok, err := s.NextDue(ctx); err == nil && op%5 == 0 {
			epm := endpoints()
			for _, d := range all() {
				if d.State == sender.StatePending {
					if !epm[d.EndpointID].Disabled && !epm[d.EndpointID].Ordered {
						require.True(t, ok, "op %d: NextDue reports nothing while delivery %d is pending", op, d.ID)
						require.False(t, next.After(d.NextAttemptAt), "op %d: NextDue %v later than delivery %d due %v", op, next, d.ID, d.NextAttemptAt)
					}
				}
			}
		}
	}
}
