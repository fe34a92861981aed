package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookkit/hookkit/sender"
)

// Defaults of Config.
const (
	// DefaultSchema is the schema the store's tables live in when Config.Schema is empty.
	DefaultSchema = "hookkit"
	// DefaultPollInterval is how often Notify fires without a notification.
	DefaultPollInterval = time.Second
	// DefaultHealthGranularity is the default of Config.HealthGranularity.
	DefaultHealthGranularity = 250 * time.Millisecond
	// DefaultPruneBatch is how many rows one DELETE statement of Prune removes.
	DefaultPruneBatch = 5000
)

// settleFlushers is how many coalesced settle statements may run at once. One
// makes the biggest batches: under load every call that arrives while a
// statement runs joins the next one.
const settleFlushers = 1

// ErrInvalidConfig reports a Config that New cannot use.
var ErrInvalidConfig = errors.New("pgstore: invalid config")

// Config configures New.
type Config struct {
	// Pool is the connection pool (required). The store uses one of its connections
	// permanently for LISTEN, so size the pool with one connection to spare.
	Pool *pgxpool.Pool
	// Schema is the PostgreSQL schema holding the store's tables; several stores (for
	// example one per test) can share a database with different schemas. It is
	// quoted, so any name up to 63 bytes works. Defaults to DefaultSchema ("hookkit").
	Schema string
	// Logger receives the store's logs (listener reconnects, migrations). Signing keys
	// and custom header values are never logged. Defaults to slog.Default().
	Logger *slog.Logger
	// PollInterval is how often Notify fires on its own, so that a lost LISTEN
	// connection or a missed notification can never stall a dispatcher for longer.
	// Defaults to DefaultPollInterval (1 s).
	PollInterval time.Duration
	// DisableListener turns LISTEN/NOTIFY off: Notify then fires after this process's
	// own writes and every PollInterval only. Defaults to false (listening).
	DisableListener bool
	// SynchronousSettle makes every Settle wait for PostgreSQL to flush its commit to
	// disk. By default settles commit with synchronous_commit off: they are still
	// atomic and immediately visible, but if the PostgreSQL server itself crashes
	// (not a client, not a terminated connection) the last fraction of a second of
	// settlements can be forgotten. Nothing published is lost: those deliveries
	// return to the queue when their leases expire and are attempted again
	// (at-least-once; receivers deduplicate by webhook-id), and their attempt log
	// entries are missing. Set it when the attempt log must survive a server crash
	// exactly, at some throughput cost. Defaults to false.
	SynchronousSettle bool
	// DisableSettleBatching makes every Settle call its own statement. By default,
	// concurrent Settle calls on one Store are coalesced into one statement (see
	// Store.Settle). Defaults to false.
	DisableSettleBatching bool
	// HealthGranularity lets Settle skip rewriting an endpoint's LastSuccessAt or
	// LastFailureAt when the stored time is less than this much older than the
	// settlement's and nothing else about the endpoint's health changes (FailingSince,
	// disabling). Without it, every settle of a busy endpoint would rewrite — and
	// queue on — the same row. Those two times may then lag by up to this much;
	// FailingSince and disabling are always exact. Negative means always rewrite.
	// Defaults to DefaultHealthGranularity (250 ms).
	HealthGranularity time.Duration
	// PruneBatch caps the rows one DELETE statement of Prune removes, keeping locks
	// and WAL bursts short on big tables. Defaults to DefaultPruneBatch (5000).
	PruneBatch int
}

func (c Config) withDefaults() (Config, error) {
	if c.Pool == nil {
		return c, fmt.Errorf("%w: Pool is required", ErrInvalidConfig)
	}
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if len(c.Schema) > 63 || strings.ContainsRune(c.Schema, 0) {
		return c, fmt.Errorf("%w: Schema must be 1 to 63 bytes without NUL", ErrInvalidConfig)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.PollInterval < 0 {
		return c, fmt.Errorf("%w: PollInterval must not be negative", ErrInvalidConfig)
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.HealthGranularity == 0 {
		c.HealthGranularity = DefaultHealthGranularity
	}
	if c.HealthGranularity < 0 {
		c.HealthGranularity = 0
	}
	if c.PruneBatch < 0 {
		return c, fmt.Errorf("%w: PruneBatch must not be negative", ErrInvalidConfig)
	}
	if c.PruneBatch == 0 {
		c.PruneBatch = DefaultPruneBatch
	}
	return c, nil
}

// Store is a sender.Store and sender.Notifier on PostgreSQL. It is safe for
// concurrent use, also by many processes sharing one database. Create it with
// New, run Migrate once, and Close it when done.
type Store struct {
	pool       *pgxpool.Pool
	schemaName string
	schema     string // quoted
	channel    string
	logger     *slog.Logger
	cfg        Config
	q          queries

	mu   sync.Mutex
	wake chan struct{}

	settleQ chan *settleCall // nil when Config.DisableSettleBatching
	closing chan struct{}    // closed by Close
	stopped chan struct{}    // closed when Close has stopped every goroutine

	// healthMu guards claimedEP (the endpoint of each delivery this store claimed
	// and has not settled yet) and successAt (when this store last wrote a success
	// for an endpoint): together they let Settle skip health writes that
	// Config.HealthGranularity allows it to skip without asking the database.
	healthMu  sync.Mutex
	claimedEP map[sender.DeliveryID]string
	successAt map[string]time.Time

	cancel    context.CancelFunc
	done      sync.WaitGroup
	closeOnce sync.Once
}

var (
	_ sender.Store               = (*Store)(nil)
	_ sender.Notifier            = (*Store)(nil)
	_ sender.TxPublisher[pgx.Tx] = (*Store)(nil)
)

// New returns a Store on cfg.Pool. It starts the listener and poll goroutines
// (stop them with Close) but does not touch the schema: call Migrate first.
func New(cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{
		pool:       cfg.Pool,
		schemaName: cfg.Schema,
		schema:     pgx.Identifier{cfg.Schema}.Sanitize(),
		channel:    channelName(cfg.Schema),
		logger:     cfg.Logger,
		cfg:        cfg,
		wake:       make(chan struct{}),
		closing:    make(chan struct{}),
		stopped:    make(chan struct{}),
		claimedEP:  map[sender.DeliveryID]string{},
		successAt:  map[string]time.Time{},
	}
	s.q = buildQueries(s.schema)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done.Add(1)
	go s.poll(ctx)
	if !cfg.DisableListener {
		s.done.Add(1)
		go s.listen(ctx)
	}
	if !cfg.DisableSettleBatching {
		s.settleQ = make(chan *settleCall, 1024)
		for range settleFlushers {
			s.done.Add(1)
			go s.settleLoop(ctx)
		}
	}
	return s, nil
}

// Close stops the listener and poll goroutines and waits for them. It does not
// close the pool. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.cancel()
		s.done.Wait()
		close(s.stopped)
	})
	return nil
}

// Schema returns the (unquoted) schema name.
func (s *Store) Schema() string { return s.schemaName }

// Channel returns the LISTEN/NOTIFY channel the store uses.
func (s *Store) Channel() string { return s.channel }

func channelName(schema string) string {
	// PostgreSQL truncates identifiers to 63 bytes; cut at a rune boundary.
	return truncateUTF8("hookkit_sender_"+schema, 63)
}

// ---- encoding helpers -------------------------------------------------------

func ts(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t, Valid: true}
}

func fromTS(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// cleanText makes s storable in a PostgreSQL text column: valid UTF-8, no NUL.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return s
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	// Drop a rune cut in half.
	for i := len(s) - 1; i >= 0 && i >= len(s)-3; i-- {
		if c := s[i]; c < 0x80 {
			break
		} else if c >= 0xC0 {
			s = s[:i]
			break
		}
	}
	return strings.ToValidUTF8(s, "")
}

type keyJSON struct {
	Secret   string     `json:"secret"`
	NotAfter *time.Time `json:"not_after,omitempty"`
}

func encodeKeys(keys []sender.EndpointKey) ([]byte, error) {
	if keys == nil {
		return nil, nil
	}
	out := make([]keyJSON, len(keys))
	for i, k := range keys {
		out[i].Secret = k.Secret
		if !k.NotAfter.IsZero() {
			t := k.NotAfter.UTC()
			out[i].NotAfter = &t
		}
	}
	return json.Marshal(out)
}

func decodeKeys(b []byte) ([]sender.EndpointKey, error) {
	if b == nil {
		return nil, nil
	}
	var in []keyJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("pgstore: decode endpoint keys: %w", err)
	}
	if in == nil {
		return nil, nil
	}
	keys := make([]sender.EndpointKey, len(in))
	for i, k := range in {
		keys[i].Secret = k.Secret
		if k.NotAfter != nil {
			keys[i].NotAfter = k.NotAfter.UTC()
		}
	}
	return keys, nil
}

func encodeMap(m map[string]string) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	return json.Marshal(m)
}

func decodeMap(b []byte) (map[string]string, error) {
	if b == nil {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("pgstore: decode map: %w", err)
	}
	return m, nil
}

// ---- errors -----------------------------------------------------------------

const (
	pgForeignKeyViolation = "23503"
	pgUniqueViolation     = "23505"
	pgDeadlock            = "40P01"
	pgSerialization       = "40001"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

// retryConflicts runs fn again (a few times) when PostgreSQL aborted it for a
// deadlock or serialization failure; fn must be atomic (one statement or one
// transaction), so nothing was applied when it failed that way.
func retryConflicts(ctx context.Context, fn func() error) error {
	var err error
	for i := 0; i < 5; i++ {
		err = fn()
		if c := pgCode(err); c != pgDeadlock && c != pgSerialization {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(i+1) * 2 * time.Millisecond):
		}
	}
	return err
}

// Pool returns the store's connection pool, for transactions to pass to
// PublishTx.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
