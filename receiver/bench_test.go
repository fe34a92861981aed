package receiver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/receivertest"
	"github.com/hookkit/hookkit/signature"
)

// discardQueue accepts every delivery and drops it, so that a benchmark
// measures the request path alone (no worker allocations).
type discardQueue struct{ closed chan struct{} }

func (q *discardQueue) Enqueue(context.Context, receiver.Delivery) error { return nil }
func (q *discardQueue) Dequeue(ctx context.Context) (receiver.Delivery, error) {
	select {
	case <-q.closed:
		return receiver.Delivery{}, receiver.ErrQueueClosed
	case <-ctx.Done():
		return receiver.Delivery{}, ctx.Err()
	}
}
func (q *discardQueue) Ack(context.Context, receiver.Delivery, receiver.Outcome) error { return nil }
func (q *discardQueue) Close() error                                                   { close(q.closed); return nil }

// benchWriter is a minimal, reusable http.ResponseWriter.
type benchWriter struct {
	h      http.Header
	status int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(code int)        { w.status = code }

// signedRequests pre-builds n signed 1 KiB requests with distinct ids.
func signedRequests(b *testing.B, n int) ([]*http.Request, []*bytes.Reader, [][]byte) {
	b.Helper()
	signer, err := signature.NewSigner(signature.SignerConfig{Keys: receivertest.Keyring("")})
	if err != nil {
		b.Fatal(err)
	}
	pad := bytes.Repeat([]byte("x"), 860)
	reqs := make([]*http.Request, n)
	readers := make([]*bytes.Reader, n)
	bodies := make([][]byte, n)
	now := time.Now()
	for i := range n {
		ev := receivertest.NewEvent("invoice.paid", map[string]any{"invoice": fmt.Sprintf("inv_%d", i), "amount": i, "pad": string(pad)})
		body, _ := ev.MarshalJSON()
		r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/webhook", nil)
		r.Header.Set("Content-Type", "application/json")
		if err := signer.SignHeader(r.Header, ev.ID, now, body); err != nil {
			b.Fatal(err)
		}
		r.RemoteAddr = "127.0.0.1:50000"
		r.ContentLength = int64(len(body))
		readers[i] = bytes.NewReader(body)
		r.Body = io.NopCloser(readers[i])
		reqs[i], bodies[i] = r, body
	}
	return reqs, readers, bodies
}

// BenchmarkRequestPath measures ServeHTTP of signed 1 KiB envelopes with
// distinct ids: read (pooled), verify, parse, claim (memory store),
// enqueue. Allocations are per request, beyond what net/http makes.
func BenchmarkRequestPath(b *testing.B) {
	store := idempotency.NewMemoryStore(idempotency.MemoryConfig{SweepInterval: -1})
	defer store.Close()
	h, err := receiver.New(receiver.Config{
		Keys:       receivertest.Keyring(""),
		Store:      store,
		ClaimLease: time.Nanosecond, // requests are reused after a cycle; let their claims lapse
		Queue:      &discardQueue{closed: make(chan struct{})},
		Logger:     discardLogger(),
		Handler:    receiver.HandlerFunc(func(context.Context, event.Event) error { return nil }),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = h.Shutdown(context.Background()) }()
	const n = 4096
	reqs, readers, bodies := signedRequests(b, n)
	w := &benchWriter{h: http.Header{}}
	b.SetBytes(int64(len(bodies[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		j := i % n
		readers[j].Reset(bodies[j])
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, reqs[j])
		if w.status != http.StatusAccepted {
			b.Fatalf("status %d", w.status)
		}
	}
}
