package pginbox_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/idempotency/pgstore"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/pginbox"
	"github.com/hookkit/hookkit/signature"
)

// A receiver whose accepted events survive a crash: every 202 is a committed
// row in PostgreSQL, and workers on every replica claim from the same inbox.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	inbox, err := pginbox.New(ctx, pginbox.Config{Pool: pool})
	if err != nil {
		log.Fatal(err)
	}
	if err := inbox.Migrate(ctx); err != nil { // idempotent; safe from every replica
		log.Fatal(err)
	}
	// Dedupe across replicas in the same database.
	store, err := pgstore.New(pgstore.Config{Pool: pool})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	keys, err := signature.NewKeyringFromStrings(os.Getenv("WEBHOOK_SECRET"))
	if err != nil {
		log.Fatal(err)
	}
	router := &receiver.Router{}
	router.HandleFunc("invoice.paid", func(ctx context.Context, ev event.Event) error {
		// Runs at least once per accepted event, even across crashes.
		return nil
	})
	h, err := receiver.New(receiver.Config{
		Keys:    keys,
		Handler: router,
		Queue:   inbox, // instead of the in-memory queue
		Store:   store,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = h.Shutdown(ctx) }() // closes the inbox; unprocessed rows wait for the next start

	http.Handle("/webhooks", h)
}
