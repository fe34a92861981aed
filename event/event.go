package event

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits enforced by validation.
const (
	// DefaultMaxSize is the default limit, in bytes, on an encoded event
	// (the JSON envelope, data included). Keep events far smaller: the
	// Standard Webhooks specification recommends staying under 20 KB and
	// sending a resource_url for consumers to fetch the full state.
	DefaultMaxSize = 1 << 20
	// MaxTypeLength is the longest event type accepted, in bytes.
	MaxTypeLength = 128
	// MaxIDLength is the longest event id accepted, in bytes.
	MaxIDLength = 255
	// MaxResourceURLLength is the longest resource_url accepted, in bytes.
	MaxResourceURLLength = 2048
	// IDPrefix starts every id made by NewID.
	IDPrefix = "evt_"
)

// Event is the hookkit envelope. Its JSON form is
//
//	{"event_id":"evt_…","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05.123456Z","data":{…},"resource_url":"https://…"}
//
// The zero value is not a valid event; build one with New or Factory.New,
// or decode one with Parse. Timestamp is always written in UTC, whatever
// its location. ResourceURL is optional.
type Event struct {
	// ID identifies the event; it is sent as the webhook-id header and is
	// the receiver's idempotency key. See ValidateID.
	ID string `json:"event_id"`
	// Type names what happened, "resource.action". See ValidateType.
	Type string `json:"event_type"`
	// Timestamp is when the event happened (not when it was delivered).
	Timestamp time.Time `json:"timestamp"`
	// Data is the payload, a JSON object.
	Data json.RawMessage `json:"data"`
	// ResourceURL optionally points at the full, current state of the
	// resource (an absolute http or https URL), for thin payloads.
	ResourceURL string `json:"resource_url,omitempty"`
}

// New builds an event of the given type whose data is data marshalled with
// encoding/json. It assigns a new id (NewID) and the current UTC time, and
// validates the result against DefaultMaxSize. data must marshal to a JSON
// object: a struct, a map with string keys or a json.RawMessage holding an
// object.
func New(eventType string, data any) (Event, error) {
	return Factory{}.New(eventType, data)
}

// Factory builds events with an injectable clock, id generator and size
// limit, for deterministic tests and for custom id schemes. The zero value
// is ready to use and behaves like New. A Factory is safe for concurrent
// use if its functions are.
type Factory struct {
	// Now returns the event time. It is converted to UTC and truncated to
	// microseconds (the precision of PostgreSQL and most stores, so an event
	// round-trips through them unchanged). Defaults to time.Now.
	Now func() time.Time
	// NewID returns a new event id; it must satisfy ValidateID. Defaults to
	// the package's NewID ("evt_" + a UUIDv7).
	NewID func() string
	// MaxSize limits the encoded event, in bytes. Zero or negative means
	// DefaultMaxSize.
	MaxSize int
}

// New builds and validates an event; see the package-level New.
func (f Factory) New(eventType string, data any) (Event, error) {
	if err := ValidateType(eventType); err != nil {
		return Event{}, err
	}
	raw, err := MarshalData(data)
	if err != nil {
		return Event{}, err
	}
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	newID := NewID
	if f.NewID != nil {
		newID = f.NewID
	}
	e := Event{
		ID:        newID(),
		Type:      eventType,
		Timestamp: now().UTC().Truncate(time.Microsecond),
		Data:      raw,
	}
	if err := e.validateFields(); err != nil {
		return Event{}, err
	}
	if err := checkSize(e.Size(), f.MaxSize); err != nil {
		return Event{}, err
	}
	return e, nil
}

// MarshalData marshals v with encoding/json and checks that the result is
// what Event.Data must be: a JSON object, in UTF-8, nested at most 1000
// levels deep. Errors wrap ErrInvalidData.
func MarshalData(v any) (json.RawMessage, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, invalidCause("data", ErrInvalidData, "cannot marshal data to JSON", err)
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, invalid("data", ErrInvalidData,
			fmt.Sprintf("data must marshal to a JSON object, got %s (%T); use a struct or a map[string]T", jsonKind(raw), v))
	}
	// encoding/json output is valid JSON, but a custom MarshalJSON may
	// emit invalid UTF-8, and nothing bounds the depth.
	if err := validateDataObject(raw); err != nil {
		return nil, err
	}
	return raw, nil
}

func effectiveMax(limit int) int {
	if limit <= 0 {
		return DefaultMaxSize
	}
	return limit
}

func checkSize(n, limit int) error {
	limit = effectiveMax(limit)
	if n > limit {
		return invalid("", ErrTooLarge, fmt.Sprintf(
			"encoded event is %d bytes, the limit is %d; send less data and a resource_url to fetch the rest (under 20 KB is recommended)",
			n, limit))
	}
	return nil
}

// NewID returns a new event id: "evt_" followed by a UUIDv7 in its
// canonical hyphenated form, e.g. "evt_019374a8-5bd1-7c2e-9a3f-0c8d5e7f1a2b".
// UUIDv7 ids sort by creation time (to the millisecond, and in creation
// order within this process), which keeps database indexes compact.
func NewID() string {
	u := uuid.Must(uuid.NewV7())
	var buf [len(IDPrefix) + 36]byte
	copy(buf[:], IDPrefix)
	b := buf[len(IDPrefix):]
	j := 0
	for i, v := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j] = hexDigits[v>>4]
		b[j+1] = hexDigits[v&0xf]
		j += 2
	}
	return string(buf[:])
}

// ValidateType checks an event type: two or more dot-separated segments of
// lower-case letters, digits and '_' ("invoice.paid",
// "customer.subscription.deleted"), at most MaxTypeLength bytes. The first
// segment names the resource, the last the action. Errors wrap
// ErrInvalidType.
func ValidateType(t string) error { return validateType(t) }

func validateType[S ~string | ~[]byte](t S) error {
	const allowed = `event types are 2 or more dot-separated segments of [a-z0-9_], e.g. "invoice.paid"`
	if len(t) == 0 {
		return invalid("event_type", ErrInvalidType, "missing; "+allowed)
	}
	if len(t) > MaxTypeLength {
		return invalid("event_type", ErrInvalidType,
			fmt.Sprintf("%d bytes long, the limit is %d", len(t), MaxTypeLength))
	}
	segments, segLen := 1, 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '.':
			if segLen == 0 {
				return invalid("event_type", ErrInvalidType,
					fmt.Sprintf("%s has an empty segment at byte %d; %s", strconv.Quote(string(t)), i, allowed))
			}
			segments++
			segLen = 0
		case (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_':
			segLen++
		default:
			return invalid("event_type", ErrInvalidType,
				fmt.Sprintf("%s contains %s at byte %d; %s", strconv.Quote(string(t)), quoteByte(string(t), i), i, allowed))
		}
	}
	if segLen == 0 {
		return invalid("event_type", ErrInvalidType,
			fmt.Sprintf("%s ends with '.'; %s", strconv.Quote(string(t)), allowed))
	}
	if segments < 2 {
		return invalid("event_type", ErrInvalidType,
			fmt.Sprintf("%s has one segment, name the resource and the action; %s", strconv.Quote(string(t)), allowed))
	}
	return nil
}

// quoteByte describes the character at s[i] for an error message.
func quoteByte(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", s[i])
	}
	return strconv.QuoteRune(r)
}

// ValidateID checks an event id: 1 to MaxIDLength bytes of printable ASCII
// (0x21 to 0x7e) other than '.'. Space and '.' are refused because the id
// is part of the Standard Webhooks signed content "{id}.{timestamp}.{body}".
// Errors wrap ErrInvalidID.
func ValidateID(id string) error { return validateID(id) }

func validateID[S ~string | ~[]byte](id S) error {
	const allowed = "ids are 1 to 255 printable ASCII bytes without '.' or space"
	if len(id) == 0 {
		return invalid("event_id", ErrInvalidID, "missing; "+allowed)
	}
	if len(id) > MaxIDLength {
		return invalid("event_id", ErrInvalidID,
			fmt.Sprintf("%d bytes long, the limit is %d", len(id), MaxIDLength))
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == '.' {
			return invalid("event_id", ErrInvalidID,
				fmt.Sprintf("%s contains %s at byte %d; %s", strconv.Quote(string(id)), quoteByte(string(id), i), i, allowed))
		}
	}
	return nil
}

// ValidateResourceURL checks an optional resource_url: empty, or an
// absolute http or https URL with a host, without user information, of at
// most MaxResourceURLLength printable ASCII bytes (percent-encode anything
// else). Errors wrap ErrInvalidResourceURL.
func ValidateResourceURL(u string) error {
	if u == "" {
		return nil
	}
	if len(u) > MaxResourceURLLength {
		return invalid("resource_url", ErrInvalidResourceURL,
			fmt.Sprintf("%d bytes long, the limit is %d", len(u), MaxResourceURLLength))
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c > '~' {
			return invalid("resource_url", ErrInvalidResourceURL,
				fmt.Sprintf("contains %s at byte %d; percent-encode spaces, control characters and non-ASCII", quoteByte(u, i), i))
		}
	}
	p, err := url.Parse(u)
	if err != nil {
		return invalidCause("resource_url", ErrInvalidResourceURL, "not a URL", err)
	}
	if p.Scheme != "http" && p.Scheme != "https" {
		return invalid("resource_url", ErrInvalidResourceURL,
			fmt.Sprintf("scheme %q is not allowed; use an absolute http or https URL", p.Scheme))
	}
	if p.Host == "" || p.Hostname() == "" {
		return invalid("resource_url", ErrInvalidResourceURL, "has no host; use an absolute http or https URL")
	}
	if p.User != nil {
		return invalid("resource_url", ErrInvalidResourceURL, "must not contain user information (credentials)")
	}
	return nil
}

func validateTimestamp(t time.Time) error {
	if t.IsZero() {
		return invalid("timestamp", ErrInvalidTimestamp, "missing or zero; set the time the event happened")
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return invalid("timestamp", ErrInvalidTimestamp,
			fmt.Sprintf("year %d cannot be written as RFC 3339; years 0001 to 9999 are allowed", y))
	}
	return nil
}

// validateDataObject checks that data is exactly one JSON object, valid
// UTF-8, nested at most maxDepth levels.
func validateDataObject(data json.RawMessage) error {
	i := skipSpace(data, 0)
	if i == len(data) {
		return invalid("data", ErrInvalidData, "missing; data must be a JSON object, e.g. {}")
	}
	if data[i] != '{' {
		return invalid("data", ErrInvalidData,
			fmt.Sprintf("data must be a JSON object, got %s", jsonKind(data[i:])))
	}
	if err := validJSON(data); err != nil {
		return invalidCause("data", ErrInvalidData, "not valid JSON", err)
	}
	if !utf8.Valid(data) {
		return invalid("data", ErrInvalidData, "not valid UTF-8")
	}
	return nil
}

// validateFields checks every field but data's JSON well-formedness.
func (e Event) validateFields() error {
	if err := ValidateID(e.ID); err != nil {
		return err
	}
	if err := ValidateType(e.Type); err != nil {
		return err
	}
	if err := validateTimestamp(e.Timestamp); err != nil {
		return err
	}
	return ValidateResourceURL(e.ResourceURL)
}

// Validate checks every field: ID (ValidateID), Type (ValidateType), a
// non-zero Timestamp in the years 1 to 9999, Data a well-formed JSON object
// in UTF-8, and ResourceURL (ValidateResourceURL). It reports the first
// problem found, as a *ValidationError. Validate does not check the size;
// compare Size with your limit, or use a Catalog, whose Validate does.
func (e Event) Validate() error {
	if err := e.validateFields(); err != nil {
		return err
	}
	return validateDataObject(e.Data)
}

// Size returns the length in bytes of e's JSON encoding (MarshalJSON),
// without encoding it.
func (e Event) Size() int {
	var tsBuf [64]byte
	n := len(`{"event_id":,"event_type":,"timestamp":,"data":}`)
	n += stringLen(e.ID) + stringLen(e.Type)
	n += 2 + len(e.Timestamp.UTC().AppendFormat(tsBuf[:0], time.RFC3339Nano))
	n += len(e.Data)
	if e.ResourceURL != "" {
		n += len(`,"resource_url":`) + stringLen(e.ResourceURL)
	}
	return n
}

// MarshalJSON encodes the envelope with the timestamp in UTC RFC 3339
// (fractional seconds only when non-zero) and data verbatim. It validates
// the event first, so nothing invalid is ever put on the wire.
func (e Event) MarshalJSON() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e.appendJSON(make([]byte, 0, e.Size())), nil
}

// AppendJSON appends the JSON encoding of e to dst, after validating e.
func (e Event) AppendJSON(dst []byte) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return dst, err
	}
	return e.appendJSON(dst), nil
}

func (e Event) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"event_id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"event_type":`...)
	dst = appendString(dst, e.Type)
	dst = append(dst, `,"timestamp":"`...)
	dst = e.Timestamp.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","data":`...)
	dst = append(dst, e.Data...)
	if e.ResourceURL != "" {
		dst = append(dst, `,"resource_url":`...)
		dst = appendString(dst, e.ResourceURL)
	}
	return append(dst, '}')
}

// UnmarshalJSON decodes and validates an envelope like Parse does, but
// without a size limit (the bytes are already in memory; limit untrusted
// input with a Parser before decoding it), so json.Unmarshal into an Event
// is as strict as Parse and reads back any event MarshalJSON wrote. As
// encoding/json expects, a JSON null leaves e unchanged.
func (e *Event) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	ev, err := Parser{MaxSize: math.MaxInt}.Parse(b)
	if err != nil {
		return err
	}
	*e = ev
	return nil
}

// LogValue implements slog.LogValuer: an event logs as its id, type,
// timestamp and data size, never its data, which may hold personal
// information.
func (e Event) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("id", e.ID),
		slog.String("type", e.Type),
		slog.Time("timestamp", e.Timestamp),
		slog.Int("data_bytes", len(e.Data)),
	}
	if e.ResourceURL != "" {
		attrs = append(attrs, slog.String("resource_url", e.ResourceURL))
	}
	return slog.GroupValue(attrs...)
}
