package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	t.Parallel()
	url := os.Getenv("HOOKKIT_TEST_REDIS")
	if url == "" {
		t.Skip("set HOOKKIT_TEST_REDIS (e.g. redis://127.0.0.1:6379/0) to run this example against Redis")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prefix := "hookkit:test:examples:redis-consumer:" + uuid.NewString() + ":"
	var out bytes.Buffer
	require.NoError(t, run(ctx, config{RedisURL: url, Prefix: prefix}, &out))
	s := out.String()

	require.Regexp(t, `summary: evt_\S+ processed 1 time\(s\) after 3 deliveries to 2 replicas; evt_\S+ processed 1 time\(s\)`, s)
	require.Len(t, regexp.MustCompile(`(?m)^replica-. +processed order\.created`).FindAllString(s, -1), 1, "one replica processed the duplicate pair")
	require.Len(t, regexp.MustCompile(`order\.created \S+ → replica-.: (200|409) [A-Za-z ]+ \(duplicate`).FindAllString(s, -1), 2,
		"one of the simultaneous deliveries and the late one were answered as duplicates")
	require.Regexp(t, `order\.created \S+ → replica-b: 200 OK \(duplicate: already processed\)`, s, "the late redelivery")

	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	require.Empty(t, keys, "the example deletes its keys")
}

func TestRunWithoutRedisSaysWhatToSet(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), config{}, &bytes.Buffer{})
	require.ErrorContains(t, err, "HOOKKIT_TEST_REDIS")
}
