package event_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
)

const invoiceSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "invoice.paid data",
  "type": "object",
  "required": ["invoice_id", "amount_cents"],
  "properties": {
    "invoice_id": {"type": "string", "pattern": "^in_", "minLength": 4, "maxLength": 64},
    "amount_cents": {"type": "integer", "minimum": 1},
    "currency": {"enum": ["eur", "usd"]},
    "lines": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "object"}}
  },
  "additionalProperties": false
}`

// mustEvent builds an event with fixed id and time, or fails the test.
func mustEvent(t *testing.T, typ string, data any) event.Event {
	t.Helper()
	e, err := fixedFactory().New(typ, data)
	require.NoError(t, err)
	return e
}

func newTestCatalog(t *testing.T, cfg event.CatalogConfig) *event.Catalog {
	t.Helper()
	c := event.NewCatalog(cfg)
	require.NoError(t, c.Register(event.Define("invoice.paid", "Sent when an invoice is paid in full.", "2",
		invoicePaid{InvoiceID: "in_123", AmountCents: 4200})))
	require.NoError(t, c.Register(event.Definition{
		Type:        "invoice.created",
		Description: "Sent when an invoice is created.",
		Example:     map[string]any{"invoice_id": "in_1", "amount_cents": 1},
		Schema:      json.RawMessage(invoiceSchema),
	}))
	return c
}

func TestCatalogRegister(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		strict bool
		def    event.Definition
		field  string
		also   error
	}{
		{name: "an invalid type is refused", def: event.Definition{Type: "Invoice", Description: "d"}, field: "Type", also: event.ErrInvalidType},
		{name: "a generic resource is refused by a strict catalog", strict: true, def: event.Definition{Type: "data.changed", Description: "d"}, field: "Type", also: event.ErrInvalidType},
		{name: "a generic resource with more segments is refused by a strict catalog", strict: true, def: event.Definition{Type: "event.customer.created", Description: "d"}, field: "Type", also: event.ErrInvalidType},
		{name: "an empty description is refused", def: event.Definition{Type: "invoice.voided", Description: " "}, field: "Description"},
		{name: "a version with a space is refused", def: event.Definition{Type: "invoice.voided", Description: "d", Version: "v 2"}, field: "Version"},
		{name: "an over-long version is refused", def: event.Definition{Type: "invoice.voided", Description: "d", Version: strings.Repeat("1", 65)}, field: "Version"},
		{name: "a Go type that cannot hold an object is refused", def: event.Definition{Type: "invoice.voided", Description: "d", GoType: reflect.TypeFor[[]int]()}, field: "GoType"},
		{name: "a map type with non-string keys is refused", def: event.Definition{Type: "invoice.voided", Description: "d", GoType: reflect.TypeFor[map[int]string]()}, field: "GoType"},
		{name: "a schema that is not JSON is refused", def: event.Definition{Type: "invoice.voided", Description: "d", Schema: json.RawMessage(`{`)}, field: "Schema"},
		{name: "a schema that is not an object is refused", def: event.Definition{Type: "invoice.voided", Description: "d", Schema: json.RawMessage(`true`)}, field: "Schema"},
		{name: "a schema using $ref is refused", def: event.Definition{Type: "invoice.voided", Description: "d", Schema: json.RawMessage(`{"$ref":"#/$defs/x"}`)}, field: "Schema"},
		{name: "a schema with an unknown type is refused", def: event.Definition{Type: "invoice.voided", Description: "d", Schema: json.RawMessage(`{"type":"date"}`)}, field: "Schema"},
		{name: "a schema with a bad pattern is refused", def: event.Definition{Type: "invoice.voided", Description: "d", Schema: json.RawMessage(`{"properties":{"a":{"pattern":"("}}}`)}, field: "Schema"},
		{name: "an example that is not an object is refused", def: event.Definition{Type: "invoice.voided", Description: "d", Example: []int{1}}, field: "Example", also: event.ErrInvalidData},
		{name: "an example that does not decode into the Go type is refused", def: event.Definition{Type: "invoice.voided", Description: "d", Example: map[string]any{"amount_cents": "12"}, GoType: reflect.TypeFor[invoicePaid]()}, field: "Example", also: event.ErrSchemaMismatch},
		{name: "an example that breaks the schema is refused", def: event.Definition{Type: "invoice.voided", Description: "d", Example: map[string]any{"invoice_id": "in_1"}, Schema: json.RawMessage(invoiceSchema)}, field: "Example", also: event.ErrSchemaMismatch},
		{name: "a type registered twice is refused", def: event.Definition{Type: "invoice.paid", Description: "again"}, field: "Type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newTestCatalog(t, event.CatalogConfig{Strict: tt.strict})
			err := c.Register(tt.def)
			requireValidationError(t, err, event.ErrInvalidDefinition, tt.field)
			if tt.also != nil {
				require.ErrorIs(t, err, tt.also)
			}
			_, found := c.Lookup(tt.def.Type)
			require.Equal(t, tt.def.Type == "invoice.paid", found, "a refused definition is not added")
		})
	}
}

func TestCatalogGenericNames(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"data.changed", "event.created", "object.updated", "item.deleted", "thing.happened", "entity.changed", "resource.updated"} {
		t.Run(typ+" is refused by a strict catalog and allowed by a lenient one", func(t *testing.T) {
			t.Parallel()
			def := event.Definition{Type: typ, Description: "d"}
			require.ErrorIs(t, event.NewCatalog(event.CatalogConfig{Strict: true}).Register(def), event.ErrInvalidDefinition)
			require.NoError(t, event.NewCatalog(event.CatalogConfig{}).Register(def))
		})
	}
	t.Run("a resource named like a generic word in a later segment is fine", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, event.NewCatalog(event.CatalogConfig{Strict: true}).Register(
			event.Definition{Type: "customer.data.changed", Description: "d"}))
	})
	t.Run("the generic words can be configured", func(t *testing.T) {
		t.Parallel()
		c := event.NewCatalog(event.CatalogConfig{Strict: true, GenericResources: []string{"stuff"}})
		require.NoError(t, c.Register(event.Definition{Type: "data.changed", Description: "d"}))
		require.ErrorIs(t, c.Register(event.Definition{Type: "stuff.changed", Description: "d"}), event.ErrInvalidDefinition)
	})
	t.Run("the error says why and what to do", func(t *testing.T) {
		t.Parallel()
		err := event.NewCatalog(event.CatalogConfig{Strict: true}).Register(event.Definition{Type: "data.changed", Description: "d"})
		require.ErrorContains(t, err, `"data" is a generic word`)
		require.ErrorContains(t, err, `"invoice.paid"`)
	})
}

func TestCatalogValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      event.CatalogConfig
		typ      string
		data     any
		sentinel error
	}{
		{name: "registered data that decodes passes", typ: "invoice.paid", data: invoicePaid{"in_1", 1}},
		{name: "an unknown type passes a lenient catalog", typ: "invoice.voided", data: map[string]int{}},
		{name: "an unknown type fails a strict catalog", cfg: event.CatalogConfig{Strict: true}, typ: "invoice.voided", data: map[string]int{}, sentinel: event.ErrUnknownType},
		{name: "a registered type passes a strict catalog", cfg: event.CatalogConfig{Strict: true}, typ: "invoice.paid", data: invoicePaid{"in_1", 1}},
		{name: "a field of the wrong JSON type fails in a lenient catalog", typ: "invoice.paid", data: map[string]any{"amount_cents": "1"}, sentinel: event.ErrSchemaMismatch},
		{name: "a field of the wrong JSON type fails in a strict catalog", cfg: event.CatalogConfig{Strict: true}, typ: "invoice.paid", data: map[string]any{"amount_cents": 1.5}, sentinel: event.ErrSchemaMismatch},
		{name: "an unknown data field passes by default", cfg: event.CatalogConfig{Strict: true}, typ: "invoice.paid", data: map[string]any{"invoice_id": "in_1", "new_field": 1}},
		{name: "an unknown data field fails with DisallowUnknownFields", cfg: event.CatalogConfig{DisallowUnknownFields: true}, typ: "invoice.paid", data: map[string]any{"invoice_id": "in_1", "new_field": 1}, sentinel: event.ErrSchemaMismatch},
		{name: "data satisfying the schema passes", typ: "invoice.created", data: map[string]any{"invoice_id": "in_1", "amount_cents": 5, "currency": "eur", "lines": []any{map[string]any{}}}},
		{name: "a missing required property fails the schema", typ: "invoice.created", data: map[string]any{"invoice_id": "in_1"}, sentinel: event.ErrSchemaMismatch},
		{name: "a property not in the schema fails additionalProperties", typ: "invoice.created", data: map[string]any{"invoice_id": "in_1", "amount_cents": 5, "x": 1}, sentinel: event.ErrSchemaMismatch},
		{name: "a non-integer fails type integer", typ: "invoice.created", data: map[string]any{"invoice_id": "in_1", "amount_cents": 5.5}, sentinel: event.ErrSchemaMismatch},
		{name: "a number below the minimum fails", typ: "invoice.created", data: map[string]any{"invoice_id": "in_1", "amount_cents": 0}, sentinel: event.ErrSchemaMismatch},
		{name: "a string not matching the pattern fails", typ: "invoice.created", data: map[string]any{"invoice_id": "inv1", "amount_cents": 5}, sentinel: event.ErrSchemaMismatch},
		{name: "a string over maxLength fails", typ: "invoice.created", data: map[string]any{"invoice_id": "in_" + strings.Repeat("x", 62), "amount_cents": 5}, sentinel: event.ErrSchemaMismatch},
		{name: "a value outside the enum fails", typ: "invoice.created", data: map[string]any{"invoice_id": "in_1", "amount_cents": 5, "currency": "gbp"}, sentinel: event.ErrSchemaMismatch},
		{name: "too many items fail", typ: "invoice.created", data: map[string]any{"invoice_id": "in_1", "amount_cents": 5, "lines": []any{map[string]any{}, map[string]any{}, map[string]any{}}}, sentinel: event.ErrSchemaMismatch},
		{name: "an item of the wrong type fails", typ: "invoice.created", data: map[string]any{"invoice_id": "in_1", "amount_cents": 5, "lines": []any{1}}, sentinel: event.ErrSchemaMismatch},
		{name: "an event over the catalog's size limit fails", cfg: event.CatalogConfig{MaxSize: 100}, typ: "invoice.paid", data: map[string]string{"invoice_id": strings.Repeat("x", 100)}, sentinel: event.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newTestCatalog(t, tt.cfg)
			err := c.Validate(mustEvent(t, tt.typ, tt.data))
			if tt.sentinel == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.sentinel)
			var ve *event.ValidationError
			require.ErrorAs(t, err, &ve)
			require.NotEmpty(t, ve.Reason)
		})
	}
	t.Run("an invalid event fails before any lookup", func(t *testing.T) {
		t.Parallel()
		err := newTestCatalog(t, event.CatalogConfig{}).Validate(event.Event{Type: "invoice.paid"})
		require.ErrorIs(t, err, event.ErrInvalidID)
	})
	t.Run("a schema mismatch names the JSON pointer", func(t *testing.T) {
		t.Parallel()
		err := newTestCatalog(t, event.CatalogConfig{}).Validate(mustEvent(t, "invoice.created",
			map[string]any{"invoice_id": "in_1", "amount_cents": 5, "lines": []any{map[string]any{}, "x"}}))
		require.ErrorContains(t, err, "/lines/1: must be object, got string")
	})
	t.Run("a Go type mismatch names the Go type", func(t *testing.T) {
		t.Parallel()
		err := newTestCatalog(t, event.CatalogConfig{}).Validate(mustEvent(t, "invoice.paid", map[string]any{"amount_cents": "1"}))
		require.ErrorContains(t, err, "event_test.invoicePaid")
		var ute *json.UnmarshalTypeError
		require.ErrorAs(t, err, &ute)
	})
}

func TestCatalogSchemaCombinators(t *testing.T) {
	t.Parallel()
	schema := `{"type":"object","properties":{
	  "a":{"anyOf":[{"type":"string"},{"type":"null"}]},
	  "b":{"oneOf":[{"type":"integer"},{"type":"number","minimum":10}]},
	  "c":{"allOf":[{"type":"number","exclusiveMinimum":0},{"exclusiveMaximum":1}]},
	  "d":{"not":{"const":"forbidden"}},
	  "e":{"type":["string","boolean"]},
	  "f":false
	}}`
	c := event.NewCatalog(event.CatalogConfig{})
	require.NoError(t, c.Register(event.Definition{Type: "thing_x.happened", Description: "d", Schema: json.RawMessage(schema)}))
	tests := []struct {
		name string
		data string
		ok   bool
	}{
		{"anyOf accepts a string", `{"a":"x"}`, true},
		{"anyOf accepts null", `{"a":null}`, true},
		{"anyOf refuses a number", `{"a":1}`, false},
		{"oneOf accepts a small integer", `{"b":3}`, true},
		{"oneOf accepts a large fraction", `{"b":10.5}`, true},
		{"oneOf refuses a large integer matching both", `{"b":12}`, false},
		{"allOf accepts a number strictly between 0 and 1", `{"c":0.5}`, true},
		{"allOf refuses the exclusive bound", `{"c":1}`, false},
		{"not refuses the forbidden constant", `{"d":"forbidden"}`, false},
		{"not accepts other values", `{"d":"fine"}`, true},
		{"a type list accepts a boolean", `{"e":true}`, true},
		{"a type list refuses a number", `{"e":1}`, false},
		{"a false schema refuses any value", `{"f":0}`, false},
		{"integers may be written with a fraction of zero", `{"b":3.0}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := mustEvent(t, "thing_x.happened", json.RawMessage(tt.data))
			err := c.Validate(e)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, event.ErrSchemaMismatch)
		})
	}
}

func TestCatalogLookupAndDefinitions(t *testing.T) {
	t.Parallel()
	c := newTestCatalog(t, event.CatalogConfig{})
	d, ok := c.Lookup("invoice.paid")
	require.True(t, ok)
	require.Equal(t, "2", d.Version)
	require.Equal(t, reflect.TypeFor[invoicePaid](), d.GoType)
	d, ok = c.Lookup("invoice.created")
	require.True(t, ok)
	require.Equal(t, "1", d.Version, "the version defaults to 1")
	_, ok = c.Lookup("invoice.voided")
	require.False(t, ok)
	var types []string
	for _, d := range c.Definitions() {
		types = append(types, d.Type)
	}
	require.Equal(t, []string{"invoice.created", "invoice.paid"}, types)
}

func TestCatalogZeroValueIsALenientCatalog(t *testing.T) {
	t.Parallel()
	var c event.Catalog
	require.NoError(t, c.Validate(mustEvent(t, "invoice.paid", map[string]any{})))
	require.NoError(t, c.Register(event.Define("invoice.paid", "d", "", invoicePaid{})))
	require.ErrorIs(t, c.Validate(mustEvent(t, "invoice.paid", map[string]any{"amount_cents": "x"})), event.ErrSchemaMismatch)
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, "no-cache", rec.Header().Get("Cache-Control"))
	require.Contains(t, rec.Body.String(), `"invoice.paid"`)
}

func TestCatalogMustRegisterPanicsOnError(t *testing.T) {
	t.Parallel()
	c := event.NewCatalog(event.CatalogConfig{})
	require.NotPanics(t, func() { c.MustRegister(event.Definition{Type: "a.b", Description: "d"}) })
	require.Panics(t, func() { c.MustRegister(event.Definition{Type: "a.b", Description: "d"}) })
}

func TestCatalogServeHTTP(t *testing.T) {
	t.Parallel()
	newCatalog := func(t *testing.T) *event.Catalog {
		c := newTestCatalog(t, event.CatalogConfig{})
		require.NoError(t, c.Register(event.Definition{Type: "invoice.finalized", Description: "Old; use invoice.paid.", Deprecated: true}))
		return c
	}
	const want = `{"events":[` +
		`{"type":"invoice.created","description":"Sent when an invoice is created.","version":"1","deprecated":false,"example":{"amount_cents":1,"invoice_id":"in_1"},"schema":` + `COMPACT` + `},` +
		`{"type":"invoice.finalized","description":"Old; use invoice.paid.","version":"1","deprecated":true},` +
		`{"type":"invoice.paid","description":"Sent when an invoice is paid in full.","version":"2","deprecated":false,"example":{"invoice_id":"in_123","amount_cents":4200}}` +
		"]}\n"
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, []byte(invoiceSchema)))
	wantBody := strings.Replace(want, "COMPACT", compact.String(), 1)

	t.Run("GET returns every definition sorted by type", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		newCatalog(t).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/events", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
		require.Equal(t, "no-cache", rec.Header().Get("Cache-Control"))
		require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
		require.NotEmpty(t, rec.Header().Get("ETag"))
		require.Equal(t, wantBody, rec.Body.String())
	})
	t.Run("HEAD returns the headers without a body", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		newCatalog(t).ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/events", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		require.NotEmpty(t, rec.Header().Get("ETag"))
		require.Empty(t, rec.Body.String())
	})
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		t.Run(method+" is not allowed", func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			newCatalog(t).ServeHTTP(rec, httptest.NewRequest(method, "/events", strings.NewReader("{}")))
			require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
			require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
		})
	}
	t.Run("a matching If-None-Match gets 304 and a change gets a new ETag", func(t *testing.T) {
		t.Parallel()
		c := newCatalog(t)
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/events", nil))
		etag := rec.Header().Get("ETag")

		req := httptest.NewRequest(http.MethodGet, "/events", nil)
		req.Header.Set("If-None-Match", etag)
		rec = httptest.NewRecorder()
		c.ServeHTTP(rec, req)
		require.Equal(t, http.StatusNotModified, rec.Code)
		require.Empty(t, rec.Body.String())

		require.NoError(t, c.Register(event.Definition{Type: "invoice.voided", Description: "d"}))
		rec = httptest.NewRecorder()
		c.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		require.NotEqual(t, etag, rec.Header().Get("ETag"))
		require.Contains(t, rec.Body.String(), `"invoice.voided"`)
	})
	t.Run("the document is stable across catalogs built in any order", func(t *testing.T) {
		t.Parallel()
		a := event.NewCatalog(event.CatalogConfig{})
		b := event.NewCatalog(event.CatalogConfig{})
		a.MustRegister(event.Definition{Type: "a.b", Description: "1"}, event.Definition{Type: "c.d", Description: "2"})
		b.MustRegister(event.Definition{Type: "c.d", Description: "2"}, event.Definition{Type: "a.b", Description: "1"})
		ja, err := a.MarshalJSON()
		require.NoError(t, err)
		jb, err := json.Marshal(b)
		require.NoError(t, err)
		require.JSONEq(t, string(ja), string(jb))
		require.Equal(t, string(ja), string(jb))
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		require.Equal(t, string(ja)+"\n", rec.Body.String())
	})
	t.Run("an empty catalog serves an empty list", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		event.NewCatalog(event.CatalogConfig{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		require.Equal(t, "{\"events\":[]}\n", rec.Body.String())
	})
}

func TestCatalogIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	c := newTestCatalog(t, event.CatalogConfig{Strict: true})
	e := mustEvent(t, "invoice.paid", invoicePaid{"in_1", 1})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Register(event.Definition{Type: "order.n" + string(rune('a'+i)), Description: "d"})
			assert.NoError(t, c.Validate(e)) // require must not be used off the test goroutine
			rec := httptest.NewRecorder()
			c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			assert.Equal(t, http.StatusOK, rec.Code)
		}()
	}
	wg.Wait()
	require.Len(t, c.Definitions(), 10)
}
