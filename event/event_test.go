package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
)

// fixedFactory returns a Factory with a fixed clock and id.
func fixedFactory() event.Factory {
	return event.Factory{
		Now:   func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
		NewID: func() string { return "evt_1" },
	}
}

type invoicePaid struct {
	InvoiceID   string `json:"invoice_id"`
	AmountCents int    `json:"amount_cents"`
}

// requireValidationError checks that err wraps sentinel inside a
// *ValidationError for field.
func requireValidationError(t *testing.T, err error, sentinel error, field string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, sentinel)
	var ve *event.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, field, ve.Field, "field of %v", err)
	require.Equal(t, sentinel, ve.Err)
	require.NotEmpty(t, ve.Reason)
	require.Contains(t, err.Error(), sentinel.Error())
}

func TestValidateType(t *testing.T) {
	t.Parallel()
	max := "a." + strings.Repeat("b", event.MaxTypeLength-2)
	tests := []struct {
		name string
		typ  string
		ok   bool
	}{
		{"a resource and an action pass", "invoice.paid", true},
		{"three segments pass", "customer.subscription.deleted", true},
		{"digits and underscores pass", "order_2.line_item_3", true},
		{"one-letter segments pass", "a.b", true},
		{"a type exactly at the length limit passes", max, true},
		{"a type one byte over the length limit fails", max + "c", false},
		{"an empty type fails", "", false},
		{"a single segment fails", "invoice", false},
		{"upper case fails", "Invoice.paid", false},
		{"a hyphen fails", "invoice.was-paid", false},
		{"a leading dot fails", ".invoice.paid", false},
		{"a trailing dot fails", "invoice.paid.", false},
		{"an empty middle segment fails", "invoice..paid", false},
		{"a space fails", "invoice. paid", false},
		{"non-ASCII fails", "facture.payée", false},
		{"a slash fails", "invoice/paid", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := event.ValidateType(tt.typ)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			requireValidationError(t, err, event.ErrInvalidType, "event_type")
		})
	}
}

func TestValidateTypeMessagesSayWhatIsAllowed(t *testing.T) {
	t.Parallel()
	err := event.ValidateType("Invoice.paid")
	require.ErrorContains(t, err, `"Invoice.paid" contains 'I' at byte 0`)
	require.ErrorContains(t, err, "[a-z0-9_]")
	err = event.ValidateType(strings.Repeat("a", 200))
	require.ErrorContains(t, err, "200 bytes long, the limit is 128")
}

func TestValidateID(t *testing.T) {
	t.Parallel()
	max := strings.Repeat("x", event.MaxIDLength)
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"a generated id passes", event.NewID(), true},
		{"a short id passes", "x", true},
		{"an id exactly at the length limit passes", max, true},
		{"an id one byte over the length limit fails", max + "x", false},
		{"printable punctuation passes", `msg_!"#$%&'()*+,-/:;<=>?@[\]^_{|}~`, true},
		{"an empty id fails", "", false},
		{"a dot fails", "evt.1", false},
		{"a space fails", "evt 1", false},
		{"a tab fails", "evt\t1", false},
		{"DEL fails", "evt\x7f", false},
		{"a NUL byte fails", "evt\x00", false},
		{"non-ASCII fails", "evt_é", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := event.ValidateID(tt.id)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			requireValidationError(t, err, event.ErrInvalidID, "event_id")
		})
	}
}

func TestValidateResourceURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
		ok   bool
	}{
		{"an empty URL passes because the field is optional", "", true},
		{"an https URL passes", "https://api.example.com/invoices/in_1?expand=lines&x=1", true},
		{"an http URL with a port passes", "http://localhost:8080/x", true},
		{"a relative URL fails", "/invoices/in_1", false},
		{"a scheme-relative URL fails", "//api.example.com/x", false},
		{"another scheme fails", "ftp://example.com/x", false},
		{"a javascript URL fails", "javascript:alert(1)", false},
		{"a URL without a host fails", "https:///x", false},
		{"user information fails", "https://user:pass@example.com/x", false},
		{"a space fails", "https://example.com/a b", false},
		{"non-ASCII fails", "https://exämple.com/", false},
		{"an over-long URL fails", "https://example.com/" + strings.Repeat("a", event.MaxResourceURLLength), false},
		{"an unparsable URL fails", "https://example.com:port/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := event.ValidateResourceURL(tt.url)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			requireValidationError(t, err, event.ErrInvalidResourceURL, "resource_url")
		})
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = event.NewID()
	}
	for _, id := range ids {
		require.True(t, strings.HasPrefix(id, "evt_"), id)
		require.Len(t, id, 40)
		require.NoError(t, event.ValidateID(id))
		u, err := uuid.Parse(strings.TrimPrefix(id, "evt_"))
		require.NoError(t, err)
		require.Equal(t, uuid.Version(7), u.Version())
		require.Equal(t, u.String(), strings.TrimPrefix(id, "evt_"))
	}
	require.True(t, sort.StringsAreSorted(ids), "UUIDv7 ids made in sequence sort in creation order")
	seen := map[string]bool{}
	for _, id := range ids {
		require.False(t, seen[id], "duplicate id %s", id)
		seen[id] = true
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		typ      string
		data     any
		wantData string
		sentinel error
		field    string
	}{
		{name: "a struct becomes the data object", typ: "invoice.paid", data: invoicePaid{"in_1", 42}, wantData: `{"invoice_id":"in_1","amount_cents":42}`},
		{name: "a pointer to a struct becomes the data object", typ: "invoice.paid", data: &invoicePaid{"in_1", 42}, wantData: `{"invoice_id":"in_1","amount_cents":42}`},
		{name: "a map becomes the data object", typ: "invoice.paid", data: map[string]int{"b": 2, "a": 1}, wantData: `{"a":1,"b":2}`},
		{name: "a raw JSON object is compacted", typ: "invoice.paid", data: json.RawMessage(`{ "a" : 1 }`), wantData: `{"a":1}`},
		{name: "an empty map is a valid empty object", typ: "invoice.paid", data: map[string]any{}, wantData: `{}`},
		{name: "nil data is refused", typ: "invoice.paid", data: nil, sentinel: event.ErrInvalidData, field: "data"},
		{name: "a nil map is refused because it marshals to null", typ: "invoice.paid", data: map[string]any(nil), sentinel: event.ErrInvalidData, field: "data"},
		{name: "a slice is refused", typ: "invoice.paid", data: []int{1}, sentinel: event.ErrInvalidData, field: "data"},
		{name: "a string is refused", typ: "invoice.paid", data: "hello", sentinel: event.ErrInvalidData, field: "data"},
		{name: "a raw JSON array is refused", typ: "invoice.paid", data: json.RawMessage(`[1]`), sentinel: event.ErrInvalidData, field: "data"},
		{name: "unmarshallable data is refused", typ: "invoice.paid", data: map[string]any{"c": make(chan int)}, sentinel: event.ErrInvalidData, field: "data"},
		{name: "an invalid type is refused", typ: "InvoicePaid", data: invoicePaid{}, sentinel: event.ErrInvalidType, field: "event_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := event.New(tt.typ, tt.data)
			if tt.sentinel != nil {
				requireValidationError(t, err, tt.sentinel, tt.field)
				require.Equal(t, event.Event{}, e)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.typ, e.Type)
			require.JSONEq(t, tt.wantData, string(e.Data))
			require.Equal(t, tt.wantData, string(e.Data))
			require.NoError(t, event.ValidateID(e.ID))
			require.Equal(t, time.UTC, e.Timestamp.Location())
			require.WithinDuration(t, time.Now(), e.Timestamp, time.Minute)
			require.NoError(t, e.Validate())
		})
	}
}

// badUTF8 marshals to an object holding invalid UTF-8.
type badUTF8 struct{}

func (badUTF8) MarshalJSON() ([]byte, error) { return []byte("{\"a\":\"\xff\"}"), nil }

func TestNewRefusesDataParseWouldRefuse(t *testing.T) {
	t.Parallel()
	_, err := event.New("invoice.paid", badUTF8{})
	requireValidationError(t, err, event.ErrInvalidData, "data")

	var deep any = map[string]any{}
	for range 1000 {
		deep = map[string]any{"a": deep}
	}
	_, err = event.New("invoice.paid", deep)
	requireValidationError(t, err, event.ErrInvalidData, "data")
}

func TestNewKeepsTheMarshalCause(t *testing.T) {
	t.Parallel()
	_, err := event.New("invoice.paid", map[string]any{"c": make(chan int)})
	var ute *json.UnsupportedTypeError
	require.ErrorAs(t, err, &ute)
	require.ErrorIs(t, err, event.ErrInvalidData)
}

func TestFactory(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	t.Run("the clock's time is converted to UTC and truncated to microseconds", func(t *testing.T) {
		t.Parallel()
		f := event.Factory{Now: func() time.Time { return time.Date(2026, 1, 2, 4, 4, 5, 123456789, paris) }}
		e, err := f.New("invoice.paid", map[string]int{})
		require.NoError(t, err)
		require.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC), e.Timestamp)
		require.Equal(t, time.UTC, e.Timestamp.Location())
	})
	t.Run("the id generator is used", func(t *testing.T) {
		t.Parallel()
		e, err := fixedFactory().New("invoice.paid", map[string]int{})
		require.NoError(t, err)
		require.Equal(t, "evt_1", e.ID)
	})
	t.Run("an invalid generated id is refused", func(t *testing.T) {
		t.Parallel()
		f := event.Factory{NewID: func() string { return "evt.1" }}
		_, err := f.New("invoice.paid", map[string]int{})
		requireValidationError(t, err, event.ErrInvalidID, "event_id")
	})
	t.Run("a zero time from the clock is refused", func(t *testing.T) {
		t.Parallel()
		f := event.Factory{Now: func() time.Time { return time.Time{} }}
		_, err := f.New("invoice.paid", map[string]int{})
		requireValidationError(t, err, event.ErrInvalidTimestamp, "timestamp")
	})
	t.Run("a time after year 9999 is refused", func(t *testing.T) {
		t.Parallel()
		f := event.Factory{Now: func() time.Time { return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }}
		_, err := f.New("invoice.paid", map[string]int{})
		requireValidationError(t, err, event.ErrInvalidTimestamp, "timestamp")
	})
}

func TestFactorySizeLimit(t *testing.T) {
	t.Parallel()
	data := map[string]string{"p": strings.Repeat("x", 1000)}
	e, err := fixedFactory().New("invoice.paid", data)
	require.NoError(t, err)
	size := e.Size()
	raw, err := e.MarshalJSON()
	require.NoError(t, err)
	require.Len(t, raw, size)

	tests := []struct {
		name    string
		maxSize int
		ok      bool
	}{
		{"an event exactly at the limit passes", size, true},
		{"an event one byte over the limit fails", size - 1, false},
		{"a zero limit means the 1 MiB default", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := fixedFactory()
			f.MaxSize = tt.maxSize
			_, err := f.New("invoice.paid", data)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			requireValidationError(t, err, event.ErrTooLarge, "")
			require.ErrorContains(t, err, "20 KB")
		})
	}

	t.Run("the default limit is 1 MiB of encoded event", func(t *testing.T) {
		t.Parallel()
		overhead := size - 1000
		_, err := fixedFactory().New("invoice.paid", map[string]string{"p": strings.Repeat("x", event.DefaultMaxSize-overhead)})
		require.NoError(t, err)
		_, err = fixedFactory().New("invoice.paid", map[string]string{"p": strings.Repeat("x", event.DefaultMaxSize-overhead+1)})
		require.ErrorIs(t, err, event.ErrTooLarge)
	})
}

func TestMarshalJSON(t *testing.T) {
	t.Parallel()
	base := event.Event{
		ID:        "evt_1",
		Type:      "invoice.paid",
		Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Data:      json.RawMessage(`{"a":1}`),
	}
	tests := []struct {
		name string
		edit func(e *event.Event)
		want string
	}{
		{
			name: "fields come in a fixed order and resource_url is omitted when empty",
			edit: func(*event.Event) {},
			want: `{"event_id":"evt_1","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{"a":1}}`,
		},
		{
			name: "a non-UTC timestamp is written in UTC",
			edit: func(e *event.Event) {
				e.Timestamp = time.Date(2026, 1, 2, 5, 4, 5, 0, time.FixedZone("EET", 2*3600))
			},
			want: `{"event_id":"evt_1","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{"a":1}}`,
		},
		{
			name: "fractional seconds are written without trailing zeros",
			edit: func(e *event.Event) { e.Timestamp = e.Timestamp.Add(120 * time.Millisecond) },
			want: `{"event_id":"evt_1","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05.12Z","data":{"a":1}}`,
		},
		{
			name: "resource_url is written when set, with & escaped like encoding/json",
			edit: func(e *event.Event) { e.ResourceURL = "https://example.com/x?a=1&b=2" },
			want: `{"event_id":"evt_1","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{"a":1},"resource_url":"https://example.com/x?a=1\u0026b=2"}`,
		},
		{
			name: "quotes, backslashes and HTML characters in the id are escaped",
			edit: func(e *event.Event) { e.ID = `a"b\c<d>` },
			want: `{"event_id":"a\"b\\c\u003cd\u003e","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{"a":1}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := base
			tt.edit(&e)
			got, err := e.MarshalJSON()
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
			require.Equal(t, len(got), e.Size())
			viaStd, err := json.Marshal(e)
			require.NoError(t, err)
			require.Equal(t, tt.want, string(viaStd), "json.Marshal gives the same bytes")
			appended, err := e.AppendJSON([]byte("x"))
			require.NoError(t, err)
			require.Equal(t, "x"+tt.want, string(appended))
			back, err := event.Parse(got)
			require.NoError(t, err)
			require.Equal(t, e.ID, back.ID)
			require.True(t, e.Timestamp.Equal(back.Timestamp))
			require.Equal(t, e.ResourceURL, back.ResourceURL)
		})
	}
}

func TestMarshalJSONRefusesInvalidEvents(t *testing.T) {
	t.Parallel()
	_, err := event.Event{}.MarshalJSON()
	require.ErrorIs(t, err, event.ErrInvalidID)
	_, err = json.Marshal(event.Event{})
	require.ErrorIs(t, err, event.ErrInvalidID)
	_, err = event.Event{}.AppendJSON(nil)
	require.ErrorIs(t, err, event.ErrInvalidID)
}

func TestEventValidate(t *testing.T) {
	t.Parallel()
	valid := event.Event{
		ID:        "evt_1",
		Type:      "invoice.paid",
		Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Data:      json.RawMessage(`{"a":[1,2,{"b":null}]}`),
	}
	tests := []struct {
		name     string
		edit     func(e *event.Event)
		sentinel error
		field    string
	}{
		{"a valid event passes", func(*event.Event) {}, nil, ""},
		{"data with surrounding white space passes", func(e *event.Event) { e.Data = json.RawMessage(" {} \n") }, nil, ""},
		{"a valid resource URL passes", func(e *event.Event) { e.ResourceURL = "https://x.example/y" }, nil, ""},
		{"a missing id fails", func(e *event.Event) { e.ID = "" }, event.ErrInvalidID, "event_id"},
		{"a missing type fails", func(e *event.Event) { e.Type = "" }, event.ErrInvalidType, "event_type"},
		{"a zero timestamp fails", func(e *event.Event) { e.Timestamp = time.Time{} }, event.ErrInvalidTimestamp, "timestamp"},
		{"missing data fails", func(e *event.Event) { e.Data = nil }, event.ErrInvalidData, "data"},
		{"null data fails", func(e *event.Event) { e.Data = json.RawMessage("null") }, event.ErrInvalidData, "data"},
		{"array data fails", func(e *event.Event) { e.Data = json.RawMessage("[]") }, event.ErrInvalidData, "data"},
		{"truncated data fails", func(e *event.Event) { e.Data = json.RawMessage(`{"a":`) }, event.ErrInvalidData, "data"},
		{"two objects as data fail", func(e *event.Event) { e.Data = json.RawMessage(`{}{}`) }, event.ErrInvalidData, "data"},
		{"non-UTF-8 data fails", func(e *event.Event) { e.Data = json.RawMessage("{\"a\":\"\xff\"}") }, event.ErrInvalidData, "data"},
		{"a relative resource URL fails", func(e *event.Event) { e.ResourceURL = "/x" }, event.ErrInvalidResourceURL, "resource_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := valid
			tt.edit(&e)
			err := e.Validate()
			if tt.sentinel == nil {
				require.NoError(t, err)
				return
			}
			requireValidationError(t, err, tt.sentinel, tt.field)
		})
	}
}

func TestRoundTripNewMarshalParse(t *testing.T) {
	t.Parallel()
	e, err := event.New("invoice.paid", invoicePaid{"in_1", 4200})
	require.NoError(t, err)
	e.ResourceURL = "https://api.example.com/invoices/in_1"
	raw, err := json.Marshal(e)
	require.NoError(t, err)
	back, err := event.Parse(raw)
	require.NoError(t, err)
	require.Equal(t, e, back, "the event survives the wire unchanged")

	var data invoicePaid
	require.NoError(t, json.Unmarshal(back.Data, &data))
	require.Equal(t, invoicePaid{"in_1", 4200}, data)
}

func TestLogValueLeavesDataOut(t *testing.T) {
	t.Parallel()
	e := mustEvent(t, "invoice.paid", map[string]string{"email": "someone@example.com"})
	e.ResourceURL = "https://x.example/c/1"
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("published", "event", e)
	require.Contains(t, buf.String(), "event.id=evt_1 event.type=invoice.paid event.timestamp=2026-01-02T03:04:05.000Z event.data_bytes=31 event.resource_url=https://x.example/c/1")
	require.NotContains(t, buf.String(), "someone@example.com")
}

func TestValidationErrorUnwrap(t *testing.T) {
	t.Parallel()
	err := event.ValidateID("a.b")
	var ve *event.ValidationError
	require.True(t, errors.As(err, &ve))
	require.Equal(t, []error{event.ErrInvalidID}, ve.Unwrap())
	require.Equal(t, `event: invalid event id: event_id: "a.b" contains '.' at byte 1; ids are 1 to 255 printable ASCII bytes without '.' or space`, err.Error())
}
