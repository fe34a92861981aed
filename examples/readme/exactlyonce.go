package readme

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/idempotency/pgstore"
)

// RecordPayment applies an invoice.paid event exactly once, however often it
// arrives: the dedupe record commits in the same transaction as the effect.
func RecordPayment(ctx context.Context, pool *pgxpool.Pool, seen *pgstore.Store, ev event.Event, inv Invoice) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	fresh, err := seen.ClaimTx(ctx, tx, ev.ID) // false: this event id was already applied
	if err != nil || !fresh {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO payments (invoice_id, amount_cents) VALUES ($1, $2)`, inv.ID, inv.AmountCents); err != nil {
		return err
	}
	return tx.Commit(ctx) // the payment and "evt_… applied" commit together, or neither does
}
