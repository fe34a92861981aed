package receiver_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver"
)

func TestMemoryQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := receiver.NewMemoryQueue(2)
	require.Equal(t, 2, q.Cap())
	d := func(id string) receiver.Delivery { return receiver.Delivery{Event: event.Event{ID: id}} }

	require.NoError(t, q.Enqueue(ctx, d("a")))
	require.NoError(t, q.Enqueue(ctx, d("b")))
	require.ErrorIs(t, q.Enqueue(ctx, d("c")), receiver.ErrQueueFull, "a full queue refuses at once")
	require.Equal(t, 2, q.Len())

	got, err := q.Dequeue(ctx)
	require.NoError(t, err)
	require.Equal(t, "a", got.Event.ID)

	require.NoError(t, q.Close())
	require.NoError(t, q.Close(), "Close is idempotent")
	require.ErrorIs(t, q.Enqueue(ctx, d("d")), receiver.ErrQueueClosed)
	got, err = q.Dequeue(ctx)
	require.NoError(t, err, "what is queued is still delivered after Close")
	require.Equal(t, "b", got.Event.ID)
	_, err = q.Dequeue(ctx)
	require.ErrorIs(t, err, receiver.ErrQueueClosed)
	_, ok := q.TryDequeue()
	require.False(t, ok)
	require.NoError(t, q.Ack(ctx, got, receiver.Processed))
}

func TestMemoryQueueDequeueStopsWithItsContext(t *testing.T) {
	t.Parallel()
	q := receiver.NewMemoryQueue(0)
	require.Equal(t, receiver.DefaultQueueSize, q.Cap())
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err := q.Dequeue(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestOutcomeStrings(t *testing.T) {
	t.Parallel()
	require.Equal(t, "processed", receiver.Processed.String())
	require.Equal(t, "dead_lettered", receiver.DeadLettered.String())
	require.Equal(t, "abandoned", receiver.Abandoned.String())
	require.Equal(t, "unknown", receiver.Outcome(0).String())
}

func TestHandlerWithDefaultStoreShutsItDown(t *testing.T) {
	t.Parallel()
	calls := make(chan string, 1)
	h, err := receiver.New(receiver.Config{
		Keys:    keyring(),
		Logger:  discardLogger(),
		Handler: receiver.HandlerFunc(func(_ context.Context, ev event.Event) error { calls <- ev.ID; return nil }),
	})
	require.NoError(t, err)
	ev := newEvent(t)
	require.Equal(t, 202, serve(h, signedFor(ev)).Code)
	require.Equal(t, ev.ID, recv(t, calls))
	waitDone(t, h, ev)
	require.NoError(t, h.Shutdown(context.Background())) // goleak checks the store's sweeper stopped
}
