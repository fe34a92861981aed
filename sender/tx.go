package sender

import (
	"context"
	"errors"
	"fmt"

	"github.com/hookkit/hookkit/event"
)

// TxPublisher is implemented by stores that can publish inside the caller's
// database transaction of type TX (for sender/pgstore, TX is pgx.Tx): the
// transactional outbox. The write must commit or roll back with tx.
type TxPublisher[TX any] interface {
	PublishTx(ctx context.Context, tx TX, req PublishRequest) (PublishResult, error)
}

// ErrTxUnsupported reports a PublishTx or SendTx on a Sender whose store cannot
// publish inside a transaction of the given type (for example the MemoryStore,
// or a pgstore given something other than a pgx.Tx).
var ErrTxUnsupported = errors.New("sender: the store cannot publish inside this kind of transaction")

// PublishTx is Publish inside the application's own transaction tx: the event
// and one delivery per enabled, subscribed endpoint are written with tx, so they
// commit atomically with the application's own writes, and a rolled-back tx
// delivers nothing. The Sender's store must implement TxPublisher[TX] — with
// sender/pgstore, pass the pgx.Tx:
//
//	tx, err := pool.Begin(ctx)
//	…                                         // the application's own writes
//	res, err := sender.PublishTx(ctx, s, tx, ev)
//	…
//	err = tx.Commit(ctx)                       // dispatchers wake now
//
// Validation, the payload limit, the idempotency key and the fan-out are those of
// Publish; subscribed endpoints are read outside tx. The dispatchers (of this
// Sender and of every other instance sharing the database) are woken when tx
// commits, by a NOTIFY the store sends in tx; PublishTx itself wakes nobody,
// since nothing is visible before the commit. It fails with ErrTxUnsupported when
// the store is not a TxPublisher[TX].
func PublishTx[TX any](ctx context.Context, s *Sender, tx TX, ev event.Event, opts ...PublishOption) (PublishResult, error) {
	return publishTx(ctx, s, tx, "", ev, opts)
}

// SendTx is Send inside the application's own transaction tx: one delivery of ev
// to the endpoint endpointID, committed or rolled back with tx. See PublishTx.
// It fails with ErrEndpointNotFound for an unknown endpoint, ErrEndpointDisabled
// for a disabled one, and ErrTxUnsupported when the store is not a
// TxPublisher[TX].
func SendTx[TX any](ctx context.Context, s *Sender, tx TX, endpointID string, ev event.Event, opts ...PublishOption) (PublishResult, error) {
	if endpointID == "" {
		return PublishResult{}, fmt.Errorf("%w: empty endpoint id", ErrEndpointNotFound)
	}
	return publishTx(ctx, s, tx, endpointID, ev, opts)
}

func publishTx[TX any](ctx context.Context, s *Sender, tx TX, endpointID string, ev event.Event, opts []PublishOption) (PublishResult, error) {
	p, ok := s.store.(TxPublisher[TX])
	if !ok {
		var zero TX
		return PublishResult{}, fmt.Errorf("%w: %T does not implement TxPublisher[%T]", ErrTxUnsupported, s.store, zero)
	}
	// The same validation, encoding and fan-out as Publish and Send.
	req, err := s.request(ctx, ev, endpointID, opts)
	if err != nil {
		return PublishResult{}, err
	}
	return p.PublishTx(ctx, tx, req)
}
