package hostile_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/signature"
)

// TestReceiverForgedFloodClaimsNothing floods a receiver with forged requests for event ids a
// genuine sender will deliver afterwards: wrong keys, near-miss signatures, replays of a
// genuine signature outside the tolerance (both directions), a genuine signature over another
// body or id, 1,000-entry headers. Every one is answered 401, no handler runs, and none of
// them claims its id: the genuine deliveries that follow are accepted (not duplicates) and
// processed once. An attacker who knows event ids cannot block them.
//
//	go test -race -run TestReceiverForgedFloodClaimsNothing -v ./internal/hostile/
func TestReceiverForgedFloodClaimsNothing(t *testing.T) {
	t.Parallel()
	const ids = 200
	secret, other := mustSecret(t), mustSecret(t)
	kr := signature.MustKeyring(secret)
	signer, err := signature.NewSigner(signature.SignerConfig{Keys: kr})
	require.NoError(t, err)
	forger, err := signature.NewSigner(signature.SignerConfig{Keys: signature.MustKeyring(other)})
	require.NoError(t, err)

	var (
		mu        sync.Mutex
		processed = map[string]int{}
		rejected  = map[string]int{}
	)
	h, err := receiver.New(receiver.Config{
		Keys: kr, Logger: discard(),
		Observer: receiver.Observer{Rejected: func(_ context.Context, r receiver.Rejection) {
			mu.Lock()
			rejected[r.Reason]++
			mu.Unlock()
		}},
		Handler: receiver.HandlerFunc(func(_ context.Context, ev event.Event) error {
			mu.Lock()
			processed[ev.ID]++
			mu.Unlock()
			return nil
		}),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, h.Shutdown(ctx))
	})

	body := func(id string) []byte {
		return []byte(fmt.Sprintf(`{"event_id":%q,"event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{"amount":1}}`, id))
	}
	serve := func(id, ts, sig string, b []byte) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(b))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Webhook-Id", id)
		r.Header.Set("Webhook-Timestamp", ts)
		r.Header.Set("Webhook-Signature", sig)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	sign := func(s *signature.Signer, id string, at time.Time, b []byte) (string, string) {
		sig, err := s.Sign(nil, id, at.Unix(), b)
		require.NoError(t, err)
		return strconv.FormatInt(at.Unix(), 10), string(sig)
	}

	forgeries := []struct {
		name  string
		forge func(id string) (ts, sig string, b []byte)
	}{
		{"a signature by another key", func(id string) (string, string, []byte) {
			ts, sig := sign(forger, id, time.Now(), body(id))
			return ts, sig, body(id)
		}},
		{"a near-miss signature", func(id string) (string, string, []byte) {
			ts, sig := sign(signer, id, time.Now(), body(id))
			b := []byte(sig)
			b[len(b)-2] ^= 1
			return ts, string(b), body(id)
		}},
		{"a genuine signature 301 s old", func(id string) (string, string, []byte) {
			ts, sig := sign(signer, id, time.Now().Add(-301*time.Second), body(id))
			return ts, sig, body(id)
		}},
		{"a genuine signature 301 s in the future", func(id string) (string, string, []byte) {
			ts, sig := sign(signer, id, time.Now().Add(301*time.Second), body(id))
			return ts, sig, body(id)
		}},
		{"a genuine signature over another body", func(id string) (string, string, []byte) {
			ts, sig := sign(signer, id, time.Now(), body(id))
			return ts, sig, body(id + "x")
		}},
		{"a genuine signature of another id", func(id string) (string, string, []byte) {
			ts, sig := sign(signer, id+"x", time.Now(), body(id))
			return ts, sig, body(id)
		}},
		{"1,000 entries with the genuine one last", func(id string) (string, string, []byte) {
			ts, sig := sign(signer, id, time.Now(), body(id))
			_, fake := sign(forger, id, time.Now(), body(id))
			return ts, string(bytes.Repeat([]byte(fake+" "), 999)) + sig, body(id)
		}},
	}
	var wg sync.WaitGroup
	var forged, non401 atomic.Int64
	for i := range ids {
		wg.Go(func() {
			id := fmt.Sprintf("evt_target_%03d", i)
			for _, f := range forgeries {
				ts, sig, b := f.forge(id)
				forged.Add(1)
				if rec := serve(id, ts, sig, b); rec.Code != http.StatusUnauthorized {
					non401.Add(1)
					t.Errorf("%s for %s: status %d", f.name, id, rec.Code)
				}
			}
		})
	}
	wg.Wait()
	require.Zero(t, non401.Load())
	mu.Lock()
	require.Empty(t, processed, "no handler ran for a forged request")
	mu.Unlock()

	// The genuine deliveries: accepted as new (not duplicates) and processed once.
	for i := range ids {
		id := fmt.Sprintf("evt_target_%03d", i)
		ts, sig := sign(signer, id, time.Now(), body(id))
		rec := serve(id, ts, sig, body(id))
		require.Equal(t, http.StatusAccepted, rec.Code, id)
		require.Empty(t, rec.Header().Get(receiver.HeaderDuplicate), "%s was not claimed by a forgery", id)
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(processed) == ids
	}, 10*time.Second, 5*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for id, n := range processed {
		require.Equal(t, 1, n, id)
	}
	t.Logf("forged requests: %d (%d kinds x %d ids), all 401, handler calls 0; rejection reasons %v; genuine deliveries afterwards: %d accepted, %d processed once",
		forged.Load(), len(forgeries), ids, rejected, ids, len(processed))
}

// countingReader counts the bytes read from an endless body.
type countingReader struct{ n atomic.Int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// TestReceiverOversizedBodiesAreNotRead sends bodies far over MaxBodyBytes (an endless one
// without Content-Length, and one declaring 1 GiB): 413, and the receiver reads at most a
// little past the limit.
//
//	go test -race -run TestReceiverOversizedBodiesAreNotRead -v ./internal/hostile/
func TestReceiverOversizedBodiesAreNotRead(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	h, err := receiver.New(receiver.Config{
		Keys: signature.MustKeyring(mustSecret(t)), Logger: discard(), MaxBodyBytes: limit,
		Handler: receiver.HandlerFunc(func(context.Context, event.Event) error { return nil }),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, h.Shutdown(ctx))
	})
	for _, declared := range []int64{-1, 1 << 30} {
		body := &countingReader{}
		r := httptest.NewRequest(http.MethodPost, "/webhook", io.NopCloser(body))
		r.ContentLength = declared
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
		require.LessOrEqual(t, body.n.Load(), int64(limit+64<<10), "bytes read of an endless body")
		t.Logf("Content-Length %d: 413 after reading %d bytes (limit %d)", declared, body.n.Load(), limit)
	}
}
