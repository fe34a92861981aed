package sender_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hookkit/hookkit/sender"
)

// ExampleMemoryStore drives a store by hand, the way the dispatcher does:
// publish, claim with a lease, settle a failed attempt as a retry, and claim
// again once it is due. Stores never read a clock: every time is passed in.
func ExampleMemoryStore() {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := sender.NewMemoryStore(sender.MemoryStoreConfig{})

	_ = s.CreateEndpoint(ctx, sender.Endpoint{ID: "ep_billing", URL: "https://billing.example/hooks"})
	res, _ := s.Publish(ctx, sender.PublishRequest{
		Event:       sender.StoredEvent{ID: "evt_1", Type: "invoice.paid", Payload: []byte(`{"event_id":"evt_1"}`), CreatedAt: now},
		EndpointIDs: []string{"ep_billing"},
		Now:         now,
	})
	fmt.Println("published", res.EventID, "deliveries:", len(res.Deliveries))

	claimed, _ := s.Claim(ctx, sender.ClaimRequest{Owner: "worker-1", Now: now, Limit: 10, Lease: time.Minute})
	c := claimed[0]
	fmt.Println("claimed", c.Event.ID, "for", c.Endpoint.URL, "state", c.Delivery.State)

	_ = s.Settle(ctx, sender.SettleRequest{Owner: "worker-1", Now: now.Add(time.Second), Settlements: []sender.Settlement{{
		DeliveryID:    c.Delivery.ID,
		Kind:          sender.SettleRetry,
		NextAttemptAt: now.Add(5 * time.Second),
		Error:         "HTTP 503",
		Attempt:       &sender.Attempt{StartedAt: now, StatusCode: 503, Error: "HTTP 503", Outcome: "throttle"},
		Health:        sender.HealthFailed,
	}}})
	next, _, _ := s.NextDue(ctx)
	fmt.Println("next attempt in", next.Sub(now))

	claimed, _ = s.Claim(ctx, sender.ClaimRequest{Owner: "worker-1", Now: next, Limit: 10, Lease: time.Minute})
	fmt.Println("attempts so far:", claimed[0].Delivery.Attempts, "last error:", claimed[0].Delivery.LastError)
	// Output:
	// published evt_1 deliveries: 1
	// claimed evt_1 for https://billing.example/hooks state in_flight
	// next attempt in 5s
	// attempts so far: 1 last error: HTTP 503
}
