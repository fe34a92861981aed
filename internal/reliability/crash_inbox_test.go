package reliability_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/idempotency"
	idempg "github.com/hookkit/hookkit/idempotency/pgstore"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/pginbox"
	"github.com/hookkit/hookkit/receiver/receivertest"
)

const (
	consumerWorkers = 8
	consumerLease   = 2 * time.Second // pginbox.Config.Lease: killed work returns after this
)

// runConsumer is the consumer child: a hookkit receiver with the durable PostgreSQL inbox
// (receiver/pginbox) and idempotency/pgstore dedupe on loopback, printing "ADDR host:port".
// Its handler is slow: it records that it started (runs), waits, then applies the effect
// (effects) in one transaction with idempotency/pgstore's ClaimTx, so the effect happens
// exactly once however often the handler runs. It serves until killed.
func runConsumer() int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fail := func(msg string, err error) int {
		log.Error("consumer: "+msg, "error", err)
		return 1
	}
	ctx := context.Background()
	schema := os.Getenv(envSchema)
	cfg, err := pgxpool.ParseConfig(os.Getenv(envPostgres))
	if err != nil {
		return fail("bad "+envPostgres, err)
	}
	cfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fail("pool", err)
	}
	defer pool.Close()
	inbox, err := pginbox.New(ctx, pginbox.Config{Pool: pool, Schema: schema, Lease: consumerLease, PollInterval: 200 * time.Millisecond, Logger: log})
	if err != nil {
		return fail("inbox", err)
	}
	claims, err := idempg.New(idempg.Config{Pool: pool, Schema: schema, Table: "receiver_claims"})
	if err != nil {
		return fail("claims", err)
	}
	effectKeys, err := idempg.New(idempg.Config{Pool: pool, Schema: schema, Table: "effect_keys"})
	if err != nil {
		return fail("effect keys", err)
	}
	runs, effects := pgx.Identifier{schema, "runs"}.Sanitize(), pgx.Identifier{schema, "effects"}.Sanitize()
	var rmu sync.Mutex
	rng := mrand.New(mrand.NewPCG(uint64(os.Getpid()), 1))
	h, err := receiver.New(receiver.Config{
		Keys:       receivertest.Keyring(""),
		Queue:      inbox,
		Store:      claims,
		Workers:    consumerWorkers,
		ClaimLease: time.Minute,
		RetryAfter: time.Second,
		Logger:     log,
		Handler: receiver.HandlerFunc(func(ctx context.Context, ev event.Event) error {
			if _, err := pool.Exec(ctx, `INSERT INTO `+runs+` (event_id, pid) VALUES ($1, $2)`, ev.ID, os.Getpid()); err != nil {
				return err
			}
			rmu.Lock()
			d := time.Duration(10+rng.IntN(30)) * time.Millisecond
			rmu.Unlock()
			time.Sleep(d) // slow processing: the window in which the consumer is killed
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				first, err := effectKeys.ClaimTx(ctx, tx, ev.ID)
				if err != nil || !first {
					return err
				}
				_, err = tx.Exec(ctx, `INSERT INTO `+effects+` (event_id, pid) VALUES ($1, $2)`, ev.ID, os.Getpid())
				return err
			})
		}),
	})
	if err != nil {
		return fail("receiver", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail("listen", err)
	}
	fmt.Printf("ADDR %s\n", ln.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	return fail("serve", srv.Serve(ln))
}

func TestConsumerKilledBetweenAckAndHandlerLosesNothing(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t)
	events, kills := 5000, 5
	if testing.Short() {
		events = 500
	}
	const senders = 8
	ctx := context.Background()
	admin := newPool(t, dsn, 4)
	schema := newSchema(t, admin)
	table := func(name string) string { return pgx.Identifier{schema, name}.Sanitize() }

	in, err := pginbox.New(ctx, pginbox.Config{Pool: admin, Schema: schema, Logger: discard, DisableListener: true})
	require.NoError(t, err)
	require.NoError(t, in.Migrate(ctx))
	require.NoError(t, in.Close())
	for _, name := range []string{"receiver_claims", "effect_keys"} {
		s, err := idempg.New(idempg.Config{Pool: admin, Schema: schema, Table: name})
		require.NoError(t, err)
		require.NoError(t, s.Migrate(ctx))
	}
	for _, name := range []string{"runs", "effects"} {
		_, err := admin.Exec(ctx, `CREATE TABLE `+table(name)+` (event_id text NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`)
		require.NoError(t, err)
	}

	// The parent sends every event, signed, until the consumer acknowledges it (2xx).
	evs := make([]event.Event, events)
	for i := range evs {
		evs[i] = receivertest.NewEvent("order.created", map[string]int{"n": i})
	}
	var (
		url                         atomic.Pointer[string]
		acked, posts, non2xx, dials atomic.Int64
		firstAck                    = make([]atomic.Int64, events) // unix nanos of the first 2xx
	)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	post := func(i int) bool {
		u := url.Load()
		if u == nil {
			return false
		}
		sreq := receivertest.NewRequest("", evs[i])
		body, _ := io.ReadAll(sreq.Body)
		req, _ := http.NewRequest(http.MethodPost, *u+"/webhook", bytes.NewReader(body))
		req.Header = sreq.Header.Clone()
		posts.Add(1)
		resp, err := client.Do(req)
		if err != nil {
			dials.Add(1)
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			non2xx.Add(1)
			return false
		}
		return true
	}
	work := make(chan int, events)
	for i := range events {
		work <- i
	}
	close(work)
	stop := make(chan struct{})
	var sendersDone sync.WaitGroup
	for range senders {
		sendersDone.Go(func() {
			for i := range work {
				for !post(i) {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
				firstAck[i].Store(time.Now().UnixNano())
				acked.Add(1)
				// Paced, so events keep arriving while the consumer is killed.
				select {
				case <-stop:
					return
				case <-time.After(15 * time.Millisecond):
				}
			}
		})
	}
	t.Cleanup(func() {
		close(stop)
		sendersDone.Wait()
	})

	count := func(q string, args ...any) int {
		var n int
		require.NoError(t, admin.QueryRow(ctx, q, args...).Scan(&n))
		return n
	}
	start := func(name string) *child {
		c := startChild(t, "consumer", name, envSchema+"="+schema)
		select {
		case a := <-c.addr:
			u := "http://" + a
			url.Store(&u)
		case <-c.done:
			t.Fatalf("consumer %s exited at start (err %v):\n%s", name, c.exitErr(), c.output())
		case <-time.After(30 * time.Second):
			t.Fatalf("consumer %s did not start listening in 30 s:\n%s", name, c.output())
		}
		return c
	}

	_, rng := seed(t)
	targets := make([]float64, kills)
	for i := range targets {
		targets[i] = 0.05 + 0.85*rng.Float64()
	}
	sort.Float64s(targets)
	started := time.Now()
	ackedAtKills, leasedAtKills := 0, 0
	for k := range kills {
		c := start(fmt.Sprintf("consumer-%d", k))
		threshold := int(targets[k] * float64(events))
		deadline := time.Now().Add(90 * time.Second)
		// Kill once enough effects are applied and acknowledged events wait in the inbox or
		// are being processed: between the 202 and the handler's completion.
		for time.Now().Before(deadline) && !c.exited() &&
			(count(`SELECT count(*) FROM `+table("effects")) < threshold || count(`SELECT count(*) FROM `+in.Table()+` WHERE lease_owner IS NOT NULL`) == 0) {
			time.Sleep(5 * time.Millisecond)
		}
		require.False(t, c.exited(), "consumer %d exited on its own (err %v):\n%s", k, c.exitErr(), c.output())
		require.True(t, time.Now().Before(deadline), "consumer %d made no progress to %d effects in 90 s:\n%s", k, threshold, c.output())
		time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		c.kill()
		url.Store(nil)
		var rows, leased, done int
		require.NoError(t, admin.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE lease_owner IS NOT NULL AND available_at > now()), (SELECT count(*) FROM `+table("effects")+`) FROM `+in.Table()).
			Scan(&rows, &leased, &done))
		ackedAtKills += rows
		leasedAtKills += leased
		t.Logf("kill %d at %v: %d acknowledged, %d effects applied, %d stored but unprocessed (%d under a live lease of a dead consumer)",
			k+1, time.Since(started).Round(time.Millisecond), acked.Load(), done, rows, leased)
	}
	final := start("consumer-final")
	require.Eventually(t, func() bool {
		return acked.Load() == int64(events) && count(`SELECT count(*) FROM `+in.Table()) == 0
	}, 2*time.Minute, 20*time.Millisecond, "every event acknowledged and the inbox drained; consumer:\n%s", final.output())
	elapsed := time.Since(started)
	final.kill()

	type row struct {
		ID string
		N  int
	}
	collect := func(name string) map[string]int {
		rows, err := admin.Query(ctx, `SELECT event_id, count(*)::int FROM `+table(name)+` GROUP BY event_id`)
		require.NoError(t, err)
		rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
		require.NoError(t, err)
		m := make(map[string]int, len(rs))
		for _, r := range rs {
			m[r.ID] = r.N
		}
		return m
	}
	effects, runs := collect("effects"), collect("runs")
	lost, reruns := 0, 0
	var lostWhy []string
	for i, ev := range evs {
		require.NotZero(t, firstAck[i].Load(), "event %d acknowledged", i)
		if effects[ev.ID] == 0 {
			lost++
			var state, ran int
			err := admin.QueryRow(ctx, `SELECT coalesce((SELECT state FROM `+table("receiver_claims")+` WHERE key = $1), 0), (SELECT count(*) FROM `+table("runs")+` WHERE event_id = $1)`, ev.ID).Scan(&state, &ran)
			require.NoError(t, err)
			lostWhy = append(lostWhy, fmt.Sprintf("%s (receiver claim state %d, handler runs %d)", ev.ID, state, ran))
		}
		require.LessOrEqual(t, effects[ev.ID], 1, "event %s's effect applied at most once (ClaimTx in the effect's transaction)", ev.ID)
		reruns += max(0, runs[ev.ID]-1)
	}
	t.Logf("consumer crash: %d events, %d SIGKILLs, %d stored-but-unprocessed at the kills (%d leased), %d handler re-runs after kills, effects applied %d (exactly once each), lost %d, %d POSTs (%d non-2xx, %d transport errors), %v",
		events, kills, ackedAtKills, leasedAtKills, reruns, len(effects), lost, posts.Load(), non2xx.Load(), dials.Load(), elapsed.Round(time.Millisecond))
	require.Zero(t, lost, "every acknowledged event was processed; lost: %v. Claim state 1 (in progress) with no handler run is receiver bug 1 "+
		"(/work/plan/rel-bugs.md): the consumer died after claiming the event id and before the inbox row committed, so the retry was "+
		"answered 202 \"duplicate in progress\" although no row existed", lostWhy)
	require.Len(t, effects, events)
	require.Positive(t, leasedAtKills, "the kills hit events between their acknowledgement and their handler's completion")
}

// TestConsumerDiedBetweenClaimAndInboxInsert is the deterministic form of the window the
// consumer crash test hits at random: a consumer claimed an event id in the shared
// idempotency store and died before its inbox row committed (the sender saw no answer).
// The sender's retry reaches a live consumer: it must either process the event or answer
// non-2xx so the sender keeps retrying; a 2xx with nothing stored loses the event.
func TestConsumerDiedBetweenClaimAndInboxInsert(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t)
	ctx := context.Background()
	admin := newPool(t, dsn, 4)
	schema := newSchema(t, admin)
	in, err := pginbox.New(ctx, pginbox.Config{Pool: admin, Schema: schema, Logger: discard, PollInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, in.Migrate(ctx))
	claims, err := idempg.New(idempg.Config{Pool: admin, Schema: schema})
	require.NoError(t, err)
	require.NoError(t, claims.Migrate(ctx))

	processed := make(chan string, 1)
	h, err := receiver.New(receiver.Config{
		Keys: receivertest.Keyring(""), Queue: in, Store: claims, ClaimLease: time.Minute, Logger: discard,
		Handler: receiver.HandlerFunc(func(_ context.Context, ev event.Event) error {
			processed <- ev.ID
			return nil
		}),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = h.Shutdown(sctx)
	})

	ev := receivertest.NewEvent("order.created", map[string]int{"n": 1})
	// The dead consumer's claim: taken, never completed, released or stored in the inbox.
	c, err := claims.Claim(ctx, ev.ID, time.Minute)
	require.NoError(t, err)
	require.Equal(t, idempotency.Claimed, c.State)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, receivertest.NewRequest("", ev))
	if rec.Code/100 != 2 {
		t.Logf("retry answered %d (Retry-After %q): the sender keeps retrying until the claim lapses or completes", rec.Code, rec.Header().Get("Retry-After"))
		return
	}
	select {
	case id := <-processed:
		require.Equal(t, ev.ID, id)
	case <-time.After(3 * time.Second):
		var rows int
		require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM `+in.Table()+` WHERE event_id = $1`, ev.ID).Scan(&rows))
		t.Fatalf("the retry was answered %d (%s: %q) with %d inbox rows and never processed: the event is lost. "+
			"Receiver bug 1, third form (/work/plan/rel-bugs.md): an in-progress claim whose owner died before storing the "+
			"event turns the sender's retry into a 2xx; answer in-progress duplicates 409/503 + Retry-After instead",
			rec.Code, receiver.HeaderDuplicate, rec.Header().Get(receiver.HeaderDuplicate), rows)
	}
}
