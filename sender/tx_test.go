package sender_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/sender"
)

// fakeTx stands for a database transaction.
type fakeTx struct{ reqs []sender.PublishRequest }

// txStore is a MemoryStore that also publishes "inside" a fakeTx.
type txStore struct {
	*sender.MemoryStore
}

func (s txStore) PublishTx(ctx context.Context, tx *fakeTx, req sender.PublishRequest) (sender.PublishResult, error) {
	tx.reqs = append(tx.reqs, req)
	return sender.PublishResult{EventID: req.Event.ID}, nil
}

type txBundle struct {
	sender *sender.Sender
	store  txStore
}

func setupTx(t *testing.T) txBundle {
	t.Helper()
	ms := sender.NewMemoryStore(sender.MemoryStoreConfig{})
	t.Cleanup(func() {
		if c, ok := any(ms).(interface{ Close() error }); ok {
			_ = c.Close()
		}
	})
	st := txStore{MemoryStore: ms}
	s, err := sender.New(sender.Config{Store: st})
	require.NoError(t, err)
	ctx := t.Context()
	for _, ep := range []sender.Endpoint{
		{ID: "ep_invoices", URL: "https://a.example/hook", EventTypes: []string{"invoice.*"}},
		{ID: "ep_all", URL: "https://b.example/hook"},
		{ID: "ep_users", URL: "https://c.example/hook", EventTypes: []string{"user.created"}},
		{ID: "ep_off", URL: "https://d.example/hook"},
	} {
		_, err := s.CreateEndpoint(ctx, ep)
		require.NoError(t, err)
	}
	_, err = s.DisableEndpoint(ctx, "ep_off", "test")
	require.NoError(t, err)
	return txBundle{sender: s, store: st}
}

func newEvent(t *testing.T, typ string) event.Event {
	t.Helper()
	ev, err := event.New(typ, map[string]any{"id": 1})
	require.NoError(t, err)
	return ev
}

func TestPublishTxFansOutInsideTheTransaction(t *testing.T) {
	t.Parallel()
	b := setupTx(t)
	tx := &fakeTx{}
	ev := newEvent(t, "invoice.paid")

	res, err := sender.PublishTx(t.Context(), b.sender, tx, ev, sender.WithIdempotencyKey("k1"))
	require.NoError(t, err)
	require.Equal(t, ev.ID, res.EventID)
	require.Len(t, tx.reqs, 1)
	req := tx.reqs[0]
	require.Equal(t, []string{"ep_all", "ep_invoices"}, req.EndpointIDs, "only enabled, subscribed endpoints")
	require.Equal(t, ev.ID, req.Event.ID)
	require.Equal(t, "k1", req.Event.IdempotencyKey)
	require.False(t, req.Now.IsZero())
	want, err := ev.MarshalJSON()
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(req.Event.Payload))

	// Nothing went through the store's own Publish.
	ds, err := b.store.ListDeliveries(t.Context(), sender.DeliveryFilter{})
	require.NoError(t, err)
	require.Empty(t, ds)
}

func TestSendTx(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		endpoint string
		wantErr  error
	}{
		{name: "an enabled endpoint gets one delivery whatever its subscriptions", endpoint: "ep_users"},
		{name: "a disabled endpoint is refused", endpoint: "ep_off", wantErr: sender.ErrEndpointDisabled},
		{name: "an unknown endpoint is refused", endpoint: "ep_nope", wantErr: sender.ErrEndpointNotFound},
		{name: "an empty endpoint id is refused", endpoint: "", wantErr: sender.ErrEndpointNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupTx(t)
			tx := &fakeTx{}
			_, err := sender.SendTx(t.Context(), b.sender, tx, tt.endpoint, newEvent(t, "invoice.paid"))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Empty(t, tx.reqs)
				return
			}
			require.NoError(t, err)
			require.Len(t, tx.reqs, 1)
			require.Equal(t, []string{tt.endpoint}, tx.reqs[0].EndpointIDs)
		})
	}
}

func TestPublishTxRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		run     func(t *testing.T, b txBundle) error
		wantErr error
	}{
		{
			name: "a store without transactions is refused with a typed error",
			run: func(t *testing.T, _ txBundle) error {
				s, err := sender.New(sender.Config{})
				require.NoError(t, err)
				_, err = sender.PublishTx(t.Context(), s, &fakeTx{}, newEvent(t, "invoice.paid"))
				return err
			},
			wantErr: sender.ErrTxUnsupported,
		},
		{
			name: "a transaction of the wrong type is refused",
			run: func(t *testing.T, b txBundle) error {
				_, err := sender.PublishTx(t.Context(), b.sender, "not a tx", newEvent(t, "invoice.paid"))
				return err
			},
			wantErr: sender.ErrTxUnsupported,
		},
		{
			name: "an invalid event is refused before the store sees it",
			run: func(t *testing.T, b txBundle) error {
				tx := &fakeTx{}
				ev := newEvent(t, "invoice.paid")
				ev.Type = "Not A Type"
				_, err := sender.PublishTx(t.Context(), b.sender, tx, ev)
				require.Empty(t, tx.reqs)
				return err
			},
			wantErr: sender.ErrInvalidEvent,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.ErrorIs(t, tt.run(t, setupTx(t)), tt.wantErr)
		})
	}
}
