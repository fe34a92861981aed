package readme

import (
	"context"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/signature"
)

// Invoice is the data of invoice.paid events.
type Invoice struct {
	ID          string `json:"id"`
	AmountCents int64  `json:"amount_cents"`
}

// NewReceiver returns the handler to mount at the webhook URL: it verifies
// the signature, drops duplicates, answers 202 at once and calls paid on a worker.
func NewReceiver(secret string, paid func(context.Context, Invoice) error) (*receiver.Handler, error) {
	keys, err := signature.NewKeyringFromStrings(secret) // old and new secret during a rotation
	if err != nil {
		return nil, err
	}
	router := &receiver.Router{}
	receiver.Handle(router, "invoice.paid", func(ctx context.Context, ev event.Event, inv Invoice) error {
		return paid(ctx, inv) // an error is retried in process, then dead-lettered
	})
	return receiver.New(receiver.Config{Keys: keys, Handler: router}) // memory dedupe by event id
}

// In main: h, err := NewReceiver(os.Getenv("WEBHOOK_SECRET"), markPaid)
// http.Handle("POST /webhooks", h); on exit, h.Shutdown(ctx) drains the workers.
