package receiver

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/hookkit/hookkit/event"
)

// Delivery is one accepted event travelling from the HTTP handler to a
// worker through a Queue.
type Delivery struct {
	// Event is the verified, parsed event. For a Provider, Event.Data is the
	// raw provider payload.
	Event event.Event
	// Token is the idempotency claim's token for Event.ID; the worker passes
	// it to Store.Complete or Store.Release.
	Token string
	// Header holds the request's headers (read only).
	Header http.Header
	// ReceivedAt is when the request arrived.
	ReceivedAt time.Time
	// Provider is the Provider's Name.
	Provider string
	// Ref is opaque to the receiver: a Queue may set it in Dequeue (a row id,
	// a lease) and read it back in Ack.
	Ref string
}

// Outcome is how a worker finished with a Delivery; see Queue.Ack.
type Outcome int

const (
	// Processed: the handler succeeded (or the event was ignored by the
	// Router's Unknown policy) and the claim was completed.
	Processed Outcome = iota + 1
	// DeadLettered: the receiver gave up (retries exhausted or a permanent
	// error); the DeadLetter hook ran and the claim was released, so a
	// redelivery by the sender can try again.
	DeadLettered
	// Abandoned: the receiver shut down before the delivery was processed;
	// its claim was released (kept, with a durable queue). A durable queue keeps the delivery for the
	// next start; the memory queue drops it (the sender's redelivery brings
	// it back only if the sender was not yet answered 2xx, see the package
	// documentation).
	Abandoned
)

// String returns "processed", "dead_lettered" or "abandoned".
func (o Outcome) String() string {
	switch o {
	case Processed:
		return "processed"
	case DeadLettered:
		return "dead_lettered"
	case Abandoned:
		return "abandoned"
	default:
		return "unknown"
	}
}

// Queue is the hand-off between the HTTP handler and the workers. The
// default is a bounded in-memory queue (NewMemoryQueue); a durable inbox
// (for example in PostgreSQL) implements the same interface, so that an
// event is recorded before the sender is answered 202 and survives a crash.
//
// Implementations must be safe for concurrent use. A Queue that loses what
// it holds when the process stops (like MemoryQueue) should also have a
// method TryDequeue() (Delivery, bool): after the shutdown deadline the
// Handler drains it and releases the claims of what is left, so the
// sender's redeliveries are processed. A durable queue should not: its
// deliveries wait for the next start. A durable queue should also have a
// method Durable() bool reporting true: the Handler then keeps (does not
// release) the idempotency claim of a delivery it abandons at shutdown, so a
// redelivery arriving before the next start is answered as a duplicate
// rather than stored twice. After Close a durable queue may return
// ErrQueueClosed from Dequeue at once: what it stores survives for the next
// start.
type Queue interface {
	// Enqueue records d for processing. It runs on the request path and must
	// not block for long: when there is no room it returns an error wrapping
	// ErrQueueFull at once. The handler answers 202 only when Enqueue
	// returned nil; on any error it releases the claim and answers 503, so
	// the sender retries. A durable queue returns nil only once d is stored.
	// After Close it returns ErrQueueClosed.
	Enqueue(ctx context.Context, d Delivery) error
	// Dequeue blocks until a delivery is available (the worker then owns it
	// until Ack), ctx ends (ctx.Err()), or the queue is closed and holds
	// nothing more (ErrQueueClosed). A durable queue claims the delivery
	// with a lease here and may set d.Ref.
	Dequeue(ctx context.Context) (Delivery, error)
	// Ack reports how the worker finished with d. A durable queue deletes
	// (Processed, DeadLettered) or returns (Abandoned) the stored delivery.
	Ack(ctx context.Context, d Delivery, o Outcome) error
	// Close stops Enqueue; Dequeue keeps returning what is queued, then
	// ErrQueueClosed. Close is idempotent.
	Close() error
}

// MemoryQueue is a bounded in-memory Queue over a buffered channel: Enqueue
// never blocks and never allocates. Deliveries in it are lost if the
// process dies; see the package documentation.
type MemoryQueue struct {
	mu     sync.RWMutex // held for reading by Enqueue, for writing by Close
	closed bool
	ch     chan Delivery
}

// DefaultQueueSize is the capacity of the default MemoryQueue.
const DefaultQueueSize = 1024

// NewMemoryQueue returns a MemoryQueue holding at most size deliveries
// (DefaultQueueSize when size <= 0).
func NewMemoryQueue(size int) *MemoryQueue {
	if size <= 0 {
		size = DefaultQueueSize
	}
	return &MemoryQueue{ch: make(chan Delivery, size)}
}

// Enqueue implements Queue.
func (q *MemoryQueue) Enqueue(_ context.Context, d Delivery) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrQueueClosed
	}
	select {
	case q.ch <- d:
		return nil
	default:
		return ErrQueueFull
	}
}

// Dequeue implements Queue.
func (q *MemoryQueue) Dequeue(ctx context.Context) (Delivery, error) {
	// Prefer queued work over a cancelled context only when the context is
	// still live: once ctx ends, the caller is shutting down.
	if ctx.Err() == nil {
		// Fast path: a queued delivery without the two-channel select (which
		// locks ctx's done channel shared by every worker).
		select {
		case d, ok := <-q.ch:
			if !ok {
				return Delivery{}, ErrQueueClosed
			}
			return d, nil
		default:
		}
	}
	select {
	case d, ok := <-q.ch:
		if !ok {
			return Delivery{}, ErrQueueClosed
		}
		return d, nil
	case <-ctx.Done():
		return Delivery{}, ctx.Err()
	}
}

// TryDequeue returns a queued delivery without blocking; ok is false when
// the queue is empty.
func (q *MemoryQueue) TryDequeue() (d Delivery, ok bool) {
	select {
	case d, ok = <-q.ch:
		return d, ok
	default:
		return Delivery{}, false
	}
}

// Ack implements Queue; the memory queue has nothing to record.
func (q *MemoryQueue) Ack(context.Context, Delivery, Outcome) error { return nil }

// Close implements Queue.
func (q *MemoryQueue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	return nil
}

// Len returns the number of queued deliveries.
func (q *MemoryQueue) Len() int { return len(q.ch) }

// Cap returns the queue's capacity.
func (q *MemoryQueue) Cap() int { return cap(q.ch) }
