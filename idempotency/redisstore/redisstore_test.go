package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/redisstore"
	"github.com/hookkit/hookkit/idempotency/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const envRedis = "HOOKKIT_TEST_REDIS"

// newClient connects to the Redis named by HOOKKIT_TEST_REDIS or skips.
func newClient(t testing.TB) *redis.Client {
	t.Helper()
	url := os.Getenv(envRedis)
	if url == "" {
		t.Skipf("%s is not set; run Redis and e.g. %s=redis://127.0.0.1:6379/0 go test ./idempotency/redisstore/", envRedis, envRedis)
	}
	opts, err := redis.ParseURL(url)
	require.NoError(t, err, "parsing %s", envRedis)
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// setup returns a Store with its own random prefix; its keys are deleted at
// the end of the test.
func setup(t testing.TB) (*redisstore.Store, *redis.Client, string) {
	t.Helper()
	c := newClient(t)
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	prefix := "hookkit:test:" + hex.EncodeToString(rnd[:]) + ":"
	s, err := redisstore.New(redisstore.Config{Client: c, Prefix: prefix})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			_ = c.Del(ctx, iter.Val()).Err()
		}
	})
	return s, c, prefix
}

func TestConformance(t *testing.T) {
	t.Parallel()
	newClient(t) // skip the whole suite at once without Redis
	storetest.Run(t, func(t *testing.T) idempotency.Store {
		s, _, _ := setup(t)
		return s
	}, storetest.Options{Lease: 200 * time.Millisecond})
}

func TestNew(t *testing.T) {
	t.Parallel()
	_, err := redisstore.New(redisstore.Config{})
	require.ErrorIs(t, err, redisstore.ErrNoClient)

	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	s, err := redisstore.New(redisstore.Config{Client: c})
	require.NoError(t, err)
	require.Equal(t, "hookkit:idem:{evt_1}", s.Key("evt_1"), "default prefix and a hash tag")
}

func TestKeysAndValues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a claim is stored under the prefixed, hash-tagged key with the lease as TTL", func(t *testing.T) {
		t.Parallel()
		s, c, prefix := setup(t)
		cl, err := s.Claim(ctx, "evt_1", 30*time.Second)
		require.NoError(t, err)
		require.Equal(t, idempotency.Claimed, cl.State)

		rkey := prefix + "{evt_1}"
		v, err := c.Get(ctx, rkey).Result()
		require.NoError(t, err)
		require.Equal(t, cl.Token, v)
		ttl, err := c.PTTL(ctx, rkey).Result()
		require.NoError(t, err)
		require.InDelta(t, 30*time.Second, ttl, float64(2*time.Second))

		require.NoError(t, s.Complete(ctx, "evt_1", cl.Token, time.Hour))
		v, err = c.Get(ctx, rkey).Result()
		require.NoError(t, err)
		require.Equal(t, "done:"+cl.Token, v)
		ttl, err = c.PTTL(ctx, rkey).Result()
		require.NoError(t, err)
		require.InDelta(t, time.Hour, ttl, float64(2*time.Second))
	})

	t.Run("a zero retention keeps a completed key for 72 hours", func(t *testing.T) {
		t.Parallel()
		s, c, prefix := setup(t)
		cl, err := s.Claim(ctx, "evt_2", time.Second)
		require.NoError(t, err)
		require.NoError(t, s.Complete(ctx, "evt_2", cl.Token, 0))
		ttl, err := c.PTTL(ctx, prefix+"{evt_2}").Result()
		require.NoError(t, err)
		require.InDelta(t, idempotency.DefaultRetention, ttl, float64(2*time.Second))
	})

	t.Run("stores with different prefixes do not see each other's keys", func(t *testing.T) {
		t.Parallel()
		a, _, _ := setup(t)
		b, _, _ := setup(t)
		ca, err := a.Claim(ctx, "evt_shared", time.Minute)
		require.NoError(t, err)
		cb, err := b.Claim(ctx, "evt_shared", time.Minute)
		require.NoError(t, err)
		require.Equal(t, idempotency.Claimed, ca.State)
		require.Equal(t, idempotency.Claimed, cb.State)
		require.ErrorIs(t, b.Complete(ctx, "evt_shared", ca.Token, time.Minute), idempotency.ErrNotOwner)
	})
}

func TestUnreachableRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{
		Addr:         "127.0.0.1:1",
		DialTimeout:  100 * time.Millisecond,
		ReadTimeout:  100 * time.Millisecond,
		WriteTimeout: 100 * time.Millisecond,
		MaxRetries:   -1,
	})
	defer c.Close()
	s, err := redisstore.New(redisstore.Config{Client: c})
	require.NoError(t, err)

	tests := []struct {
		name string
		call func() error
	}{
		{name: "Claim returns an error, never a claim", call: func() error {
			cl, err := s.Claim(ctx, "evt_1", time.Minute)
			require.Equal(t, idempotency.Claim{}, cl)
			return err
		}},
		{name: "Complete returns an error", call: func() error { return s.Complete(ctx, "evt_1", "tok", time.Minute) }},
		{name: "Release returns an error", call: func() error { return s.Release(ctx, "evt_1", "tok") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.ErrorIs(t, err, idempotency.ErrUnavailable)
			require.NotErrorIs(t, err, idempotency.ErrNotFound)
			require.NotErrorIs(t, err, idempotency.ErrNotOwner)
		})
	}
}

func BenchmarkClaimComplete(b *testing.B) {
	s, _, _ := setup(b)
	ctx := context.Background()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	base := "evt_" + hex.EncodeToString(rnd[:]) + "_"
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var rnd [8]byte
		_, _ = rand.Read(rnd[:])
		p := base + hex.EncodeToString(rnd[:]) + "_"
		i := 0
		for pb.Next() {
			i++
			k := p + strconv.Itoa(i)
			c, err := s.Claim(ctx, k, time.Minute)
			if err != nil || c.State != idempotency.Claimed {
				b.Error(c, err)
				return
			}
			if err := s.Complete(ctx, k, c.Token, time.Minute); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkClaim measures the latency of one Claim of a new key (one round
// trip, one script).
func BenchmarkClaim(b *testing.B) {
	s, _, _ := setup(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c, err := s.Claim(ctx, "evt_"+strconv.Itoa(i), time.Minute)
		if err != nil || c.State != idempotency.Claimed {
			b.Fatal(c, err)
		}
	}
}
