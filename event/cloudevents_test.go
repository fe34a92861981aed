package event_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
)

func TestToCloudEvent(t *testing.T) {
	t.Parallel()
	e := event.Event{
		ID:          "evt_1",
		Type:        "invoice.paid",
		Timestamp:   time.Date(2026, 1, 2, 4, 4, 5, 250000000, time.FixedZone("CET", 3600)),
		Data:        json.RawMessage(`{"a":1}`),
		ResourceURL: "https://api.example.com/invoices/in_1",
	}
	got, err := e.ToCloudEvent("https://billing.example.com")
	require.NoError(t, err)
	require.Equal(t, `{"specversion":"1.0","id":"evt_1","source":"https://billing.example.com","type":"invoice.paid",`+
		`"time":"2026-01-02T03:04:05.25Z","datacontenttype":"application/json","data":{"a":1},`+
		`"resourceurl":"https://api.example.com/invoices/in_1"}`, string(got))

	t.Run("resourceurl is omitted when there is no resource_url", func(t *testing.T) {
		t.Parallel()
		e := e
		e.ResourceURL = ""
		got, err := e.ToCloudEvent("/billing")
		require.NoError(t, err)
		require.NotContains(t, string(got), "resourceurl")
	})
	t.Run("an empty source is refused", func(t *testing.T) {
		t.Parallel()
		_, err := e.ToCloudEvent("")
		requireValidationError(t, err, event.ErrInvalidCloudEvent, "source")
	})
	t.Run("a source with a space is refused", func(t *testing.T) {
		t.Parallel()
		_, err := e.ToCloudEvent("/a b")
		requireValidationError(t, err, event.ErrInvalidCloudEvent, "source")
	})
	t.Run("an invalid event is refused", func(t *testing.T) {
		t.Parallel()
		_, err := event.Event{}.ToCloudEvent("/billing")
		require.ErrorIs(t, err, event.ErrInvalidID)
	})
}

func TestCloudEventRoundTrip(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"", "https://api.example.com/invoices/in_1?x=1&y=2"} {
		t.Run("resource URL "+url, func(t *testing.T) {
			t.Parallel()
			e, err := event.New("invoice.paid", invoicePaid{"in_1", 42})
			require.NoError(t, err)
			e.ResourceURL = url
			ce, err := e.ToCloudEvent("/billing")
			require.NoError(t, err)
			back, err := event.FromCloudEvent(ce)
			require.NoError(t, err)
			require.Equal(t, e, back)
		})
	}
}

func TestFromCloudEvent(t *testing.T) {
	t.Parallel()
	attrs := map[string]string{
		"specversion":     `"1.0"`,
		"id":              `"evt_1"`,
		"source":          `"/billing"`,
		"type":            `"invoice.paid"`,
		"time":            `"2026-01-02T03:04:05Z"`,
		"datacontenttype": `"application/json"`,
		"data":            `{"a":1}`,
	}
	build := func(edit func(m map[string]string)) []byte {
		m := map[string]string{}
		for k, v := range attrs {
			m[k] = v
		}
		edit(m)
		var parts []string
		for k, v := range m {
			parts = append(parts, `"`+k+`":`+v)
		}
		return []byte("{" + strings.Join(parts, ",") + "}")
	}
	set := func(k, v string) func(map[string]string) { return func(m map[string]string) { m[k] = v } }
	del := func(k string) func(map[string]string) { return func(m map[string]string) { delete(m, k) } }

	tests := []struct {
		name     string
		raw      []byte
		sentinel error
		field    string
	}{
		{"a complete CloudEvent converts", build(func(map[string]string) {}), nil, ""},
		{"an absent datacontenttype means JSON", build(del("datacontenttype")), nil, ""},
		{"a +json datacontenttype with parameters converts", build(set("datacontenttype", `"application/vnd.example+json; charset=utf-8"`)), nil, ""},
		{"extensions and optional attributes are ignored", build(set("subject", `"in_1"`)), nil, ""},
		{"a missing specversion is refused", build(del("specversion")), event.ErrInvalidCloudEvent, "specversion"},
		{"specversion 0.3 is refused", build(set("specversion", `"0.3"`)), event.ErrInvalidCloudEvent, "specversion"},
		{"a numeric specversion is refused", build(set("specversion", `1.0`)), event.ErrInvalidCloudEvent, "specversion"},
		{"a missing id is refused", build(del("id")), event.ErrInvalidID, "id"},
		{"an id with a dot is refused", build(set("id", `"a.b"`)), event.ErrInvalidID, "id"},
		{"a missing source is refused", build(del("source")), event.ErrInvalidCloudEvent, "source"},
		{"an empty source is refused", build(set("source", `""`)), event.ErrInvalidCloudEvent, "source"},
		{"a missing type is refused", build(del("type")), event.ErrInvalidType, "type"},
		{"a reverse-DNS type with upper case is refused", build(set("type", `"com.example.Invoice.Paid"`)), event.ErrInvalidType, "type"},
		{"a missing time is refused", build(del("time")), event.ErrInvalidTimestamp, "time"},
		{"a malformed time is refused", build(set("time", `"yesterday"`)), event.ErrInvalidTimestamp, "time"},
		{"a text datacontenttype is refused", build(set("datacontenttype", `"text/plain"`)), event.ErrInvalidCloudEvent, "datacontenttype"},
		{"a numeric datacontenttype is refused", build(set("datacontenttype", `1`)), event.ErrInvalidCloudEvent, "datacontenttype"},
		{"data_base64 is refused", build(func(m map[string]string) { delete(m, "data"); m["data_base64"] = `"AA=="` }), event.ErrInvalidCloudEvent, "data_base64"},
		{"missing data is refused", build(del("data")), event.ErrInvalidData, "data"},
		{"array data is refused", build(set("data", `[1]`)), event.ErrInvalidData, "data"},
		{"string data is refused", build(set("data", `"x"`)), event.ErrInvalidData, "data"},
		{"a relative resourceurl is refused", build(set("resourceurl", `"/x"`)), event.ErrInvalidResourceURL, "resourceurl"},
		{"a numeric resourceurl is refused", build(set("resourceurl", `7`)), event.ErrInvalidResourceURL, "resourceurl"},
		{"a duplicate attribute is refused", []byte(`{"specversion":"1.0","specversion":"1.0"}`), event.ErrMalformed, "specversion"},
		{"an attribute name in upper case is refused", build(set("ID", `"evt_2"`)), event.ErrMalformed, "id"},
		{"a JSON array is refused", []byte(`[]`), event.ErrMalformed, ""},
		{"invalid JSON is refused", []byte(`{"specversion":`), event.ErrMalformed, ""},
		{"invalid UTF-8 is refused", build(set("data", "{\"a\":\"\xff\"}")), event.ErrMalformed, ""},
		{"an over-large CloudEvent is refused", build(set("pad", `"`+strings.Repeat("x", event.DefaultMaxSize)+`"`)), event.ErrTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := event.FromCloudEvent(tt.raw)
			if tt.sentinel == nil {
				require.NoError(t, err)
				require.Equal(t, "evt_1", e.ID)
				require.Equal(t, "invoice.paid", e.Type)
				require.Equal(t, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), e.Timestamp)
				require.Equal(t, `{"a":1}`, string(e.Data))
				return
			}
			requireValidationError(t, err, tt.sentinel, tt.field)
		})
	}
}
