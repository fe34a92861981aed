package reliability_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/internal/reliability"
	"github.com/hookkit/hookkit/receiver/receivertest"
	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/sender/pgstore"
)

// countingHandler is a slog.Handler counting records per level and keeping the last messages.
type countingHandler struct {
	warn, errs *atomic.Int64
	last       *atomic.Value // string
}

func newCountingHandler() countingHandler {
	return countingHandler{warn: new(atomic.Int64), errs: new(atomic.Int64), last: new(atomic.Value)}
}

func (h countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.errs.Add(1)
		msg := r.Message
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "error" {
				msg += ": " + a.Value.String()
			}
			return true
		})
		h.last.Store(msg)
	} else {
		h.warn.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

func (h countingHandler) lastError() string {
	s, _ := h.last.Load().(string)
	return s
}

// proxied returns a pool config for dsn whose connections go through proxy p.
func proxied(t testing.TB, dsn string, p *reliability.Proxy) *pgxpool.Config {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	require.NoError(t, err)
	host, port, err := net.SplitHostPort(p.Addr())
	require.NoError(t, err)
	pn, err := strconv.ParseUint(port, 10, 16)
	require.NoError(t, err)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(pn)
	cfg.ConnConfig.Fallbacks = nil
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	return cfg
}

// pgTarget returns the host:port of the PostgreSQL server in dsn.
func pgTarget(t testing.TB, dsn string) string {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	require.NoError(t, err)
	return net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
}

func newProxy(t testing.TB, target string) *reliability.Proxy {
	t.Helper()
	p, err := reliability.Listen(target)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestSenderRidesOutCutAndBlackholedConnections(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t)
	events := 1000
	if testing.Short() {
		events = 300
	}
	ctx := context.Background()

	// The endpoint, behind a proxy, records every webhook-id.
	var (
		mu   sync.Mutex
		seen = map[string]int{}
	)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		mu.Lock()
		seen[id]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(endpoint.Close)
	epProxy := newProxy(t, endpoint.Listener.Addr().String())

	// The sender's database pool goes through another proxy; the test checks with its own.
	admin := newPool(t, dsn, 4)
	pgProxy := newProxy(t, pgTarget(t, dsn))
	pool, err := pgxpool.NewWithConfig(ctx, proxied(t, dsn, pgProxy))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	schema := newSchema(t, admin)
	logs := newCountingHandler()
	store, err := pgstore.New(pgstore.Config{Pool: pool, Schema: schema, Logger: slog.New(logs), PollInterval: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	require.NoError(t, store.Migrate(ctx))
	obs := &deliveredObserver{}
	s, err := sender.New(sender.Config{
		Store:                store,
		Workers:              16,
		Lease:                2 * time.Second,
		PollInterval:         200 * time.Millisecond,
		Policy:               compressedSchedule(50*time.Millisecond, 60),
		Breaker:              sender.BreakerConfig{OpenFor: 200 * time.Millisecond},
		AllowPrivateNetworks: true,
		Observer:             obs,
		Logger:               slog.New(logs),
	})
	require.NoError(t, err)
	_, err = s.CreateEndpoint(ctx, sender.Endpoint{
		ID: "ep_proxied", URL: "http://" + epProxy.Addr() + "/hook", Keys: []sender.EndpointKey{{Secret: receivertest.Secret}},
		MaxConcurrency: 16, Timeout: 500 * time.Millisecond,
	})
	require.NoError(t, err)
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = s.Shutdown(sctx)
		<-runDone
	})

	// A publisher keeps publishing (through the proxy too) while the faults run; a publish that
	// fails is retried with the same idempotency key until it succeeds.
	var publishErrors atomic.Int64
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := range events {
			ev, err := event.New("order.created", map[string]int{"n": i})
			if err != nil {
				panic(err)
			}
			for {
				pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				_, err := s.Publish(pctx, ev, sender.WithIdempotencyKey(fmt.Sprintf("order-%d", i)))
				cancel()
				if err == nil {
					break
				}
				publishErrors.Add(1)
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(3 * time.Millisecond)
		}
	}()

	// The faults, one after the other, while deliveries flow.
	started := time.Now()
	type window struct {
		name string
		run  func() <-chan struct{}
	}
	faults := []window{
		{"endpoint: every connection reset, new ones refused, 700 ms", func() <-chan struct{} { return epProxy.For(reliability.Refuse, 700*time.Millisecond) }},
		{"endpoint: blackholed 1 s", func() <-chan struct{} { return epProxy.For(reliability.Blackhole, time.Second) }},
		{"PostgreSQL: blackholed 1 s", func() <-chan struct{} { return pgProxy.For(reliability.Blackhole, time.Second) }},
		{"PostgreSQL: every connection reset, new ones refused, 1 s", func() <-chan struct{} { return pgProxy.For(reliability.Refuse, time.Second) }},
		{"endpoint and PostgreSQL: connections cut", func() <-chan struct{} {
			epProxy.Cut()
			pgProxy.Cut()
			ch := make(chan struct{})
			close(ch)
			return ch
		}},
	}
	for _, f := range faults {
		time.Sleep(300 * time.Millisecond)
		<-f.run()
		t.Logf("fault at %v: %s", time.Since(started).Round(time.Millisecond), f.name)
	}
	<-published

	table := pgx.Identifier{schema, "deliveries"}.Sanitize()
	var delivered, total int
	require.Eventually(t, func() bool {
		require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 3), count(*) FROM `+table).Scan(&delivered, &total))
		return total == events && delivered == events
	}, 2*time.Minute, 20*time.Millisecond, "every published event delivered after the faults")
	elapsed := time.Since(started)

	rows, err := admin.Query(ctx, `SELECT event_id FROM `+table)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	mu.Lock()
	lost, dups := 0, 0
	for _, id := range ids {
		if seen[id] == 0 {
			lost++
		}
		dups += max(0, seen[id]-1)
	}
	mu.Unlock()
	ep, pg := epProxy.Stats(), pgProxy.Stats()
	t.Logf("proxy faults: %d events, 5 fault windows; endpoint proxy %d connections (%d reset, %d of them refused while down, %d reads held), PostgreSQL proxy %d connections (%d reset, %d refused, %d reads held); "+
		"sender saw %d failed attempts, logged %d errors (last: %q) and %d warnings; %d publish errors retried; duplicates %d, lost %d, %v",
		events, ep.Accepted, ep.Cut, ep.Refused, ep.Held, pg.Accepted, pg.Cut, pg.Refused, pg.Held, obs.failed.Load(), logs.errs.Load(), logs.lastError(), logs.warn.Load(),
		publishErrors.Load(), dups, lost, elapsed.Round(time.Millisecond))
	require.Zero(t, lost, "every published event reached the endpoint")
	require.Positive(t, ep.Cut, "endpoint connections were cut")
	require.Positive(t, pg.Cut, "PostgreSQL connections were cut")
	require.Positive(t, ep.Held+pg.Held, "bytes were blackholed")
	require.Positive(t, obs.failed.Load(), "the sender observed the endpoint's failures")
	// Backing off: while the endpoint refused connections for 700 ms, 16 workers retrying no
	// sooner than the schedule's first step (50 ms) could connect at most 16 x 700/50 times.
	require.LessOrEqual(t, ep.Refused, int64(16*700/50), "the sender backs off while the endpoint is down, it does not hammer it")
	require.Positive(t, logs.errs.Load(), "the sender logged the store's failures")
}
