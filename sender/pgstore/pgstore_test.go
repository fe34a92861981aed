package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/sender/pgstore"
	"github.com/hookkit/hookkit/sender/storetest"
)

var t0 = storetest.T0

func stored(id string) sender.StoredEvent {
	return sender.StoredEvent{
		ID:        id,
		Type:      "invoice.paid",
		Payload:   []byte(`{"event_id":"` + id + `","event_type":"invoice.paid","data":{}}`),
		CreatedAt: t0,
	}
}

func TestNewRefusesABadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  pgstore.Config
	}{
		{name: "a missing pool", cfg: pgstore.Config{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := pgstore.New(tt.cfg)
			require.ErrorIs(t, err, pgstore.ErrInvalidConfig)
		})
	}
}

func TestMigrationsAreEmbeddedInVersionOrder(t *testing.T) {
	t.Parallel()
	ms, err := pgstore.Migrations()
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	for i, m := range ms {
		require.Equal(t, i+1, m.Version, "versions are 1, 2, 3, … without gaps")
		require.Contains(t, m.SQL, "{{schema}}")
	}
}

func TestMigrateIsIdempotentAndSafeConcurrently(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noMigrate: true, noListener: true, maxConns: 8})
	ms, err := pgstore.Migrations()
	require.NoError(t, err)

	const instances = 5
	stores := make([]*pgstore.Store, instances)
	for i := range stores {
		s, err := pgstore.New(pgstore.Config{Pool: b.pool, Schema: b.schema, DisableListener: true, Logger: discard})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	start := make(chan struct{})
	errs := make(chan error, instances)
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- s.Migrate(context.Background())
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, b.store.Migrate(t.Context()), "a second run is a no-op")

	var n, maxV int
	require.NoError(t, b.pool.QueryRow(t.Context(),
		`SELECT count(*), max(version) FROM `+pgx.Identifier{b.schema}.Sanitize()+`.schema_migrations`).Scan(&n, &maxV))
	require.Equal(t, len(ms), n, "each migration recorded once")
	require.Equal(t, ms[len(ms)-1].Version, maxV)
}

func TestPublishTxCommitsOrRollsBackWithTheApplication(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		commit bool
	}{
		{name: "a committed transaction stores the event and its delivery", commit: true},
		{name: "a rolled-back transaction delivers nothing", commit: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{noListener: true})
			ctx := t.Context()
			s, err := sender.New(sender.Config{Store: b.store, Logger: discard})
			require.NoError(t, err)
			_, err = s.CreateEndpoint(ctx, sender.Endpoint{ID: "ep_1", URL: "https://receiver.example/hook"})
			require.NoError(t, err)
			orders := pgx.Identifier{b.schema, "orders"}.Sanitize()
			_, err = b.pool.Exec(ctx, `CREATE TABLE `+orders+` (id int PRIMARY KEY)`)
			require.NoError(t, err)

			ev, err := event.New("order.created", map[string]int{"id": 7})
			require.NoError(t, err)
			tx, err := b.pool.Begin(ctx)
			require.NoError(t, err)
			_, err = tx.Exec(ctx, `INSERT INTO `+orders+` VALUES (7)`)
			require.NoError(t, err)
			res, err := sender.PublishTx(ctx, s, tx, ev)
			require.NoError(t, err)
			require.Len(t, res.Deliveries, 1)

			// Not visible outside the transaction before it ends.
			_, err = b.store.GetEvent(ctx, ev.ID)
			require.ErrorIs(t, err, sender.ErrEventNotFound)

			if tt.commit {
				require.NoError(t, tx.Commit(ctx))
			} else {
				require.NoError(t, tx.Rollback(ctx))
			}
			var orderRows int
			require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM `+orders).Scan(&orderRows))
			claimed, err := b.store.Claim(ctx, sender.ClaimRequest{Owner: "o", Now: time.Now().Add(time.Minute), Limit: 10, Lease: time.Minute})
			require.NoError(t, err)
			_, getErr := b.store.GetEvent(ctx, ev.ID)
			if tt.commit {
				require.Equal(t, 1, orderRows)
				require.NoError(t, getErr)
				require.Len(t, claimed, 1)
				require.Equal(t, ev.ID, claimed[0].Event.ID)
			} else {
				require.Equal(t, 0, orderRows)
				require.ErrorIs(t, getErr, sender.ErrEventNotFound)
				require.Empty(t, claimed)
			}
		})
	}
}

func TestFailedPublishTxLeavesTheTransactionUsable(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noListener: true})
	ctx := t.Context()
	require.NoError(t, b.store.CreateEndpoint(ctx, storetest.Endpoint("ep_1")))
	_, err := b.store.Publish(ctx, sender.PublishRequest{Event: stored("evt_1"), EndpointIDs: []string{"ep_1"}, Now: t0})
	require.NoError(t, err)

	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	conflicting := stored("evt_1")
	conflicting.Payload = []byte(`{"other":true}`)
	_, err = b.store.PublishTx(ctx, tx, sender.PublishRequest{Event: conflicting, EndpointIDs: []string{"ep_1"}, Now: t0})
	require.ErrorIs(t, err, sender.ErrEventConflict)
	_, err = b.store.PublishTx(ctx, tx, sender.PublishRequest{Event: stored("evt_2"), EndpointIDs: []string{"ep_unknown"}, Now: t0})
	require.ErrorIs(t, err, sender.ErrEndpointNotFound)

	res, err := b.store.PublishTx(ctx, tx, sender.PublishRequest{Event: stored("evt_3"), EndpointIDs: []string{"ep_1"}, Now: t0})
	require.NoError(t, err, "the transaction is still usable")
	require.Len(t, res.Deliveries, 1)
	require.NoError(t, tx.Commit(ctx))
	_, err = b.store.GetEvent(ctx, "evt_3")
	require.NoError(t, err)
	_, err = b.store.GetEvent(ctx, "evt_2")
	require.ErrorIs(t, err, sender.ErrEventNotFound)
}

func TestPublishBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noListener: true})
	ctx := t.Context()
	require.NoError(t, b.store.CreateEndpoint(ctx, storetest.Endpoint("ep_a")))
	require.NoError(t, b.store.CreateEndpoint(ctx, storetest.Endpoint("ep_b")))

	const n = 500
	reqs := make([]sender.PublishRequest, 0, n+1)
	for i := range n {
		ev := stored(fmt.Sprintf("evt_%04d", i))
		if i == 3 {
			ev.IdempotencyKey = "key-3"
		}
		reqs = append(reqs, sender.PublishRequest{Event: ev, EndpointIDs: []string{"ep_a", "ep_b", "ep_a"}, Now: t0})
	}
	again := stored("evt_again")
	again.IdempotencyKey = "key-3"
	reqs = append(reqs, sender.PublishRequest{Event: again, EndpointIDs: []string{"ep_a"}, Now: t0})

	res, err := b.store.PublishBatch(ctx, reqs)
	require.NoError(t, err)
	require.Len(t, res, n+1)
	var last sender.DeliveryID
	for i := range n {
		require.Equal(t, reqs[i].Event.ID, res[i].EventID)
		require.Len(t, res[i].Deliveries, 2, "duplicate endpoint ids count once")
		for _, d := range res[i].Deliveries {
			require.Greater(t, d.ID, last, "ids increase in request order")
			last = d.ID
		}
	}
	require.True(t, res[n].Duplicate, "a key repeated in the batch is a duplicate")
	require.Equal(t, res[3].Deliveries, res[n].Deliveries)
	_, err = b.store.GetEvent(ctx, "evt_again")
	require.ErrorIs(t, err, sender.ErrEventNotFound)

	// A conflict anywhere stores nothing of the batch.
	bad := []sender.PublishRequest{
		{Event: stored("evt_new"), EndpointIDs: []string{"ep_a"}, Now: t0},
		{Event: sender.StoredEvent{ID: "evt_0001", Type: "invoice.paid", Payload: []byte(`{}`)}, EndpointIDs: []string{"ep_a"}, Now: t0},
	}
	_, err = b.store.PublishBatch(ctx, bad)
	require.ErrorIs(t, err, sender.ErrEventConflict)
	_, err = b.store.GetEvent(ctx, "evt_new")
	require.ErrorIs(t, err, sender.ErrEventNotFound)
}

func TestNotifyWakesAnIdleStoreInAnotherProcess(t *testing.T) {
	t.Parallel()
	// Polling is slowed down to a minute: only NOTIFY can wake the listener in time.
	a := setup(t, setupOpts{pollInterval: time.Minute})
	other := newPool(t, a.dsn, 2)
	t.Cleanup(other.Close)
	b, err := pgstore.New(pgstore.Config{Pool: other, Schema: a.schema, DisableListener: true, Logger: discard})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	ctx := t.Context()
	require.NoError(t, b.CreateEndpoint(ctx, storetest.Endpoint("ep_1")))
	waitListening(t, a.store)

	var latencies []time.Duration
	for i := range 5 {
		wake := a.store.Notify()
		_, err := b.Publish(ctx, sender.PublishRequest{Event: stored(fmt.Sprintf("evt_%d", i)), EndpointIDs: []string{"ep_1"}, Now: t0})
		require.NoError(t, err)
		published := time.Now()
		select {
		case <-wake:
			latencies = append(latencies, time.Since(published))
		case <-time.After(10 * time.Second):
			t.Fatal("no wake-up within 10 s although polling is a minute away: NOTIFY did not reach the listener")
		}
	}
	t.Logf("publish (other pool) → Notify latencies: %v", latencies)
}

func TestPublishTxNotifiesOnCommitOnly(t *testing.T) {
	t.Parallel()
	a := setup(t, setupOpts{pollInterval: time.Minute})
	ctx := t.Context()
	require.NoError(t, a.store.CreateEndpoint(ctx, storetest.Endpoint("ep_1")))
	waitListening(t, a.store)

	wake := a.store.Notify()
	tx, err := a.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = a.store.PublishTx(ctx, tx, sender.PublishRequest{Event: stored("evt_1"), EndpointIDs: []string{"ep_1"}, Now: t0})
	require.NoError(t, err)
	select {
	case <-wake:
		t.Fatal("woken before the commit")
	case <-time.After(100 * time.Millisecond):
	}
	require.NoError(t, tx.Commit(ctx))
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up after the commit")
	}
}

// waitListening waits until the store's listener has connected: it sends
// notifications until one wakes the store (its LISTEN also signals once when
// it succeeds). Tests that use it set a long PollInterval.
func waitListening(t *testing.T, s *pgstore.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		wake := s.Notify()
		if _, err := s.Pool().Exec(t.Context(), `SELECT pg_notify($1, '')`, s.Channel()); err != nil {
			// A connection killed by a test: the pool replaces it on the next try.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		select {
		case <-wake:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("listener did not connect within 10 s")
}

func TestTerminatedBackendsRecover(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	cfgDSN := dsn
	app := "hookkit_fault_" + strings.ReplaceAll(randomSchema(), "hookkit_test_", "")
	if strings.Contains(cfgDSN, "?") {
		cfgDSN += "&application_name=" + app
	} else {
		cfgDSN += "?application_name=" + app
	}
	b := setupWithDSN(t, cfgDSN, setupOpts{pollInterval: time.Minute, maxConns: 4})
	ctx := t.Context()
	require.NoError(t, b.store.CreateEndpoint(ctx, storetest.Endpoint("ep_1")))
	waitListening(t, b.store)
	// Hold a few connections busy so that the pool has several to lose.
	for i := range 3 {
		_, err := b.store.Publish(ctx, sender.PublishRequest{Event: stored(fmt.Sprintf("evt_%d", i)), EndpointIDs: []string{"ep_1"}, Now: t0})
		require.NoError(t, err)
	}

	killer := newPool(t, dsn, 1)
	t.Cleanup(killer.Close)
	var killed int
	require.NoError(t, killer.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed))
	require.Positive(t, killed)
	t.Logf("terminated %d backends", killed)

	// Calls may fail while the pool finds out; they recover without intervention.
	var failures int
	var recovered bool
	for range 20 {
		_, err := b.store.Publish(ctx, sender.PublishRequest{Event: stored(fmt.Sprintf("evt_after_%d", failures)), EndpointIDs: []string{"ep_1"}, Now: t0})
		if err == nil {
			recovered = true
			break
		}
		failures++
		t.Logf("call after termination failed (expected while reconnecting): %v", err)
	}
	require.True(t, recovered, "the store recovers after its connections are terminated")

	// The listener reconnects: a NOTIFY from elsewhere wakes it again (polling is a minute away).
	waitListening(t, b.store)
	wake := b.store.Notify()
	_, err := killer.Exec(ctx, `SELECT pg_notify($1, '')`, b.store.Channel())
	require.NoError(t, err)
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("the listener did not reconnect")
	}
	// Nothing published before the termination was lost.
	claimed, err := b.store.Claim(ctx, sender.ClaimRequest{Owner: "o", Now: t0.Add(time.Second), Limit: 100, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, claimed, 4)
}

func TestClaimIsAnIndexScan(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noListener: true, maxConns: 2})
	ctx := t.Context()
	require.NoError(t, b.store.CreateEndpoint(ctx, storetest.Endpoint("ep_1")))
	ordered := storetest.Endpoint("ep_fifo")
	ordered.Ordered = true
	require.NoError(t, b.store.CreateEndpoint(ctx, ordered))
	s := pgx.Identifier{b.schema}.Sanitize()
	// 50k deliveries as the store keeps them: 45k delivered; of the rest, ep_1 has
	// ~4,450 pending (some not yet due) and 45 in flight, and the ordered ep_fifo
	// has its head in flight and 499 queued behind it (state 6).
	for _, stmt := range []string{
		`INSERT INTO ` + s + `.events (id, type, payload, created_at)
			SELECT 'evt_'||g, 'invoice.paid', '\x7b7d'::bytea, $1 FROM generate_series(1, 50000) g`,
		`INSERT INTO ` + s + `.deliveries (event_id, event_type, endpoint_id, state, next_attempt_at, created_at, updated_at,
				lease_owner, lease_expires_at)
			SELECT 'evt_'||g, 'invoice.paid', CASE WHEN g % 10 = 0 THEN 'ep_fifo' ELSE 'ep_1' END,
				CASE WHEN g <= 45000 THEN 3 WHEN g = 45010 THEN 2 WHEN g % 10 = 0 THEN 6 WHEN g % 100 = 5 THEN 2 ELSE 1 END,
				$1::timestamptz + (CASE WHEN g % 10 = 0 THEN 0 ELSE g % 600 END) * interval '1 second', $1, $1,
				CASE WHEN g = 45010 OR (g > 45000 AND g % 100 = 5) THEN 'other' END,
				CASE WHEN g = 45010 OR (g > 45000 AND g % 100 = 5) THEN $1::timestamptz + interval '1 hour' END
			FROM generate_series(1, 50000) g`,
	} {
		_, err := b.pool.Exec(ctx, stmt, t0)
		require.NoError(t, err)
	}
	_, err := b.pool.Exec(ctx, `ANALYZE `+s+`.events; ANALYZE `+s+`.deliveries; ANALYZE `+s+`.endpoints`)
	require.NoError(t, err)

	req := sender.ClaimRequest{Owner: "o", Now: t0.Add(5 * time.Minute), Limit: 32, Lease: time.Minute}
	plan, err := b.store.ExplainClaim(ctx, req, true)
	require.NoError(t, err)
	t.Logf("claim plan (50k deliveries):\n%s", plan)
	require.Contains(t, plan, "deliveries_pending_idx", "pending deliveries are found through the partial index")
	require.Contains(t, plan, "deliveries_in_flight_idx", "expired leases are found through the partial index")
	require.NotContains(t, plan, "Seq Scan on deliveries")
	require.Contains(t, plan, "deliveries_endpoint_state_idx", "the FIFO check reads the oldest unsettled delivery from the (endpoint, state) index")

	claimed, err := b.store.Claim(ctx, req)
	require.NoError(t, err)
	require.Len(t, claimed, 32)
}

func TestNextDueAndPruneOnBigTablesUseIndexes(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noListener: true, maxConns: 2})
	ctx := t.Context()
	_, ok, err := b.store.NextDue(ctx)
	require.NoError(t, err)
	require.False(t, ok)
	_, err = b.store.Prune(ctx, sender.PruneRequest{DeliveredBefore: t0, DeadBefore: t0, AttemptsBefore: t0, IdempotencyBefore: t0})
	require.NoError(t, err)
}

func TestErrorsAreTyped(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noListener: true})
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"claiming without an owner is an invalid request", func() error {
			_, err := b.store.Claim(ctx, sender.ClaimRequest{Now: t0, Limit: 1, Lease: time.Second})
			return err
		}, sender.ErrInvalidRequest},
		{"publishing without Now is an invalid request", func() error {
			_, err := b.store.Publish(ctx, sender.PublishRequest{Event: stored("e")})
			return err
		}, sender.ErrInvalidRequest},
		{"settling a delivery never claimed loses the lease", func() error {
			return b.store.Settle(ctx, sender.SettleRequest{Owner: "o", Now: t0, Settlements: []sender.Settlement{{DeliveryID: 99, Kind: sender.SettleDelivered}}})
		}, sender.ErrLeaseLost},
		{"a replay without selector is an invalid request", func() error {
			_, err := b.store.Replay(ctx, sender.ReplayRequest{Now: t0})
			return err
		}, sender.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.ErrorIs(t, err, tt.want)
			var lost *sender.LeaseLostError
			if errors.Is(tt.want, sender.ErrLeaseLost) {
				require.ErrorAs(t, err, &lost)
			}
		})
	}
}

// The queue fills faster than autovacuum analyzes it: the claim must still read
// only the first due deliveries in index order, not all of them.
func TestClaimReadsOnlyTheHeadOfTheQueueWithoutStatistics(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noListener: true, maxConns: 2})
	ctx := t.Context()
	require.NoError(t, b.store.CreateEndpoint(ctx, storetest.Endpoint("ep_1")))
	publishN(t, b, 5000)
	req := sender.ClaimRequest{Owner: "o", Now: t0.Add(time.Second), Limit: 32, Lease: time.Minute}
	plan, err := b.store.ExplainClaim(ctx, req, true)
	require.NoError(t, err)
	var line string
	for l := range strings.SplitSeq(plan, "\n") {
		if strings.Contains(l, "deliveries_pending_idx") {
			line = l
		}
	}
	require.NotEmpty(t, line, "the claim reads the pending index:\n%s", plan)
	_, actual, ok := strings.Cut(line, "actual time=")
	require.True(t, ok, line)
	var start, end float64
	var rows, loops int
	_, err = fmt.Sscanf(actual, "%f..%f rows=%d loops=%d", &start, &end, &rows, &loops)
	require.NoError(t, err, line)
	require.LessOrEqual(t, rows, 2*req.Limit, "the claim stops at the limit instead of reading all 5000 due deliveries:\n%s", plan)
	require.NotContains(t, plan, "Bitmap Heap Scan on deliveries")
}

func TestHealthWritesOfABusyEndpointAreCoalesced(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noListener: true})
	ctx := t.Context()
	require.NoError(t, b.store.CreateEndpoint(ctx, storetest.Endpoint("ep_1")))
	for i := range 4 {
		_, err := b.store.Publish(ctx, sender.PublishRequest{Event: stored(fmt.Sprintf("evt_%d", i)), EndpointIDs: []string{"ep_1"}, Now: t0})
		require.NoError(t, err)
	}
	cs, err := b.store.Claim(ctx, sender.ClaimRequest{Owner: "w", Now: t0, Limit: 4, Lease: time.Hour})
	require.NoError(t, err)
	require.Len(t, cs, 4)
	ok := func(i int, at time.Time) {
		t.Helper()
		require.NoError(t, b.store.Settle(ctx, sender.SettleRequest{Owner: "w", Now: at, Settlements: []sender.Settlement{{
			DeliveryID: cs[i].Delivery.ID, Kind: sender.SettleDelivered, Health: sender.HealthSucceeded,
			Attempt: &sender.Attempt{StartedAt: at, StatusCode: 200, Outcome: "delivered"},
		}}}))
	}
	get := func() sender.Endpoint {
		ep, err := b.store.GetEndpoint(ctx, "ep_1")
		require.NoError(t, err)
		return ep
	}

	ok(0, t0.Add(time.Second))
	require.True(t, get().LastSuccessAt.Equal(t0.Add(time.Second)), "the first success is written")
	ok(1, t0.Add(time.Second+100*time.Millisecond))
	require.True(t, get().LastSuccessAt.Equal(t0.Add(time.Second)), "a success within HealthGranularity leaves the row alone")
	ok(2, t0.Add(time.Second+400*time.Millisecond))
	require.True(t, get().LastSuccessAt.Equal(t0.Add(time.Second+400*time.Millisecond)), "a later one is written")

	// A failure is always written at once.
	require.NoError(t, b.store.Settle(ctx, sender.SettleRequest{Owner: "w", Now: t0.Add(time.Second + 450*time.Millisecond), Settlements: []sender.Settlement{{
		DeliveryID: cs[3].Delivery.ID, Kind: sender.SettleRetry, NextAttemptAt: t0.Add(time.Hour), Health: sender.HealthFailed,
		Attempt: &sender.Attempt{StartedAt: t0, StatusCode: 500, Error: "500", Outcome: "retry"},
	}}}))
	ep := get()
	require.True(t, ep.FailingSince.Equal(t0.Add(time.Second+450*time.Millisecond)))
	require.True(t, ep.LastFailureAt.Equal(t0.Add(time.Second+450*time.Millisecond)))
}

func TestUnusualSchemaNamesWork(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	pool := newPool(t, dsn, 3)
	t.Cleanup(pool.Close)
	// Quoting, mixed case, spaces and a name long enough to truncate the channel name mid-rune.
	schema := `Hook"Kit ` + strings.Repeat("é", 20) + randomSchema()[len("hookkit_test_"):]
	schema = schema[:min(len(schema), 63)]
	st, err := pgstore.New(pgstore.Config{Pool: pool, Schema: schema, Logger: discard, PollInterval: time.Minute})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = st.Close()
		_, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	ctx := t.Context()
	require.NoError(t, st.Migrate(ctx))
	require.NoError(t, st.CreateEndpoint(ctx, storetest.Endpoint("ep_1")))
	waitListening(t, st)
	wake := st.Notify()
	_, err = pool.Exec(ctx, `SELECT pg_notify($1, '')`, st.Channel())
	require.NoError(t, err)
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up on the schema's channel")
	}
	res, err := st.Publish(ctx, sender.PublishRequest{Event: stored("evt_1"), EndpointIDs: []string{"ep_1"}, Now: t0})
	require.NoError(t, err)
	require.Len(t, res.Deliveries, 1)
}

// A disabled endpoint's backlog is parked outside the claim's index: claims for
// the other endpoints do not walk it, and enabling the endpoint resumes it.
func TestADisabledEndpointsBacklogCostsClaimsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noListener: true, maxConns: 2})
	ctx := t.Context()
	require.NoError(t, b.store.CreateEndpoint(ctx, storetest.Endpoint("ep_off")))
	require.NoError(t, b.store.CreateEndpoint(ctx, storetest.Endpoint("ep_on")))
	var reqs []sender.PublishRequest
	for i := range 2000 {
		reqs = append(reqs, sender.PublishRequest{Event: stored(fmt.Sprintf("evt_off_%d", i)), EndpointIDs: []string{"ep_off"}, Now: t0})
	}
	for i := range 10 {
		reqs = append(reqs, sender.PublishRequest{Event: stored(fmt.Sprintf("evt_on_%d", i)), EndpointIDs: []string{"ep_on"}, Now: t0.Add(time.Second)})
	}
	_, err := b.store.PublishBatch(ctx, reqs)
	require.NoError(t, err)
	off, err := b.store.GetEndpoint(ctx, "ep_off")
	require.NoError(t, err)
	off.Disabled, off.DisabledReason, off.DisabledAt = true, "410 Gone", t0
	require.NoError(t, b.store.UpdateEndpoint(ctx, off))

	req := sender.ClaimRequest{Owner: "o", Now: t0.Add(time.Minute), Limit: 32, Lease: time.Minute}
	plan, err := b.store.ExplainClaim(ctx, req, true)
	require.NoError(t, err)
	for l := range strings.SplitSeq(plan, "\n") {
		if strings.Contains(l, "deliveries_pending_idx") {
			_, actual, _ := strings.Cut(l, "actual time=")
			var start, end float64
			var rows, loops int
			_, err := fmt.Sscanf(actual, "%f..%f rows=%d loops=%d", &start, &end, &rows, &loops)
			require.NoError(t, err, l)
			require.LessOrEqual(t, rows, 10, "the paused backlog is not in the pending index:\n%s", plan)
		}
	}
	pending, err := b.store.ListDeliveries(ctx, sender.DeliveryFilter{EndpointID: "ep_off", State: sender.StatePending, Limit: 5})
	require.NoError(t, err)
	require.Len(t, pending, 5, "paused deliveries read as pending")
	require.Equal(t, sender.StatePending, pending[0].State)

	cs, err := b.store.Claim(ctx, req)
	require.NoError(t, err)
	require.Len(t, cs, 10)
	for _, c := range cs {
		require.Equal(t, "ep_on", c.Endpoint.ID)
	}

	off.Disabled, off.DisabledReason, off.DisabledAt = false, "", time.Time{}
	require.NoError(t, b.store.UpdateEndpoint(ctx, off))
	cs, err = b.store.Claim(ctx, req)
	require.NoError(t, err)
	require.Len(t, cs, 32, "enabling the endpoint resumes its backlog")
	require.Equal(t, "ep_off", cs[0].Endpoint.ID)
}

func TestSettleDisablingAnEndpointParksItsBacklog(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noListener: true, maxConns: 2})
	ctx := t.Context()
	require.NoError(t, b.store.CreateEndpoint(ctx, storetest.Endpoint("ep_gone")))
	for i := range 5 {
		_, err := b.store.Publish(ctx, sender.PublishRequest{Event: stored(fmt.Sprintf("evt_%d", i)), EndpointIDs: []string{"ep_gone"}, Now: t0})
		require.NoError(t, err)
	}
	cs, err := b.store.Claim(ctx, sender.ClaimRequest{Owner: "o", Now: t0, Limit: 2, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, cs, 2)
	require.NoError(t, b.store.Settle(ctx, sender.SettleRequest{Owner: "o", Now: t0, Settlements: []sender.Settlement{
		{DeliveryID: cs[0].Delivery.ID, Kind: sender.SettleDead, Error: "410 Gone", DisableEndpoint: "endpoint answered 410 Gone",
			Attempt: &sender.Attempt{StartedAt: t0, StatusCode: 410, Error: "410", Outcome: "gone"}},
		{DeliveryID: cs[1].Delivery.ID, Kind: sender.SettleRetry, NextAttemptAt: t0, Error: "x"},
	}}))
	var paused int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{b.schema}.Sanitize()+`.deliveries WHERE state = 5`).Scan(&paused))
	require.Equal(t, 4, paused, "the three waiting deliveries and the retried one are parked")
	left, err := b.store.Claim(ctx, sender.ClaimRequest{Owner: "o", Now: t0.Add(time.Hour), Limit: 10, Lease: time.Minute})
	require.NoError(t, err)
	require.Empty(t, left)
	pending, err := b.store.ListDeliveries(ctx, sender.DeliveryFilter{State: sender.StatePending})
	require.NoError(t, err)
	require.Len(t, pending, 4)
}

// An ordered endpoint's queue waits outside the claim's index: claims do not
// walk it while its head is in flight, and it is delivered in order.
func TestAnOrderedEndpointsQueueCostsClaimsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noListener: true, maxConns: 2})
	ctx := t.Context()
	fifo := storetest.Endpoint("ep_fifo")
	fifo.Ordered = true
	require.NoError(t, b.store.CreateEndpoint(ctx, fifo))
	require.NoError(t, b.store.CreateEndpoint(ctx, storetest.Endpoint("ep_other")))
	var reqs []sender.PublishRequest
	for i := range 1000 {
		reqs = append(reqs, sender.PublishRequest{Event: stored(fmt.Sprintf("evt_fifo_%04d", i)), EndpointIDs: []string{"ep_fifo"}, Now: t0})
	}
	res, err := b.store.PublishBatch(ctx, reqs)
	require.NoError(t, err)
	for i := range 5 {
		_, err := b.store.Publish(ctx, sender.PublishRequest{Event: stored(fmt.Sprintf("evt_other_%d", i)), EndpointIDs: []string{"ep_other"}, Now: t0.Add(time.Second)})
		require.NoError(t, err)
	}
	req := sender.ClaimRequest{Owner: "o", Now: t0.Add(time.Minute), Limit: 32, Lease: time.Minute}
	cs, err := b.store.Claim(ctx, req)
	require.NoError(t, err)
	require.Len(t, cs, 6, "the FIFO head and the other endpoint's deliveries")
	require.Equal(t, res[0].Deliveries[0].ID, cs[0].Delivery.ID)

	plan, err := b.store.ExplainClaim(ctx, req, true)
	require.NoError(t, err)
	for l := range strings.SplitSeq(plan, "\n") {
		if strings.Contains(l, "deliveries_pending_idx") {
			_, actual, _ := strings.Cut(l, "actual time=")
			var start, end float64
			var rows, loops int
			_, err := fmt.Sscanf(actual, "%f..%f rows=%d loops=%d", &start, &end, &rows, &loops)
			require.NoError(t, err, l)
			require.LessOrEqual(t, rows, 2, "the queue behind the in-flight head is not in the pending index:\n%s", plan)
		}
	}
	pending, err := b.store.ListDeliveries(ctx, sender.DeliveryFilter{EndpointID: "ep_fifo", State: sender.StatePending, Limit: 1000})
	require.NoError(t, err)
	require.Len(t, pending, 999, "queued deliveries read as pending")

	// Settling each head releases the next, in publish order.
	head := cs[0]
	for i := 1; i < 20; i++ {
		require.NoError(t, b.store.Settle(ctx, sender.SettleRequest{Owner: "o", Now: t0.Add(time.Minute), Settlements: []sender.Settlement{
			{DeliveryID: head.Delivery.ID, Kind: sender.SettleDelivered},
		}}))
		next, err := b.store.Claim(ctx, sender.ClaimRequest{Owner: "o", Now: t0.Add(time.Minute), Limit: 32, Lease: time.Minute})
		require.NoError(t, err)
		require.Len(t, next, 1)
		require.Equal(t, res[i].Deliveries[0].ID, next[0].Delivery.ID)
		head = next[0]
	}

	// Turning Ordered off releases the whole queue.
	ep, err := b.store.GetEndpoint(ctx, "ep_fifo")
	require.NoError(t, err)
	ep.Ordered = false
	require.NoError(t, b.store.UpdateEndpoint(ctx, ep))
	rest, err := b.store.Claim(ctx, sender.ClaimRequest{Owner: "o", Now: t0.Add(time.Minute), Limit: 100, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, rest, 100)
}

func TestCoalescedSettlesOfOneDeliveryApplyOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noListener: true})
	ctx := t.Context()
	require.NoError(t, b.store.CreateEndpoint(ctx, storetest.Endpoint("ep_1")))
	publishN(t, b, 64)
	cs, err := b.store.Claim(ctx, sender.ClaimRequest{Owner: "o", Now: t0.Add(time.Second), Limit: 64, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, cs, 64)

	// Every delivery is settled twice, concurrently: one call wins, the other loses the lease.
	errs := make(chan error, 2*len(cs))
	var wg sync.WaitGroup
	for _, c := range cs {
		for range 2 {
			wg.Go(func() {
				errs <- b.store.Settle(ctx, sender.SettleRequest{Owner: "o", Now: t0.Add(time.Second), Settlements: []sender.Settlement{{
					DeliveryID: c.Delivery.ID, Kind: sender.SettleDelivered,
					Attempt: &sender.Attempt{StartedAt: t0, StatusCode: 200, Outcome: "delivered"},
				}}})
			})
		}
	}
	wg.Wait()
	close(errs)
	var ok, lost int
	for err := range errs {
		if err == nil {
			ok++
			continue
		}
		require.ErrorIs(t, err, sender.ErrLeaseLost)
		lost++
	}
	require.Equal(t, len(cs), ok)
	require.Equal(t, len(cs), lost)
	attempts, err := b.store.ListAttempts(ctx, sender.AttemptFilter{Limit: 1000})
	require.NoError(t, err)
	require.Len(t, attempts, len(cs), "one attempt logged per delivery")
}

func TestCloseDoesNotStrandSettles(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noListener: true})
	ctx := t.Context()
	require.NoError(t, b.store.CreateEndpoint(ctx, storetest.Endpoint("ep_1")))
	publishN(t, b, 50)
	cs, err := b.store.Claim(ctx, sender.ClaimRequest{Owner: "o", Now: t0.Add(time.Second), Limit: 50, Lease: time.Minute})
	require.NoError(t, err)
	errs := make(chan error, len(cs))
	for _, c := range cs {
		go func() {
			errs <- b.store.Settle(ctx, sender.SettleRequest{Owner: "o", Now: t0.Add(time.Second), Settlements: []sender.Settlement{{DeliveryID: c.Delivery.ID, Kind: sender.SettleRelease}}})
		}()
	}
	require.NoError(t, b.store.Close())
	for range cs {
		select {
		case err := <-errs:
			if err != nil {
				require.ErrorIs(t, err, pgstore.ErrClosed)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a Settle call was stranded by Close")
		}
	}
}
