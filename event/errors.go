package event

import (
	"errors"
	"strings"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// them, so callers can branch with errors.Is. Most are returned wrapped in a
// *ValidationError that names the offending field and says what is allowed.
var (
	// ErrInvalidType reports an event type that is missing or not of the form
	// "resource.action" (lower-case [a-z0-9_] segments, dot separated).
	ErrInvalidType = errors.New("event: invalid event type")
	// ErrInvalidID reports an event id that is missing, too long or contains
	// a byte other than printable ASCII without '.' and space.
	ErrInvalidID = errors.New("event: invalid event id")
	// ErrInvalidData reports data that is missing or not a JSON object.
	ErrInvalidData = errors.New("event: invalid event data")
	// ErrInvalidTimestamp reports a timestamp that is missing, not RFC 3339
	// or outside the years 0001 to 9999.
	ErrInvalidTimestamp = errors.New("event: invalid event timestamp")
	// ErrInvalidResourceURL reports a resource_url that is not an absolute
	// http or https URL.
	ErrInvalidResourceURL = errors.New("event: invalid resource url")
	// ErrTooLarge reports an encoded event larger than the configured limit.
	ErrTooLarge = errors.New("event: event too large")
	// ErrMalformed reports input that is not a well-formed envelope: not UTF-8,
	// not JSON, not a JSON object, a duplicate key or a field of the wrong
	// JSON type.
	ErrMalformed = errors.New("event: malformed event")
	// ErrUnknownType reports an event type a strict Catalog has no
	// Definition for.
	ErrUnknownType = errors.New("event: unknown event type")
	// ErrSchemaMismatch reports data that does not match the Go type or the
	// JSON Schema registered for its event type in a Catalog.
	ErrSchemaMismatch = errors.New("event: data does not match the registered schema")
	// ErrInvalidDefinition reports a Definition that Catalog.Register
	// refuses: a bad type or version, an example that does not match its own
	// Go type or schema, an invalid schema, or a type registered twice.
	ErrInvalidDefinition = errors.New("event: invalid event definition")
	// ErrInvalidCloudEvent reports a CloudEvents envelope that is not a
	// CloudEvents 1.0 structured JSON event hookkit can convert: wrong
	// specversion, missing source, non-JSON datacontenttype or data_base64.
	ErrInvalidCloudEvent = errors.New("event: invalid CloudEvent")
)

// ValidationError describes why an event, envelope or definition was
// refused. Err is always one of the package's sentinel errors; errors.Is
// matches it, and errors.As reaches the underlying cause (the
// *json.UnmarshalTypeError of a Catalog's Go type check, for example) when
// there is one.
type ValidationError struct {
	// Field is the JSON name of the offending field ("event_id", "data",
	// "resource_url", …), or "" when the error concerns the whole event.
	// FromCloudEvent uses CloudEvents attribute names ("id", "time", …);
	// Catalog.Register uses Definition field names ("Type", "Schema", …).
	Field string
	// Err is the sentinel error (ErrInvalidID, ErrTooLarge, …).
	Err error
	// Reason says what is wrong and what is allowed, in plain words.
	Reason string

	cause error
}

// Error returns e.g. `event: invalid event_id "a.b": contains '.' at byte 1;
// ids are 1 to 255 printable ASCII bytes without '.' or space`.
func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("event: invalid event")
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	return b.String()
}

// Unwrap returns the sentinel and, when there is one, the underlying cause.
func (e *ValidationError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Err, e.cause}
	}
	return []error{e.Err}
}

func invalid(field string, sentinel error, reason string) *ValidationError {
	return &ValidationError{Field: field, Err: sentinel, Reason: reason}
}

func invalidCause(field string, sentinel error, reason string, cause error) *ValidationError {
	return &ValidationError{Field: field, Err: sentinel, Reason: reason, cause: cause}
}
