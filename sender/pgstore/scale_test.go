package pgstore_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/sender/storetest"
)

// envClaimRows sizes TestClaimPlanAtScale, which is skipped without it: it
// writes that many deliveries (e.g. 10000000, about 3 GB and a few minutes).
const envClaimRows = "HOOKKIT_PGSTORE_CLAIM_ROWS"

// TestClaimPlanAtScale checks that the claim stays an index scan reading only
// the head of the queue on a production-sized table: N deliveries, all but
// 5,000 of them settled, spread over 100 endpoints.
//
//	HOOKKIT_PGSTORE_CLAIM_ROWS=10000000 go test -run TestClaimPlanAtScale -v -timeout 30m ./sender/pgstore/
func TestClaimPlanAtScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(envClaimRows))
	if n < 10000 {
		t.Skipf("set %s (e.g. 10000000) to check the claim plan on a table of that many deliveries", envClaimRows)
	}
	b := setup(t, setupOpts{noListener: true, maxConns: 2})
	ctx := t.Context()
	for i := range 100 {
		require.NoError(t, b.store.CreateEndpoint(ctx, storetest.Endpoint("ep_"+strconv.Itoa(i))))
	}
	s := pgx.Identifier{b.schema}.Sanitize()
	began := time.Now()
	for _, stmt := range []string{
		`INSERT INTO ` + s + `.events (id, type, payload, created_at)
			SELECT 'evt_'||g, 'invoice.paid', '\x7b7d'::bytea, $1 FROM generate_series(0, $2::int / 100) g`,
		// The last 5,000 are pending (due over 10 minutes), every 50th of them in
		// flight; the rest delivered.
		`INSERT INTO ` + s + `.deliveries (event_id, event_type, endpoint_id, state, next_attempt_at, created_at, updated_at,
				lease_owner, lease_expires_at)
			SELECT 'evt_'||(g / 100), 'invoice.paid', 'ep_'||(g % 100),
				CASE WHEN g < $2::int - 5000 THEN 3 WHEN g % 50 = 7 THEN 2 ELSE 1 END,
				$1::timestamptz + (g % 600) * interval '1 second', $1, $1,
				CASE WHEN g >= $2::int - 5000 AND g % 50 = 7 THEN 'other' END,
				CASE WHEN g >= $2::int - 5000 AND g % 50 = 7 THEN $1::timestamptz + interval '1 hour' END
			FROM generate_series(0, $2::int - 1) g`,
	} {
		_, err := b.pool.Exec(ctx, stmt, t0, n)
		require.NoError(t, err)
	}
	_, err := b.pool.Exec(ctx, `ANALYZE `+s+`.events; ANALYZE `+s+`.deliveries; ANALYZE `+s+`.endpoints`)
	require.NoError(t, err)
	t.Logf("%d deliveries written and analyzed in %v", n, time.Since(began).Round(time.Second))

	req := sender.ClaimRequest{Owner: "o", Now: t0.Add(10 * time.Minute), Limit: 32, Lease: time.Minute}
	plan, err := b.store.ExplainClaim(ctx, req, true)
	require.NoError(t, err)
	t.Logf("claim plan (%d deliveries):\n%s", n, plan)
	require.Contains(t, plan, "deliveries_pending_idx")
	require.NotContains(t, plan, "Seq Scan on deliveries")

	start := time.Now()
	claimed, err := b.store.Claim(ctx, req)
	require.NoError(t, err)
	require.Len(t, claimed, 32)
	t.Logf("claim of 32 on %d deliveries: %v", n, time.Since(start))
}
