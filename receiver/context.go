package receiver

import (
	"context"
	"net/http"
	"time"

	"github.com/hookkit/hookkit/event"
)

// Metadata describes the delivery of an event to a handler.
type Metadata struct {
	// Header holds the request's headers. Do not modify it.
	Header http.Header
	// Attempt is the handler attempt for this delivery, starting at 1.
	// (It counts the receiver's in-process retries, not the sender's.)
	Attempt int
	// ReceivedAt is when the request arrived.
	ReceivedAt time.Time
	// Provider is the Provider's Name ("hookkit" for the default).
	Provider string
}

type metadataKey struct{}

type eventKey struct{}

// MetadataFrom returns the delivery metadata carried by a handler's context.
// ok is false outside a receiver handler (and in Middleware's next handler,
// whose request carries the headers itself).
func MetadataFrom(ctx context.Context) (md Metadata, ok bool) {
	p, ok := ctx.Value(metadataKey{}).(*Metadata)
	if !ok {
		return Metadata{}, false
	}
	return *p, true
}

// WithMetadata returns a context carrying md, for testing handlers.
func WithMetadata(ctx context.Context, md Metadata) context.Context {
	return context.WithValue(ctx, metadataKey{}, &md)
}

// metadataCtx carries a worker's Metadata: the context and the value in one
// allocation instead of context.WithValue's two. Value answers metadataKey
// like context.WithValue would; Done, Err and Deadline are the parent's.
type metadataCtx struct {
	context.Context
	md Metadata
}

func (c *metadataCtx) Value(key any) any {
	if _, ok := key.(metadataKey); ok {
		return &c.md
	}
	return c.Context.Value(key)
}

// EventFrom returns the verified, parsed event that Middleware put in the
// request context. ok is false if the request did not pass through
// Middleware.
func EventFrom(ctx context.Context) (ev event.Event, ok bool) {
	p, ok := ctx.Value(eventKey{}).(*event.Event)
	if !ok {
		return event.Event{}, false
	}
	return *p, true
}

// WithEvent returns a context carrying ev, as Middleware does, for testing
// handlers that call EventFrom.
func WithEvent(ctx context.Context, ev event.Event) context.Context {
	return context.WithValue(ctx, eventKey{}, &ev)
}
