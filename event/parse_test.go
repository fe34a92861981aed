package event_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
)

const validBody = `{"event_id":"evt_1","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{"a":1}}`

func TestParse(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		raw  string
		want event.Event
	}{
		{
			name: "a minimal envelope parses",
			raw:  validBody,
			want: event.Event{ID: "evt_1", Type: "invoice.paid", Timestamp: ts, Data: json.RawMessage(`{"a":1}`)},
		},
		{
			name: "unknown top-level fields of every JSON type are ignored",
			raw: `{"version":2,"event_id":"evt_1","extra":{"x":[1,{"y":"}"}]},"event_type":"invoice.paid","list":[],` +
				`"flag":true,"nothing":null,"timestamp":"2026-01-02T03:04:05Z","s":"\"q\"","data":{"a":1},"num":-1.5e3}`,
			want: event.Event{ID: "evt_1", Type: "invoice.paid", Timestamp: ts, Data: json.RawMessage(`{"a":1}`)},
		},
		{
			name: "fields may come in any order",
			raw:  `{"data":{"a":1},"timestamp":"2026-01-02T03:04:05Z","event_type":"invoice.paid","event_id":"evt_1"}`,
			want: event.Event{ID: "evt_1", Type: "invoice.paid", Timestamp: ts, Data: json.RawMessage(`{"a":1}`)},
		},
		{
			name: "white space everywhere is allowed and data keeps its bytes",
			raw:  " \n{ \"event_id\" : \"evt_1\" ,\r\n\t\"event_type\":\"invoice.paid\", \"timestamp\":\"2026-01-02T03:04:05Z\", \"data\" : { \"a\" : 1 } } \n",
			want: event.Event{ID: "evt_1", Type: "invoice.paid", Timestamp: ts, Data: json.RawMessage(`{ "a" : 1 }`)},
		},
		{
			name: "escaped keys and values are decoded",
			raw:  `{"event\u005fid":"evt\u005f1","event_type":"invoice\u002epaid","timestamp":"2026-01-02T03:04:05\u005a","data":{}}`,
			want: event.Event{ID: "evt_1", Type: "invoice.paid", Timestamp: ts, Data: json.RawMessage(`{}`)},
		},
		{
			name: "a timestamp with an offset is converted to UTC",
			raw:  `{"event_id":"evt_1","event_type":"invoice.paid","timestamp":"2026-01-02T05:04:05.5+02:00","data":{}}`,
			want: event.Event{ID: "evt_1", Type: "invoice.paid", Timestamp: ts.Add(500 * time.Millisecond), Data: json.RawMessage(`{}`)},
		},
		{
			name: "a null resource_url counts as absent",
			raw:  `{"event_id":"evt_1","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{},"resource_url":null}`,
			want: event.Event{ID: "evt_1", Type: "invoice.paid", Timestamp: ts, Data: json.RawMessage(`{}`)},
		},
		{
			name: "resource_url is read",
			raw:  `{"event_id":"evt_1","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{},"resource_url":"https://x.example/a?b=1\u0026c=2"}`,
			want: event.Event{ID: "evt_1", Type: "invoice.paid", Timestamp: ts, Data: json.RawMessage(`{}`), ResourceURL: "https://x.example/a?b=1&c=2"},
		},
		{
			name: "duplicate unknown fields are ignored",
			raw:  `{"x":1,"x":2,"event_id":"evt_1","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{}}`,
			want: event.Event{ID: "evt_1", Type: "invoice.paid", Timestamp: ts, Data: json.RawMessage(`{}`)},
		},
		{
			name: "unicode inside data is kept",
			raw:  `{"event_id":"evt_1","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{"name":"Zoë 🚀","e":"\ud83d\ude80"}}`,
			want: event.Event{ID: "evt_1", Type: "invoice.paid", Timestamp: ts, Data: json.RawMessage(`{"name":"Zoë 🚀","e":"\ud83d\ude80"}`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := event.Parse([]byte(tt.raw))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, time.UTC, got.Timestamp.Location())
			require.NoError(t, got.Validate())
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	const (
		id   = `"event_id":"evt_1"`
		typ  = `"event_type":"invoice.paid"`
		ts   = `"timestamp":"2026-01-02T03:04:05Z"`
		data = `"data":{}`
	)
	obj := func(fields ...string) string { return "{" + strings.Join(fields, ",") + "}" }
	tests := []struct {
		name     string
		raw      string
		sentinel error
		field    string
	}{
		{"an empty body is malformed", ``, event.ErrMalformed, ""},
		{"white space only is malformed", "  \n", event.ErrMalformed, ""},
		{"a JSON array is malformed", `[]`, event.ErrMalformed, ""},
		{"a JSON string is malformed", `"evt"`, event.ErrMalformed, ""},
		{"null is malformed", `null`, event.ErrMalformed, ""},
		{"truncated JSON is malformed", obj(id, typ, ts) + `,"data":{`, event.ErrMalformed, ""},
		{"a trailing comma is malformed", `{` + id + `,}`, event.ErrMalformed, ""},
		{"data after the object is malformed", obj(id, typ, ts, data) + `{}`, event.ErrMalformed, ""},
		{"a single-quoted string is malformed", `{'event_id':'x'}`, event.ErrMalformed, ""},
		{"a bad escape is malformed", obj(id, typ, ts, `"data":{"a":"\x"}`), event.ErrMalformed, ""},
		{"a raw control character in a string is malformed", obj(id, typ, ts, "\"data\":{\"a\":\"\n\"}"), event.ErrMalformed, ""},
		{"a leading zero in a number is malformed", obj(id, typ, ts, `"data":{"a":01}`), event.ErrMalformed, ""},
		{"NaN is malformed", obj(id, typ, ts, `"data":{"a":NaN}`), event.ErrMalformed, ""},
		{"invalid UTF-8 is malformed", obj(id, typ, ts, "\"data\":{\"a\":\"\xff\"}"), event.ErrMalformed, ""},
		{"invalid UTF-8 in an unknown field is malformed", obj(id, typ, ts, data, "\"x\":\"\xc3\""), event.ErrMalformed, ""},
		{"nesting deeper than 1000 levels is malformed", obj(id, typ, ts, `"data":`+strings.Repeat(`{"a":`, 1001)+`1`+strings.Repeat(`}`, 1001)), event.ErrMalformed, ""},
		{"a duplicate event_id is malformed", obj(id, typ, ts, data, `"event_id":"evt_2"`), event.ErrMalformed, "event_id"},
		{"a duplicate event_type is malformed", obj(id, typ, ts, data, typ), event.ErrMalformed, "event_type"},
		{"a duplicate timestamp is malformed", obj(id, typ, ts, data, ts), event.ErrMalformed, "timestamp"},
		{"a duplicate data is malformed", obj(id, typ, ts, data, data), event.ErrMalformed, "data"},
		{"a duplicate resource_url is malformed", obj(id, typ, ts, data, `"resource_url":null`, `"resource_url":null`), event.ErrMalformed, "resource_url"},
		{"a duplicate written with an escape is malformed", obj(id, typ, ts, data, `"event\u005fid":"evt_2"`), event.ErrMalformed, "event_id"},
		{"a known field name in upper case is malformed", obj(`"EVENT_ID":"evt_2"`, id, typ, ts, data), event.ErrMalformed, "event_id"},
		{"a known field name with a Unicode case fold is malformed", obj(id, typ, `"timeſtamp":"2026-01-02T03:04:05Z"`, ts, data), event.ErrMalformed, "timestamp"},
		{"a known field name with an escaped case fold is malformed", obj(id, typ, ts, `"Data":{}`, data), event.ErrMalformed, "data"},
		{"a missing event_id is an invalid id", obj(typ, ts, data), event.ErrInvalidID, "event_id"},
		{"a null event_id is an invalid id", obj(`"event_id":null`, typ, ts, data), event.ErrInvalidID, "event_id"},
		{"a numeric event_id is an invalid id", obj(`"event_id":123`, typ, ts, data), event.ErrInvalidID, "event_id"},
		{"an empty event_id is an invalid id", obj(`"event_id":""`, typ, ts, data), event.ErrInvalidID, "event_id"},
		{"an event_id with a dot is an invalid id", obj(`"event_id":"evt.1"`, typ, ts, data), event.ErrInvalidID, "event_id"},
		{"an event_id with an escaped control character is an invalid id", obj(`"event_id":"evt\n1"`, typ, ts, data), event.ErrInvalidID, "event_id"},
		{"a missing event_type is an invalid type", obj(id, ts, data), event.ErrInvalidType, "event_type"},
		{"a null event_type is an invalid type", obj(id, `"event_type":null`, ts, data), event.ErrInvalidType, "event_type"},
		{"an array event_type is an invalid type", obj(id, `"event_type":["a.b"]`, ts, data), event.ErrInvalidType, "event_type"},
		{"a one-segment event_type is an invalid type", obj(id, `"event_type":"paid"`, ts, data), event.ErrInvalidType, "event_type"},
		{"a missing timestamp is an invalid timestamp", obj(id, typ, data), event.ErrInvalidTimestamp, "timestamp"},
		{"a null timestamp is an invalid timestamp", obj(id, typ, `"timestamp":null`, data), event.ErrInvalidTimestamp, "timestamp"},
		{"a Unix timestamp number is an invalid timestamp", obj(id, typ, `"timestamp":1767323045`, data), event.ErrInvalidTimestamp, "timestamp"},
		{"a date without a time is an invalid timestamp", obj(id, typ, `"timestamp":"2026-01-02"`, data), event.ErrInvalidTimestamp, "timestamp"},
		{"a timestamp without a zone is an invalid timestamp", obj(id, typ, `"timestamp":"2026-01-02T03:04:05"`, data), event.ErrInvalidTimestamp, "timestamp"},
		{"an RFC 1123 timestamp is an invalid timestamp", obj(id, typ, `"timestamp":"Fri, 02 Jan 2026 03:04:05 GMT"`, data), event.ErrInvalidTimestamp, "timestamp"},
		{"hour 24 is an invalid timestamp", obj(id, typ, `"timestamp":"2026-01-02T24:00:00Z"`, data), event.ErrInvalidTimestamp, "timestamp"},
		{"the zero time is an invalid timestamp", obj(id, typ, `"timestamp":"0001-01-01T00:00:00Z"`, data), event.ErrInvalidTimestamp, "timestamp"},
		{"missing data is invalid data", obj(id, typ, ts), event.ErrInvalidData, "data"},
		{"null data is invalid data", obj(id, typ, ts, `"data":null`), event.ErrInvalidData, "data"},
		{"array data is invalid data", obj(id, typ, ts, `"data":[{}]`), event.ErrInvalidData, "data"},
		{"string data is invalid data", obj(id, typ, ts, `"data":"{}"`), event.ErrInvalidData, "data"},
		{"a relative resource_url is invalid", obj(id, typ, ts, data, `"resource_url":"/x"`), event.ErrInvalidResourceURL, "resource_url"},
		{"a numeric resource_url is invalid", obj(id, typ, ts, data, `"resource_url":1`), event.ErrInvalidResourceURL, "resource_url"},
		{"an empty resource_url string is accepted as absent", obj(id, typ, ts, data, `"resource_url":""`), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := event.Parse([]byte(tt.raw))
			if tt.sentinel == nil {
				require.NoError(t, err)
				return
			}
			requireValidationError(t, err, tt.sentinel, tt.field)
			require.Equal(t, event.Event{}, e)
		})
	}
}

func TestParseSyntaxErrorsSayWhere(t *testing.T) {
	t.Parallel()
	_, err := event.Parse([]byte(`{"event_id": x}`))
	require.ErrorIs(t, err, event.ErrMalformed)
	require.ErrorContains(t, err, "at byte 13")
}

func TestParserSizeLimit(t *testing.T) {
	t.Parallel()
	body := []byte(validBody)
	tests := []struct {
		name    string
		maxSize int
		ok      bool
	}{
		{"a body exactly at the limit parses", len(body), true},
		{"a body one byte over the limit is too large", len(body) - 1, false},
		{"a zero limit means the default", 0, true},
		{"a negative limit means the default", -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := event.Parser{MaxSize: tt.maxSize}.Parse(body)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			requireValidationError(t, err, event.ErrTooLarge, "")
		})
	}
	t.Run("the default limit is DefaultMaxSize", func(t *testing.T) {
		t.Parallel()
		pad := func(n int) []byte {
			prefix := `{"event_id":"evt_1","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{},"pad":"`
			return []byte(prefix + strings.Repeat("x", n-len(prefix)-2) + `"}`)
		}
		_, err := event.Parse(pad(event.DefaultMaxSize))
		require.NoError(t, err)
		_, err = event.Parse(pad(event.DefaultMaxSize + 1))
		require.ErrorIs(t, err, event.ErrTooLarge)
	})
}

func TestParseDoesNotRetainTheInput(t *testing.T) {
	t.Parallel()
	raw := []byte(validBody)
	e, err := event.Parse(raw)
	require.NoError(t, err)
	for i := range raw {
		raw[i] = 'x'
	}
	require.Equal(t, `{"a":1}`, string(e.Data))
	require.Equal(t, "evt_1", e.ID)
}

func TestUnmarshalJSONIsAsStrictAsParse(t *testing.T) {
	t.Parallel()
	var wrapper struct {
		Event event.Event `json:"event"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"event":`+validBody+`}`), &wrapper))
	require.Equal(t, "evt_1", wrapper.Event.ID)

	err := json.Unmarshal([]byte(`{"event":{"event_id":"evt.1"}}`), &wrapper)
	require.ErrorIs(t, err, event.ErrInvalidID)

	big := `{"event_id":"evt_1","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{"p":"` +
		strings.Repeat("x", event.DefaultMaxSize) + `"}}`
	var e event.Event
	require.NoError(t, json.Unmarshal([]byte(big), &e), "no size limit: a stored event larger than the default reads back")

	before := wrapper.Event
	require.NoError(t, json.Unmarshal([]byte(`{"event":null}`), &wrapper))
	require.Equal(t, before, wrapper.Event, "null leaves the event unchanged")
}
