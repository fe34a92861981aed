package sender_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/retry"
	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/signature"
)

// deliveries is an Observer forwarding delivered and dead-lettered reports to channels.
type deliveries struct {
	sender.NopObserver
	delivered chan sender.AttemptReport
	dead      chan sender.AttemptReport
}

func newDeliveries() *deliveries {
	return &deliveries{delivered: make(chan sender.AttemptReport, 16), dead: make(chan sender.AttemptReport, 16)}
}

func (d *deliveries) Delivered(_ context.Context, r sender.AttemptReport)    { d.delivered <- r }
func (d *deliveries) DeadLettered(_ context.Context, r sender.AttemptReport) { d.dead <- r }

// receiver is a webhook receiver on loopback that verifies signatures with secret.
func receiver(secret string, status *atomic.Int32) *httptest.Server {
	v, err := signature.NewVerifier(signature.VerifierConfig{Keys: signature.MustKeyring(secret)})
	if err != nil {
		log.Fatal(err)
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := v.Verify(r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
}

// Publishing an event to the endpoints subscribed to its type.
func Example_publish() {
	ctx := context.Background()
	obs := newDeliveries()
	s, err := sender.New(sender.Config{
		AllowPrivateNetworks: true, // the receiver below is on loopback; never in production
		Observer:             obs,
		Logger:               slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}

	secret, _ := signature.GenerateSecret()
	var status atomic.Int32
	status.Store(http.StatusNoContent)
	srv := receiver(secret, &status)
	defer srv.Close()
	ep, err := s.CreateEndpoint(ctx, sender.Endpoint{
		ID:         "ep_billing",
		URL:        srv.URL + "/webhooks",
		Keys:       []sender.EndpointKey{{Secret: secret}},
		EventTypes: []string{"invoice.*"},
	})
	if err != nil {
		log.Fatal(err)
	}

	go func() { _ = s.Run(ctx) }()
	defer func() { _ = s.Shutdown(ctx) }()

	e, err := event.New("invoice.paid", map[string]any{"invoice": "in_123", "amount": 4200})
	if err != nil {
		log.Fatal(err)
	}
	res, err := s.Publish(ctx, e, sender.WithIdempotencyKey("invoice-in_123-paid"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("deliveries:", len(res.Deliveries), "to", res.Deliveries[0].EndpointID)

	r := <-obs.delivered
	fmt.Println("delivered to", r.EndpointID, "status", r.StatusCode, "attempt", r.Attempt, "same id:", r.EventID == e.ID)
	_ = ep
	// Output:
	// deliveries: 1 to ep_billing
	// delivered to ep_billing status 204 attempt 1 same id: true
}

// Managing endpoints: create (a secret is generated), update, disable and enable, rotate the
// secret with an overlap, delete.
func Example_endpointManagement() {
	ctx := context.Background()
	s, err := sender.New(sender.Config{})
	if err != nil {
		log.Fatal(err)
	}

	ep, err := s.CreateEndpoint(ctx, sender.Endpoint{
		ID:         "ep_acme",
		URL:        "https://acme.example/webhooks",
		EventTypes: []string{"invoice.paid", "customer.*"},
		Headers:    map[string]string{"Authorization": "Bearer acme-token"}, // kept secret
		RateLimit:  50,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ep) // secrets redacted

	ep.Description = "ACME billing"
	ep.Ordered = true
	if ep, err = s.UpdateEndpoint(ctx, ep); err != nil {
		log.Fatal(err)
	}
	fmt.Println("ordered:", ep.Ordered, "description:", ep.Description)

	if ep, err = s.DisableEndpoint(ctx, ep.ID, "customer asked for a pause"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("disabled:", ep.Disabled, ep.DisabledReason)
	if ep, err = s.EnableEndpoint(ctx, ep.ID); err != nil {
		log.Fatal(err)
	}
	fmt.Println("disabled:", ep.Disabled)

	// The old secret keeps signing for a day, next to the new one.
	if _, err := s.RotateSecret(ctx, ep.ID, 24*time.Hour); err != nil {
		log.Fatal(err)
	}
	ep, _ = s.GetEndpoint(ctx, ep.ID)
	fmt.Println("keys:", len(ep.Keys), "old key expires:", !ep.Keys[0].NotAfter.IsZero())

	_, err = s.CreateEndpoint(ctx, sender.Endpoint{URL: "https://user:pass@acme.example/"})
	fmt.Println(err)

	if err := s.DeleteEndpoint(ctx, ep.ID); err != nil {
		log.Fatal(err)
	}
	_, err = s.GetEndpoint(ctx, ep.ID)
	fmt.Println(err)
	// Output:
	// Endpoint{ID:"ep_acme" URL:"https://acme.example/webhooks" Keys:1×[REDACTED] Headers:[Authorization:[REDACTED]] EventTypes:invoice.paid,customer.*}
	// ordered: true description: ACME billing
	// disabled: true customer asked for a pause
	// disabled: false
	// keys: 2 old key expires: true
	// sender: invalid endpoint URL: URL must not carry credentials (user:pass@host); put credentials in custom headers, which are kept secret
	// sender: endpoint not found: "ep_acme"
}

// Replaying a dead letter once the endpoint works again: the receiver gets the same event id.
func Example_replay() {
	ctx := context.Background()
	obs := newDeliveries()
	s, err := sender.New(sender.Config{
		AllowPrivateNetworks: true,
		Policy:               retry.Schedule{Delays: []time.Duration{0}}, // a single attempt
		Observer:             obs,
		Logger:               slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	secret, _ := signature.GenerateSecret()
	var status atomic.Int32
	status.Store(http.StatusInternalServerError) // broken at first
	srv := receiver(secret, &status)
	defer srv.Close()
	ep, err := s.CreateEndpoint(ctx, sender.Endpoint{ID: "ep_flaky", URL: srv.URL, Keys: []sender.EndpointKey{{Secret: secret}}})
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = s.Run(ctx) }()
	defer func() { _ = s.Shutdown(ctx) }()

	e, _ := event.New("invoice.paid", map[string]string{"invoice": "in_123"})
	if _, err := s.Publish(ctx, e); err != nil {
		log.Fatal(err)
	}
	dead := <-obs.dead
	fmt.Println("dead letter:", dead.Reason)

	status.Store(http.StatusOK) // fixed
	letters, _ := s.ListDeadLetters(ctx, sender.DeadLetterFilter{EndpointID: ep.ID})
	n, err := s.ReplayEndpoint(ctx, ep.ID, time.Time{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("dead letters:", len(letters), "replayed:", n)
	r := <-obs.delivered
	fmt.Println("delivered, same event id:", r.EventID == e.ID)
	// Output:
	// dead letter: retries exhausted after 1 attempt: HTTP 500 Internal Server Error
	// dead letters: 1 replayed: 1
	// delivered, same event id: true
}
