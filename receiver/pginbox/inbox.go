package pginbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver"
)

// Defaults of Config.
const (
	// DefaultSchema is the schema holding the inbox table.
	DefaultSchema = "hookkit"
	// DefaultTable is the inbox table's name.
	DefaultTable = "receiver_inbox"
	// DefaultLease is how long a consumer holds a dequeued delivery before
	// another one may take it over, unless the lease is renewed.
	DefaultLease = 30 * time.Second
	// DefaultBatchSize caps the rows one claim statement takes.
	DefaultBatchSize = 16
	// DefaultMaxPending bounds the deliveries stored in the inbox.
	DefaultMaxPending = 100_000
	// DefaultPollInterval is how often idle consumers look for work without
	// a notification.
	DefaultPollInterval = 500 * time.Millisecond
)

// DefaultOmitHeaders are the request headers never stored (Config.OmitHeaders):
// credentials must not reach the database.
var DefaultOmitHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie"}

// Internal timings.
const (
	// enqueueTimeout bounds an Enqueue's insert. The insert does not follow
	// the request's context: once started it commits or fails on its own, so
	// a client that hangs up cannot leave a row behind while the handler
	// answers 503 and releases the claim.
	enqueueTimeout = 10 * time.Second
	// countEvery is how often Enqueue recounts the stored rows for
	// MaxPending; countEveryFull when the inbox looks full.
	countEvery     = time.Second
	countEveryFull = 100 * time.Millisecond
	// releaseTimeout bounds Close's return of unconsumed prefetched rows.
	releaseTimeout = 5 * time.Second
	// listenerApp is the application_name of the LISTEN connection, so that
	// operators can tell it apart in pg_stat_activity.
	listenerApp = "hookkit-pginbox-listener"
)

// Errors returned by the inbox. Test with errors.Is.
var (
	// ErrInvalidConfig is wrapped by New's configuration errors.
	ErrInvalidConfig = errors.New("pginbox: invalid config")
	// ErrUnavailable wraps every database failure (together with the pgx
	// error). An Enqueue failing with it makes the receiver answer 503, so
	// the sender retries.
	ErrUnavailable = errors.New("pginbox: database unavailable")
	// ErrLeaseLost is returned by Ack when this consumer no longer held the
	// delivery: its lease expired (the process stalled for longer than
	// Config.Lease without renewing it) and another consumer claimed it, or
	// the row is gone. The delivery may be processed twice; raise Lease if
	// this happens.
	ErrLeaseLost = errors.New("pginbox: lease lost; another consumer took the delivery over or it is gone")
	// ErrForeignDelivery is returned by Ack for a Delivery that was not
	// dequeued from an Inbox (its Ref is not an inbox reference).
	ErrForeignDelivery = errors.New("pginbox: delivery was not dequeued from an inbox")
	// ErrUnstorable is returned by Enqueue for a delivery whose text fields
	// (event id and type, resource URL, provider, token) are not valid UTF-8
	// or contain NUL, which PostgreSQL text cannot hold.
	ErrUnstorable = errors.New("pginbox: delivery has text that PostgreSQL cannot store")
)

// Config configures New. Every field but Pool is optional.
type Config struct {
	// Pool is the connection pool. Required. The inbox does not close it.
	// The LISTEN connection is opened separately with the pool's connection
	// settings, so the inbox uses one connection beyond the pool's.
	Pool *pgxpool.Pool
	// Schema is the PostgreSQL schema of the inbox table; it is quoted, so
	// any name up to 63 bytes works. Defaults to DefaultSchema ("hookkit").
	Schema string
	// Table is the inbox table's name; several inboxes can share a schema
	// with different tables. Defaults to DefaultTable ("receiver_inbox").
	Table string
	// Lease is how long a dequeued delivery stays with its consumer without
	// renewal. The inbox renews it every Lease/3 until Ack (see Dequeue);
	// when the process dies (or cannot reach the database for that long)
	// the delivery returns to the queue at most Lease later. Defaults to
	// DefaultLease (30 s); at least 10 ms.
	Lease time.Duration
	// BatchSize caps the deliveries one claim statement takes. Dequeue
	// claims for the callers waiting at that moment only (never more than
	// BatchSize), so the inbox never sits on work other replicas could do.
	// Defaults to DefaultBatchSize (16).
	BatchSize int
	// MaxPending bounds the deliveries stored in the inbox (waiting or being
	// processed, by every replica): beyond it Enqueue fails with an error
	// wrapping receiver.ErrQueueFull, so the receiver answers 503 and the
	// sender retries later. It is a soft bound, checked against an estimate
	// refreshed by a bounded count at most every second (every 100 ms when
	// the inbox looks full) plus this process's own enqueues and acks, so
	// several replicas may together overshoot it briefly. Defaults to
	// DefaultMaxPending (100,000); negative means no bound.
	MaxPending int
	// PollInterval is how often idle Dequeue callers look for work without
	// a notification (a fallback for a lost LISTEN connection). Defaults to
	// DefaultPollInterval (500 ms).
	PollInterval time.Duration
	// Owner identifies this consumer in the lease_owner column. Defaults to
	// host name, process id and a random suffix; it must be unique per
	// Inbox.
	Owner string
	// OmitHeaders are the request headers not stored with a delivery.
	// Defaults to DefaultOmitHeaders (Authorization, Proxy-Authorization,
	// Cookie); set a non-nil empty slice to store every header.
	OmitHeaders []string
	// DisableListener turns LISTEN/NOTIFY off: idle consumers then find new
	// work after this process's own enqueues and every PollInterval only.
	// Enqueue still sends notifications. Defaults to false (listening).
	DisableListener bool
	// Logger receives the inbox's logs (listener reconnects, lost leases,
	// migrations). Bodies and header values are never logged. Defaults to
	// slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Pool == nil {
		return c, fmt.Errorf("%w: Pool is required", ErrInvalidConfig)
	}
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	for _, n := range []struct{ field, v string }{{"Schema", c.Schema}, {"Table", c.Table + "_migrations"}} {
		if len(n.v) > 63 || strings.ContainsRune(n.v, 0) {
			return c, fmt.Errorf("%w: %s must be at most 63 bytes (Table 52) without NUL", ErrInvalidConfig, n.field)
		}
	}
	switch {
	case c.Lease == 0:
		c.Lease = DefaultLease
	case c.Lease < 10*time.Millisecond:
		return c, fmt.Errorf("%w: Lease must be at least 10ms", ErrInvalidConfig)
	}
	switch {
	case c.BatchSize == 0:
		c.BatchSize = DefaultBatchSize
	case c.BatchSize < 0:
		return c, fmt.Errorf("%w: BatchSize must not be negative", ErrInvalidConfig)
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	switch {
	case c.PollInterval == 0:
		c.PollInterval = DefaultPollInterval
	case c.PollInterval < 0:
		return c, fmt.Errorf("%w: PollInterval must not be negative", ErrInvalidConfig)
	}
	if c.Owner == "" {
		c.Owner = defaultOwner()
	}
	if c.OmitHeaders == nil {
		c.OmitHeaders = DefaultOmitHeaders
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

func defaultOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(rnd[:])
}

// Inbox is a durable receiver.Queue on a PostgreSQL table. It is safe for
// concurrent use, also by many processes sharing the table. Create it with
// New, run Migrate once, pass it as receiver.Config.Queue; the Handler
// closes it at Shutdown.
type Inbox struct {
	pool    *pgxpool.Pool
	cfg     Config
	table   string // quoted, schema-qualified
	channel string
	omit    map[string]bool
	log     *slog.Logger
	q       queries

	mu       sync.Mutex
	closed   bool
	wake     chan struct{} // closed and replaced to wake waiting Dequeue callers
	waiters  int           // Dequeue callers inside Dequeue
	fetching bool          // a Dequeue caller is running the claim statement
	buf      []claimed     // claimed rows not handed out yet, in id order
	leases   map[int64]*lease
	hb       bool          // the heartbeat goroutine runs
	hbKick   chan struct{} // cap 1: leases changed

	pending   atomic.Int64 // estimate of the stored rows, for MaxPending
	countedAt atomic.Int64 // unix nanoseconds of the last count; 0: never
	countMu   sync.Mutex

	stop      context.CancelFunc
	bg        sync.WaitGroup // listener and poller
	closeOnce sync.Once
	closeErr  error
}

// claimed is one row taken by a claim.
type claimed struct {
	id     int64
	claims int32
	d      receiver.Delivery
}

// lease is a row this inbox holds: prefetched (buffered) or handed out by
// Dequeue (handed).
type lease struct {
	claims int32
	handed bool
}

var _ receiver.Queue = (*Inbox)(nil)

// New returns an Inbox on cfg.Pool. It opens the LISTEN connection (unless
// DisableListener) and waits for it, or pings the pool, so that a database
// that cannot be reached is reported now, as an error wrapping
// ErrUnavailable; ctx bounds that wait only. It does not touch the table:
// call Migrate before the first use. Close stops the inbox's goroutines.
func New(ctx context.Context, cfg Config) (*Inbox, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	in := &Inbox{
		pool:    cfg.Pool,
		cfg:     cfg,
		table:   pgx.Identifier{cfg.Schema, cfg.Table}.Sanitize(),
		channel: channelName(cfg.Schema, cfg.Table),
		omit:    make(map[string]bool, len(cfg.OmitHeaders)),
		log:     cfg.Logger,
		wake:    make(chan struct{}),
		leases:  make(map[int64]*lease),
		hbKick:  make(chan struct{}, 1),
	}
	for _, h := range cfg.OmitHeaders {
		in.omit[http.CanonicalHeaderKey(h)] = true
	}
	in.q = buildQueries(in.table)

	runCtx, stop := context.WithCancel(context.Background())
	in.stop = stop
	if cfg.DisableListener {
		if err := cfg.Pool.Ping(ctx); err != nil {
			stop()
			return nil, unavailable("ping", err)
		}
	} else {
		first := make(chan error, 1)
		in.bg.Add(1)
		go in.listen(runCtx, first)
		select {
		case err = <-first:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			stop()
			in.bg.Wait()
			return nil, unavailable("listen", err)
		}
	}
	in.bg.Add(1)
	go in.poll(runCtx)
	return in, nil
}

// channelName is the LISTEN/NOTIFY channel of a table: readable when it
// fits PostgreSQL's 63 bytes, a hash otherwise.
func channelName(schema, table string) string {
	c := "hookkit_inbox_" + schema + "." + table
	if len(c) > 63 {
		h := fnv.New64a()
		h.Write([]byte(schema + "\x00" + table))
		c = "hookkit_inbox_" + hex.EncodeToString(h.Sum(nil))
	}
	return c
}

// Table returns the quoted, schema-qualified table name.
func (in *Inbox) Table() string { return in.table }

// Channel returns the LISTEN/NOTIFY channel of the inbox.
func (in *Inbox) Channel() string { return in.channel }

// Owner returns the consumer name written to lease_owner.
func (in *Inbox) Owner() string { return in.cfg.Owner }

func unavailable(op string, err error) error {
	return fmt.Errorf("pginbox: %s: %w: %w", op, ErrUnavailable, err)
}

func micros(d time.Duration) int64 {
	us := (d + time.Microsecond - 1) / time.Microsecond
	return max(int64(us), 1)
}

// ---- Enqueue ---------------------------------------------------------------

// Enqueue implements receiver.Queue: it inserts d in one statement and
// returns nil only once the row is committed (and a NOTIFY sent with it), so
// the receiver answers 202 only for an event that survives a crash. The
// insert is not cancelled with ctx once started (a client hanging up must not
// leave a stored row behind an answer of 503); it is bounded by 10 s.
//
// It fails with an error wrapping receiver.ErrQueueFull when MaxPending
// deliveries are stored, receiver.ErrQueueClosed after Close, ErrUnstorable
// for text PostgreSQL cannot hold, and ErrUnavailable when the database
// fails. Headers in Config.OmitHeaders are not stored.
func (in *Inbox) Enqueue(ctx context.Context, d receiver.Delivery) error {
	in.mu.Lock()
	closed := in.closed
	in.mu.Unlock()
	if closed {
		return receiver.ErrQueueClosed
	}
	for _, f := range [...]struct{ name, v string }{
		{"event id", d.Event.ID}, {"event type", d.Event.Type}, {"resource URL", d.Event.ResourceURL},
		{"provider", d.Provider}, {"token", d.Token},
	} {
		if !utf8.ValidString(f.v) || strings.IndexByte(f.v, 0) >= 0 {
			return fmt.Errorf("%w: the %s is not valid UTF-8 text", ErrUnstorable, f.name)
		}
	}
	if err := in.reserve(ctx); err != nil {
		return err
	}
	data := []byte(d.Event.Data)
	if data == nil {
		data = []byte{}
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enqueueTimeout)
	defer cancel()
	_, err := in.pool.Exec(ictx, in.q.enqueue,
		d.Event.ID, d.Event.Type, tsArg(d.Event.Timestamp), d.Event.ResourceURL, data,
		d.Provider, d.Token, encodeHeader(d.Header, in.omit), tsArg(d.ReceivedAt), in.channel)
	if err != nil {
		in.pending.Add(-1)
		return unavailable("enqueue", err)
	}
	in.wakeWaiters()
	return nil
}

// reserve counts d against MaxPending.
func (in *Inbox) reserve(ctx context.Context) error {
	limit := int64(in.cfg.MaxPending)
	if limit < 0 {
		in.pending.Add(1)
		return nil
	}
	now := time.Now().UnixNano()
	last := in.countedAt.Load()
	stale := now-last > int64(countEvery) || (in.pending.Load() >= limit && now-last > int64(countEveryFull))
	if stale && in.countMu.TryLock() {
		var n int64
		err := in.pool.QueryRow(ctx, in.q.count, limit+1).Scan(&n)
		if err == nil {
			in.pending.Store(n)
			in.countedAt.Store(time.Now().UnixNano())
		}
		in.countMu.Unlock()
		// On error keep the estimate: the insert reports the failure.
	}
	if n := in.pending.Add(1); n > limit {
		in.pending.Add(-1)
		return fmt.Errorf("pginbox: about %d deliveries stored, MaxPending is %d: %w", n-1, limit, receiver.ErrQueueFull)
	}
	return nil
}

func tsArg(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t, Valid: true}
}

// ---- Dequeue ---------------------------------------------------------------

// Dequeue implements receiver.Queue. It hands out a claimed delivery, or
// claims for every caller waiting at that moment (up to BatchSize rows, one
// statement, FOR UPDATE SKIP LOCKED, so concurrent consumers in any process
// never get the same row), or blocks until a NOTIFY, this process's own
// Enqueue or Ack(Abandoned), the next poll, the next lease expiry, ctx's end
// (ctx.Err()) or Close (receiver.ErrQueueClosed). A database failure is
// returned wrapping ErrUnavailable; call again after a pause.
//
// The delivery is leased to this inbox for Config.Lease and the lease is
// renewed every Lease/3 until Ack, also after Close and whatever becomes of
// ctx: Ack every delivery you dequeue. When the process dies, renewals stop
// and the delivery returns to the queue once its lease expires: another
// consumer, or this one after a restart, processes it.
//
// The delivery's Ref identifies the row and this claim of it; Claims reports
// how often it was claimed. Unlike the memory queue, Dequeue after Close
// returns receiver.ErrQueueClosed at once: waiting deliveries stay in the
// table for the next start or another replica, and prefetched ones are
// returned to it.
func (in *Inbox) Dequeue(ctx context.Context) (receiver.Delivery, error) {
	in.mu.Lock()
	in.waiters++
	defer func() {
		in.waiters--
		in.mu.Unlock()
	}()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if in.closed {
			return receiver.Delivery{}, receiver.ErrQueueClosed
		}
		if err := ctx.Err(); err != nil {
			if len(in.buf) > 0 {
				in.broadcastLocked() // let another caller take the prefetched rows
			}
			return receiver.Delivery{}, err
		}
		if len(in.buf) > 0 {
			c := in.buf[0]
			in.buf = in.buf[1:]
			in.handLocked(c)
			return c.d, nil
		}
		wake := in.wake
		var timerC <-chan time.Time
		if !in.fetching {
			in.fetching = true
			n := min(in.cfg.BatchSize, in.waiters)
			in.mu.Unlock()
			rows, wait, err := in.fetch(n)
			in.mu.Lock()
			in.fetching = false
			if in.closed {
				if len(rows) > 0 {
					in.mu.Unlock()
					in.releaseRows(rows)
					in.mu.Lock()
				}
				return receiver.Delivery{}, receiver.ErrQueueClosed
			}
			if err != nil {
				return receiver.Delivery{}, err
			}
			if len(rows) > 0 {
				for _, c := range rows {
					in.leases[c.id] = &lease{claims: c.claims}
				}
				in.buf = append(in.buf, rows...)
				in.startHeartbeatLocked()
				if len(rows) > 1 || len(rows) == n {
					// Others may take the rest, or claim more.
					in.broadcastLocked()
				}
				continue
			}
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			timerC = timer.C
		}
		in.mu.Unlock()
		select {
		case <-wake:
		case <-timerC:
		case <-ctx.Done():
		}
		in.mu.Lock()
	}
}

// fetch claims up to n rows. When none is due it returns how long to wait
// for the next due row (at most PollInterval). The statement is not cancelled
// with the caller's context: rows claimed by a statement whose caller gave up
// would be stranded until their lease expired.
func (in *Inbox) fetch(n int) ([]claimed, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), max(in.cfg.Lease, 5*time.Second))
	defer cancel()
	rows, err := in.pool.Query(ctx, in.q.claim, n, in.cfg.Owner, micros(in.cfg.Lease))
	if err != nil {
		return nil, 0, unavailable("claim", err)
	}
	var (
		out                    []claimed
		id                     int64
		claims                 int32
		evTime, received       pgtype.Timestamptz
		evID, evType, resource string
		provider, token        string
		data, header           []byte
	)
	for rows.Next() {
		if err := rows.Scan(&id, &claims, &evID, &evType, &evTime, &resource, &data, &provider, &token, &header, &received); err != nil {
			rows.Close()
			return nil, 0, unavailable("claim", err)
		}
		h, herr := decodeHeader(header)
		if herr != nil {
			in.log.Error("pginbox: stored headers are corrupt; delivering without them",
				slog.Int64("id", id), slog.String("event_id", evID))
		}
		out = append(out, claimed{id: id, claims: claims, d: receiver.Delivery{
			Event: event.Event{
				ID: evID, Type: evType, Timestamp: fromTS(evTime),
				Data: json.RawMessage(data), ResourceURL: resource,
			},
			Token:      token,
			Header:     h,
			ReceivedAt: fromTS(received),
			Provider:   provider,
			Ref:        formatRef(id, claims),
		}})
	}
	if err := rows.Err(); err != nil {
		// The claim may have committed: whatever was scanned is ours; the
		// rest returns when its lease expires.
		if len(out) == 0 {
			return nil, 0, unavailable("claim", err)
		}
	}
	if len(out) > 0 {
		sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
		return out, 0, nil
	}
	wait := in.cfg.PollInterval
	var due *int64
	if err := in.pool.QueryRow(ctx, in.q.nextDue).Scan(&due); err == nil && due != nil {
		wait = min(wait, max(time.Duration(*due)*time.Microsecond, time.Millisecond))
	}
	return nil, wait, nil
}

func fromTS(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// handLocked records that c was handed to a Dequeue caller.
func (in *Inbox) handLocked(c claimed) {
	if l := in.leases[c.id]; l != nil && l.claims == c.claims {
		l.handed = true
	}
	// Otherwise a heartbeat found the lease lost meanwhile; Ack will report
	// ErrLeaseLost.
}

// forget stops renewing the lease of a row.
func (in *Inbox) forget(id int64, claims int32) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if l := in.leases[id]; l == nil || l.claims != claims {
		return
	}
	delete(in.leases, id)
	in.kickLocked()
}

// wakeWaiters wakes the waiting Dequeue callers of this process, if any.
func (in *Inbox) wakeWaiters() {
	in.mu.Lock()
	if in.waiters > 0 {
		in.broadcastLocked()
	}
	in.mu.Unlock()
}

func (in *Inbox) broadcastLocked() {
	close(in.wake)
	in.wake = make(chan struct{})
}

// ---- Ack -------------------------------------------------------------------

// Ack implements receiver.Queue: Processed and DeadLettered delete the row,
// Abandoned returns it to the queue at once (due again, with a NOTIFY). Both
// are guarded by this claim of the row (owner and claim count), so a consumer
// whose lease expired cannot delete or return a row another one holds: it
// gets ErrLeaseLost instead. Ack works after Close.
func (in *Inbox) Ack(ctx context.Context, d receiver.Delivery, o receiver.Outcome) error {
	id, claims, ok := parseRef(d.Ref)
	if !ok {
		return ErrForeignDelivery
	}
	in.forget(id, claims)
	switch o {
	case receiver.Processed, receiver.DeadLettered:
		tag, err := in.pool.Exec(ctx, in.q.delete, id, claims, in.cfg.Owner)
		if err != nil {
			return unavailable("ack "+o.String(), err)
		}
		if tag.RowsAffected() == 0 {
			return ErrLeaseLost
		}
		in.pending.Add(-1)
	case receiver.Abandoned:
		tag, err := in.pool.Exec(ctx, in.q.release, id, claims, in.cfg.Owner, in.channel)
		if err != nil {
			return unavailable("ack "+o.String(), err)
		}
		if tag.RowsAffected() == 0 {
			return ErrLeaseLost
		}
		in.wakeWaiters()
	default:
		return fmt.Errorf("pginbox: ack: unknown outcome %d", int(o))
	}
	return nil
}

// Durable reports true: the inbox keeps what it was given across restarts,
// so a caller may treat an Abandoned delivery as still owed rather than lost
// (see the notes for the receiver in this package's documentation).
func (in *Inbox) Durable() bool { return true }

// Claims reports how many times d was claimed from the inbox, this claim
// included: more than 1 means an earlier consumer died, lost its lease or
// abandoned it at shutdown. It is 0 for a Delivery not from an Inbox.
func Claims(d receiver.Delivery) int {
	_, c, ok := parseRef(d.Ref)
	if !ok {
		return 0
	}
	return int(c)
}

// A Ref is "pginbox:<row id>.<claims>".
const refPrefix = "pginbox:"

func formatRef(id int64, claims int32) string {
	return refPrefix + strconv.FormatInt(id, 10) + "." + strconv.FormatInt(int64(claims), 10)
}

func parseRef(ref string) (id int64, claims int32, ok bool) {
	rest, ok := strings.CutPrefix(ref, refPrefix)
	if !ok {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(rest, ".")
	if !ok {
		return 0, 0, false
	}
	id, err1 := strconv.ParseInt(a, 10, 64)
	c, err2 := strconv.ParseInt(b, 10, 32)
	if err1 != nil || err2 != nil || id <= 0 || c <= 0 {
		return 0, 0, false
	}
	return id, int32(c), true
}

// ---- Close -----------------------------------------------------------------

// Close implements receiver.Queue: Enqueue fails with receiver.ErrQueueClosed
// from now on, blocked and later Dequeue calls return it, the listener and
// poller stop, and prefetched rows not handed out yet are returned to the
// queue. Deliveries already handed out keep their leases renewed until they
// are acked, so a Handler's Shutdown can drain them however long it takes;
// Ack keeps working. Close does not close the pool and is
// idempotent; it returns the error of returning prefetched rows, if any.
func (in *Inbox) Close() error {
	in.closeOnce.Do(func() {
		in.mu.Lock()
		in.closed = true
		in.broadcastLocked()
		rows := in.buf
		in.buf = nil
		for _, c := range rows {
			delete(in.leases, c.id)
		}
		in.kickLocked()
		in.mu.Unlock()
		in.stop()
		in.bg.Wait()
		in.closeErr = in.releaseRows(rows)
	})
	return in.closeErr
}

// releaseRows returns claimed rows to the queue.
func (in *Inbox) releaseRows(rows []claimed) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]int64, len(rows))
	claims := make([]int32, len(rows))
	for i, c := range rows {
		ids[i], claims[i] = c.id, c.claims
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if _, err := in.pool.Exec(ctx, in.q.releaseMany, ids, claims, in.cfg.Owner, in.channel); err != nil {
		in.log.Warn("pginbox: could not return prefetched deliveries; they return when their lease expires",
			slog.Int("count", len(rows)), slog.String("error", err.Error()))
		return unavailable("release", err)
	}
	return nil
}

// Stats describes the inbox table, for metrics and health checks.
type Stats struct {
	// Waiting is the number of deliveries ready to be claimed (never
	// claimed, returned, or with an expired lease).
	Waiting int64
	// Leased is the number of deliveries held by a consumer under a live
	// lease.
	Leased int64
	// OldestEnqueued is when the oldest stored delivery was enqueued; zero
	// when the inbox is empty. Its age is the inbox's lag.
	OldestEnqueued time.Time
	// MaxClaims is the highest claim count of a stored delivery: a value
	// that keeps growing points at an event that crashes its consumers.
	MaxClaims int
}

// Stats reads Stats with one aggregate query over the whole table: call it
// from a metrics loop, not per request.
func (in *Inbox) Stats(ctx context.Context) (Stats, error) {
	var (
		st     Stats
		oldest pgtype.Timestamptz
		claims int32
	)
	err := in.pool.QueryRow(ctx, in.q.stats).Scan(&st.Waiting, &st.Leased, &oldest, &claims)
	if err != nil {
		return Stats{}, unavailable("stats", err)
	}
	st.OldestEnqueued, st.MaxClaims = fromTS(oldest), int(claims)
	return st, nil
}
