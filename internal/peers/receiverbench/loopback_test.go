package receiverbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/signature"
)

const (
	secret      = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	connections = 64
	workers     = 4
)

// Invoice is the Go struct every full pipeline decodes the event data into.
type Invoice struct {
	Invoice  string `json:"invoice"`
	Customer string `json:"customer"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Paid     bool   `json:"paid"`
	Lines    []Line `json:"lines"`
	Memo     string `json:"memo"`
}

// Line is an invoice line.
type Line struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	Quantity    int    `json:"quantity"`
	UnitAmount  int64  `json:"unit_amount"`
}

// envelope is what the hand-built receiver's workers decode: the hookkit
// envelope with its data as an Invoice (the same downstream work).
type envelope struct {
	EventID   string    `json:"event_id"`
	EventType string    `json:"event_type"`
	Timestamp time.Time `json:"timestamp"`
	Data      Invoice   `json:"data"`
}

// signedBodies returns n signed requests' parts: 1 KiB envelopes, each with
// a distinct id.
type signed struct {
	body        []byte
	id, ts, sig string
}

func makeRequests(tb testing.TB, n int) []signed {
	tb.Helper()
	signer, err := signature.NewSigner(signature.SignerConfig{Keys: signature.MustKeyring(secret)})
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]signed, n)
	now := time.Now()
	for i := range n {
		inv := Invoice{
			Invoice: fmt.Sprintf("in_%08d", i), Customer: "cus_NffrFeUfNV2Hib", Amount: int64(1000 + i), Currency: "usd", Paid: true,
			Memo: "Thank you for your business. Payment received by card ending 4242.",
		}
		for j := range 5 {
			inv.Lines = append(inv.Lines, Line{ID: fmt.Sprintf("il_%08d_%d", i, j), Description: "Pro plan (monthly), seat licence", Quantity: j + 1, UnitAmount: 1999})
		}
		ev, err := event.New("invoice.paid", inv)
		if err != nil {
			tb.Fatal(err)
		}
		body, err := ev.MarshalJSON()
		if err != nil {
			tb.Fatal(err)
		}
		sig, err := signer.Sign(nil, ev.ID, now.Unix(), body)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = signed{body: body, id: ev.ID, ts: strconv.FormatInt(now.Unix(), 10), sig: string(sig)}
	}
	return out
}

// scenario is one server under test. processed, when non-nil, reports how
// many events the workers finished; the run waits for all of them.
type scenario struct {
	name  string
	build func(tb testing.TB) (h http.Handler, processed func() int64, stop func())
}

var scenarios = []scenario{
	{name: "bare", build: buildBare},
	{name: "hookkit-request-path", build: buildHookkit(false)},
	{name: "hookkit-full", build: buildHookkit(true)},
	{name: "standardwebhooks-full", build: buildStandardWebhooks(false)},
	{name: "standardwebhooks-map", build: buildStandardWebhooks(true)},
}

// buildBare only reads the body.
func buildBare(testing.TB) (http.Handler, func() int64, func()) {
	pool := sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bp := pool.Get().(*[]byte)
		buf := bytes.NewBuffer((*bp)[:0])
		_, _ = buf.ReadFrom(r.Body)
		*bp = buf.Bytes()[:0]
		pool.Put(bp)
		w.WriteHeader(http.StatusAccepted)
	}), nil, func() {}
}

// buildHookkit is receiver.Handler with a no-op handler (request path) or a
// typed handler decoding data into Invoice (full pipeline).
func buildHookkit(full bool) func(tb testing.TB) (http.Handler, func() int64, func()) {
	return func(tb testing.TB) (http.Handler, func() int64, func()) {
		var done atomic.Int64
		router := &receiver.Router{}
		if full {
			receiver.Handle(router, "invoice.paid", func(_ context.Context, _ event.Event, inv Invoice) error {
				if inv.Invoice == "" {
					return fmt.Errorf("empty invoice")
				}
				done.Add(1)
				return nil
			})
		} else {
			router.HandleFunc("invoice.paid", func(context.Context, event.Event) error { done.Add(1); return nil })
		}
		h, err := receiver.New(receiver.Config{
			Keys:    signature.MustKeyring(secret),
			Handler: router,
			Workers: workers,
			Logger:  slog.New(slog.DiscardHandler),
		})
		if err != nil {
			tb.Fatal(err)
		}
		var processed func() int64
		if full {
			processed = done.Load
		}
		return h, processed, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = h.Shutdown(ctx)
		}
	}
}

// buildStandardWebhooks is a typical hand-built receiver on the Standard
// Webhooks reference library: read, verify, mutex-guarded map dedupe by
// webhook-id, a buffered channel, 4 workers decoding into the same struct
// (or, with asMap, into a map[string]any as the typical receiver
// does).
func buildStandardWebhooks(asMap bool) func(tb testing.TB) (http.Handler, func() int64, func()) {
	return func(tb testing.TB) (http.Handler, func() int64, func()) {
		return standardWebhooks(tb, asMap)
	}
}

func standardWebhooks(tb testing.TB, asMap bool) (http.Handler, func() int64, func()) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		tb.Fatal(err)
	}
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		ch   = make(chan []byte, 1024)
		done atomic.Int64
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range ch {
				if asMap {
					var m map[string]any
					if err := json.Unmarshal(body, &m); err != nil || m["data"] == nil {
						continue
					}
					done.Add(1)
					continue
				}
				var env envelope
				if err := json.Unmarshal(body, &env); err != nil || env.Data.Invoice == "" {
					continue
				}
				done.Add(1)
			}
		}()
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if err := wh.Verify(body, r.Header); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		id := r.Header.Get("webhook-id")
		mu.Lock()
		dup := seen[id]
		seen[id] = true
		mu.Unlock()
		if dup {
			w.WriteHeader(http.StatusOK)
			return
		}
		ch <- body
		w.WriteHeader(http.StatusAccepted)
	})
	return h, done.Load, func() { close(ch); wg.Wait() }
}

// BenchmarkLoopback runs every scenario over loopback: 64 keep-alive
// connections, each request a distinct id, 1 KiB signed bodies. The
// machine is shared, so the scenarios are interleaved: b.N requests per
// scenario are sent in 20 rounds, each round visiting every scenario in
// turn, and each scenario's time is summed over its rounds. For full
// pipelines a round ends only when every event was processed.
//
// Metrics: <scenario>-req/s; <scenario>-cpu-µs/req, the process CPU time
// (server and load generator together) per request; and the two target
// ratios, path/bare and full/swh (and full/swh-map, against the peer
// decoding into a map as in the baseline).
func BenchmarkLoopback(b *testing.B) {
	const rounds = 20
	type running struct {
		scenario
		reqs      []signed
		client    *rawClient
		processed func() int64
		elapsed   time.Duration
		cpu       time.Duration
		sent      int
		failed    int64
		close     func()
	}
	var rs []*running
	for _, sc := range scenarios {
		if only := os.Getenv("RECEIVERBENCH_ONLY"); only != "" && !strings.Contains(","+only+",", ","+sc.name+",") {
			continue
		}
		h, processed, stop := sc.build(b)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		client, err := dialRaw(ln.Addr().String(), connections)
		if err != nil {
			b.Fatal(err)
		}
		r := &running{
			scenario: sc, reqs: makeRequests(b, b.N), client: client, processed: processed,
			close: func() {
				client.close()
				_ = srv.Shutdown(context.Background())
				stop()
			},
		}
		rs = append(rs, r)
	}
	defer func() {
		for _, r := range rs {
			r.close()
		}
	}()
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	for round := range rounds {
		for _, r := range rs {
			n := b.N * (round + 1) / rounds
			chunk := r.reqs[r.sent:n]
			r.sent = n
			cpu0, start := cpuTime(), time.Now()
			r.failed += r.client.send(chunk)
			if r.processed != nil {
				for r.processed() < int64(r.sent)-r.failed {
					time.Sleep(50 * time.Microsecond)
				}
			}
			r.elapsed += time.Since(start)
			r.cpu += cpuTime() - cpu0
		}
	}
	b.StopTimer()
	rate := map[string]float64{}
	for _, r := range rs {
		if r.failed > 0 {
			b.Errorf("%s: %d of %d requests failed", r.name, r.failed, b.N)
		}
		rate[r.name] = float64(b.N) / r.elapsed.Seconds()
		b.ReportMetric(rate[r.name], r.name+"-req/s")
		b.ReportMetric(float64(r.cpu.Microseconds())/float64(b.N), r.name+"-cpu-µs/req")
	}
	b.ReportMetric(rate["hookkit-request-path"]/rate["bare"], "path/bare")
	b.ReportMetric(rate["hookkit-full"]/rate["standardwebhooks-full"], "full/swh")
	b.ReportMetric(rate["hookkit-full"]/rate["standardwebhooks-map"], "full/swh-map")
}

// rawClient is a wrk-like load generator: pre-formatted HTTP/1.1 requests
// written on persistent connections, one request in flight per
// connection, responses parsed just enough (status, Content-Length). It
// keeps the generator's own CPU cost low, as wrk does, so that the
// figures reflect the servers.
type rawClient struct {
	conns []*rawConn
}

type rawConn struct {
	c   net.Conn
	br  *bufio.Reader
	buf []byte
}

func dialRaw(addr string, n int) (*rawClient, error) {
	rc := &rawClient{}
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			rc.close()
			return nil, err
		}
		rc.conns = append(rc.conns, &rawConn{c: c, br: bufio.NewReaderSize(c, 4096), buf: make([]byte, 0, 4096)})
	}
	return rc, nil
}

func (rc *rawClient) close() {
	for _, c := range rc.conns {
		_ = c.c.Close()
	}
}

// send posts reqs over all connections and returns the number of failures
// (I/O errors and non-2xx answers).
func (rc *rawClient) send(reqs []signed) int64 {
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for _, c := range rc.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(reqs)) {
					return
				}
				if status, err := c.do(&reqs[i]); err != nil || status/100 != 2 {
					failed.Add(1)
					if err != nil {
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	return failed.Load()
}

func (c *rawConn) do(r *signed) (int, error) {
	b := c.buf[:0]
	b = append(b, "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nWebhook-Id: "...)
	b = append(b, r.id...)
	b = append(b, "\r\nWebhook-Timestamp: "...)
	b = append(b, r.ts...)
	b = append(b, "\r\nWebhook-Signature: "...)
	b = append(b, r.sig...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(r.body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, r.body...)
	c.buf = b
	if _, err := c.c.Write(b); err != nil {
		return 0, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 {
		return 0, fmt.Errorf("short status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, err
	}
	length := 0
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && strings.EqualFold(string(line[:15]), "Content-Length:") {
			length, _ = strconv.Atoi(strings.TrimSpace(string(line[15:])))
		}
	}
	if _, err := c.br.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
