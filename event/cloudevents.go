package event

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CloudEvents 1.0 structured JSON mapping.
//
//	hookkit          CloudEvents
//	event_id     ↔   id
//	event_type   ↔   type
//	timestamp    ↔   time
//	data         ↔   data (datacontenttype "application/json")
//	resource_url ↔   resourceurl (extension attribute)
//	—            ↔   source (given to ToCloudEvent, dropped by FromCloudEvent)
//	—            ↔   specversion "1.0"
const (
	// CloudEventsSpecVersion is the only specversion FromCloudEvent accepts.
	CloudEventsSpecVersion = "1.0"
	// CloudEventsContentType is the media type of a structured CloudEvent.
	CloudEventsContentType = "application/cloudevents+json"
	// CloudEventsResourceURLAttribute is the extension attribute carrying
	// resource_url.
	CloudEventsResourceURLAttribute = "resourceurl"
)

// ToCloudEvent encodes e as a CloudEvents 1.0 structured JSON event (media
// type application/cloudevents+json) with the given source, a URI-reference
// identifying the producer such as "https://billing.example.com" or
// "/billing". The event is validated first.
func (e Event) ToCloudEvent(source string) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if err := validateSource(source); err != nil {
		return nil, err
	}
	b := make([]byte, 0, e.Size()+len(source)+160)
	b = append(b, `{"specversion":"1.0","id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"source":`...)
	b = appendString(b, source)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"time":"`...)
	b = e.Timestamp.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","datacontenttype":"application/json","data":`...)
	b = append(b, e.Data...)
	if e.ResourceURL != "" {
		b = append(b, `,"`+CloudEventsResourceURLAttribute+`":`...)
		b = appendString(b, e.ResourceURL)
	}
	return append(b, '}'), nil
}

func validateSource(source string) error {
	if source == "" {
		return invalid("source", ErrInvalidCloudEvent,
			`missing; CloudEvents require a source URI-reference such as "https://billing.example.com" or "/billing"`)
	}
	if len(source) > MaxResourceURLLength {
		return invalid("source", ErrInvalidCloudEvent,
			fmt.Sprintf("%d bytes long, the limit is %d", len(source), MaxResourceURLLength))
	}
	for i := 0; i < len(source); i++ {
		if c := source[i]; c <= ' ' || c > '~' {
			return invalid("source", ErrInvalidCloudEvent,
				fmt.Sprintf("contains %s at byte %d; a URI-reference is printable ASCII (percent-encode the rest)", quoteByte(source, i), i))
		}
	}
	if _, err := url.Parse(source); err != nil {
		return invalidCause("source", ErrInvalidCloudEvent, "not a URI-reference", err)
	}
	return nil
}

// cloudEventAttributes are the attributes FromCloudEvent reads.
var cloudEventAttributes = [...]string{"specversion", "id", "source", "type", "time", "datacontenttype", "data", "data_base64", CloudEventsResourceURLAttribute}

// FromCloudEvent decodes a CloudEvents 1.0 structured JSON event into an
// Event. It requires specversion "1.0", id, source, type and time (optional
// in CloudEvents but required by hookkit's envelope), and data holding a
// JSON object with a JSON datacontenttype (absent, "application/json",
// "text/json" or any "+json" type). id and type must satisfy ValidateID and
// ValidateType, which are stricter than CloudEvents (no '.' in ids,
// lower-case dotted types). The resourceurl extension becomes ResourceURL;
// source, subject, dataschema and other extensions are dropped. The size
// limit is DefaultMaxSize. Like Parse it never panics, refuses duplicate
// known attributes and invalid UTF-8, and returns *ValidationError errors
// whose Field is the CloudEvents attribute name.
func FromCloudEvent(raw []byte) (Event, error) {
	if len(raw) > DefaultMaxSize {
		return Event{}, invalid("", ErrTooLarge,
			fmt.Sprintf("CloudEvent is %d bytes, the limit is %d", len(raw), DefaultMaxSize))
	}
	if !utf8.Valid(raw) {
		return Event{}, invalid("", ErrMalformed, "CloudEvent is not valid UTF-8")
	}
	it, err := newObjectIter(raw)
	if err != nil {
		if err == errNotObject {
			return Event{}, invalid("", ErrMalformed, "a structured CloudEvent must be a JSON object")
		}
		return Event{}, invalidCause("", ErrMalformed, "CloudEvent is not valid JSON", err)
	}
	attrs := make(map[string][]byte, len(cloudEventAttributes))
	for {
		key, val, ok, err := it.next()
		if err != nil {
			return Event{}, invalidCause("", ErrMalformed, "CloudEvent is not valid JSON", err)
		}
		if !ok {
			break
		}
		idx, folded := matchKey(key, cloudEventAttributes[:])
		if idx < 0 {
			continue // extensions and optional attributes are ignored
		}
		name := cloudEventAttributes[idx]
		if folded {
			return Event{}, invalid(name, ErrMalformed, fmt.Sprintf(
				"attribute names are lower case: found %s, expected %q", strconv.Quote(string(key)), name))
		}
		if _, dup := attrs[name]; dup {
			return Event{}, invalid(name, ErrMalformed, "appears more than once; each attribute may appear once")
		}
		attrs[name] = val
	}

	spec, err := requiredString("specversion", attrs["specversion"], ErrInvalidCloudEvent)
	if err != nil {
		return Event{}, err
	}
	if spec != CloudEventsSpecVersion {
		return Event{}, invalid("specversion", ErrInvalidCloudEvent,
			fmt.Sprintf("%q is not supported; only CloudEvents \"1.0\" is", spec))
	}
	var e Event
	if e.ID, err = requiredString("id", attrs["id"], ErrInvalidID); err != nil {
		return Event{}, err
	}
	if err := ValidateID(e.ID); err != nil {
		return Event{}, renameField(err, "id")
	}
	source, err := requiredString("source", attrs["source"], ErrInvalidCloudEvent)
	if err != nil {
		return Event{}, err
	}
	if err := validateSource(source); err != nil {
		return Event{}, err
	}
	if e.Type, err = requiredString("type", attrs["type"], ErrInvalidType); err != nil {
		return Event{}, err
	}
	if err := ValidateType(e.Type); err != nil {
		return Event{}, renameField(err, "type")
	}
	if e.Timestamp, err = parseTimestamp("time", attrs["time"]); err != nil {
		return Event{}, err
	}
	if ct, ok := attrs["datacontenttype"]; ok {
		s, isString := stringValue(ct)
		if !isString {
			return Event{}, invalid("datacontenttype", ErrInvalidCloudEvent,
				fmt.Sprintf("must be a JSON string, got %s", jsonKind(ct)))
		}
		if !isJSONMediaType(s) {
			return Event{}, invalid("datacontenttype", ErrInvalidCloudEvent,
				fmt.Sprintf("%q is not JSON; hookkit events carry JSON objects (application/json)", s))
		}
	}
	if _, ok := attrs["data_base64"]; ok {
		return Event{}, invalid("data_base64", ErrInvalidCloudEvent,
			"binary data is not supported; send the data as a JSON object in \"data\"")
	}
	data := attrs["data"]
	if data == nil {
		return Event{}, invalid("data", ErrInvalidData, "missing; data must be a JSON object, e.g. {}")
	}
	if data[0] != '{' {
		return Event{}, invalid("data", ErrInvalidData,
			fmt.Sprintf("data must be a JSON object, got %s", jsonKind(data)))
	}
	e.Data = bytes.Clone(data)
	if uV := attrs[CloudEventsResourceURLAttribute]; uV != nil && uV[0] != 'n' {
		s, ok := stringValue(uV)
		if !ok {
			return Event{}, invalid(CloudEventsResourceURLAttribute, ErrInvalidResourceURL,
				fmt.Sprintf("must be a JSON string, got %s", jsonKind(uV)))
		}
		if err := ValidateResourceURL(s); err != nil {
			return Event{}, renameField(err, CloudEventsResourceURLAttribute)
		}
		e.ResourceURL = s
	}
	return e, nil
}

func isJSONMediaType(s string) bool {
	mt, _, err := mime.ParseMediaType(s)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

func renameField(err error, field string) error {
	var ve *ValidationError
	if errors.As(err, &ve) {
		ve.Field = field
	}
	return err
}
