package pgbench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/sender/pgstore"
	"github.com/hookkit/hookkit/signature"
)

const (
	envPostgres = "HOOKKIT_TEST_POSTGRES"
	envN        = "HOOKKIT_PGBENCH_N"
	envServe    = "HOOKKIT_PGBENCH_SERVE"
	envOut      = "HOOKKIT_PGBENCH_OUT"
	envRounds   = "HOOKKIT_PGBENCH_ROUNDS"
	envBatch    = "HOOKKIT_PGBENCH_BATCH"
	concurrency = 32
	payloadSize = 1024
)

var discard = slog.New(slog.DiscardHandler)

// ---- the endpoint (child process) --------------------------------------------

// TestEndpointProcess is the webhook endpoint when the binary runs as the child
// process (HOOKKIT_PGBENCH_SERVE=1): it answers 204 to every POST, counts them,
// and serves the count on GET /count. It exits when stdin closes.
func TestEndpointProcess(t *testing.T) {
	if os.Getenv(envServe) != "1" {
		t.Skip("helper process for TestSideBySide")
	}
	var count atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, strconv.FormatInt(count.Load(), 10))
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Header.Get("webhook-signature") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		count.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("LISTEN %s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
}

type endpoint struct {
	url    string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	client *http.Client
}

func startEndpoint(t *testing.T) *endpoint {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEndpointProcess$", "-test.v")
	cmd.Env = append(os.Environ(), envServe+"=1")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	var addr string
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "LISTEN "); ok {
			addr = a
			break
		}
	}
	require.NotEmpty(t, addr, "endpoint process did not start")
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	e := &endpoint{url: "http://" + addr + "/hook", cmd: cmd, stdin: stdin, client: &http.Client{Timeout: 5 * time.Second}}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	return e
}

func (e *endpoint) count(t *testing.T) int64 {
	resp, err := e.client.Get(e.url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	n, err := strconv.ParseInt(string(b), 10, 64)
	require.NoError(t, err)
	return n
}

// waitFor polls the endpoint until it has counted target requests.
func (e *endpoint) waitFor(t *testing.T, target int64, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for e.count(t) < target {
		if time.Now().After(deadline) {
			t.Fatalf("endpoint saw %d of %d requests after %v", e.count(t), target, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// ---- measurement helpers ---------------------------------------------------------

type cpu struct {
	self, pg time.Duration
}

func cpuNow() cpu {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	self := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpu{self: self, pg: postgresCPU()}
}

// postgresCPU sums utime+stime of every process named postgres.
func postgresCPU() time.Duration {
	const ticks = 100 // USER_HZ
	var total int64
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			s = s[i+2:]
		}
		f := strings.Fields(s)
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += ut + st
	}
	return time.Duration(total) * time.Second / ticks
}

type result struct {
	name    string
	n       int
	elapsed time.Duration
	cpuSelf time.Duration
	cpuPG   time.Duration
}

func (r result) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

func (r result) perK(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", float64(d.Milliseconds())*1000/float64(r.n))
}

func measure(t *testing.T, name string, n int, run func()) result {
	t.Helper()
	before := cpuNow()
	start := time.Now()
	run()
	elapsed := time.Since(start)
	after := cpuNow()
	r := result{name: name, n: n, elapsed: elapsed, cpuSelf: after.self - before.self, cpuPG: after.pg - before.pg}
	t.Logf("%s: %d in %v = %.0f/s (CPU per 1k: self %s, postgres %s)", name, n, elapsed.Round(time.Millisecond), r.rate(), r.perK(r.cpuSelf), r.perK(r.cpuPG))
	return r
}

// ---- payloads and signing ------------------------------------------------------

type fixture struct {
	secret string
	signer *signature.Signer
	events []event.Event
	bodies [][]byte
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	secret, err := signature.GenerateSecret()
	require.NoError(t, err)
	key, err := signature.ParseKey(secret)
	require.NoError(t, err)
	ring, err := signature.NewKeyring(signature.Entry{Key: key})
	require.NoError(t, err)
	signer, err := signature.NewSigner(signature.SignerConfig{Keys: ring})
	require.NoError(t, err)
	f := &fixture{secret: secret, signer: signer}
	pad := strings.Repeat("x", payloadSize)
	for i := range n {
		ev, err := event.New("invoice.paid", map[string]any{"invoice": i, "pad": ""})
		require.NoError(t, err)
		body, err := ev.MarshalJSON()
		require.NoError(t, err)
		// Pad the data so the whole envelope is payloadSize bytes.
		ev.Data = json.RawMessage(fmt.Sprintf(`{"invoice":%d,"pad":%q}`, i, pad[:max(0, payloadSize-len(body))]))
		body, err = ev.MarshalJSON()
		require.NoError(t, err)
		f.events = append(f.events, ev)
		f.bodies = append(f.bodies, body)
	}
	return f
}

func newTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 256
	tr.MaxConnsPerHost = 0
	return tr
}

// post sends one signed webhook, as every contender does.
func post(ctx context.Context, client *http.Client, signer *signature.Signer, url, id string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := signer.SignHeader(req.Header, id, time.Now(), body); err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// ---- the contenders ----------------------------------------------------------------

func runBare(t *testing.T, ep *endpoint, f *fixture, n int) result {
	tr := newTransport()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	base := ep.count(t)
	return measure(t, "bare http.Client loop", n, func() {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range concurrency {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					if err := post(context.Background(), client, f.signer, ep.url, f.events[i].ID, f.bodies[i]); err != nil {
						t.Errorf("bare post: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		ep.waitFor(t, base+int64(n), time.Minute)
	})
}

func randomName(prefix string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func newPool(t *testing.T, dsn string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	require.NoError(t, err)
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func dropSchema(t *testing.T, pool *pgxpool.Pool, schema string) {
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
}

type hookkitResults struct {
	publish, deliver    result
	p50Local, p50Remote time.Duration
	p90Local, p90Remote time.Duration
	samples             int
}

// tapTransport reports when each attempt starts (by webhook-id).
type tapTransport struct {
	base *http.Transport
	mu   sync.Mutex
	wait map[string]chan time.Time
}

func (tt *tapTransport) expect(id string) <-chan time.Time {
	ch := make(chan time.Time, 1)
	tt.mu.Lock()
	tt.wait[id] = ch
	tt.mu.Unlock()
	return ch
}

func (tt *tapTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	now := time.Now()
	id := req.Header.Get("webhook-id")
	tt.mu.Lock()
	ch := tt.wait[id]
	delete(tt.wait, id)
	tt.mu.Unlock()
	if ch != nil {
		ch <- now
	}
	return tt.base.RoundTrip(req)
}

func runHookkit(t *testing.T, dsn string, ep *endpoint, f *fixture, n, samples int) hookkitResults {
	ctx := context.Background()
	var out hookkitResults
	pool := newPool(t, dsn, 24)
	schema := randomName("pgbench_hookkit_")
	dropSchema(t, pool, schema)
	store, err := pgstore.New(pgstore.Config{Pool: pool, Schema: schema, Logger: discard})
	require.NoError(t, err)
	defer store.Close()
	require.NoError(t, store.Migrate(ctx))

	tr := newTransport()
	defer tr.CloseIdleConnections()
	// HOOKKIT_PGBENCH_BATCH sets Config.BatchSize (default: the Sender's, min(Workers, 64) = 32).
	batchSize := 0
	if raw := os.Getenv(envBatch); raw != "" {
		batchSize, err = strconv.Atoi(raw)
		require.NoError(t, err)
	}
	s, err := sender.New(sender.Config{
		Store: store, Logger: discard, Workers: concurrency, BatchSize: batchSize, AllowPrivateNetworks: true, Transport: tr,
		MaxConnsPerHost: 256,
	})
	require.NoError(t, err)
	_, err = s.CreateEndpoint(ctx, sender.Endpoint{
		ID: "ep_bench", URL: ep.url, MaxConcurrency: 256,
		Keys: []sender.EndpointKey{{Secret: f.secret}},
	})
	require.NoError(t, err)

	// Batched publish: events/s into the outbox (the dispatcher is not running yet).
	const batch = 1000
	out.publish = measure(t, "hookkit PublishBatch (1000/batch)", n, func() {
		for start := 0; start < n; start += batch {
			end := min(start+batch, n)
			reqs := make([]sender.PublishRequest, 0, end-start)
			now := time.Now()
			for i := start; i < end; i++ {
				reqs = append(reqs, sender.PublishRequest{
					Event:       sender.StoredEvent{ID: f.events[i].ID, Type: f.events[i].Type, Payload: f.bodies[i], CreatedAt: now},
					EndpointIDs: []string{"ep_bench"}, Now: now,
				})
			}
			_, err := store.PublishBatch(ctx, reqs)
			require.NoError(t, err)
		}
	})

	// Deliveries/s from the backlog.
	base := ep.count(t)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	out.deliver = measure(t, "hookkit Sender + pgstore", n, func() {
		go func() { done <- s.Run(runCtx) }()
		ep.waitFor(t, base+int64(n), 5*time.Minute)
	})
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	require.NoError(t, s.Shutdown(sctx))
	scancel()
	cancel()
	<-done
	var delivered int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schema}.Sanitize()+`.deliveries WHERE state = 3`).Scan(&delivered))
	t.Logf("hookkit: %d of %d deliveries settled Delivered", delivered, n)

	// Publish → first attempt on an idle sender.
	tap := &tapTransport{base: newTransport(), wait: map[string]chan time.Time{}}
	defer tap.base.CloseIdleConnections()
	idle, err := sender.New(sender.Config{Store: store, Logger: discard, Workers: concurrency, HTTPClient: &http.Client{Transport: tap}})
	require.NoError(t, err)
	runCtx, cancel = context.WithCancel(ctx)
	go func() { done <- idle.Run(runCtx) }()
	// Another process publishing: its own pool and store, so only NOTIFY can wake the sender.
	otherPool := newPool(t, dsn, 2)
	other, err := pgstore.New(pgstore.Config{Pool: otherPool, Schema: schema, Logger: discard, DisableListener: true})
	require.NoError(t, err)
	defer other.Close()
	time.Sleep(200 * time.Millisecond) // let the sender go idle
	var local, remote []time.Duration
	for i := range samples {
		ev, err := event.New("invoice.paid", map[string]int{"sample": i})
		require.NoError(t, err)
		arrived := tap.expect(ev.ID)
		start := time.Now()
		if i%2 == 0 {
			_, err = idle.Publish(ctx, ev)
		} else {
			body, merr := ev.MarshalJSON()
			require.NoError(t, merr)
			now := time.Now()
			_, err = other.Publish(ctx, sender.PublishRequest{Event: sender.StoredEvent{ID: ev.ID, Type: ev.Type, Payload: body, CreatedAt: now}, EndpointIDs: []string{"ep_bench"}, Now: now})
		}
		require.NoError(t, err)
		select {
		case at := <-arrived:
			if i%2 == 0 {
				local = append(local, at.Sub(start))
			} else {
				remote = append(remote, at.Sub(start))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("sample %d not attempted within 10 s", i)
		}
		time.Sleep(20 * time.Millisecond) // idle again
	}
	sctx, scancel = context.WithTimeout(ctx, 30*time.Second)
	require.NoError(t, idle.Shutdown(sctx))
	scancel()
	cancel()
	<-done
	out.samples = samples
	out.p50Local, out.p90Local = percentiles(local)
	out.p50Remote, out.p90Remote = percentiles(remote)
	t.Logf("publish → first attempt (idle sender): same process p50 %v p90 %v; other process (NOTIFY) p50 %v p90 %v",
		out.p50Local, out.p90Local, out.p50Remote, out.p90Remote)
	return out
}

func percentiles(ds []time.Duration) (p50, p90 time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], ds[len(ds)*9/10]
}

// River: one job per delivery.

type deliveryArgs struct {
	EventID string          `json:"event_id"`
	Payload json.RawMessage `json:"payload"`
}

func (deliveryArgs) Kind() string { return "webhook_delivery" }

type deliveryWorker struct {
	river.WorkerDefaults[deliveryArgs]
	client *http.Client
	signer *signature.Signer
	url    string
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	return post(ctx, w.client, w.signer, w.url, job.Args.EventID, job.Args.Payload)
}

func runRiver(t *testing.T, dsn string, ep *endpoint, f *fixture, n int, cooldown time.Duration) result {
	ctx := context.Background()
	pool := newPool(t, dsn, 40)
	schema := randomName("pgbench_river_")
	dropSchema(t, pool, schema)
	_, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)
	driver := riverpgxv5.New(pool)
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: schema, Logger: discard})
	require.NoError(t, err)
	_, err = migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	require.NoError(t, err)

	tr := newTransport()
	defer tr.CloseIdleConnections()
	workers := river.NewWorkers()
	river.AddWorker(workers, &deliveryWorker{client: &http.Client{Transport: tr}, signer: f.signer, url: ep.url})
	cfg := &river.Config{
		Schema:  schema,
		Logger:  discard,
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: concurrency}},
		Workers: workers,
	}
	if cooldown > 0 {
		cfg.FetchCooldown = cooldown
	}
	client, err := river.NewClient(driver, cfg)
	require.NoError(t, err)
	params := make([]river.InsertManyParams, n)
	for i := range n {
		params[i] = river.InsertManyParams{Args: deliveryArgs{EventID: f.events[i].ID, Payload: f.bodies[i]}}
	}
	for start := 0; start < n; start += 1000 {
		_, err := client.InsertManyFast(ctx, params[start:min(start+1000, n)])
		require.NoError(t, err)
	}
	name := "River v0.51.2, FetchCooldown " + cmpDuration(cooldown)
	base := ep.count(t)
	r := measure(t, name, n, func() {
		require.NoError(t, client.Start(ctx))
		ep.waitFor(t, base+int64(n), 10*time.Minute)
	})
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, client.Stop(sctx))
	return r
}

// median returns the result with the median rate.
func median(rs []result) result {
	s := append([]result(nil), rs...)
	sort.Slice(s, func(i, j int) bool { return s[i].rate() < s[j].rate() })
	return s[len(s)/2]
}

func rates(rs []result) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strconv.FormatFloat(r.rate(), 'f', 0, 64)
	}
	return strings.Join(parts, ", ")
}

func cmpDuration(d time.Duration) string {
	if d == 0 {
		return "default (100ms)"
	}
	return d.String()
}

// ---- the run -------------------------------------------------------------------------

func config(t *testing.T) (dsn string, n int) {
	dsn = os.Getenv(envPostgres)
	if dsn == "" {
		t.Skip("set " + envPostgres + " (and " + envN + " for the full run), e.g. " + envPostgres +
			"=postgres://postgres@127.0.0.1:5432/test?sslmode=disable " + envN + "=20000 go test -run TestSideBySide -v ./pgbench/")
	}
	return dsn, 0
}

func TestSmoke(t *testing.T) {
	dsn, _ := config(t)
	if os.Getenv(envN) != "" {
		t.Skip("full run requested: see TestSideBySide")
	}
	ep := startEndpoint(t)
	f := newFixture(t, 300)
	runBare(t, ep, f, 300)
	h := runHookkit(t, dsn, ep, f, 300, 6)
	require.Positive(t, h.deliver.rate())
	runRiver(t, dsn, ep, newFixture(t, 300), 300, time.Millisecond)
}

func TestSideBySide(t *testing.T) {
	dsn, _ := config(t)
	raw := os.Getenv(envN)
	if raw == "" {
		t.Skip("set " + envN + " (e.g. 20000) to run the side-by-side benchmark")
	}
	n, err := strconv.Atoi(raw)
	require.NoError(t, err)
	require.Positive(t, n)
	ep := startEndpoint(t)

	if os.Getenv("HOOKKIT_PGBENCH_ONLY") == "hookkit" { // for profiling: go test -cpuprofile
		runHookkit(t, dsn, ep, newFixture(t, n), n, 10)
		return
	}
	// Rounds (HOOKKIT_PGBENCH_ROUNDS, default 1): the contenders take turns, and the
	// round with the median deliveries/s of each is reported, with every value.
	rounds := 1
	if raw := os.Getenv(envRounds); raw != "" {
		rounds, err = strconv.Atoi(raw)
		require.NoError(t, err)
		require.Positive(t, rounds)
	}
	f := newFixture(t, n)
	var bares, hooks, rivers []result
	var hs []hookkitResults
	for range rounds {
		bares = append(bares, runBare(t, ep, f, n))
		h := runHookkit(t, dsn, ep, f, n, 100)
		hs = append(hs, h)
		hooks = append(hooks, h.deliver)
		rivers = append(rivers, runRiver(t, dsn, ep, f, n, time.Millisecond))
	}
	nDefault := min(n, 2000)
	riverDefault := runRiver(t, dsn, ep, newFixture(t, nDefault), nDefault, 0)
	bare, river1 := median(bares), median(rivers)
	h := hs[0]
	mid := median(hooks)
	for _, x := range hs {
		if x.deliver == mid {
			h = x
		}
	}
	publishes := make([]result, len(hs))
	for i, x := range hs {
		publishes[i] = x.publish
	}
	h.publish = median(publishes)

	var b strings.Builder
	fmt.Fprintf(&b, "N = %d events, %d B payloads, %d concurrent deliveries, signed POSTs to a loopback endpoint (child process); PostgreSQL on loopback.\n\n", n, payloadSize, concurrency)
	fmt.Fprintf(&b, "| contender | deliveries | time | deliveries/s | vs bare | CPU/1k self | CPU/1k postgres |\n|---|---|---|---|---|---|---|\n")
	for _, r := range []result{bare, h.deliver, river1, riverDefault} {
		fmt.Fprintf(&b, "| %s | %d | %v | %.0f | %.2f× | %s | %s |\n", r.name, r.n, r.elapsed.Round(time.Millisecond), r.rate(), r.rate()/bare.rate(), r.perK(r.cpuSelf), r.perK(r.cpuPG))
	}
	if rounds > 1 {
		fmt.Fprintf(&b, "\nMedian of %d rounds (contenders taking turns); every round's deliveries/s: bare %s; hookkit %s; River 1ms %s.\n",
			rounds, rates(bares), rates(hooks), rates(rivers))
	}
	fmt.Fprintf(&b, "\n- hookkit / River (FetchCooldown 1ms): %.2f×\n", h.deliver.rate()/river1.rate())
	fmt.Fprintf(&b, "- hookkit batched publish (PublishBatch, 1000 events per call): %.0f events/s (CPU/1k: self %s, postgres %s)\n", h.publish.rate(), h.publish.perK(h.publish.cpuSelf), h.publish.perK(h.publish.cpuPG))
	fmt.Fprintf(&b, "- publish → first attempt on an idle sender (%d samples): same process p50 %v (p90 %v); other process via NOTIFY p50 %v (p90 %v)\n",
		h.samples, h.p50Local.Round(10*time.Microsecond), h.p90Local.Round(10*time.Microsecond), h.p50Remote.Round(10*time.Microsecond), h.p90Remote.Round(10*time.Microsecond))
	t.Log("\n" + b.String())
	if out := os.Getenv(envOut); out != "" {
		require.NoError(t, os.WriteFile(out, []byte(b.String()), 0o644))
	}
}
