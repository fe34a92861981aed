package readme

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/sender"
)

// TestSendAndReceive runs the README's two examples against each other.
func TestSendAndReceive(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var h atomic.Pointer[http.Handler] // the receiver needs the secret the sender generates
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*h.Load()).ServeHTTP(w, r)
	}))
	defer srv.Close()

	cfg := sender.Config{
		AllowPrivateNetworks: true, // the receiver is on 127.0.0.1
		Logger:               slog.New(slog.DiscardHandler),
	}
	s, secret, err := NewSender(ctx, cfg, srv.URL+"/webhooks")
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Shutdown(context.Background())) }()

	paid := make(chan Invoice, 4)
	rcv, err := NewReceiver(secret, func(_ context.Context, inv Invoice) error {
		paid <- inv
		return nil
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, rcv.Shutdown(context.Background())) }()
	var handler http.Handler = rcv
	h.Store(&handler)

	inv := Invoice{ID: "in_1001", AmountCents: 4200}
	require.NoError(t, PublishPaid(ctx, s, inv))
	require.NoError(t, PublishPaid(ctx, s, inv), "a second publish with the same idempotency key stores nothing")
	select {
	case got := <-paid:
		require.Equal(t, inv, got)
	case <-ctx.Done():
		t.Fatal("the invoice was not delivered")
	}
	ds, err := s.ListDeliveries(ctx, sender.DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, ds, 1, "one delivery for two publishes")
}
