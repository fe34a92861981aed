package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/pgstore"
)

// appPool is the application's database pool, e.g. from
// pgxpool.New(ctx, os.Getenv("DATABASE_URL")).
var appPool pgstore.DB

// Claim, process, then Complete (or Release on failure), across every
// receiver replica sharing the database.
func Example() {
	ctx := context.Background()
	store, err := pgstore.New(pgstore.Config{Pool: appPool})
	if err != nil {
		panic(err)
	}
	if err := store.Migrate(ctx); err != nil { // idempotent; safe from every instance
		panic(err)
	}

	c, err := store.Claim(ctx, "evt_123", time.Minute)
	switch {
	case err != nil:
		fmt.Println("answer 503:", err)
	case c.State != idempotency.Claimed:
		fmt.Println("duplicate:", c.State)
	default:
		if err := handle(ctx); err != nil {
			_ = store.Release(ctx, "evt_123", c.Token) // let a redelivery retry
			return
		}
		_ = store.Complete(ctx, "evt_123", c.Token, 0) // remembered for 72 h
	}
}

// ClaimTx dedupes inside the consumer's own transaction: the "already seen"
// record and the effect commit together, so the effect happens exactly once.
func ExampleStore_ClaimTx() {
	ctx := context.Background()
	store, _ := pgstore.New(pgstore.Config{Pool: appPool})

	apply := func(eventID string, amount int) error {
		tx, err := appPool.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(ctx) }()
		fresh, err := store.ClaimTx(ctx, tx, eventID)
		if errors.Is(err, pgstore.ErrInProgress) {
			return err // processed elsewhere right now: answer 503, the sender retries
		}
		if err != nil || !fresh {
			return err // nil when it is a duplicate: acknowledge it
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET balance = balance + $1 WHERE id = 1`, amount); err != nil {
			return err // rolled back together with the dedupe record
		}
		return tx.Commit(ctx)
	}
	_ = apply("evt_payment_1", 100)
	_ = apply("evt_payment_1", 100) // a redelivery: no second credit
}

func handle(context.Context) error { return nil }
