package receiver_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/retry"
)

func TestRouterPicksTheMostSpecificRoute(t *testing.T) {
	t.Parallel()
	var r receiver.Router
	got := ""
	route := func(name string) func(context.Context, event.Event) error {
		return func(context.Context, event.Event) error { got = name; return nil }
	}
	r.HandleFunc("invoice.*", route("invoice.*"))
	r.HandleFunc("invoice.item.*", route("invoice.item.*"))
	r.HandleFunc("invoice.paid", route("invoice.paid"))
	r.Fallback = receiver.HandlerFunc(route("fallback"))

	tests := []struct{ typ, want string }{
		{typ: "invoice.paid", want: "invoice.paid"},
		{typ: "invoice.voided", want: "invoice.*"},
		{typ: "invoice.item.created", want: "invoice.item.*"},
		{typ: "invoice", want: "fallback"},
		{typ: "invoicex.paid", want: "fallback"},
		{typ: "customer.created", want: "fallback"},
	}
	for _, tt := range tests {
		got = ""
		require.NoError(t, r.HandleEvent(context.Background(), event.Event{Type: tt.typ}), tt.typ)
		require.Equal(t, tt.want, got, tt.typ)
	}
}

func TestRouterUnknownPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		policy    receiver.UnknownPolicy
		permanent bool
	}{
		{name: "ignore completes without a handler", policy: receiver.IgnoreUnknown},
		{name: "dead-letter gives up at once", policy: receiver.DeadLetterUnknown, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := receiver.Router{Unknown: tt.policy}
			r.HandleFunc("invoice.paid", func(context.Context, event.Event) error { return nil })
			err := r.HandleEvent(context.Background(), event.Event{Type: "customer.created"})
			if !tt.permanent {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, receiver.ErrUnknownType)
			require.True(t, retry.IsPermanent(err))
		})
	}
}

type invoicePaid struct {
	Invoice string `json:"invoice"`
	Amount  int    `json:"amount"`
}

func TestHandleDecodesDataIntoTheHandlersType(t *testing.T) {
	t.Parallel()
	var r receiver.Router
	var got invoicePaid
	receiver.Handle(&r, "invoice.paid", func(_ context.Context, _ event.Event, data invoicePaid) error {
		got = data
		return nil
	})
	require.NoError(t, r.HandleEvent(context.Background(), event.Event{Type: "invoice.paid", Data: json.RawMessage(`{"invoice":"inv_1","amount":42}`)}))
	require.Equal(t, invoicePaid{Invoice: "inv_1", Amount: 42}, got)

	err := r.HandleEvent(context.Background(), event.Event{Type: "invoice.paid", Data: json.RawMessage(`{"amount":"forty-two"}`)})
	require.ErrorIs(t, err, receiver.ErrDecode)
	require.True(t, retry.IsPermanent(err), "a payload that does not decode cannot succeed on retry")
}

func TestRouterRefusesBadPatterns(t *testing.T) {
	t.Parallel()
	nop := func(context.Context, event.Event) error { return nil }
	for _, pattern := range []string{"", "*", ".*", "invoice*", "in*voice.paid", "invoice.*.paid", "invoice paid"} {
		var r receiver.Router
		require.Panics(t, func() { r.HandleFunc(pattern, nop) }, "%q", pattern)
	}
	var r receiver.Router
	r.HandleFunc("invoice.paid", nop)
	r.HandleFunc("invoice.*", nop)
	require.Panics(t, func() { r.HandleFunc("invoice.paid", nop) }, "duplicate exact")
	require.Panics(t, func() { r.HandleFunc("invoice.*", nop) }, "duplicate prefix")
	require.Panics(t, func() { r.Handle("x.y", nil) }, "nil handler")
}

func TestHandlerRoutesTypedEventsEndToEnd(t *testing.T) {
	t.Parallel()
	got := make(chan invoicePaid, 1)
	dead := make(chan error, 1)
	r := &receiver.Router{Unknown: receiver.DeadLetterUnknown}
	receiver.Handle(r, "invoice.paid", func(ctx context.Context, ev event.Event, data invoicePaid) error {
		md, ok := receiver.MetadataFrom(ctx)
		require.True(t, ok)
		require.Equal(t, 1, md.Attempt)
		got <- data
		return nil
	})
	b := setup(t, nil, func(c *receiver.Config) {
		c.Handler = r
		c.DeadLetter = func(_ context.Context, _ event.Event, _ receiver.Metadata, err error) { dead <- err }
	})
	require.Equal(t, 202, serve(b.h, signedEvent(t, "invoice.paid", invoicePaid{Invoice: "inv_9", Amount: 7})).Code)
	require.Equal(t, invoicePaid{Invoice: "inv_9", Amount: 7}, recv(t, got))
	require.Equal(t, 202, serve(b.h, signedEvent(t, "customer.created", map[string]any{})).Code)
	require.ErrorIs(t, recv(t, dead), receiver.ErrUnknownType)
}
