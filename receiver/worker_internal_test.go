package receiver

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/signature"
)

// flakyQueue fails its first Dequeue, as a durable queue whose database
// is briefly unreachable would.
type flakyQueue struct {
	*MemoryQueue
	once sync.Once
}

func (q *flakyQueue) Dequeue(ctx context.Context) (Delivery, error) {
	var fail bool
	q.once.Do(func() { fail = true })
	if fail {
		return Delivery{}, errors.New("inbox: connection refused")
	}
	return q.MemoryQueue.Dequeue(ctx)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestWorkersSurviveAFailingDequeue(t *testing.T) {
	t.Parallel()
	store := idempotency.NewMemoryStore(idempotency.MemoryConfig{SweepInterval: -1})
	t.Cleanup(store.Close)
	logs := &lockedBuffer{}
	called := make(chan string, 1)
	q := &flakyQueue{MemoryQueue: NewMemoryQueue(4)}
	h, workers, err := newHandler(Config{
		Keys:    signature.MustKeyring("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
		Store:   store,
		Queue:   q,
		Workers: 1,
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
		Handler: HandlerFunc(func(_ context.Context, ev event.Event) error { called <- ev.ID; return nil }),
	})
	require.NoError(t, err)
	h.dequeuePause = time.Millisecond
	h.start(workers)
	t.Cleanup(func() { _ = h.Shutdown(context.Background()) })

	c, err := store.Claim(context.Background(), "evt_1", time.Minute)
	require.NoError(t, err)
	require.NoError(t, q.Enqueue(context.Background(), Delivery{Event: event.Event{ID: "evt_1", Type: "invoice.paid"}, Token: c.Token}))
	select {
	case id := <-called:
		require.Equal(t, "evt_1", id)
	case <-time.After(5 * time.Second):
		t.Fatal("the worker did not recover from the failed Dequeue")
	}
	require.Contains(t, logs.String(), "dequeue failed")
}
