package idempotency_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) idempotency.Store {
		s := idempotency.NewMemoryStore(idempotency.MemoryConfig{Now: now})
		t.Cleanup(s.Close)
		return s
	})
}

func TestMemoryStoreConformanceRealTime(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) idempotency.Store {
		s := idempotency.NewMemoryStore(idempotency.MemoryConfig{Shards: 1, SweepInterval: 5 * time.Millisecond})
		t.Cleanup(s.Close)
		return s
	}, storetest.Options{Lease: 150 * time.Millisecond})
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type memBundle struct {
	store *idempotency.MemoryStore
	clock *clock
}

func setupMemory(t *testing.T, cfg idempotency.MemoryConfig) *memBundle {
	t.Helper()
	c := newClock()
	cfg.Now = c.Now
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = -1 // tests sweep explicitly
	}
	s := idempotency.NewMemoryStore(cfg)
	t.Cleanup(s.Close)
	return &memBundle{store: s, clock: c}
}

func mustClaim(t *testing.T, s idempotency.Store, key string, lease time.Duration) idempotency.Claim {
	t.Helper()
	c, err := s.Claim(context.Background(), key, lease)
	require.NoError(t, err)
	return c
}

func TestMemoryStoreEviction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a full store evicts the oldest completed key first", func(t *testing.T) {
		t.Parallel()
		b := setupMemory(t, idempotency.MemoryConfig{Shards: 1, MaxKeys: 3})
		for _, k := range []string{"k1", "k2", "k3"} {
			c := mustClaim(t, b.store, k, time.Hour)
			require.NoError(t, b.store.Complete(ctx, k, c.Token, time.Hour))
		}
		require.Equal(t, idempotency.Claimed, mustClaim(t, b.store, "k4", time.Hour).State)
		require.Equal(t, 3, b.store.Len())
		require.Equal(t, idempotency.Done, mustClaim(t, b.store, "k2", time.Hour).State, "k2 is kept")
		require.Equal(t, idempotency.Done, mustClaim(t, b.store, "k3", time.Hour).State, "k3 is kept")
		require.Equal(t, idempotency.Claimed, mustClaim(t, b.store, "k1", time.Hour).State, "k1, the oldest completed, was evicted")
	})

	t.Run("in-progress claims are never evicted and a store full of them returns ErrFull", func(t *testing.T) {
		t.Parallel()
		b := setupMemory(t, idempotency.MemoryConfig{Shards: 1, MaxKeys: 2})
		c1 := mustClaim(t, b.store, "p1", time.Minute)
		mustClaim(t, b.store, "p2", time.Hour)
		_, err := b.store.Claim(ctx, "p3", time.Hour)
		require.ErrorIs(t, err, idempotency.ErrFull)
		require.Equal(t, idempotency.InProgress, mustClaim(t, b.store, "p1", time.Hour).State)
		require.Equal(t, idempotency.InProgress, mustClaim(t, b.store, "p2", time.Hour).State)

		require.NoError(t, b.store.Complete(ctx, "p1", c1.Token, time.Hour))
		require.Equal(t, idempotency.Claimed, mustClaim(t, b.store, "p3", time.Hour).State,
			"a completed key makes room")
		require.Equal(t, idempotency.InProgress, mustClaim(t, b.store, "p2", time.Hour).State)
	})

	t.Run("an expired lease makes room in a full store", func(t *testing.T) {
		t.Parallel()
		b := setupMemory(t, idempotency.MemoryConfig{Shards: 1, MaxKeys: 2})
		mustClaim(t, b.store, "p1", time.Minute)
		mustClaim(t, b.store, "p2", time.Hour)
		_, err := b.store.Claim(ctx, "p3", time.Hour)
		require.ErrorIs(t, err, idempotency.ErrFull)
		b.clock.Advance(time.Minute)
		require.Equal(t, idempotency.Claimed, mustClaim(t, b.store, "p3", time.Hour).State)
		require.Equal(t, idempotency.InProgress, mustClaim(t, b.store, "p2", time.Hour).State)
		require.Equal(t, 2, b.store.Len())
	})

	t.Run("re-claimed keys leave no stale eviction entries behind", func(t *testing.T) {
		t.Parallel()
		b := setupMemory(t, idempotency.MemoryConfig{Shards: 1, MaxKeys: 2})
		c := mustClaim(t, b.store, "a", time.Hour)
		require.NoError(t, b.store.Complete(ctx, "a", c.Token, time.Second))
		b.clock.Advance(time.Second)
		// "a" expired and is claimed again: it is in progress now and its old
		// completion must not make it evictable.
		mustClaim(t, b.store, "a", time.Hour)
		mustClaim(t, b.store, "b", time.Hour)
		_, err := b.store.Claim(ctx, "c", time.Hour)
		require.ErrorIs(t, err, idempotency.ErrFull)
		require.Equal(t, idempotency.InProgress, mustClaim(t, b.store, "a", time.Hour).State)
	})

	t.Run("the completion queue stays bounded under churn", func(t *testing.T) {
		t.Parallel()
		b := setupMemory(t, idempotency.MemoryConfig{Shards: 2, MaxKeys: 100})
		for i := range 10_000 {
			k := "churn" + strconv.Itoa(i)
			c := mustClaim(t, b.store, k, time.Hour)
			require.Equal(t, idempotency.Claimed, c.State)
			require.NoError(t, b.store.Complete(ctx, k, c.Token, time.Hour))
		}
		require.LessOrEqual(t, b.store.Len(), 100)
		require.Equal(t, idempotency.Done, mustClaim(t, b.store, "churn9999", time.Hour).State)
	})
}

func TestMemoryStoreSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Sweep removes expired leases and completed keys past retention", func(t *testing.T) {
		t.Parallel()
		b := setupMemory(t, idempotency.MemoryConfig{Shards: 4})
		mustClaim(t, b.store, "lease", time.Minute)
		c := mustClaim(t, b.store, "done", time.Minute)
		require.NoError(t, b.store.Complete(ctx, "done", c.Token, 2*time.Minute))
		mustClaim(t, b.store, "live", time.Hour)
		require.Equal(t, 0, b.store.Sweep())
		b.clock.Advance(time.Minute)
		require.Equal(t, 1, b.store.Sweep())
		b.clock.Advance(time.Minute)
		require.Equal(t, 1, b.store.Sweep())
		require.Equal(t, 1, b.store.Len())
	})

	t.Run("the background sweeper removes expired keys and stops on Close", func(t *testing.T) {
		t.Parallel()
		var now atomic.Int64
		now.Store(time.Unix(1_700_000_000, 0).UnixNano())
		s := idempotency.NewMemoryStore(idempotency.MemoryConfig{
			Now:           func() time.Time { return time.Unix(0, now.Load()) },
			SweepInterval: time.Millisecond,
		})
		defer s.Close()
		mustClaim(t, s, "k", time.Second)
		now.Add(int64(time.Second))
		require.Eventually(t, func() bool { return s.Len() == 0 }, 5*time.Second, time.Millisecond)
		s.Close()
		s.Close() // idempotent
		require.Equal(t, idempotency.Claimed, mustClaim(t, s, "k", time.Second).State, "usable after Close")
	})
}

func TestMemoryStoreTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("tokens are unique within and across stores", func(t *testing.T) {
		t.Parallel()
		seen := make(map[string]bool)
		for range 2 {
			b := setupMemory(t, idempotency.MemoryConfig{Shards: 3})
			for i := range 500 {
				c := mustClaim(t, b.store, "k"+strconv.Itoa(i), time.Hour)
				require.False(t, seen[c.Token], "token %q repeated", c.Token)
				seen[c.Token] = true
			}
		}
	})

	t.Run("a token from another store does not own the key", func(t *testing.T) {
		t.Parallel()
		a := setupMemory(t, idempotency.MemoryConfig{Shards: 1})
		b := setupMemory(t, idempotency.MemoryConfig{Shards: 1})
		ca := mustClaim(t, a.store, "k", time.Hour)
		mustClaim(t, b.store, "k", time.Hour)
		require.ErrorIs(t, b.store.Complete(ctx, "k", ca.Token, time.Hour), idempotency.ErrNotOwner)
	})
}

func TestMemoryConfigDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  idempotency.MemoryConfig
		max  int
	}{
		{name: "zero config holds many keys", cfg: idempotency.MemoryConfig{SweepInterval: -1}, max: 1000},
		{name: "more shards than keys still holds MaxKeys", cfg: idempotency.MemoryConfig{Shards: 64, MaxKeys: 1, SweepInterval: -1}, max: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := idempotency.NewMemoryStore(tt.cfg)
			defer s.Close()
			for i := range tt.max {
				require.Equal(t, idempotency.Claimed, mustClaim(t, s, "k"+strconv.Itoa(i), time.Hour).State)
			}
			if tt.cfg.MaxKeys > 0 {
				_, err := s.Claim(context.Background(), "overflow", time.Hour)
				require.ErrorIs(t, err, idempotency.ErrFull)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		state idempotency.State
		want  string
	}{
		{idempotency.Claimed, "claimed"},
		{idempotency.InProgress, "in_progress"},
		{idempotency.Done, "done"},
		{idempotency.State(0), "State(0)"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.state.String())
	}
}

func TestValidateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		key   string
		valid bool
	}{
		{name: "an event id is valid", key: "evt_01HZX3", valid: true},
		{name: "a 512-byte key is valid", key: string(make([]byte, 0)) + repeat("a", 512), valid: true},
		{name: "multi-byte UTF-8 is valid", key: "événement", valid: true},
		{name: "an empty key is invalid", key: ""},
		{name: "a 513-byte key is invalid", key: repeat("a", 513)},
		{name: "a NUL byte is invalid", key: "a\x00"},
		{name: "a NUL byte after UTF-8 is invalid", key: "é\x00"},
		{name: "invalid UTF-8 is invalid", key: "a\xc3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := idempotency.ValidateKey(tt.key)
			if tt.valid {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, idempotency.ErrInvalidKey)
			}
		})
	}
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}

// FuzzMemoryStore drives a MemoryStore with untrusted keys: it must never
// panic, must agree with ValidateKey, and a valid key must go through the
// claim/complete cycle.
func FuzzMemoryStore(f *testing.F) {
	for _, seed := range []string{"evt_1", "", "a\x00b", "\xff", repeat("k", 513), "{x}", "done:x"} {
		f.Add(seed)
	}
	s := idempotency.NewMemoryStore(idempotency.MemoryConfig{Shards: 4, MaxKeys: 10_000, SweepInterval: -1})
	defer s.Close()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, key string) {
		c, err := s.Claim(ctx, key, time.Hour)
		if idempotency.ValidateKey(key) != nil {
			require.ErrorIs(t, err, idempotency.ErrInvalidKey)
			return
		}
		if err != nil {
			require.ErrorIs(t, err, idempotency.ErrFull)
			return
		}
		if c.State == idempotency.Claimed {
			require.NoError(t, s.Complete(ctx, key, c.Token, time.Hour))
		}
		again := mustClaim(t, s, key, time.Hour)
		require.Equal(t, idempotency.Done, again.State)
	})
}

func TestMemoryStoreExtremeDurations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupMemory(t, idempotency.MemoryConfig{Shards: 1})
	c := mustClaim(t, b.store, "forever", time.Duration(1<<63-1))
	require.Equal(t, idempotency.Claimed, c.State)
	b.clock.Advance(100 * 365 * 24 * time.Hour)
	require.Equal(t, idempotency.InProgress, mustClaim(t, b.store, "forever", time.Hour).State,
		"a maximal lease saturates instead of overflowing into the past")
	require.NoError(t, b.store.Complete(ctx, "forever", c.Token, time.Duration(1<<63-1)))
	require.Equal(t, idempotency.Done, mustClaim(t, b.store, "forever", time.Hour).State)

	b.clock.Advance(-200 * 365 * 24 * time.Hour) // a clock that went backwards
	c2 := mustClaim(t, b.store, "past", time.Duration(1<<63-1))
	require.Equal(t, idempotency.Claimed, c2.State)
	require.Equal(t, idempotency.InProgress, mustClaim(t, b.store, "past", time.Hour).State)
}
