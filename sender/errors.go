package sender

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Store errors. Every Store implementation returns (or wraps) these sentinels so
// callers can test for them with errors.Is whatever the backing database.
var (
	// ErrEndpointNotFound reports an endpoint id that is not stored.
	ErrEndpointNotFound = errors.New("sender: endpoint not found")

	// ErrDuplicateEndpoint reports an attempt to create an endpoint whose id is already taken.
	// Choose another id, or update the existing endpoint instead.
	ErrDuplicateEndpoint = errors.New("sender: an endpoint with this id already exists")

	// ErrEventNotFound reports an event id that is not stored (never published, or pruned).
	ErrEventNotFound = errors.New("sender: event not found")

	// ErrDeliveryNotFound reports a delivery id that is not stored (never created, pruned,
	// or removed with its endpoint).
	ErrDeliveryNotFound = errors.New("sender: delivery not found")

	// ErrEventConflict reports a publish of an event id that is already stored with a
	// different type or payload. Event ids must identify one immutable payload: give the
	// new event a new id.
	ErrEventConflict = errors.New("sender: event id already stored with a different type or payload")

	// ErrLeaseLost reports a settlement or lease extension for a delivery that the caller
	// no longer holds: the lease expired, another owner claimed it, it was already settled,
	// or it was removed. The caller must drop its result: someone else owns the delivery
	// now. Errors carrying it are *LeaseLostError values listing the delivery ids.
	ErrLeaseLost = errors.New("sender: delivery lease lost")

	// ErrNotReplayable reports a replay of a delivery that is still pending or in flight.
	// Only settled deliveries (dead-lettered or delivered) can be replayed.
	ErrNotReplayable = errors.New("sender: delivery is not settled, so it cannot be replayed")

	// ErrInvalidRequest reports a malformed Store request (for example a Claim without an
	// owner or a lease, or a settlement of unknown kind). It is a programming error;
	// nothing was changed.
	ErrInvalidRequest = errors.New("sender: invalid store request")
)

// Endpoint validation errors. Endpoint.Validate returns a *ValidationError that
// wraps ErrInvalidEndpoint and exactly one of the more specific sentinels below,
// so both errors.Is(err, ErrInvalidEndpoint) and, for example,
// errors.Is(err, ErrURLCredentials) hold.
var (
	// ErrInvalidEndpoint is wrapped by every endpoint validation error.
	ErrInvalidEndpoint = errors.New("sender: invalid endpoint")

	// ErrInvalidID reports an empty or malformed endpoint id: 1 to 255 printable ASCII
	// bytes without spaces.
	ErrInvalidID = errors.New("id must be 1 to 255 printable ASCII characters without spaces")

	// ErrInvalidURL reports an endpoint URL that is not an absolute http or https URL with
	// a host, that carries a fragment, or that is too long.
	ErrInvalidURL = errors.New("URL must be an absolute http:// or https:// URL with a host and no fragment")

	// ErrHTTPSRequired reports an http:// endpoint URL while https-only mode is on.
	ErrHTTPSRequired = errors.New("URL must use https (https-only mode is on)")

	// ErrURLCredentials reports an endpoint URL carrying user info (user:pass@host).
	// Never embed credentials in a webhook URL: put them in the endpoint's custom
	// headers, which are treated as secrets and redacted from logs.
	ErrURLCredentials = errors.New("URL must not carry credentials (user:pass@host); put credentials in custom headers, which are kept secret")

	// ErrInvalidKey reports a missing or malformed signing key.
	ErrInvalidKey = errors.New("signing keys must be non-empty whsec_/whsk_ secrets; at least one is required")

	// ErrInvalidEventFilter reports a malformed event type subscription. Valid forms are an
	// exact type ("invoice.paid"), a prefix wildcard ("invoice.*") and "*".
	ErrInvalidEventFilter = errors.New(`event type filters must be an exact type ("invoice.paid"), a prefix wildcard ("invoice.*") or "*"`)

	// ErrForbiddenHeader reports a custom header the sender sets itself or that must not be
	// forwarded: hop-by-hop headers (Connection, Keep-Alive, Proxy-*, TE, Trailer,
	// Transfer-Encoding, Upgrade), Host, Content-Length, Content-Type and the signature
	// headers (webhook-*, svix-*).
	ErrForbiddenHeader = errors.New("custom header is reserved: hop-by-hop, Host, Content-Length, Content-Type, webhook-* and svix-* headers cannot be set")

	// ErrInvalidHeader reports a custom header with a malformed name or value (control
	// characters, too long) or too many custom headers.
	ErrInvalidHeader = errors.New("custom header name must be an HTTP token and its value must not contain control characters")

	// ErrInvalidLimit reports a negative or out-of-range rate limit, concurrency,
	// timeout, or oversized description or metadata.
	ErrInvalidLimit = errors.New("value out of range")
)

// ValidationError describes why an endpoint was refused. Field names the offending
// Endpoint field ("URL", "Headers[X-Api-Key]", …). It matches ErrInvalidEndpoint
// and Err with errors.Is.
type ValidationError struct {
	// Field is the Endpoint field that failed validation.
	Field string
	// Err is the specific sentinel (ErrInvalidURL, ErrURLCredentials, …), possibly wrapped
	// with detail.
	Err error
}

// Error implements error.
func (e *ValidationError) Error() string {
	return "sender: invalid endpoint " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns ErrInvalidEndpoint and the specific cause.
func (e *ValidationError) Unwrap() []error { return []error{ErrInvalidEndpoint, e.Err} }

func invalid(field string, err error, detail string) error {
	if detail != "" {
		err = fmt.Errorf("%w (%s)", err, detail)
	}
	return &ValidationError{Field: field, Err: err}
}

// LeaseLostError lists the deliveries of a Settle or ExtendLeases batch that the
// caller no longer held. The other items of the batch were applied. It matches
// ErrLeaseLost with errors.Is.
type LeaseLostError struct {
	// IDs are the deliveries whose settlement or extension was refused.
	IDs []DeliveryID
}

// Error implements error.
func (e *LeaseLostError) Error() string {
	var b strings.Builder
	b.WriteString("sender: delivery lease lost for ")
	b.WriteString(strconv.Itoa(len(e.IDs)))
	b.WriteString(" deliveries [")
	for i, id := range e.IDs {
		if i == 8 {
			b.WriteString(" …")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(id.String())
	}
	b.WriteByte(']')
	return b.String()
}

// Is reports whether target is ErrLeaseLost.
func (e *LeaseLostError) Is(target error) bool { return target == ErrLeaseLost }
