package event

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Parse decodes and validates an envelope with the default size limit
// (DefaultMaxSize). See Parser.Parse.
func Parse(raw []byte) (Event, error) {
	return Parser{}.Parse(raw)
}

// Parser decodes envelopes with a custom size limit. The zero value uses
// DefaultMaxSize. A Parser is safe for concurrent use.
type Parser struct {
	// MaxSize limits the raw envelope, in bytes. Zero or negative means
	// DefaultMaxSize.
	MaxSize int
}

// envelopeFields are the known top-level fields; a field's index is its bit
// in Parse's duplicate detection.
var envelopeFields = [...]string{"event_id", "event_type", "timestamp", "data", "resource_url"}

// Parse decodes raw as an envelope and validates it.
//
// It is strict about what it understands: the input must be valid UTF-8
// and a single valid JSON object; event_id, event_type, timestamp and data
// are required, must have the right JSON type and must pass validation
// (see Event.Validate); resource_url is optional (null counts as absent);
// a known field appearing twice is refused rather than resolved silently.
// Field names are case-sensitive; a name that differs from a known field
// only in case ("Event_ID", which encoding/json would take for event_id) is
// refused, so Parse and other decoders never disagree about a body.
// It is tolerant of what it does not: unknown top-level fields are ignored,
// so producers can add fields without breaking consumers.
//
// The timestamp may carry any UTC offset; it is converted to UTC. Data is a
// copy of the raw bytes of the data object (not re-encoded), so Parse never
// retains raw. Parse never panics; every error is a *ValidationError
// wrapping one of the package's sentinels (ErrTooLarge, ErrMalformed,
// ErrInvalidID, …).
//
// Parse only scans the top level of the envelope and validates the rest in
// the same pass (nesting is limited to 1000 levels); a 1 KiB envelope costs
// two allocations (one string holding id and type, and the copy of data),
// one more to check a resource_url.
func (p Parser) Parse(raw []byte) (Event, error) {
	if limit := effectiveMax(p.MaxSize); len(raw) > limit {
		return Event{}, invalid("", ErrTooLarge,
			fmt.Sprintf("envelope is %d bytes, the limit is %d", len(raw), limit))
	}
	if !utf8.Valid(raw) {
		return Event{}, invalid("", ErrMalformed, "envelope is not valid UTF-8")
	}
	it, err := newObjectIter(raw)
	if err != nil {
		return Event{}, malformedJSON(err)
	}
	var (
		seen                       int
		idV, typeV, tsV, dataV, uV []byte
	)
	for {
		key, val, ok, err := it.next()
		if err != nil {
			return Event{}, malformedJSON(err)
		}
		if !ok {
			break
		}
		idx, folded := matchKey(key, envelopeFields[:])
		if idx < 0 {
			continue // unknown fields are tolerated
		}
		name := envelopeFields[idx]
		if folded {
			return Event{}, invalid(name, ErrMalformed, fmt.Sprintf(
				"field names are case-sensitive: found %s, expected %q", strconv.Quote(string(key)), name))
		}
		bit := 1 << idx
		switch idx {
		case 0:
			idV = val
		case 1:
			typeV = val
		case 2:
			tsV = val
		case 3:
			dataV = val
		case 4:
			uV = val
		}
		if seen&bit != 0 {
			return Event{}, invalid(name, ErrMalformed, "appears more than once; each field may appear once")
		}
		seen |= bit
	}

	// id, type and resource_url share one allocation, made once the id and
	// type are known to be valid.
	idB, err := requiredStringBytes("event_id", idV, ErrInvalidID)
	if err != nil {
		return Event{}, err
	}
	if err := validateID(idB); err != nil {
		return Event{}, err
	}
	typeB, err := requiredStringBytes("event_type", typeV, ErrInvalidType)
	if err != nil {
		return Event{}, err
	}
	if err := validateType(typeB); err != nil {
		return Event{}, err
	}
	var urlB []byte
	urlOK := true
	if uV != nil && uV[0] != 'n' { // null means absent
		urlB, urlOK = stringBytes(uV)
	}
	var sb strings.Builder
	sb.Grow(len(idB) + len(typeB) + len(urlB))
	sb.Write(idB)
	sb.Write(typeB)
	sb.Write(urlB)
	all := sb.String()

	var e Event
	e.ID, e.Type = all[:len(idB)], all[len(idB):len(idB)+len(typeB)]
	if e.Timestamp, err = parseTimestamp("timestamp", tsV); err != nil {
		return Event{}, err
	}
	if dataV == nil {
		return Event{}, invalid("data", ErrInvalidData, "missing; data must be a JSON object, e.g. {}")
	}
	if dataV[0] != '{' {
		return Event{}, invalid("data", ErrInvalidData,
			fmt.Sprintf("data must be a JSON object, got %s", jsonKind(dataV)))
	}
	if !urlOK {
		return Event{}, invalid("resource_url", ErrInvalidResourceURL,
			fmt.Sprintf("must be a JSON string, got %s", jsonKind(uV)))
	}
	if err := ValidateResourceURL(all[len(idB)+len(typeB):]); err != nil {
		return Event{}, err
	}
	e.ResourceURL = all[len(idB)+len(typeB):]
	e.Data = bytes.Clone(dataV)
	return e, nil
}

// requiredStringBytes extracts a required string field's decoded bytes.
func requiredStringBytes(field string, val []byte, sentinel error) ([]byte, error) {
	if val == nil {
		return nil, invalid(field, sentinel, "missing; the field is required")
	}
	b, ok := stringBytes(val)
	if !ok {
		return nil, invalid(field, sentinel, fmt.Sprintf("must be a JSON string, got %s", jsonKind(val)))
	}
	return b, nil
}

func malformedJSON(err error) error {
	if err == errNotObject {
		return invalid("", ErrMalformed, "envelope must be a JSON object")
	}
	return invalidCause("", ErrMalformed, "envelope is not valid JSON", err)
}

// requiredString extracts a required string field.
func requiredString(field string, val []byte, sentinel error) (string, error) {
	if val == nil {
		return "", invalid(field, sentinel, "missing; the field is required")
	}
	s, ok := stringValue(val)
	if !ok {
		return "", invalid(field, sentinel, fmt.Sprintf("must be a JSON string, got %s", jsonKind(val)))
	}
	return s, nil
}

// parseTimestamp decodes a required RFC 3339 string and converts it to UTC.
func parseTimestamp(field string, val []byte) (time.Time, error) {
	if val == nil {
		return time.Time{}, invalid(field, ErrInvalidTimestamp, "missing; the field is required")
	}
	if len(val) < 2 || val[0] != '"' {
		return time.Time{}, invalid(field, ErrInvalidTimestamp,
			fmt.Sprintf("must be an RFC 3339 string such as \"2026-01-02T03:04:05Z\", got %s", jsonKind(val)))
	}
	body := val[1 : len(val)-1]
	if hasEscape(body) {
		body = []byte(unescape(body))
	}
	var t time.Time
	if err := t.UnmarshalText(body); err != nil {
		return time.Time{}, invalidCause(field, ErrInvalidTimestamp,
			"must be RFC 3339, e.g. \"2026-01-02T03:04:05Z\"", err)
	}
	t = t.UTC()
	if err := validateTimestamp(t); err != nil {
		if ve, ok := err.(*ValidationError); ok {
			ve.Field = field
		}
		return time.Time{}, err
	}
	return t, nil
}
