package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, config{Addr: "127.0.0.1:0"}, &out))
	s := out.String()
	require.Regexp(t, `GET 200 application/json`, s)
	require.Regexp(t, `invoice\.paid\s+2\s+no\s+\{"invoice_id":"in_1001"`, s)
	require.Regexp(t, `invoice\.refunded\s+1\s+yes`, s)
	require.Contains(t, s, "[deprecated] Replaced by invoice.paid version 2")
	require.Contains(t, s, "304 Not Modified")
	require.Regexp(t, `an unregistered type\s+event: .*unknown`, s)
	require.Regexp(t, `a valid invoice.paid\s+<nil>`, s)
}
