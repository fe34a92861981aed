package receiver

import (
	"errors"
	"fmt"
)

// Errors reported by the receiver. Test with errors.Is.
var (
	// ErrInvalidConfig is wrapped by every configuration error returned by New
	// and Middleware; the message names the field and what to do.
	ErrInvalidConfig = errors.New("receiver: invalid config")

	// ErrQueueFull is returned by Queue.Enqueue when the queue has no room.
	// The handler releases the event's claim and answers 503 with
	// Retry-After, so the sender delivers it again later: nothing accepted
	// is dropped. Raise QueueSize or Workers if it happens often.
	ErrQueueFull = errors.New("receiver: hand-off queue is full; the sender is asked to retry later")

	// ErrQueueClosed is returned by Queue.Enqueue after Close, and by
	// Queue.Dequeue once the queue is closed and drained.
	ErrQueueClosed = errors.New("receiver: hand-off queue is closed")

	// ErrShutdown is returned by Shutdown when called more than once.
	ErrShutdown = errors.New("receiver: handler already shut down")

	// ErrUnknownType is the error (made permanent with retry.Permanent)
	// a Router returns for an event type with no route when its
	// Unknown policy is DeadLetterUnknown; the dead-letter hook receives it.
	ErrUnknownType = errors.New("receiver: no route for the event type")

	// ErrDecode wraps the error of decoding an event's data into the type
	// given to Handle. It is permanent: retrying cannot fix the payload.
	ErrDecode = errors.New("receiver: cannot decode event data")
)

// PanicError is the error a handler panic is turned into. Panics are
// retried like any other error, then dead-lettered.
type PanicError struct {
	// Value is what the handler panicked with.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

// Error implements error; it does not include the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("receiver: handler panicked: %v", e.Value)
}

// Unwrap returns Value if it is an error.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

func configError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}
