package readme

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/idempotency/pgstore"
)

func TestRecordPaymentAppliesARedeliveredEventOnce(t *testing.T) {
	t.Parallel()
	dsn := os.Getenv("HOOKKIT_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("set HOOKKIT_TEST_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run this test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	schema := fmt.Sprintf("readme_example_%d", time.Now().UnixNano())
	cfg, err := pgxpool.ParseConfig(dsn)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = schema // the example's unqualified table lives here
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer pool.Close()
	_, err = pool.Exec(ctx, `CREATE SCHEMA `+schema+`; CREATE TABLE `+schema+`.payments (invoice_id text, amount_cents bigint)`)
	require.NoError(t, err)
	defer func() { _, _ = pool.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`) }()

	seen, err := pgstore.New(pgstore.Config{Pool: pool, Schema: schema})
	require.NoError(t, err)
	require.NoError(t, seen.Migrate(ctx))

	inv := Invoice{ID: "in_1001", AmountCents: 4200}
	ev, err := event.New("invoice.paid", inv)
	require.NoError(t, err)
	for range 3 { // the sender delivers at least once: here three times
		require.NoError(t, RecordPayment(ctx, pool, seen, ev, inv))
	}
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM payments`).Scan(&n))
	require.Equal(t, 1, n, "one payment for three deliveries")
}
