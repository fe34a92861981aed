package pgstore_test

import (
	"context"
	"log"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/sender/pgstore"
)

// A Sender whose outbox is PostgreSQL: deliveries survive restarts and every
// instance sharing the database shares the queue.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:5432/app")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	store, err := pgstore.New(pgstore.Config{Pool: pool}) // schema "hookkit"
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	// Idempotent and safe from every instance at start-up.
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	s, err := sender.New(sender.Config{Store: store})
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = s.Run(ctx) }() // until Shutdown

	ev, err := event.New("invoice.paid", map[string]string{"invoice": "in_123"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := s.Publish(ctx, ev); err != nil {
		log.Fatal(err)
	}
}

// Publishing inside the application's own transaction (the transactional
// outbox): the event is delivered only if the order commits.
func ExampleStore_PublishTx() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:5432/app")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgstore.New(pgstore.Config{Pool: pool})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	s, err := sender.New(sender.Config{Store: store})
	if err != nil {
		log.Fatal(err)
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `INSERT INTO orders (id) VALUES ($1)`, 42); err != nil {
		log.Fatal(err)
	}
	ev, err := event.New("order.created", map[string]int{"id": 42})
	if err != nil {
		log.Fatal(err)
	}
	// The Sender's validation and fan-out, written with tx.
	if _, err := sender.PublishTx(ctx, s, tx, ev); err != nil {
		log.Fatal(err)
	}
	// Dispatchers everywhere are woken by NOTIFY when this commits.
	if err := tx.Commit(ctx); err != nil {
		log.Fatal(err)
	}
}

// Enqueueing many events with a few round trips.
func ExampleStore_PublishBatch() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:5432/app")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgstore.New(pgstore.Config{Pool: pool})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	now := time.Now()
	var reqs []sender.PublishRequest
	for _, id := range []string{"evt_1", "evt_2", "evt_3"} {
		ev := sender.StoredEvent{ID: id, Type: "invoice.paid", Payload: []byte(`{"event_id":"` + id + `"}`), CreatedAt: now}
		reqs = append(reqs, sender.PublishRequest{Event: ev, EndpointIDs: []string{"ep_billing"}, Now: now})
	}
	if _, err := store.PublishBatch(ctx, reqs); err != nil {
		log.Fatal(err)
	}
}
