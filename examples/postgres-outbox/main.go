// Command postgres-outbox is a producer that writes a business row and
// publishes its webhook event in the same PostgreSQL transaction
// (sender.PublishTx on sender/pgstore): the order and its event commit
// together or not at all, and the delivery survives a restart of the producer.
//
//	go run ./examples/postgres-outbox -dsn 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//	HOOKKIT_TEST_POSTGRES='postgres://…' go run ./examples/postgres-outbox
//
// It works in its own schema (-schema, "hookkit_example_outbox" by default),
// which it drops when done unless -keep is given. A consumer on loopback plays
// the warehouse receiving order.created webhooks.
package main

import (
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
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/sender/pgstore"
	"github.com/hookkit/hookkit/signature"
)

type config struct {
	DSN    string // PostgreSQL connection string
	Schema string // schema for the outbox tables and the orders table
	Keep   bool   // keep the schema at the end, to look at the tables
}

func main() {
	cfg := config{DSN: os.Getenv("HOOKKIT_TEST_POSTGRES"), Schema: "hookkit_example_outbox"}
	flag.StringVar(&cfg.DSN, "dsn", cfg.DSN, "PostgreSQL connection string (default $HOOKKIT_TEST_POSTGRES)")
	flag.StringVar(&cfg.Schema, "schema", cfg.Schema, "schema for the example's tables")
	flag.BoolVar(&cfg.Keep, "keep", false, "keep the schema when done (inspect it with psql)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "postgres-outbox:", err)
		os.Exit(1)
	}
}

// OrderCreated is the data of order.created events.
type OrderCreated struct {
	OrderID    string `json:"order_id"`
	Customer   string `json:"customer"`
	TotalCents int64  `json:"total_cents"`
}

// placeOrder is the part you would put in your own service: the order row
// and its event are written in one transaction.
func placeOrder(ctx context.Context, pool *pgxpool.Pool, s *sender.Sender, schema string, o OrderCreated, commit bool) (event.Event, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return event.Event{}, err
	}
	defer func() { _ = tx.Rollback(ctx) }() // a no-op after Commit
	if _, err := tx.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "orders"}.Sanitize()+` (id, customer, total_cents) VALUES ($1, $2, $3)`,
		o.OrderID, o.Customer, o.TotalCents); err != nil {
		return event.Event{}, err
	}
	ev, err := event.New("order.created", o)
	if err != nil {
		return event.Event{}, err
	}
	if _, err := sender.PublishTx(ctx, s, tx, ev); err != nil { // the event and one delivery per endpoint, in tx
		return event.Event{}, err
	}
	if !commit {
		return ev, tx.Rollback(ctx) // e.g. the payment was declined: no order, no event, no webhook
	}
	return ev, tx.Commit(ctx) // dispatchers (in any process) are woken by the commit
}

type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) say(who, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%-9s %s\n", who, fmt.Sprintf(format, args...))
}

// observer prints deliveries and signals them.
type observer struct {
	sender.NopObserver
	p         *printer
	delivered chan sender.AttemptReport
}

func (o observer) Delivered(_ context.Context, r sender.AttemptReport) {
	o.p.say("sender", "delivered %s %s to %s: %d on attempt %d", r.EventType, r.EventID, r.EndpointID, r.StatusCode, r.Attempt)
	o.delivered <- r
}

func run(ctx context.Context, cfg config, stdout io.Writer) (err error) {
	if cfg.DSN == "" {
		return errors.New("no database: pass -dsn 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable' or set HOOKKIT_TEST_POSTGRES")
	}
	if cfg.Schema == "" {
		cfg.Schema = "hookkit_example_outbox"
	}
	p := &printer{w: stdout}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	pool, err := pgxpool.New(ctx, cfg.DSN)
	if err != nil {
		return fmt.Errorf("-dsn: %w", err)
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	schema := pgx.Identifier{cfg.Schema}.Sanitize()
	if !cfg.Keep {
		defer func() {
			dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer dcancel()
			if _, derr := pool.Exec(dctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); derr != nil && err == nil {
				err = derr
			}
		}()
	}

	// The outbox tables (pgstore.Migrate) and the application's own table.
	store, err := pgstore.New(pgstore.Config{Pool: pool, Schema: cfg.Schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+pgx.Identifier{cfg.Schema, "orders"}.Sanitize()+
		` (id text PRIMARY KEY, customer text NOT NULL, total_cents bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return err
	}
	p.say("setup", "outbox tables and orders table in schema %s", schema)

	// The warehouse: a hookkit receiver on loopback.
	secret, err := signature.GenerateSecret()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var shipped []string
	router := &receiver.Router{}
	receiver.Handle(router, "order.created", func(_ context.Context, ev event.Event, o OrderCreated) error {
		mu.Lock()
		shipped = append(shipped, o.OrderID)
		mu.Unlock()
		p.say("warehouse", "received order.created %s: ship order %s to %s", ev.ID, o.OrderID, o.Customer)
		return nil
	})
	warehouse, err := receiver.New(receiver.Config{Keys: signature.MustKeyring(secret), Handler: router, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer func() { _ = warehouse.Shutdown(context.Background()) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: warehouse, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		<-served
	}()

	// The producer: a sender on the PostgreSQL store.
	obs := observer{p: p, delivered: make(chan sender.AttemptReport, 8)}
	s, err := sender.New(sender.Config{
		Store: store,
		// The warehouse of this example listens on 127.0.0.1, which the SSRF
		// guard refuses by default; never allow private networks for
		// endpoints your customers register.
		AllowPrivateNetworks: true,
		Observer:             obs,
		Logger:               slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	ep := sender.Endpoint{ID: "warehouse", URL: "http://" + ln.Addr().String() + "/webhooks",
		EventTypes: []string{"order.*"}, Keys: []sender.EndpointKey{{Secret: secret}}}
	if _, err := s.CreateEndpoint(ctx, ep); errors.Is(err, sender.ErrDuplicateEndpoint) {
		_, err = s.UpdateEndpoint(ctx, ep) // -keep from an earlier run: point it at this run's warehouse
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}

	run := uuid.NewString()[:4] // order ids unique per run, so that -keep can be run again
	id := func(n int) string { return fmt.Sprintf("ord_%s_%d", run, n) }

	// 1. An order committed while no dispatcher runs: its delivery waits in PostgreSQL.
	first, err := placeOrder(ctx, pool, s, cfg.Schema, OrderCreated{OrderID: id(1001), Customer: "Ada Lovelace", TotalCents: 4200}, true)
	if err != nil {
		return err
	}
	p.say("app", "order %s inserted and %s published in one transaction: COMMIT", id(1001), first.ID)
	pending, err := s.ListDeliveries(ctx, sender.DeliveryFilter{EventID: first.ID, State: sender.StatePending})
	if err != nil {
		return err
	}
	p.say("outbox", "%d pending delivery stored in PostgreSQL; no dispatcher is running yet, so it waits there (a restart loses nothing)", len(pending))

	// 2. An order rolled back: neither the row nor the event exists.
	second, err := placeOrder(ctx, pool, s, cfg.Schema, OrderCreated{OrderID: id(1002), Customer: "Charles Babbage", TotalCents: 990}, false)
	if err != nil {
		return err
	}
	var orders int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.orders WHERE id = $1`, id(1002)).Scan(&orders); err != nil {
		return err
	}
	_, gerr := s.Store().GetEvent(ctx, second.ID)
	p.say("app", "order %s inserted and %s published in one transaction: ROLLBACK", id(1002), second.ID)
	p.say("outbox", "after the rollback: %d order row, event stored: %v, so no webhook will ever be sent", orders, !errors.Is(gerr, sender.ErrEventNotFound))

	// 3. The dispatcher starts (in this process here; in any process sharing the database).
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()
	p.say("sender", "dispatcher started")
	select {
	case <-obs.delivered:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the delivery: %w", ctx.Err())
	}

	// 4. Commit another order while the dispatcher runs: LISTEN/NOTIFY wakes it at once.
	third, err := placeOrder(ctx, pool, s, cfg.Schema, OrderCreated{OrderID: id(1003), Customer: "Grace Hopper", TotalCents: 12000}, true)
	if err != nil {
		return err
	}
	p.say("app", "order %s inserted and %s published in one transaction: COMMIT", id(1003), third.ID)
	select {
	case <-obs.delivered:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the delivery: %w", ctx.Err())
	}

	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := s.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-runErr; err != nil {
		return err
	}
	if err := warehouse.Shutdown(sctx); err != nil {
		return err
	}
	var attempts []sender.Attempt
	for _, ev := range []event.Event{first, second, third} {
		a, err := s.ListAttempts(ctx, sender.AttemptFilter{EventID: ev.ID})
		if err != nil {
			return err
		}
		attempts = append(attempts, a...)
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(stdout, "\nsummary: orders committed 2, rolled back 1; webhooks delivered %d (%d attempt(s) in the attempt log); warehouse shipped %v\n",
		len(shipped), len(attempts), shipped)
	if cfg.Keep {
		fmt.Fprintf(stdout, "schema %s kept; inspect it with: psql <dsn> -c 'SELECT id, event_id, attempts, last_status_code FROM %s.deliveries; SELECT * FROM %s.orders'\n", schema, schema, schema)
	}
	return nil
}
