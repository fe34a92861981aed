// Command redis-consumer runs two replicas of a webhook consumer, on two
// ports, sharing one Redis idempotency store: a duplicate delivered to both
// replicas at once (a sender retry landing on another instance behind the load
// balancer) is processed exactly once.
//
//	go run ./examples/redis-consumer -redis 'redis://127.0.0.1:6379/0'
//	HOOKKIT_TEST_REDIS='redis://127.0.0.1:6379/0' go run ./examples/redis-consumer
//
// It sends its demo traffic, prints what each replica did, deletes its keys
// from Redis and exits.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/idempotency/redisstore"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/signature"
)

type config struct {
	RedisURL string // redis://host:port/db
	Prefix   string // key prefix of this run; its keys are deleted at the end
}

func main() {
	cfg := config{RedisURL: os.Getenv("HOOKKIT_TEST_REDIS")}
	flag.StringVar(&cfg.RedisURL, "redis", cfg.RedisURL, "Redis URL, e.g. redis://127.0.0.1:6379/0 (default $HOOKKIT_TEST_REDIS)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "redis-consumer:", err)
		os.Exit(1)
	}
}

type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) say(who, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%-10s %s\n", who, fmt.Sprintf(format, args...))
}

// processed counts how often each event was processed, over both replicas.
type processed struct {
	mu sync.Mutex
	n  map[string]int
}

func (p *processed) add(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n[id]++
}

func (p *processed) count(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[id]
}

// newReplica is the part you would put in your own service: every replica
// gets the same Redis store (same client address and key prefix).
func newReplica(name string, keys *signature.Keyring, store *redisstore.Store, p *printer, done *processed) (*receiver.Handler, error) {
	router := &receiver.Router{}
	router.HandleFunc("order.*", func(ctx context.Context, ev event.Event) error {
		select { // the work takes a moment, so the duplicate arrives while it runs
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		p.say(name, "processed %s %s", ev.Type, ev.ID)
		return nil
	})
	return receiver.New(receiver.Config{
		Keys:    keys,
		Handler: router,
		Store:   store, // shared by the replicas: Claim is one atomic Lua script in Redis
		Logger:  slog.New(slog.DiscardHandler),
		// Processed is called once the event is recorded as done in Redis.
		Observer: receiver.Observer{Processed: func(_ context.Context, info receiver.Info) { done.add(info.ID) }},
	})
}

func run(ctx context.Context, cfg config, stdout io.Writer) error {
	if cfg.RedisURL == "" {
		return errors.New("no Redis: pass -redis redis://127.0.0.1:6379/0 or set HOOKKIT_TEST_REDIS")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "hookkit:example:redis-consumer:" + uuid.NewString() + ":"
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("-redis: %w", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("connecting to Redis at %s: %w", opts.Addr, err)
	}
	defer cleanup(rdb, cfg.Prefix)
	store, err := redisstore.New(redisstore.Config{Client: rdb, Prefix: cfg.Prefix})
	if err != nil {
		return err
	}

	p := &printer{w: stdout}
	done := &processed{n: map[string]int{}}
	secret, err := signature.GenerateSecret()
	if err != nil {
		return err
	}
	keys := signature.MustKeyring(secret)

	// Two replicas, two ports: what two instances behind a load balancer are.
	urls := map[string]string{}
	for _, name := range []string{"replica-a", "replica-b"} {
		h, err := newReplica(name, keys, store, p, done)
		if err != nil {
			return err
		}
		defer func() { _ = h.Shutdown(context.Background()) }()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		defer func() {
			_ = srv.Close()
			<-served
		}()
		urls[name] = "http://" + ln.Addr().String() + "/webhooks"
		p.say(name, "listening on %s, dedupe in Redis %s under %q", urls[name], opts.Addr, cfg.Prefix)
	}

	signer, err := signature.NewSigner(signature.SignerConfig{Keys: keys})
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	post := func(to string, ev event.Event) (string, error) {
		body, err := ev.MarshalJSON()
		if err != nil {
			return "", err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, urls[to], bytes.NewReader(body))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/json")
		if err := signer.SignHeader(req.Header, ev.ID, time.Now(), body); err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		answer := resp.Status
		if resp.Header.Get(receiver.HeaderDuplicate) == "true" {
			answer += " (duplicate: " + map[int]string{200: "already processed", 409: "being processed by a replica; the sender retries later"}[resp.StatusCode] + ")"
		}
		p.say("sender", "%s %s → %s: %s", ev.Type, ev.ID, to, answer)
		return answer, nil
	}

	// 1. The same event to both replicas at the same moment.
	first, err := event.New("order.created", map[string]any{"order_id": "ord_1001"})
	if err != nil {
		return err
	}
	p.say("sender", "delivering %s to both replicas at once", first.ID)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	start := make(chan struct{})
	for i, to := range []string{"replica-a", "replica-b"} {
		wg.Go(func() {
			<-start
			_, errs[i] = post(to, first)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	// 2. Once processed (and recorded), a late redelivery to either replica is a duplicate.
	if err := waitFor(ctx, func() bool { return done.count(first.ID) > 0 }); err != nil {
		return err
	}
	if _, err := post("replica-b", first); err != nil {
		return err
	}

	// 3. A different event is processed normally, by whichever replica gets it.
	second, err := event.New("order.paid", map[string]any{"order_id": "ord_1001"})
	if err != nil {
		return err
	}
	if _, err := post("replica-b", second); err != nil {
		return err
	}
	if err := waitFor(ctx, func() bool { return done.count(second.ID) > 0 }); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "\nsummary: %s processed %d time(s) after 3 deliveries to 2 replicas; %s processed %d time(s)\n",
		first.ID, done.count(first.ID), second.ID, done.count(second.ID))
	return nil
}

func waitFor(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// cleanup deletes the keys of this run.
func cleanup(rdb *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
}
