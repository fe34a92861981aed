// Package storetest is the conformance suite for idempotency.Store
// implementations. Every store in hookkit runs it, and so should yours:
//
//	func TestConformance(t *testing.T) {
//		storetest.RunWithClock(t, func(t *testing.T, now func() time.Time) idempotency.Store {
//			s := idempotency.NewMemoryStore(idempotency.MemoryConfig{Now: now})
//			t.Cleanup(s.Close)
//			return s
//		})
//	}
//
// RunWithClock controls time through a fake clock the suite hands to the
// store; Run uses real time with short leases (Options.Lease) for stores whose
// clock lives on a server (Redis, PostgreSQL). Each subtest calls newStore
// once and runs in parallel with the others, so stores sharing a server must
// isolate themselves (a key prefix or schema per call) and clean up with
// t.Cleanup.
package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/idempotency"
)

// Options tunes the suite. The zero value is usable.
type Options struct {
	// Lease is the short lease and retention used by the expiry tests under
	// real time (Run); the suite sleeps a little longer than it. Keep it well
	// above the store's latency and clock resolution. Defaults to 250ms.
	// RunWithClock ignores it.
	Lease time.Duration
	// Goroutines is how many goroutines race to claim one key. Defaults to
	// 100.
	Goroutines int
}

func (o Options) withDefaults() Options {
	if o.Lease <= 0 {
		o.Lease = 250 * time.Millisecond
	}
	if o.Goroutines <= 0 {
		o.Goroutines = 100
	}
	return o
}

// Run runs the conformance suite under real time against stores made by
// newStore, which is called once per subtest (with the subtest's t).
func Run(t *testing.T, newStore func(t *testing.T) idempotency.Store, opts ...Options) {
	t.Helper()
	o := firstOptions(opts)
	run(t, o, func(t *testing.T) *harness {
		lease := o.Lease
		return &harness{
			store: newStore(t),
			short: lease,
			advance: func(d time.Duration) {
				// Real time: sleep past d with a margin for the server's
				// expiry resolution.
				time.Sleep(d + d/5 + 10*time.Millisecond)
			},
		}
	})
}

// RunWithClock runs the conformance suite with a fake clock: newStore must
// make a store that reads the time only from now. The suite advances the
// clock instead of sleeping, so it is fast and exact.
func RunWithClock(t *testing.T, newStore func(t *testing.T, now func() time.Time) idempotency.Store, opts ...Options) {
	t.Helper()
	o := firstOptions(opts)
	run(t, o, func(t *testing.T) *harness {
		c := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		return &harness{
			store:   newStore(t, c.Now),
			short:   time.Minute,
			advance: c.Advance,
			exact:   true,
		}
	})
}

func firstOptions(opts []Options) Options {
	if len(opts) > 0 {
		return opts[0].withDefaults()
	}
	return Options{}.withDefaults()
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type harness struct {
	store idempotency.Store
	// short is the lease/retention that expiry tests wait out.
	short time.Duration
	// advance moves time forward by d (or sleeps a little longer than d).
	advance func(d time.Duration)
	// exact is true when time is fake, so boundaries can be asserted.
	exact bool
}

const long = time.Hour

func run(t *testing.T, o Options, newHarness func(t *testing.T) *harness) {
	t.Helper()
	ctx := context.Background()

	claim := func(t *testing.T, s idempotency.Store, key string, lease time.Duration) idempotency.Claim {
		t.Helper()
		c, err := s.Claim(ctx, key, lease)
		require.NoError(t, err)
		return c
	}
	claimed := func(t *testing.T, s idempotency.Store, key string, lease time.Duration) string {
		t.Helper()
		c := claim(t, s, key, lease)
		require.Equal(t, idempotency.Claimed, c.State, "Claim(%q) state", key)
		require.NotEmpty(t, c.Token, "a Claimed result carries a token")
		return c.Token
	}
	requireState := func(t *testing.T, s idempotency.Store, key string, want idempotency.State) {
		t.Helper()
		c := claim(t, s, key, long)
		require.Equal(t, want, c.State, "Claim(%q) state", key)
		if want != idempotency.Claimed {
			require.Empty(t, c.Token, "only a Claimed result carries a token")
		}
	}

	t.Run("a new key is claimed with a token and is then in progress for everyone else", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		tok := claimed(t, h.store, "evt_new", long)
		requireState(t, h.store, "evt_new", idempotency.InProgress)
		requireState(t, h.store, "evt_new", idempotency.InProgress)
		require.NoError(t, h.store.Complete(ctx, "evt_new", tok, long))
	})

	t.Run("concurrent claims of one key have exactly one winner", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		raceClaims(t, h.store, "evt_race", o.Goroutines)
	})

	t.Run("concurrent claims of a key whose lease expired have exactly one winner", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		claimed(t, h.store, "evt_race_expired", h.short)
		h.advance(h.short)
		raceClaims(t, h.store, "evt_race_expired", o.Goroutines)
	})

	t.Run("a completed key is done, and completing it again with its token is a no-op", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		tok := claimed(t, h.store, "evt_done", long)
		require.NoError(t, h.store.Complete(ctx, "evt_done", tok, long))
		requireState(t, h.store, "evt_done", idempotency.Done)
		require.NoError(t, h.store.Complete(ctx, "evt_done", tok, long))
		requireState(t, h.store, "evt_done", idempotency.Done)
	})

	t.Run("a released key can be claimed again at once with a new token", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		tok := claimed(t, h.store, "evt_release", long)
		require.NoError(t, h.store.Release(ctx, "evt_release", tok))
		tok2 := claimed(t, h.store, "evt_release", long)
		require.NotEqual(t, tok, tok2, "a new claim gets a new token")
		require.ErrorIs(t, h.store.Release(ctx, "evt_release", tok), idempotency.ErrNotOwner,
			"the first owner's token no longer owns the key")
		require.ErrorIs(t, h.store.Complete(ctx, "evt_release", tok, long), idempotency.ErrNotOwner)
		require.NoError(t, h.store.Complete(ctx, "evt_release", tok2, long))
		requireState(t, h.store, "evt_release", idempotency.Done)
	})

	t.Run("releasing twice reports that nobody holds the key", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		tok := claimed(t, h.store, "evt_release_twice", long)
		require.NoError(t, h.store.Release(ctx, "evt_release_twice", tok))
		require.ErrorIs(t, h.store.Release(ctx, "evt_release_twice", tok), idempotency.ErrNotFound)
		require.ErrorIs(t, h.store.Complete(ctx, "evt_release_twice", tok, long), idempotency.ErrNotFound)
	})

	t.Run("an expired lease makes the key claimable again and the old owner loses it", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		old := claimed(t, h.store, "evt_expire", h.short)
		if h.exact {
			h.advance(h.short - time.Nanosecond)
			requireState(t, h.store, "evt_expire", idempotency.InProgress)
			h.advance(time.Nanosecond)
		} else {
			h.advance(h.short)
		}
		tok := claimed(t, h.store, "evt_expire", long)
		require.NotEqual(t, old, tok)
		require.ErrorIs(t, h.store.Complete(ctx, "evt_expire", old, long), idempotency.ErrNotOwner)
		require.ErrorIs(t, h.store.Release(ctx, "evt_expire", old), idempotency.ErrNotOwner)
		requireState(t, h.store, "evt_expire", idempotency.InProgress)
		require.NoError(t, h.store.Complete(ctx, "evt_expire", tok, long))
		requireState(t, h.store, "evt_expire", idempotency.Done)
	})

	t.Run("completing or releasing after the lease expired reports that nobody holds the key", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := claimed(t, h.store, "evt_late_complete", h.short)
		b := claimed(t, h.store, "evt_late_release", h.short)
		h.advance(h.short)
		require.ErrorIs(t, h.store.Complete(ctx, "evt_late_complete", a, long), idempotency.ErrNotFound)
		require.ErrorIs(t, h.store.Release(ctx, "evt_late_release", b), idempotency.ErrNotFound)
		claimed(t, h.store, "evt_late_complete", long)
		claimed(t, h.store, "evt_late_release", long)
	})

	t.Run("a completed key can be claimed again once its retention ran out", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		tok := claimed(t, h.store, "evt_retention", long)
		require.NoError(t, h.store.Complete(ctx, "evt_retention", tok, h.short))
		if h.exact {
			h.advance(h.short - time.Nanosecond)
			requireState(t, h.store, "evt_retention", idempotency.Done)
			h.advance(time.Nanosecond)
		} else {
			requireState(t, h.store, "evt_retention", idempotency.Done)
			h.advance(h.short)
		}
		tok2 := claimed(t, h.store, "evt_retention", long)
		require.NotEqual(t, tok, tok2)
	})

	t.Run("completion retention is counted from completion, not from the claim", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		tok := claimed(t, h.store, "evt_retention_from_complete", h.short)
		require.NoError(t, h.store.Complete(ctx, "evt_retention_from_complete", tok, long))
		h.advance(h.short) // past the claim's lease, well within the retention
		requireState(t, h.store, "evt_retention_from_complete", idempotency.Done)
	})

	t.Run("a zero retention means the default retention", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		tok := claimed(t, h.store, "evt_default_retention", 0)
		require.NoError(t, h.store.Complete(ctx, "evt_default_retention", tok, 0))
		requireState(t, h.store, "evt_default_retention", idempotency.Done)
		if h.exact {
			h.advance(idempotency.DefaultRetention - time.Second)
			requireState(t, h.store, "evt_default_retention", idempotency.Done)
			h.advance(time.Second)
			requireState(t, h.store, "evt_default_retention", idempotency.Claimed)
		}
	})

	t.Run("a zero lease means the default lease", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		claimed(t, h.store, "evt_default_lease", 0)
		claimedNeg := claimed(t, h.store, "evt_default_lease_negative", -time.Second)
		requireState(t, h.store, "evt_default_lease", idempotency.InProgress)
		requireState(t, h.store, "evt_default_lease_negative", idempotency.InProgress)
		require.NoError(t, h.store.Release(ctx, "evt_default_lease_negative", claimedNeg))
		if h.exact {
			h.advance(idempotency.DefaultLease - time.Second)
			requireState(t, h.store, "evt_default_lease", idempotency.InProgress)
			h.advance(time.Second)
			requireState(t, h.store, "evt_default_lease", idempotency.Claimed)
		}
	})

	t.Run("only the owner's token can complete or release a claim", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		tok := claimed(t, h.store, "evt_owner", long)
		for _, bad := range []string{"", "not-the-token", tok + "x", "done:" + tok, strings.ToUpper(tok)} {
			if bad == tok {
				continue
			}
			require.ErrorIs(t, h.store.Complete(ctx, "evt_owner", bad, long), idempotency.ErrNotOwner, "token %q", bad)
			require.ErrorIs(t, h.store.Release(ctx, "evt_owner", bad), idempotency.ErrNotOwner, "token %q", bad)
		}
		requireState(t, h.store, "evt_owner", idempotency.InProgress)
		require.NoError(t, h.store.Complete(ctx, "evt_owner", tok, long))
	})

	t.Run("a completed key cannot be released, not even by its owner", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		tok := claimed(t, h.store, "evt_release_done", long)
		require.NoError(t, h.store.Complete(ctx, "evt_release_done", tok, long))
		require.ErrorIs(t, h.store.Release(ctx, "evt_release_done", tok), idempotency.ErrNotOwner)
		require.ErrorIs(t, h.store.Complete(ctx, "evt_release_done", "other", long), idempotency.ErrNotOwner)
		for _, bad := range []string{"", "done:" + tok, "done:", "done", tok + "x"} {
			require.ErrorIs(t, h.store.Release(ctx, "evt_release_done", bad), idempotency.ErrNotOwner, "token %q", bad)
			require.ErrorIs(t, h.store.Complete(ctx, "evt_release_done", bad, long), idempotency.ErrNotOwner, "token %q", bad)
		}
		requireState(t, h.store, "evt_release_done", idempotency.Done)
	})

	t.Run("completing or releasing a key that was never claimed reports that nobody holds it", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		require.ErrorIs(t, h.store.Complete(ctx, "evt_unknown", "tok", long), idempotency.ErrNotFound)
		require.ErrorIs(t, h.store.Release(ctx, "evt_unknown", "tok"), idempotency.ErrNotFound)
		claimed(t, h.store, "evt_unknown", long)
	})

	t.Run("keys are isolated from each other, including look-alikes", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		keys := []string{"evt_a", "evt_A", "evt_a ", " evt_a", "evt_a\n", "evt_{a}", "evt_a}", "{evt_a", "evt_a:done", "done:evt_a", "évt_a", "evt_a*", "evt_?"}
		tokens := make(map[string]string, len(keys))
		for _, k := range keys {
			tokens[k] = claimed(t, h.store, k, long)
		}
		require.NoError(t, h.store.Complete(ctx, "evt_a", tokens["evt_a"], long))
		require.NoError(t, h.store.Release(ctx, "evt_A", tokens["evt_A"]))
		requireState(t, h.store, "evt_a", idempotency.Done)
		requireState(t, h.store, "evt_A", idempotency.Claimed)
		for _, k := range keys[2:] {
			requireState(t, h.store, k, idempotency.InProgress)
			require.ErrorIs(t, h.store.Complete(ctx, k, tokens["evt_a"], long), idempotency.ErrNotOwner,
				"another key's token does not own %q", k)
		}
	})

	t.Run("invalid keys are rejected by every operation", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		tests := []struct {
			name string
			key  string
		}{
			{name: "empty key", key: ""},
			{name: "key one byte too long", key: strings.Repeat("k", idempotency.MaxKeyLen+1)},
			{name: "key with a NUL byte", key: "evt\x00id"},
			{name: "key that is not UTF-8", key: "evt\xff\xfe"},
		}
		for _, tt := range tests {
			_, err := h.store.Claim(ctx, tt.key, long)
			require.ErrorIs(t, err, idempotency.ErrInvalidKey, tt.name)
			require.ErrorIs(t, h.store.Complete(ctx, tt.key, "tok", long), idempotency.ErrInvalidKey, tt.name)
			require.ErrorIs(t, h.store.Release(ctx, tt.key, "tok"), idempotency.ErrInvalidKey, tt.name)
		}
	})

	t.Run("the longest valid key works", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		key := strings.Repeat("é", idempotency.MaxKeyLen/2) // 512 bytes
		tok := claimed(t, h.store, key, long)
		require.NoError(t, h.store.Complete(ctx, key, tok, long))
		requireState(t, h.store, key, idempotency.Done)
	})

	t.Run("a cancelled context claims nothing", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := h.store.Claim(cctx, "evt_cancelled", long)
		require.Error(t, err)
		claimed(t, h.store, "evt_cancelled", long)
	})

	t.Run("many keys claimed and settled concurrently keep their own states", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		const workers, perWorker = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers*perWorker)
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					key := "evt_many_" + string(rune('a'+w)) + "_" + itoa(i)
					c, err := h.store.Claim(ctx, key, long)
					if err != nil {
						errs <- err
						continue
					}
					if c.State != idempotency.Claimed {
						errs <- &stateError{key: key, got: c.State}
						continue
					}
					if i%2 == 0 {
						err = h.store.Complete(ctx, key, c.Token, long)
					} else {
						err = h.store.Release(ctx, key, c.Token)
					}
					if err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		for w := range workers {
			for i := range perWorker {
				key := "evt_many_" + string(rune('a'+w)) + "_" + itoa(i)
				want := idempotency.Done
				if i%2 == 1 {
					want = idempotency.Claimed
				}
				requireState(t, h.store, key, want)
			}
		}
	})
}

type stateError struct {
	key string
	got idempotency.State
}

func (e *stateError) Error() string { return "claim " + e.key + ": got " + e.got.String() }

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}

// raceClaims has n goroutines claim key at once and requires exactly one
// Claimed and n-1 InProgress.
func raceClaims(t *testing.T, s idempotency.Store, key string, n int) {
	t.Helper()
	ctx := context.Background()
	start := make(chan struct{})
	results := make([]idempotency.Claim, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.Claim(ctx, key, long)
		})
	}
	close(start)
	wg.Wait()
	winners := 0
	var token string
	for i := range n {
		require.NoError(t, errs[i], "goroutine %d", i)
		switch results[i].State {
		case idempotency.Claimed:
			winners++
			token = results[i].Token
		case idempotency.InProgress:
			require.Empty(t, results[i].Token)
		default:
			t.Fatalf("goroutine %d: state %v, want claimed or in_progress", i, results[i].State)
		}
	}
	require.Equal(t, 1, winners, "exactly one of %d concurrent claims wins", n)
	require.NoError(t, s.Complete(ctx, key, token, long))
}
