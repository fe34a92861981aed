package readme

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/receivertest"
)

func TestReceiver(t *testing.T) {
	t.Parallel()
	paid := make(chan Invoice, 4)
	h, err := NewReceiver(receivertest.Secret, func(_ context.Context, inv Invoice) error {
		paid <- inv
		return nil
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, h.Shutdown(context.Background())) }()

	ev := receivertest.NewEvent("invoice.paid", Invoice{ID: "in_7", AmountCents: 999})
	tests := []struct {
		name      string
		req       *http.Request
		status    int
		duplicate string
	}{
		{name: "a correctly signed event is accepted", req: receivertest.NewRequest("", ev), status: http.StatusAccepted},
		{name: "a forged signature is refused", req: receivertest.NewRequest("whsec_dGhpcyBpcyBub3QgdGhlIHJpZ2h0IHNlY3JldA==", ev), status: http.StatusUnauthorized},
		{name: "a replay older than the tolerance is refused", req: receivertest.NewRequestAt("", ev, time.Now().Add(-time.Hour)), status: http.StatusUnauthorized},
	}
	for _, tt := range tests { // in order: the first request must be processed before the duplicate below
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, tt.req)
		require.Equal(t, tt.status, rec.Code, tt.name)
	}
	select {
	case got := <-paid:
		require.Equal(t, Invoice{ID: "in_7", AmountCents: 999}, got)
	case <-time.After(10 * time.Second):
		t.Fatal("the handler was not called")
	}
	require.Eventually(t, func() bool { // the claim is completed just after the handler returns
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, receivertest.NewRequest("", ev))
		return rec.Code == http.StatusOK && rec.Header().Get(receiver.HeaderDuplicate) == "true"
	}, 10*time.Second, 10*time.Millisecond, "a redelivery of a processed event is answered 200 as a duplicate")
	require.Empty(t, paid, "the duplicate was not processed again")
}
