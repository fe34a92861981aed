package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	t.Parallel()
	dsn := os.Getenv("HOOKKIT_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("set HOOKKIT_TEST_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run this example against PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	schema := fmt.Sprintf("hookkit_test_example_outbox_%d", time.Now().UnixNano())
	var out bytes.Buffer
	require.NoError(t, run(ctx, config{DSN: dsn, Schema: schema}, &out))
	s := out.String()

	require.Contains(t, s, "1 pending delivery stored in PostgreSQL; no dispatcher is running yet")
	require.Contains(t, s, "after the rollback: 0 order row, event stored: false")
	require.Regexp(t, `summary: orders committed 2, rolled back 1; webhooks delivered 2 \(2 attempt\(s\) in the attempt log\); warehouse shipped \[ord_\w+_1001 ord_\w+_1003\]`, s)
	require.NotRegexp(t, `ship order ord_\w+_1002`, s, "the rolled-back order is never delivered")

	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	defer pool.Close()
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, schema).Scan(&n))
	require.Zero(t, n, "the example drops its schema")
}

func TestRunWithoutDSNSaysWhatToSet(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), config{}, &bytes.Buffer{})
	require.ErrorContains(t, err, "HOOKKIT_TEST_POSTGRES")
}
