// Package storetest is the conformance suite for sender.Store implementations.
//
// Every Store (the memory store, sender/pgstore, your own) must pass it:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) sender.Store {
//			return newMyStore(t) // a fresh, empty store; clean up with t.Cleanup
//		})
//	}
//
// It checks endpoint round trips and errors; publish round trips (the payload
// stored once per event, one delivery per event and endpoint, atomic refusal
// of bad input); idempotency keys; claims (due time, limit, never one delivery
// to two of 100 concurrent claimers); lease expiry and extension; every
// settlement kind (a reschedule consumes no attempt, lost leases are refused,
// malformed batches change nothing); endpoint health and disabling; dead
// letters and replay (one, by endpoint, since a time); retention pruning;
// FIFO order for Ordered endpoints (across retries, lost leases, replays and
// 20 concurrent claimers); listing filters; the attempt log; NextDue; and,
// for stores implementing sender.Notifier, wake-ups.
//
// The suite never sleeps: every time is passed explicitly, starting at a fixed
// instant with microsecond precision (so databases that store microseconds
// pass). Subtests run in parallel, each on its own store.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/sender"
)

// T0 is the instant the suite's clock starts at.
var T0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// Run runs the conformance suite. newStore must return a new, empty store for
// each call.
func Run(t *testing.T, newStore func(t *testing.T) sender.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s sender.Store)
	}{
		{"EndpointRoundTrip", testEndpointRoundTrip},
		{"EndpointErrors", testEndpointErrors},
		{"ListEndpoints", testListEndpoints},
		{"PublishRoundTrip", testPublishRoundTrip},
		{"PublishStoresPayloadOnce", testPublishPayloadOnce},
		{"PublishRefusesBadInputAtomically", testPublishBadInput},
		{"IdempotencyKey", testIdempotencyKey},
		{"ConcurrentClaimsNeverShareADelivery", testConcurrentClaims},
		{"ClaimHonoursDueTimeAndLimit", testClaimDueAndLimit},
		{"LeaseExpiryReturnsWork", testLeaseExpiry},
		{"ExtendLeases", testExtendLeases},
		{"SettleDelivered", testSettleDelivered},
		{"SettleRetryConsumesAnAttempt", testSettleRetry},
		{"SettleRescheduleConsumesNoAttempt", testSettleReschedule},
		{"SettleDead", testSettleDead},
		{"SettleRelease", testSettleRelease},
		{"SettleRefusesLostLeases", testSettleLeaseLost},
		{"SettleRefusesMalformedBatches", testSettleInvalid},
		{"SettleUpdatesEndpointHealth", testSettleHealth},
		{"DisabledEndpointsArePaused", testDisabledPaused},
		{"DeadLettersListAndReplay", testDeadLettersReplay},
		{"ReplayErrors", testReplayErrors},
		{"Prune", testPrune},
		{"OrderedEndpointsAreFIFO", testOrdered},
		{"OrderedEndpointReplayKeepsOrder", testOrderedReplay},
		{"OrderedEndpointsUnderConcurrentClaimers", testOrderedConcurrent},
		{"TurningOrderedOnQueuesPendingDeliveries", testOrderedTurnedOn},
		{"DisablingAnEndpointPausesItsPendingDeliveries", testDisableAfterPublish},
		{"CancelledContextFails", testCancelledContext},
		{"ListDeliveriesFilters", testListDeliveries},
		{"AttemptLogQueries", testAttemptLog},
		{"DeleteEndpointRemovesItsDeliveries", testDeleteEndpointCascade},
		{"NextDue", testNextDue},
		{"NotifierWakesOnPublish", testNotifier},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// at returns T0 plus d.
func at(d time.Duration) time.Time { return T0.Add(d) }

func ctx(t *testing.T) context.Context { return t.Context() }

// Endpoint returns a valid endpoint with id, as the suite creates them.
func Endpoint(id string) sender.Endpoint {
	return sender.Endpoint{
		ID:             id,
		URL:            "https://receiver.example/hooks/" + id,
		Description:    "endpoint " + id,
		Keys:           []sender.EndpointKey{{Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
		MaxConcurrency: sender.DefaultMaxConcurrency,
		Timeout:        sender.DefaultEndpointTimeout,
		CreatedAt:      T0,
		UpdatedAt:      T0,
	}
}

func createEndpoints(t *testing.T, s sender.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		require.NoError(t, s.CreateEndpoint(ctx(t), Endpoint(id)))
	}
}

func event(id, typ string) sender.StoredEvent {
	return sender.StoredEvent{
		ID:        id,
		Type:      typ,
		Payload:   []byte(`{"event_id":"` + id + `","event_type":"` + typ + `","data":{}}`),
		CreatedAt: T0,
	}
}

func publish(t *testing.T, s sender.Store, now time.Time, ev sender.StoredEvent, endpoints ...string) sender.PublishResult {
	t.Helper()
	res, err := s.Publish(ctx(t), sender.PublishRequest{Event: ev, EndpointIDs: endpoints, Now: now})
	require.NoError(t, err)
	return res
}

func claim(t *testing.T, s sender.Store, owner string, now time.Time, limit int) []sender.Claimed {
	t.Helper()
	c, err := s.Claim(ctx(t), sender.ClaimRequest{Owner: owner, Now: now, Limit: limit, Lease: time.Minute})
	require.NoError(t, err)
	return c
}

func claimOne(t *testing.T, s sender.Store, owner string, now time.Time) sender.Claimed {
	t.Helper()
	c := claim(t, s, owner, now, 1)
	require.Len(t, c, 1, "one delivery should be due")
	return c[0]
}

func settle(t *testing.T, s sender.Store, owner string, now time.Time, sts ...sender.Settlement) {
	t.Helper()
	require.NoError(t, s.Settle(ctx(t), sender.SettleRequest{Owner: owner, Now: now, Settlements: sts}))
}

func getDelivery(t *testing.T, s sender.Store, id sender.DeliveryID) sender.Delivery {
	t.Helper()
	d, err := s.GetDelivery(ctx(t), id)
	require.NoError(t, err)
	return d
}

func requireTime(t *testing.T, want, got time.Time, msgAndArgs ...any) {
	t.Helper()
	require.Truef(t, want.Equal(got), "want time %v, got %v %v", want, got, fmt.Sprint(msgAndArgs...))
}

func ids(cs []sender.Claimed) []sender.DeliveryID {
	out := make([]sender.DeliveryID, len(cs))
	for i, c := range cs {
		out[i] = c.Delivery.ID
	}
	return out
}

func deliveryIDs(ds []sender.Delivery) []sender.DeliveryID {
	out := make([]sender.DeliveryID, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func failedAttempt(start time.Time, code int) *sender.Attempt {
	return &sender.Attempt{
		StartedAt:       start,
		Duration:        120 * time.Millisecond,
		StatusCode:      code,
		Error:           fmt.Sprintf("HTTP %d", code),
		ResponseSnippet: "upstream failed",
		Outcome:         "retry",
	}
}

func okAttempt(start time.Time) *sender.Attempt {
	return &sender.Attempt{StartedAt: start, Duration: 30 * time.Millisecond, StatusCode: 204, Outcome: "delivered"}
}

func testEndpointRoundTrip(t *testing.T, s sender.Store) {
	ep := Endpoint("ep_1")
	ep.EventTypes = []string{"invoice.*", "user.created"}
	ep.Headers = map[string]string{"Authorization": "Bearer s3cret"}
	ep.Metadata = map[string]string{"team": "billing"}
	ep.RateLimit = 12.5
	ep.MaxConcurrency = 3
	ep.Ordered = true
	ep.Timeout = 5 * time.Second
	ep.Keys = append(ep.Keys, sender.EndpointKey{Secret: "whsec_b2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xk", NotAfter: at(time.Hour)})
	require.NoError(t, s.CreateEndpoint(ctx(t), ep))

	got, err := s.GetEndpoint(ctx(t), "ep_1")
	require.NoError(t, err)
	requireEndpoint(t, ep, got)

	// The returned value is the caller's: changing it changes nothing stored.
	got.Headers["Authorization"] = "changed"
	got.EventTypes[0] = "changed"
	again, err := s.GetEndpoint(ctx(t), "ep_1")
	require.NoError(t, err)
	requireEndpoint(t, ep, again)

	ep.URL = "https://receiver.example/v2"
	ep.Disabled, ep.DisabledReason, ep.DisabledAt = true, "maintenance", at(time.Minute)
	ep.UpdatedAt = at(time.Minute)
	ep.Headers = nil
	ep.Ordered = false
	require.NoError(t, s.UpdateEndpoint(ctx(t), ep))
	got, err = s.GetEndpoint(ctx(t), "ep_1")
	require.NoError(t, err)
	requireEndpoint(t, ep, got)

	// CreatedAt is not changed by an update.
	changed := ep
	changed.CreatedAt = at(time.Hour)
	require.NoError(t, s.UpdateEndpoint(ctx(t), changed))
	got, err = s.GetEndpoint(ctx(t), "ep_1")
	require.NoError(t, err)
	requireTime(t, T0, got.CreatedAt, "CreatedAt")

	require.NoError(t, s.DeleteEndpoint(ctx(t), "ep_1"))
	_, err = s.GetEndpoint(ctx(t), "ep_1")
	require.ErrorIs(t, err, sender.ErrEndpointNotFound)
}

func requireEndpoint(t *testing.T, want, got sender.Endpoint) {
	t.Helper()
	require.Equal(t, want.ID, got.ID)
	require.Equal(t, want.URL, got.URL)
	require.Equal(t, want.Description, got.Description)
	require.Len(t, got.Keys, len(want.Keys))
	for i := range want.Keys {
		require.Equal(t, want.Keys[i].Secret, got.Keys[i].Secret)
		requireTime(t, want.Keys[i].NotAfter, got.Keys[i].NotAfter, "key NotAfter")
	}
	require.ElementsMatch(t, want.EventTypes, got.EventTypes)
	require.Equal(t, len(want.Headers), len(got.Headers))
	for k, v := range want.Headers {
		require.Equal(t, v, got.Headers[k])
	}
	require.Equal(t, len(want.Metadata), len(got.Metadata))
	for k, v := range want.Metadata {
		require.Equal(t, v, got.Metadata[k])
	}
	require.InDelta(t, want.RateLimit, got.RateLimit, 1e-9)
	require.Equal(t, want.MaxConcurrency, got.MaxConcurrency)
	require.Equal(t, want.Ordered, got.Ordered)
	require.Equal(t, want.Timeout, got.Timeout)
	require.Equal(t, want.Disabled, got.Disabled)
	require.Equal(t, want.DisabledReason, got.DisabledReason)
	requireTime(t, want.DisabledAt, got.DisabledAt, "DisabledAt")
	requireTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt")
	requireTime(t, want.UpdatedAt, got.UpdatedAt, "UpdatedAt")
}

func testEndpointErrors(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_1")
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"creating a taken id fails", s.CreateEndpoint(ctx(t), Endpoint("ep_1")), sender.ErrDuplicateEndpoint},
		{"creating an empty id fails", s.CreateEndpoint(ctx(t), Endpoint("")), sender.ErrInvalidRequest},
		{"updating an unknown endpoint fails", s.UpdateEndpoint(ctx(t), Endpoint("nope")), sender.ErrEndpointNotFound},
		{"deleting an unknown endpoint fails", s.DeleteEndpoint(ctx(t), "nope"), sender.ErrEndpointNotFound},
	}
	_, getErr := s.GetEndpoint(ctx(t), "nope")
	tests = append(tests, struct {
		name string
		err  error
		want error
	}{"getting an unknown endpoint fails", getErr, sender.ErrEndpointNotFound})
	for _, tt := range tests {
		require.ErrorIs(t, tt.err, tt.want, tt.name)
	}
}

func testListEndpoints(t *testing.T, s sender.Store) {
	for i, types := range [][]string{{"invoice.*"}, {"user.created"}, nil, {"*"}} {
		ep := Endpoint(fmt.Sprintf("ep_%d", i))
		ep.EventTypes = types
		ep.Disabled = i == 3
		require.NoError(t, s.CreateEndpoint(ctx(t), ep))
	}
	endpointIDs := func(f sender.EndpointFilter) []string {
		eps, err := s.ListEndpoints(ctx(t), f)
		require.NoError(t, err)
		out := make([]string, len(eps))
		for i, ep := range eps {
			out[i] = ep.ID
		}
		return out
	}
	tests := []struct {
		name   string
		filter sender.EndpointFilter
		want   []string
	}{
		{"no filter lists all by id", sender.EndpointFilter{}, []string{"ep_0", "ep_1", "ep_2", "ep_3"}},
		{"event type keeps subscribed endpoints", sender.EndpointFilter{EventType: "invoice.paid"}, []string{"ep_0", "ep_2", "ep_3"}},
		{"enabled excludes disabled", sender.EndpointFilter{EventType: "user.created", Status: sender.EndpointsEnabled}, []string{"ep_1", "ep_2"}},
		{"disabled keeps disabled", sender.EndpointFilter{Status: sender.EndpointsDisabled}, []string{"ep_3"}},
		{"after id and limit paginate", sender.EndpointFilter{AfterID: "ep_0", Limit: 2}, []string{"ep_1", "ep_2"}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, endpointIDs(tt.filter), tt.name)
	}
}

func testPublishRoundTrip(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a", "ep_b", "ep_c")
	ev := event("evt_1", "invoice.paid")
	ev.IdempotencyKey = "key-1"
	res := publish(t, s, at(time.Second), ev, "ep_a", "ep_b", "ep_c", "ep_a")
	require.Equal(t, "evt_1", res.EventID)
	require.False(t, res.Duplicate)
	require.Len(t, res.Deliveries, 3, "a repeated endpoint id counts once")
	for i, ref := range res.Deliveries {
		require.Equal(t, []string{"ep_a", "ep_b", "ep_c"}[i], ref.EndpointID)
		require.Positive(t, int64(ref.ID))
		if i > 0 {
			require.Greater(t, ref.ID, res.Deliveries[i-1].ID, "ids increase in publish order")
		}
		d := getDelivery(t, s, ref.ID)
		require.Equal(t, sender.StatePending, d.State)
		require.Equal(t, "evt_1", d.EventID)
		require.Equal(t, "invoice.paid", d.EventType)
		require.Equal(t, ref.EndpointID, d.EndpointID)
		require.Zero(t, d.Attempts)
		requireTime(t, at(time.Second), d.NextAttemptAt, "NextAttemptAt")
		requireTime(t, at(time.Second), d.CreatedAt, "CreatedAt")
	}

	got, err := s.GetEvent(ctx(t), "evt_1")
	require.NoError(t, err)
	require.Equal(t, ev.ID, got.ID)
	require.Equal(t, ev.Type, got.Type)
	require.Equal(t, ev.Payload, got.Payload)
	require.Equal(t, "key-1", got.IdempotencyKey)
	requireTime(t, T0, got.CreatedAt)

	_, err = s.GetEvent(ctx(t), "evt_unknown")
	require.ErrorIs(t, err, sender.ErrEventNotFound)
	_, err = s.GetDelivery(ctx(t), 1<<40)
	require.ErrorIs(t, err, sender.ErrDeliveryNotFound)

	// A delayed publish is not due before its time.
	delayed, err := s.Publish(ctx(t), sender.PublishRequest{
		Event: event("evt_2", "invoice.paid"), EndpointIDs: []string{"ep_a"}, Now: at(time.Second), NextAttemptAt: at(time.Hour),
	})
	require.NoError(t, err)
	requireTime(t, at(time.Hour), getDelivery(t, s, delayed.Deliveries[0].ID).NextAttemptAt)
	require.Len(t, claim(t, s, "w", at(time.Minute), 10), 3, "only the three due deliveries")
}

func testPublishPayloadOnce(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a", "ep_b")
	ev := event("evt_1", "invoice.paid")
	payload := ev.Payload
	ev.Payload = append([]byte(nil), payload...)
	res := publish(t, s, T0, ev, "ep_a", "ep_b")
	ev.Payload[0] = 'X' // the store keeps its own copy

	cs := claim(t, s, "w", T0, 10)
	require.Len(t, cs, 2)
	for _, c := range cs {
		require.Equal(t, "evt_1", c.Event.ID, "every delivery refers to the one stored event")
		require.Equal(t, payload, c.Event.Payload)
		require.Equal(t, "invoice.paid", c.Event.Type)
		require.Equal(t, c.Delivery.EndpointID, c.Endpoint.ID)
		require.Equal(t, "https://receiver.example/hooks/"+c.Endpoint.ID, c.Endpoint.URL)
		require.Equal(t, sender.StateInFlight, c.Delivery.State)
		require.Equal(t, "w", c.Delivery.LeaseOwner)
		requireTime(t, at(time.Minute), c.Delivery.LeaseExpiresAt)
	}

	// The same event id published again adds a delivery only for a new endpoint.
	createEndpoints(t, s, "ep_c")
	again := publish(t, s, T0, event("evt_1", "invoice.paid"), "ep_a", "ep_c")
	require.Equal(t, []sender.DeliveryRef{{ID: again.Deliveries[0].ID, EndpointID: "ep_c"}}, again.Deliveries)
	ds, err := s.ListDeliveries(ctx(t), sender.DeliveryFilter{EventID: "evt_1"})
	require.NoError(t, err)
	require.Len(t, ds, 3)
	require.NotContains(t, deliveryIDs(ds), sender.DeliveryID(0))
	require.Contains(t, deliveryIDs(ds), res.Deliveries[0].ID)
}

func testPublishBadInput(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a")
	publish(t, s, T0, event("evt_1", "invoice.paid"), "ep_a")
	conflict := event("evt_1", "invoice.paid")
	conflict.Payload = []byte(`{"other":true}`)
	noID := event("", "invoice.paid")
	tests := []struct {
		name string
		req  sender.PublishRequest
		want error
	}{
		{"an unknown endpoint fails", sender.PublishRequest{Event: event("evt_2", "a.b"), EndpointIDs: []string{"ep_a", "nope"}, Now: T0}, sender.ErrEndpointNotFound},
		{"a stored event id with another payload fails", sender.PublishRequest{Event: conflict, EndpointIDs: []string{"ep_a"}, Now: T0}, sender.ErrEventConflict},
		{"an event without id fails", sender.PublishRequest{Event: noID, EndpointIDs: []string{"ep_a"}, Now: T0}, sender.ErrInvalidRequest},
	}
	for _, tt := range tests {
		_, err := s.Publish(ctx(t), tt.req)
		require.ErrorIs(t, err, tt.want, tt.name)
	}
	_, err := s.GetEvent(ctx(t), "evt_2")
	require.ErrorIs(t, err, sender.ErrEventNotFound, "a failed publish stores nothing")
	ds, err := s.ListDeliveries(ctx(t), sender.DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, ds, 1, "a failed publish stores no delivery")
	got, err := s.GetEvent(ctx(t), "evt_1")
	require.NoError(t, err)
	require.Equal(t, event("evt_1", "invoice.paid").Payload, got.Payload, "the stored event is unchanged")
}

func testIdempotencyKey(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a", "ep_b")
	first := event("evt_1", "invoice.paid")
	first.IdempotencyKey = "order-42"
	res1 := publish(t, s, T0, first, "ep_a", "ep_b")

	second := event("evt_2", "invoice.paid")
	second.IdempotencyKey = "order-42"
	second.CreatedAt = at(time.Minute)
	res2 := publish(t, s, at(time.Minute), second, "ep_a", "ep_b")
	require.True(t, res2.Duplicate)
	require.Equal(t, res1.EventID, res2.EventID)
	require.Equal(t, res1.Deliveries, res2.Deliveries)
	_, err := s.GetEvent(ctx(t), "evt_2")
	require.ErrorIs(t, err, sender.ErrEventNotFound, "a duplicate stores nothing")
	ds, err := s.ListDeliveries(ctx(t), sender.DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, ds, 2)

	// Once the key is pruned, the same key publishes again.
	pr, err := s.Prune(ctx(t), sender.PruneRequest{IdempotencyBefore: at(time.Second)})
	require.NoError(t, err)
	require.Equal(t, 1, pr.IdempotencyKeys)
	res3 := publish(t, s, at(2*time.Minute), second, "ep_a")
	require.False(t, res3.Duplicate)
	require.Equal(t, "evt_2", res3.EventID)
	require.Len(t, res3.Deliveries, 1)
}

func testConcurrentClaims(t *testing.T, s sender.Store) {
	const endpoints, events, claimers = 10, 100, 100
	eps := make([]string, endpoints)
	for i := range eps {
		eps[i] = fmt.Sprintf("ep_%02d", i)
	}
	createEndpoints(t, s, eps...)
	for i := range events {
		publish(t, s, T0, event(fmt.Sprintf("evt_%03d", i), "invoice.paid"), eps...)
	}
	var (
		mu    sync.Mutex
		count = make(map[sender.DeliveryID]int)
		wg    sync.WaitGroup
		errs  = make(chan error, claimers)
	)
	for w := range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("worker-%d", w)
			for {
				cs, err := s.Claim(context.Background(), sender.ClaimRequest{Owner: owner, Now: at(time.Second), Limit: 7, Lease: time.Minute})
				if err != nil {
					errs <- err
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					count[c.Delivery.ID]++
					if c.Delivery.LeaseOwner != owner {
						mu.Unlock()
						errs <- fmt.Errorf("delivery %d claimed by %s reports owner %q", c.Delivery.ID, owner, c.Delivery.LeaseOwner)
						return
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, count, endpoints*events, "every delivery was claimed")
	for id, n := range count {
		require.Equal(t, 1, n, "delivery %d claimed %d times", id, n)
	}
}

func testClaimDueAndLimit(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a")
	var want []sender.DeliveryID
	for i := range 5 {
		res, err := s.Publish(ctx(t), sender.PublishRequest{
			Event: event(fmt.Sprintf("evt_%d", i), "a.b"), EndpointIDs: []string{"ep_a"},
			Now: T0, NextAttemptAt: at(time.Duration(5-i) * time.Second),
		})
		require.NoError(t, err)
		want = append([]sender.DeliveryID{res.Deliveries[0].ID}, want...)
	}
	require.Empty(t, claim(t, s, "w", at(999*time.Millisecond), 10), "nothing is due yet")
	got := claim(t, s, "w", at(3*time.Second), 2)
	require.Equal(t, want[:2], ids(got), "earliest due first, at most Limit")
	got = claim(t, s, "w", at(5*time.Second), 10)
	require.Equal(t, want[2:], ids(got), "the rest once due; claimed ones are not returned again")

	tests := []struct {
		name string
		req  sender.ClaimRequest
	}{
		{"a claim without owner is refused", sender.ClaimRequest{Now: T0, Limit: 1, Lease: time.Minute}},
		{"a claim without limit is refused", sender.ClaimRequest{Owner: "w", Now: T0, Lease: time.Minute}},
		{"a claim without lease is refused", sender.ClaimRequest{Owner: "w", Now: T0, Limit: 1}},
	}
	for _, tt := range tests {
		_, err := s.Claim(ctx(t), tt.req)
		require.ErrorIs(t, err, sender.ErrInvalidRequest, tt.name)
	}
}

func testLeaseExpiry(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a")
	publish(t, s, T0, event("evt_1", "a.b"), "ep_a")
	c := claimOne(t, s, "dead-worker", T0)
	require.Empty(t, claim(t, s, "w2", at(59*time.Second), 10), "a live lease is not claimable")
	c2 := claimOne(t, s, "w2", at(time.Minute))
	require.Equal(t, c.Delivery.ID, c2.Delivery.ID, "an expired lease returns the work")
	require.Equal(t, "w2", c2.Delivery.LeaseOwner)
	require.Zero(t, c2.Delivery.Attempts, "an expired lease consumes no attempt")

	err := s.Settle(ctx(t), sender.SettleRequest{Owner: "dead-worker", Now: at(61 * time.Second), Settlements: []sender.Settlement{
		{DeliveryID: c.Delivery.ID, Kind: sender.SettleDelivered},
	}})
	require.ErrorIs(t, err, sender.ErrLeaseLost)
	var lost *sender.LeaseLostError
	require.ErrorAs(t, err, &lost)
	require.Equal(t, []sender.DeliveryID{c.Delivery.ID}, lost.IDs)

	settle(t, s, "w2", at(61*time.Second), sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleDelivered, Attempt: okAttempt(at(time.Minute))})
	require.Equal(t, sender.StateDelivered, getDelivery(t, s, c.Delivery.ID).State)
}

func testExtendLeases(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a")
	publish(t, s, T0, event("evt_1", "a.b"), "ep_a")
	publish(t, s, T0, event("evt_2", "a.b"), "ep_a")
	cs := claim(t, s, "w", T0, 10)
	require.Len(t, cs, 2)
	a, b := cs[0].Delivery.ID, cs[1].Delivery.ID

	require.NoError(t, s.ExtendLeases(ctx(t), sender.ExtendRequest{Owner: "w", IDs: []sender.DeliveryID{a}, Now: at(30 * time.Second), Until: at(3 * time.Minute)}))
	requireTime(t, at(3*time.Minute), getDelivery(t, s, a).LeaseExpiresAt)
	got := claim(t, s, "w2", at(time.Minute), 10)
	require.Equal(t, []sender.DeliveryID{b}, ids(got), "only the unextended lease expired")

	err := s.ExtendLeases(ctx(t), sender.ExtendRequest{Owner: "w", IDs: []sender.DeliveryID{a, b, 1 << 40}, Now: at(61 * time.Second), Until: at(4 * time.Minute)})
	var lost *sender.LeaseLostError
	require.ErrorAs(t, err, &lost, "b was re-claimed by w2 and the third id is unknown")
	require.ElementsMatch(t, []sender.DeliveryID{b, 1 << 40}, lost.IDs)
	requireTime(t, at(4*time.Minute), getDelivery(t, s, a).LeaseExpiresAt, "the held lease was still extended")

	err = s.ExtendLeases(ctx(t), sender.ExtendRequest{Owner: "w", IDs: []sender.DeliveryID{a}, Now: at(5 * time.Minute), Until: at(6 * time.Minute)})
	require.ErrorIs(t, err, sender.ErrLeaseLost, "an expired lease cannot be extended")
	err = s.ExtendLeases(ctx(t), sender.ExtendRequest{Owner: "w", IDs: []sender.DeliveryID{a}, Now: at(time.Minute), Until: at(time.Minute)})
	require.ErrorIs(t, err, sender.ErrInvalidRequest, "Until must be after Now")
}

// claimedDelivery publishes one event to a new endpoint "ep_a" and claims it as owner "w" at T0.
func claimedDelivery(t *testing.T, s sender.Store) sender.Claimed {
	t.Helper()
	createEndpoints(t, s, "ep_a")
	publish(t, s, T0, event("evt_1", "invoice.paid"), "ep_a")
	return claimOne(t, s, "w", T0)
}

func testSettleDelivered(t *testing.T, s sender.Store) {
	c := claimedDelivery(t, s)
	settle(t, s, "w", at(time.Second), sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleDelivered, Attempt: okAttempt(T0)})
	d := getDelivery(t, s, c.Delivery.ID)
	require.Equal(t, sender.StateDelivered, d.State)
	require.Equal(t, 1, d.Attempts)
	require.Equal(t, 204, d.LastStatusCode)
	require.Empty(t, d.LeaseOwner)
	requireTime(t, at(time.Second), d.UpdatedAt)
	as, err := s.ListAttempts(ctx(t), sender.AttemptFilter{DeliveryID: c.Delivery.ID})
	require.NoError(t, err)
	require.Len(t, as, 1)
	require.Equal(t, c.Delivery.ID, as[0].DeliveryID, "the store fills in the ids")
	require.Equal(t, "evt_1", as[0].EventID)
	require.Equal(t, "ep_a", as[0].EndpointID)
	require.Equal(t, 1, as[0].N)
	require.Equal(t, 204, as[0].StatusCode)
	require.Equal(t, 30*time.Millisecond, as[0].Duration)
	require.Equal(t, "delivered", as[0].Outcome)
	requireTime(t, T0, as[0].StartedAt)
	require.Empty(t, claim(t, s, "w", at(time.Hour), 10), "a delivered delivery is never claimed again")
}

func testSettleRetry(t *testing.T, s sender.Store) {
	c := claimedDelivery(t, s)
	a := failedAttempt(T0, 503)
	a.NextAttemptAt = at(5 * time.Second)
	settle(t, s, "w", at(time.Second), sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleRetry, NextAttemptAt: at(5 * time.Second), Error: "HTTP 503", Attempt: a})
	d := getDelivery(t, s, c.Delivery.ID)
	require.Equal(t, sender.StatePending, d.State)
	require.Equal(t, 1, d.Attempts)
	require.Equal(t, "HTTP 503", d.LastError)
	require.Equal(t, 503, d.LastStatusCode)
	requireTime(t, at(5*time.Second), d.NextAttemptAt)
	require.Empty(t, claim(t, s, "w", at(4*time.Second), 10), "not before the retry time")
	c2 := claimOne(t, s, "w", at(5*time.Second))
	require.Equal(t, 1, c2.Delivery.Attempts)

	a2 := failedAttempt(at(5*time.Second), 500)
	settle(t, s, "w", at(6*time.Second), sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleRetry, NextAttemptAt: at(time.Hour), Error: "HTTP 500", Attempt: a2})
	as, err := s.ListAttempts(ctx(t), sender.AttemptFilter{DeliveryID: c.Delivery.ID})
	require.NoError(t, err)
	require.Len(t, as, 2)
	require.Equal(t, 2, as[0].N, "newest first, numbered by the store")
	require.Equal(t, 1, as[1].N)
	requireTime(t, at(5*time.Second), as[1].NextAttemptAt)
	require.Equal(t, 2, getDelivery(t, s, c.Delivery.ID).Attempts)
}

func testSettleReschedule(t *testing.T, s sender.Store) {
	c := claimedDelivery(t, s)
	settle(t, s, "w", at(time.Second), sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleReschedule, NextAttemptAt: at(2 * time.Second)})
	d := getDelivery(t, s, c.Delivery.ID)
	require.Equal(t, sender.StatePending, d.State)
	require.Zero(t, d.Attempts, "a reschedule consumes no attempt")
	requireTime(t, at(2*time.Second), d.NextAttemptAt)
	as, err := s.ListAttempts(ctx(t), sender.AttemptFilter{DeliveryID: c.Delivery.ID})
	require.NoError(t, err)
	require.Empty(t, as, "a reschedule logs no attempt")
	require.Empty(t, claim(t, s, "w", at(time.Second), 10))
	require.Len(t, claim(t, s, "w", at(2*time.Second), 10), 1)
}

func testSettleDead(t *testing.T, s sender.Store) {
	c := claimedDelivery(t, s)
	settle(t, s, "w", at(time.Second), sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleDead, Error: "retries exhausted", Attempt: failedAttempt(T0, 500)})
	d := getDelivery(t, s, c.Delivery.ID)
	require.Equal(t, sender.StateDead, d.State)
	require.Equal(t, "retries exhausted", d.LastError)
	require.Equal(t, 1, d.Attempts)
	requireTime(t, at(time.Second), d.UpdatedAt, "UpdatedAt is the dead-letter time")
	dl, err := s.ListDeadLetters(ctx(t), sender.DeadLetterFilter{})
	require.NoError(t, err)
	require.Equal(t, []sender.DeliveryID{c.Delivery.ID}, deliveryIDs(dl))
	require.Empty(t, claim(t, s, "w", at(time.Hour), 10), "a dead letter is never claimed")
}

func testSettleRelease(t *testing.T, s sender.Store) {
	c := claimedDelivery(t, s)
	settle(t, s, "w", at(time.Second), sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleRelease})
	d := getDelivery(t, s, c.Delivery.ID)
	require.Equal(t, sender.StatePending, d.State)
	require.Zero(t, d.Attempts)
	require.Empty(t, d.LeaseOwner)
	requireTime(t, T0, d.NextAttemptAt, "the due time is untouched")
	c2 := claimOne(t, s, "other", at(time.Second))
	require.Equal(t, c.Delivery.ID, c2.Delivery.ID, "a released delivery is due at once")
}

func testSettleLeaseLost(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a")
	publish(t, s, T0, event("evt_1", "a.b"), "ep_a")
	publish(t, s, T0, event("evt_2", "a.b"), "ep_a")
	cs := claim(t, s, "w", T0, 10)
	require.Len(t, cs, 2)
	a, b := cs[0].Delivery.ID, cs[1].Delivery.ID

	err := s.Settle(ctx(t), sender.SettleRequest{Owner: "intruder", Now: at(time.Second), Settlements: []sender.Settlement{{DeliveryID: a, Kind: sender.SettleDelivered}}})
	require.ErrorIs(t, err, sender.ErrLeaseLost, "another owner cannot settle")
	require.Equal(t, sender.StateInFlight, getDelivery(t, s, a).State)

	settle(t, s, "w", at(time.Second), sender.Settlement{DeliveryID: a, Kind: sender.SettleDelivered})
	err = s.Settle(ctx(t), sender.SettleRequest{Owner: "w", Now: at(2 * time.Second), Settlements: []sender.Settlement{
		{DeliveryID: a, Kind: sender.SettleDead, Error: "late"},
		{DeliveryID: b, Kind: sender.SettleDelivered},
	}})
	var lost *sender.LeaseLostError
	require.ErrorAs(t, err, &lost, "a settled delivery cannot be settled again")
	require.Equal(t, []sender.DeliveryID{a}, lost.IDs)
	require.Equal(t, sender.StateDelivered, getDelivery(t, s, a).State, "the refused settlement changed nothing")
	require.Equal(t, sender.StateDelivered, getDelivery(t, s, b).State, "the rest of the batch was applied")
}

func testSettleInvalid(t *testing.T, s sender.Store) {
	c := claimedDelivery(t, s)
	id := c.Delivery.ID
	tests := []struct {
		name string
		st   sender.Settlement
	}{
		{"an unknown kind", sender.Settlement{DeliveryID: id, Kind: 0}},
		{"a retry without time", sender.Settlement{DeliveryID: id, Kind: sender.SettleRetry}},
		{"a reschedule with an attempt", sender.Settlement{DeliveryID: id, Kind: sender.SettleReschedule, NextAttemptAt: at(time.Hour), Attempt: okAttempt(T0)}},
		{"a release with an attempt", sender.Settlement{DeliveryID: id, Kind: sender.SettleRelease, Attempt: okAttempt(T0)}},
	}
	for _, tt := range tests {
		err := s.Settle(ctx(t), sender.SettleRequest{Owner: "w", Now: at(time.Second), Settlements: []sender.Settlement{
			{DeliveryID: id, Kind: sender.SettleDelivered}, tt.st,
		}})
		require.ErrorIs(t, err, sender.ErrInvalidRequest, tt.name)
		require.Equal(t, sender.StateInFlight, getDelivery(t, s, id).State, "%s: nothing of the batch is applied", tt.name)
	}
}

func testSettleHealth(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a")
	for i := range 4 {
		publish(t, s, T0, event(fmt.Sprintf("evt_%d", i), "a.b"), "ep_a")
	}
	cs := claim(t, s, "w", T0, 4)
	require.Len(t, cs, 4)
	health := func() sender.Endpoint {
		ep, err := s.GetEndpoint(ctx(t), "ep_a")
		require.NoError(t, err)
		return ep
	}
	settle(t, s, "w", at(time.Second), sender.Settlement{DeliveryID: cs[0].Delivery.ID, Kind: sender.SettleRetry, NextAttemptAt: at(time.Hour), Attempt: failedAttempt(T0, 500), Health: sender.HealthFailed})
	requireTime(t, at(time.Second), health().FailingSince, "the first failure starts the clock")
	settle(t, s, "w", at(2*time.Second), sender.Settlement{DeliveryID: cs[1].Delivery.ID, Kind: sender.SettleRetry, NextAttemptAt: at(time.Hour), Attempt: failedAttempt(T0, 500), Health: sender.HealthFailed})
	ep := health()
	requireTime(t, at(time.Second), ep.FailingSince, "later failures keep the clock")
	requireTime(t, at(2*time.Second), ep.LastFailureAt)
	settle(t, s, "w", at(3*time.Second), sender.Settlement{DeliveryID: cs[2].Delivery.ID, Kind: sender.SettleDelivered, Attempt: okAttempt(T0), Health: sender.HealthSucceeded})
	ep = health()
	require.True(t, ep.FailingSince.IsZero(), "a success resets the clock")
	requireTime(t, at(3*time.Second), ep.LastSuccessAt)
	require.False(t, ep.Disabled)

	settle(t, s, "w", at(4*time.Second), sender.Settlement{DeliveryID: cs[3].Delivery.ID, Kind: sender.SettleDead, Error: "410 Gone", Attempt: failedAttempt(T0, 410), DisableEndpoint: "endpoint answered 410 Gone"})
	ep = health()
	require.True(t, ep.Disabled)
	require.Equal(t, "endpoint answered 410 Gone", ep.DisabledReason)
	requireTime(t, at(4*time.Second), ep.DisabledAt)
}

func testDisabledPaused(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a", "ep_b")
	ep, err := s.GetEndpoint(ctx(t), "ep_a")
	require.NoError(t, err)
	ep.Disabled, ep.DisabledReason, ep.DisabledAt = true, "paused", T0
	require.NoError(t, s.UpdateEndpoint(ctx(t), ep))
	res := publish(t, s, T0, event("evt_1", "a.b"), "ep_a", "ep_b")
	got := claim(t, s, "w", at(time.Second), 10)
	require.Equal(t, []sender.DeliveryID{res.Deliveries[1].ID}, ids(got), "only the enabled endpoint's delivery")
	require.Empty(t, claim(t, s, "w", at(2*time.Second), 10), "the paused delivery stays paused")
	require.Equal(t, sender.StatePending, getDelivery(t, s, res.Deliveries[0].ID).State)

	ep.Disabled, ep.DisabledReason, ep.DisabledAt = false, "", time.Time{}
	require.NoError(t, s.UpdateEndpoint(ctx(t), ep))
	got = claim(t, s, "w", at(3*time.Second), 10)
	require.Equal(t, []sender.DeliveryID{res.Deliveries[0].ID}, ids(got), "enabling resumes it")
}

// deadLetter publishes an event to endpoint and dead-letters its delivery at when.
func deadLetter(t *testing.T, s sender.Store, evID, typ, endpoint string, when time.Time) sender.DeliveryID {
	t.Helper()
	res, err := s.Publish(ctx(t), sender.PublishRequest{Event: event(evID, typ), EndpointIDs: []string{endpoint}, Now: T0, NextAttemptAt: when})
	require.NoError(t, err)
	id := res.Deliveries[0].ID
	cs := claim(t, s, "dl", when, 100)
	require.Contains(t, ids(cs), id)
	for _, c := range cs {
		if c.Delivery.ID != id {
			settle(t, s, "dl", when, sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleRelease})
		}
	}
	settle(t, s, "dl", when, sender.Settlement{DeliveryID: id, Kind: sender.SettleDead, Error: "exhausted", Attempt: failedAttempt(when, 500)})
	return id
}

func testDeadLettersReplay(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a", "ep_b")
	d1 := deadLetter(t, s, "evt_1", "invoice.paid", "ep_a", at(time.Minute))
	d2 := deadLetter(t, s, "evt_2", "user.created", "ep_a", at(2*time.Minute))
	d3 := deadLetter(t, s, "evt_3", "invoice.paid", "ep_b", at(3*time.Minute))
	d4 := deadLetter(t, s, "evt_4", "invoice.paid", "ep_b", at(4*time.Minute))

	tests := []struct {
		name   string
		filter sender.DeadLetterFilter
		want   []sender.DeliveryID
	}{
		{"all, most recent first", sender.DeadLetterFilter{}, []sender.DeliveryID{d4, d3, d2, d1}},
		{"by endpoint", sender.DeadLetterFilter{EndpointID: "ep_a"}, []sender.DeliveryID{d2, d1}},
		{"by event type", sender.DeadLetterFilter{EventType: "invoice.paid"}, []sender.DeliveryID{d4, d3, d1}},
		{"by time range", sender.DeadLetterFilter{Since: at(2 * time.Minute), Until: at(4 * time.Minute)}, []sender.DeliveryID{d3, d2}},
		{"with a limit", sender.DeadLetterFilter{Limit: 1}, []sender.DeliveryID{d4}},
	}
	for _, tt := range tests {
		dl, err := s.ListDeadLetters(ctx(t), tt.filter)
		require.NoError(t, err)
		require.Equal(t, tt.want, deliveryIDs(dl), tt.name)
	}

	// Replay one: a new series of attempts with the same event id; the log is kept.
	n, err := s.Replay(ctx(t), sender.ReplayRequest{DeliveryID: d1, Now: at(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	d := getDelivery(t, s, d1)
	require.Equal(t, sender.StatePending, d.State)
	require.Zero(t, d.Attempts)
	require.Empty(t, d.LastError)
	require.Equal(t, "evt_1", d.EventID)
	requireTime(t, at(time.Hour), d.NextAttemptAt)
	as, err := s.ListAttempts(ctx(t), sender.AttemptFilter{DeliveryID: d1})
	require.NoError(t, err)
	require.Len(t, as, 1, "the attempt log survives a replay")
	c := claimOne(t, s, "w", at(time.Hour))
	require.Equal(t, d1, c.Delivery.ID)
	require.Equal(t, "evt_1", c.Event.ID)

	// Replay all of an endpoint's dead letters.
	n, err = s.Replay(ctx(t), sender.ReplayRequest{EndpointID: "ep_b", Now: at(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, sender.StatePending, getDelivery(t, s, d3).State)
	require.Equal(t, sender.StatePending, getDelivery(t, s, d4).State)
	require.Equal(t, sender.StateDead, getDelivery(t, s, d2).State)

	// Replay since a time.
	d5 := deadLetter(t, s, "evt_5", "invoice.paid", "ep_a", at(2*time.Hour))
	n, err = s.Replay(ctx(t), sender.ReplayRequest{Since: at(90 * time.Minute), Now: at(3 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, sender.StatePending, getDelivery(t, s, d5).State)
	require.Equal(t, sender.StateDead, getDelivery(t, s, d2).State, "dead-lettered before Since")

	// A delivered delivery can be replayed on its own.
	cs := claim(t, s, "w", at(3*time.Hour), 10)
	for _, c := range cs {
		settle(t, s, "w", at(3*time.Hour), sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleDelivered})
	}
	n, err = s.Replay(ctx(t), sender.ReplayRequest{DeliveryID: d3, Now: at(4 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func testReplayErrors(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a")
	res := publish(t, s, T0, event("evt_1", "a.b"), "ep_a")
	pending := res.Deliveries[0].ID
	tests := []struct {
		name string
		req  sender.ReplayRequest
		want error
	}{
		{"a pending delivery is not replayable", sender.ReplayRequest{DeliveryID: pending, Now: T0}, sender.ErrNotReplayable},
		{"an unknown delivery fails", sender.ReplayRequest{DeliveryID: 1 << 40, Now: T0}, sender.ErrDeliveryNotFound},
		{"an unknown endpoint fails", sender.ReplayRequest{EndpointID: "nope", Now: T0}, sender.ErrEndpointNotFound},
		{"an empty selector is refused", sender.ReplayRequest{Now: T0}, sender.ErrInvalidRequest},
		{"two selectors are refused", sender.ReplayRequest{DeliveryID: pending, EndpointID: "ep_a", Now: T0}, sender.ErrInvalidRequest},
	}
	for _, tt := range tests {
		_, err := s.Replay(ctx(t), tt.req)
		require.ErrorIs(t, err, tt.want, tt.name)
	}
	n, err := s.Replay(ctx(t), sender.ReplayRequest{EndpointID: "ep_a", Now: T0})
	require.NoError(t, err)
	require.Zero(t, n, "an endpoint without dead letters replays nothing")
}

func testPrune(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a", "ep_b")
	// Old delivered (evt_1 to ep_a), old dead (evt_2 to ep_a), recent delivered (evt_3), pending (evt_4).
	oldDelivered := publish(t, s, T0, event("evt_1", "a.b"), "ep_a").Deliveries[0].ID
	c := claimOne(t, s, "w", T0)
	settle(t, s, "w", at(30*time.Second), sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleDelivered, Attempt: okAttempt(T0)})
	oldDead := deadLetter(t, s, "evt_2", "a.b", "ep_a", at(2*time.Minute))
	recentEv := event("evt_3", "a.b")
	recentEv.CreatedAt = at(time.Hour)
	recent := publish(t, s, at(time.Hour), recentEv, "ep_a").Deliveries[0].ID
	c = claimOne(t, s, "w", at(time.Hour))
	settle(t, s, "w", at(time.Hour), sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleDelivered, Attempt: okAttempt(at(time.Hour))})
	pending := publish(t, s, T0, event("evt_4", "a.b"), "ep_b").Deliveries[0].ID
	// evt_5: an old event with two deliveries, one still pending: the event must stay.
	shared := publish(t, s, at(10*time.Hour), event("evt_5", "a.b"), "ep_a", "ep_b").Deliveries
	cs := claim(t, s, "w", at(10*time.Hour), 10)
	for _, c := range cs {
		k := sender.SettleRelease
		if c.Delivery.ID == shared[0].ID {
			k = sender.SettleDelivered
		}
		settle(t, s, "w", at(30*time.Second+10*time.Hour), sender.Settlement{DeliveryID: c.Delivery.ID, Kind: k})
	}

	res, err := s.Prune(ctx(t), sender.PruneRequest{DeliveredBefore: at(11 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 3, res.Deliveries, "the delivered ones")
	require.Equal(t, 2, res.Attempts, "with their attempts")
	require.Equal(t, 2, res.Events, "evt_1 and evt_3 lost their last delivery")
	for _, id := range []sender.DeliveryID{oldDelivered, recent, shared[0].ID} {
		_, err := s.GetDelivery(ctx(t), id)
		require.ErrorIs(t, err, sender.ErrDeliveryNotFound)
	}
	for _, id := range []sender.DeliveryID{oldDead, pending, shared[1].ID} {
		_, err := s.GetDelivery(ctx(t), id)
		require.NoError(t, err, "dead letters and unsettled deliveries are kept")
	}
	_, err = s.GetEvent(ctx(t), "evt_1")
	require.ErrorIs(t, err, sender.ErrEventNotFound)
	_, err = s.GetEvent(ctx(t), "evt_5")
	require.NoError(t, err, "an event with a pending delivery is kept")

	res, err = s.Prune(ctx(t), sender.PruneRequest{DeadBefore: at(time.Minute)})
	require.NoError(t, err)
	require.Zero(t, res.Deliveries, "the dead letter is newer than the cutoff")
	res, err = s.Prune(ctx(t), sender.PruneRequest{DeadBefore: at(3 * time.Minute)})
	require.NoError(t, err)
	require.Equal(t, pruneCounts(1, 1, 1), pruneCounts(res.Deliveries, res.Attempts, res.Events))
	_, err = s.GetDelivery(ctx(t), oldDead)
	require.ErrorIs(t, err, sender.ErrDeliveryNotFound)

	// Attempts of a delivery still pending are pruned by age only.
	c = claimOne(t, s, "w", at(20*time.Hour))
	settle(t, s, "w", at(20*time.Hour), sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleRetry, NextAttemptAt: at(30 * time.Hour), Attempt: failedAttempt(at(20*time.Hour), 500)})
	res, err = s.Prune(ctx(t), sender.PruneRequest{AttemptsBefore: at(20 * time.Hour)})
	require.NoError(t, err)
	require.Zero(t, res.Attempts)
	res, err = s.Prune(ctx(t), sender.PruneRequest{AttemptsBefore: at(21 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 1, res.Attempts)
	require.Equal(t, sender.StatePending, getDelivery(t, s, c.Delivery.ID).State)
}

// pruneCounts groups prune counts for a compact comparison.
func pruneCounts(deliveries, attempts, events int) [3]int {
	return [3]int{deliveries, attempts, events}
}

func orderedEndpoint(t *testing.T, s sender.Store, id string) {
	t.Helper()
	ep := Endpoint(id)
	ep.Ordered = true
	require.NoError(t, s.CreateEndpoint(ctx(t), ep))
}

func testOrdered(t *testing.T, s sender.Store) {
	orderedEndpoint(t, s, "ep_fifo")
	createEndpoints(t, s, "ep_free")
	var fifo, free []sender.DeliveryID
	for i := range 3 {
		res := publish(t, s, T0, event(fmt.Sprintf("evt_%d", i), "a.b"), "ep_fifo", "ep_free")
		fifo = append(fifo, res.Deliveries[0].ID)
		free = append(free, res.Deliveries[1].ID)
	}
	got := claim(t, s, "w", T0, 10)
	require.ElementsMatch(t, append([]sender.DeliveryID{fifo[0]}, free...), ids(got),
		"only the oldest delivery of the ordered endpoint, every delivery of the other")
	require.Empty(t, claim(t, s, "w2", at(time.Second), 10), "nothing more while the first is in flight")
	for _, id := range free {
		settle(t, s, "w", at(time.Second), sender.Settlement{DeliveryID: id, Kind: sender.SettleDelivered})
	}

	// A retry keeps the order: the second does not overtake the first.
	settle(t, s, "w", at(time.Second), sender.Settlement{DeliveryID: fifo[0], Kind: sender.SettleRetry, NextAttemptAt: at(time.Minute), Attempt: failedAttempt(T0, 500)})
	require.Empty(t, claim(t, s, "w", at(30*time.Second), 10), "the second waits for the first's retry")
	require.Equal(t, fifo[0], claimOne(t, s, "w", at(time.Minute)).Delivery.ID)

	// A lost lease gives the same delivery back, not the next one.
	require.Equal(t, fifo[0], claimOne(t, s, "w2", at(2*time.Minute)).Delivery.ID)
	settle(t, s, "w2", at(2*time.Minute), sender.Settlement{DeliveryID: fifo[0], Kind: sender.SettleReschedule, NextAttemptAt: at(3 * time.Minute)})
	require.Empty(t, claim(t, s, "w", at(150*time.Second), 10), "a reschedule keeps the order too")
	require.Equal(t, fifo[0], claimOne(t, s, "w", at(3*time.Minute)).Delivery.ID)
	settle(t, s, "w", at(3*time.Minute), sender.Settlement{DeliveryID: fifo[0], Kind: sender.SettleDelivered})

	require.Equal(t, fifo[1], claimOne(t, s, "w", at(3*time.Minute)).Delivery.ID, "settled: the next one in order")
	settle(t, s, "w", at(3*time.Minute), sender.Settlement{DeliveryID: fifo[1], Kind: sender.SettleDead, Error: "permanent"})
	require.Equal(t, fifo[2], claimOne(t, s, "w", at(3*time.Minute)).Delivery.ID, "a dead letter also lets the next one go")
	require.Empty(t, claim(t, s, "w", at(3*time.Minute), 10))
}

func testOrderedReplay(t *testing.T, s sender.Store) {
	orderedEndpoint(t, s, "ep_fifo")
	var fifo []sender.DeliveryID
	for i := range 3 {
		fifo = append(fifo, publish(t, s, T0, event(fmt.Sprintf("evt_%d", i), "a.b"), "ep_fifo").Deliveries[0].ID)
	}
	require.Equal(t, fifo[0], claimOne(t, s, "w", T0).Delivery.ID)
	settle(t, s, "w", T0, sender.Settlement{DeliveryID: fifo[0], Kind: sender.SettleDead, Error: "x"})
	// fifo[1] is now next and pending; replaying the older fifo[0] puts it back in front.
	n, err := s.Replay(ctx(t), sender.ReplayRequest{DeliveryID: fifo[0], Now: at(time.Second)})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	for _, want := range fifo {
		c := claim(t, s, "w", at(time.Minute), 10)
		require.Equal(t, []sender.DeliveryID{want}, ids(c))
		settle(t, s, "w", at(time.Minute), sender.Settlement{DeliveryID: want, Kind: sender.SettleDelivered})
	}

	// An older delivery replayed while a newer one is in flight waits for it, then
	// goes before it when the newer one is retried.
	var more []sender.DeliveryID
	for i := 3; i < 5; i++ {
		more = append(more, publish(t, s, at(2*time.Minute), event(fmt.Sprintf("evt_%d", i), "a.b"), "ep_fifo").Deliveries[0].ID)
	}
	require.Equal(t, more[0], claimOne(t, s, "w", at(2*time.Minute)).Delivery.ID)
	settle(t, s, "w", at(2*time.Minute), sender.Settlement{DeliveryID: more[0], Kind: sender.SettleDead, Error: "x"})
	require.Equal(t, more[1], claimOne(t, s, "w", at(2*time.Minute)).Delivery.ID)
	n, err = s.Replay(ctx(t), sender.ReplayRequest{DeliveryID: more[0], Now: at(2 * time.Minute)})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Empty(t, claim(t, s, "w2", at(2*time.Minute), 10), "the replayed delivery waits while a newer one is in flight")
	settle(t, s, "w", at(2*time.Minute), sender.Settlement{DeliveryID: more[1], Kind: sender.SettleRetry, NextAttemptAt: at(3 * time.Minute), Attempt: failedAttempt(at(2*time.Minute), 500)})
	require.Equal(t, []sender.DeliveryID{more[0]}, ids(claim(t, s, "w", at(2*time.Minute), 10)), "then the older one goes first")
	settle(t, s, "w", at(2*time.Minute), sender.Settlement{DeliveryID: more[0], Kind: sender.SettleDelivered})
	require.Empty(t, claim(t, s, "w", at(2*time.Minute), 10), "the newer one keeps its retry time")
	require.Equal(t, []sender.DeliveryID{more[1]}, ids(claim(t, s, "w", at(3*time.Minute), 10)))
}

func testOrderedConcurrent(t *testing.T, s sender.Store) {
	const endpoints, events, claimers = 4, 25, 20
	eps := make([]string, endpoints)
	for i := range eps {
		eps[i] = fmt.Sprintf("ep_fifo_%d", i)
		orderedEndpoint(t, s, eps[i])
	}
	for i := range events {
		publish(t, s, T0, event(fmt.Sprintf("evt_%03d", i), "a.b"), eps...)
	}
	var (
		mu        sync.Mutex
		inFlight  = make(map[string]int)
		delivered = make(map[string][]sender.DeliveryID)
		wg        sync.WaitGroup
		errs      = make(chan error, claimers)
	)
	fail := func(err error) { errs <- err }
	for w := range claimers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("worker-%d", w)
			for idle := 0; idle < 50; {
				cs, err := s.Claim(context.Background(), sender.ClaimRequest{Owner: owner, Now: at(time.Second), Limit: 3, Lease: time.Hour})
				if err != nil {
					fail(err)
					return
				}
				mu.Lock()
				done := 0
				for _, ds := range delivered {
					done += len(ds)
				}
				for _, c := range cs {
					inFlight[c.Delivery.EndpointID]++
					if n := inFlight[c.Delivery.EndpointID]; n > 1 {
						mu.Unlock()
						fail(fmt.Errorf("%d deliveries of ordered endpoint %s in flight at once", n, c.Delivery.EndpointID))
						return
					}
				}
				mu.Unlock()
				if len(cs) == 0 {
					if done == endpoints*events {
						return
					}
					idle++
					continue
				}
				idle = 0
				sts := make([]sender.Settlement, len(cs))
				mu.Lock()
				for i, c := range cs {
					sts[i] = sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleDelivered}
					inFlight[c.Delivery.EndpointID]--
					delivered[c.Delivery.EndpointID] = append(delivered[c.Delivery.EndpointID], c.Delivery.ID)
				}
				mu.Unlock()
				if err := s.Settle(context.Background(), sender.SettleRequest{Owner: owner, Now: at(time.Second), Settlements: sts}); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// Finish anything the idle claimers left (a slow store may have starved them).
	for {
		cs := claim(t, s, "finisher", at(time.Second), 1)
		if len(cs) == 0 {
			break
		}
		delivered[cs[0].Delivery.EndpointID] = append(delivered[cs[0].Delivery.EndpointID], cs[0].Delivery.ID)
		settle(t, s, "finisher", at(time.Second), sender.Settlement{DeliveryID: cs[0].Delivery.ID, Kind: sender.SettleDelivered})
	}
	for _, ep := range eps {
		ds := delivered[ep]
		require.Len(t, ds, events, "every delivery of %s was delivered once", ep)
		for i := 1; i < len(ds); i++ {
			require.Greater(t, ds[i], ds[i-1], "%s received its deliveries in publish order", ep)
		}
	}
}

func testOrderedTurnedOn(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a")
	var want []sender.DeliveryID
	for i := range 3 {
		want = append(want, publish(t, s, T0, event(fmt.Sprintf("evt_%d", i), "a.b"), "ep_a").Deliveries[0].ID)
	}
	ep, err := s.GetEndpoint(ctx(t), "ep_a")
	require.NoError(t, err)
	ep.Ordered = true
	require.NoError(t, s.UpdateEndpoint(ctx(t), ep))
	for _, id := range want {
		require.Equal(t, []sender.DeliveryID{id}, ids(claim(t, s, "w", at(time.Second), 10)), "one at a time, in publish order")
		settle(t, s, "w", at(time.Second), sender.Settlement{DeliveryID: id, Kind: sender.SettleDelivered})
	}
}

func testDisableAfterPublish(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a")
	res := publish(t, s, T0, event("evt_1", "a.b"), "ep_a")
	ep, err := s.GetEndpoint(ctx(t), "ep_a")
	require.NoError(t, err)
	ep.Disabled, ep.DisabledReason, ep.DisabledAt = true, "operator", at(time.Second)
	require.NoError(t, s.UpdateEndpoint(ctx(t), ep))
	require.Empty(t, claim(t, s, "w", at(2*time.Second), 10), "a disabled endpoint's deliveries are not claimed")
	require.Equal(t, sender.StatePending, getDelivery(t, s, res.Deliveries[0].ID).State)
	ep.Disabled, ep.DisabledReason, ep.DisabledAt = false, "", time.Time{}
	require.NoError(t, s.UpdateEndpoint(ctx(t), ep))
	require.Equal(t, []sender.DeliveryID{res.Deliveries[0].ID}, ids(claim(t, s, "w", at(3*time.Second), 10)))
}

func testCancelledContext(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a")
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	_, err := s.Publish(c, sender.PublishRequest{Event: event("evt_1", "a.b"), EndpointIDs: []string{"ep_a"}, Now: T0})
	require.Error(t, err, "Publish with a cancelled context")
	_, err = s.Claim(c, sender.ClaimRequest{Owner: "w", Now: T0, Limit: 1, Lease: time.Minute})
	require.Error(t, err, "Claim with a cancelled context")
	_, err = s.GetEvent(ctx(t), "evt_1")
	require.ErrorIs(t, err, sender.ErrEventNotFound, "a cancelled publish stores nothing")
}

func testListDeliveries(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a", "ep_b")
	r1 := publish(t, s, T0, event("evt_1", "a.b"), "ep_a", "ep_b").Deliveries
	r2 := publish(t, s, at(time.Minute), event("evt_2", "a.b"), "ep_a").Deliveries
	r3 := publish(t, s, at(2*time.Minute), event("evt_3", "a.b"), "ep_b").Deliveries
	c := claim(t, s, "w", T0, 1)
	require.Equal(t, r1[0].ID, c[0].Delivery.ID)
	settle(t, s, "w", T0, sender.Settlement{DeliveryID: r1[0].ID, Kind: sender.SettleDelivered})

	tests := []struct {
		name   string
		filter sender.DeliveryFilter
		want   []sender.DeliveryID
	}{
		{"all, newest first", sender.DeliveryFilter{}, []sender.DeliveryID{r3[0].ID, r2[0].ID, r1[1].ID, r1[0].ID}},
		{"by endpoint", sender.DeliveryFilter{EndpointID: "ep_a"}, []sender.DeliveryID{r2[0].ID, r1[0].ID}},
		{"by event", sender.DeliveryFilter{EventID: "evt_1"}, []sender.DeliveryID{r1[1].ID, r1[0].ID}},
		{"by state", sender.DeliveryFilter{State: sender.StateDelivered}, []sender.DeliveryID{r1[0].ID}},
		{"by creation time", sender.DeliveryFilter{Since: at(time.Minute), Until: at(2 * time.Minute)}, []sender.DeliveryID{r2[0].ID}},
		{"paginated", sender.DeliveryFilter{BeforeID: r2[0].ID, Limit: 1}, []sender.DeliveryID{r1[1].ID}},
		{"combined", sender.DeliveryFilter{EndpointID: "ep_b", State: sender.StatePending}, []sender.DeliveryID{r3[0].ID, r1[1].ID}},
	}
	for _, tt := range tests {
		ds, err := s.ListDeliveries(ctx(t), tt.filter)
		require.NoError(t, err)
		require.Equal(t, tt.want, deliveryIDs(ds), tt.name)
	}
}

func testAttemptLog(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a", "ep_b")
	publish(t, s, T0, event("evt_1", "a.b"), "ep_a", "ep_b")
	publish(t, s, T0, event("evt_2", "a.b"), "ep_a")
	cs := claim(t, s, "w", T0, 10)
	require.Len(t, cs, 3)
	var a1, b1, a2 sender.DeliveryID
	for _, c := range cs {
		switch {
		case c.Delivery.EventID == "evt_1" && c.Delivery.EndpointID == "ep_a":
			a1 = c.Delivery.ID
		case c.Delivery.EventID == "evt_1":
			b1 = c.Delivery.ID
		default:
			a2 = c.Delivery.ID
		}
	}
	long := make([]byte, 3*sender.MaxResponseSnippet)
	for i := range long {
		long[i] = 'x'
	}
	first := failedAttempt(at(time.Second), 500)
	first.ResponseSnippet = string(long)
	settle(t, s, "w", at(2*time.Second),
		sender.Settlement{DeliveryID: a1, Kind: sender.SettleRetry, NextAttemptAt: at(time.Minute), Attempt: first},
		sender.Settlement{DeliveryID: b1, Kind: sender.SettleDelivered, Attempt: okAttempt(at(2 * time.Second))},
		sender.Settlement{DeliveryID: a2, Kind: sender.SettleDead, Error: "gone", Attempt: &sender.Attempt{StartedAt: at(3 * time.Second), StatusCode: 410, Error: "HTTP 410", Outcome: "gone"}},
	)
	c := claimOne(t, s, "w", at(time.Minute))
	settle(t, s, "w", at(time.Minute), sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleDelivered, Attempt: okAttempt(at(time.Minute))})

	type key struct {
		d sender.DeliveryID
		n int
	}
	tests := []struct {
		name   string
		filter sender.AttemptFilter
		want   []key
	}{
		{"all, newest first", sender.AttemptFilter{}, []key{{a1, 2}, {a2, 1}, {b1, 1}, {a1, 1}}},
		{"by event", sender.AttemptFilter{EventID: "evt_1"}, []key{{a1, 2}, {b1, 1}, {a1, 1}}},
		{"by endpoint", sender.AttemptFilter{EndpointID: "ep_a"}, []key{{a1, 2}, {a2, 1}, {a1, 1}}},
		{"by delivery", sender.AttemptFilter{DeliveryID: a1}, []key{{a1, 2}, {a1, 1}}},
		{"by outcome", sender.AttemptFilter{Outcome: "gone"}, []key{{a2, 1}}},
		{"failed only", sender.AttemptFilter{Failed: true}, []key{{a2, 1}, {a1, 1}}},
		{"by time", sender.AttemptFilter{Since: at(2 * time.Second), Until: at(time.Minute)}, []key{{a2, 1}, {b1, 1}}},
		{"with a limit", sender.AttemptFilter{Limit: 2}, []key{{a1, 2}, {a2, 1}}},
	}
	for _, tt := range tests {
		as, err := s.ListAttempts(ctx(t), tt.filter)
		require.NoError(t, err)
		got := make([]key, len(as))
		for i, a := range as {
			got[i] = key{a.DeliveryID, a.N}
		}
		require.Equal(t, tt.want, got, tt.name)
	}
	as, err := s.ListAttempts(ctx(t), sender.AttemptFilter{DeliveryID: a1, Limit: 1, Until: at(time.Minute)})
	require.NoError(t, err)
	require.Len(t, as, 1)
	require.LessOrEqual(t, len(as[0].ResponseSnippet), sender.MaxResponseSnippet, "snippets are capped")
	require.Equal(t, "HTTP 500", as[0].Error)
	requireTime(t, at(time.Second), as[0].StartedAt)
}

func testDeleteEndpointCascade(t *testing.T, s sender.Store) {
	createEndpoints(t, s, "ep_a", "ep_b")
	publish(t, s, T0, event("evt_1", "a.b"), "ep_a", "ep_b")
	publish(t, s, T0, event("evt_2", "a.b"), "ep_a")
	cs := claim(t, s, "w", T0, 1)
	require.Len(t, cs, 1)
	inflight := cs[0].Delivery.ID
	require.Equal(t, "ep_a", cs[0].Delivery.EndpointID)

	require.NoError(t, s.DeleteEndpoint(ctx(t), "ep_a"))
	ds, err := s.ListDeliveries(ctx(t), sender.DeliveryFilter{EndpointID: "ep_a"})
	require.NoError(t, err)
	require.Empty(t, ds)
	err = s.Settle(ctx(t), sender.SettleRequest{Owner: "w", Now: at(time.Second), Settlements: []sender.Settlement{{DeliveryID: inflight, Kind: sender.SettleDelivered}}})
	require.ErrorIs(t, err, sender.ErrLeaseLost, "an in-flight delivery of a deleted endpoint cannot settle")
	got := claim(t, s, "w", at(time.Hour), 10)
	require.Len(t, got, 1)
	require.Equal(t, "ep_b", got[0].Delivery.EndpointID, "only the other endpoint's delivery is left")
	_, err = s.GetEvent(ctx(t), "evt_1")
	require.NoError(t, err, "events stay")
}

func testNextDue(t *testing.T, s sender.Store) {
	_, ok, err := s.NextDue(ctx(t))
	require.NoError(t, err)
	require.False(t, ok, "an empty store has nothing due")
	createEndpoints(t, s, "ep_a")
	_, err = s.Publish(ctx(t), sender.PublishRequest{Event: event("evt_1", "a.b"), EndpointIDs: []string{"ep_a"}, Now: T0, NextAttemptAt: at(time.Hour)})
	require.NoError(t, err)
	_, err = s.Publish(ctx(t), sender.PublishRequest{Event: event("evt_2", "a.b"), EndpointIDs: []string{"ep_a"}, Now: T0, NextAttemptAt: at(time.Minute)})
	require.NoError(t, err)
	next, ok, err := s.NextDue(ctx(t))
	require.NoError(t, err)
	require.True(t, ok)
	requireTime(t, at(time.Minute), next)
	c := claimOne(t, s, "w", at(time.Minute))
	next, ok, err = s.NextDue(ctx(t))
	require.NoError(t, err)
	require.True(t, ok)
	requireTime(t, at(2*time.Minute), next, "the claimed delivery's lease expiry comes first")
	settle(t, s, "w", at(time.Minute), sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleDelivered})
	c = claimOne(t, s, "w", at(time.Hour))
	next, ok, err = s.NextDue(ctx(t))
	require.NoError(t, err)
	require.True(t, ok)
	requireTime(t, at(time.Hour+time.Minute), next, "an in-flight delivery is due when its lease expires")
	settle(t, s, "w", at(time.Hour), sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleDelivered})
	_, ok, err = s.NextDue(ctx(t))
	require.NoError(t, err)
	require.False(t, ok, "nothing left")
}

func testNotifier(t *testing.T, s sender.Store) {
	n, ok := s.(sender.Notifier)
	if !ok {
		t.Skip("the store does not implement sender.Notifier")
	}
	createEndpoints(t, s, "ep_a")
	wake := n.Notify()
	select {
	case <-wake:
		t.Fatal("signalled before any change")
	default:
	}
	publish(t, s, T0, event("evt_1", "a.b"), "ep_a")
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish did not signal the notifier")
	}
	c := claimOne(t, s, "w", T0)
	wake = n.Notify()
	settle(t, s, "w", T0, sender.Settlement{DeliveryID: c.Delivery.ID, Kind: sender.SettleRetry, NextAttemptAt: at(time.Second), Attempt: failedAttempt(T0, 500)})
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("a retry did not signal the notifier")
	}
}
