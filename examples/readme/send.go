package readme

import (
	"context"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/sender"
)

// NewSender starts a sender delivering to one customer endpoint and returns
// the endpoint's signing secret, which the customer's receiver verifies with.
func NewSender(ctx context.Context, cfg sender.Config, endpointURL string) (*sender.Sender, string, error) {
	s, err := sender.New(cfg) // sender.Config{}: memory store, default retry schedule, SSRF guard on
	if err != nil {
		return nil, "", err
	}
	ep, err := s.CreateEndpoint(ctx, sender.Endpoint{
		URL:        endpointURL,
		EventTypes: []string{"invoice.*"}, // subscriptions; empty means every type
	}) // no Keys given: a whsec_ secret is generated
	if err != nil {
		return nil, "", err
	}
	go func() { _ = s.Run(ctx) }() // claims due deliveries, signs, POSTs, retries; stop with s.Shutdown
	return s, ep.Keys[0].Secret, nil
}

// PublishPaid sends invoice.paid to every subscribed endpoint, at least once:
// retried on the Standard Webhooks schedule with the same webhook-id.
func PublishPaid(ctx context.Context, s *sender.Sender, inv Invoice) error {
	ev, err := event.New("invoice.paid", inv)
	if err != nil {
		return err
	}
	_, err = s.Publish(ctx, ev, sender.WithIdempotencyKey("paid-"+inv.ID)) // publish twice, send once
	return err
}
