package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Definition documents one event type in a Catalog.
type Definition struct {
	// Type is the event type, e.g. "invoice.paid" (see ValidateType).
	Type string
	// Description says when the event is sent and what data holds. Required.
	Description string
	// Version of the type's data contract. Defaults to "1". See the package
	// documentation for the versioning rules.
	Version string
	// Example is example data (marshalled with encoding/json to a JSON
	// object). Optional; when set it is checked against GoType and Schema at
	// registration, so the published example is always valid.
	Example any
	// GoType, when set, is the Go type data must decode into (a struct, a
	// map with string keys, or a pointer to one). Define sets it.
	GoType reflect.Type
	// Schema is an optional JSON Schema document data must satisfy. A
	// practical subset is enforced (type, properties, required,
	// additionalProperties, items, enum, const, minLength, maxLength,
	// pattern, minimum, maximum, exclusiveMinimum, exclusiveMaximum,
	// minItems, maxItems, allOf, anyOf, oneOf, not); annotations such as
	// title, description, format and examples are published but not
	// checked; any other keyword ($ref included) is refused at registration.
	Schema json.RawMessage
	// Deprecated marks a type that will be removed; consumers should move
	// to its replacement (say which in Description). It is still accepted.
	Deprecated bool
}

// Define returns a Definition whose GoType is T, with example as its
// Example:
//
//	catalog.Register(event.Define("invoice.paid", "Sent when an invoice is paid in full.", "1",
//		InvoicePaid{InvoiceID: "in_123", AmountCents: 4200}))
func Define[T any](eventType, description, version string, example T) Definition {
	return Definition{
		Type:        eventType,
		Description: description,
		Version:     version,
		Example:     example,
		GoType:      reflect.TypeFor[T](),
	}
}

// CatalogConfig configures a Catalog.
type CatalogConfig struct {
	// Strict makes the Catalog refuse events whose type has no Definition
	// (ErrUnknownType), and refuse to register generic type names without
	// a resource, such as "data.changed" (see GenericResources). A producer
	// should use a strict catalog so that only documented events go out.
	// Defaults to false: unknown types pass Validate.
	Strict bool
	// DisallowUnknownFields makes Validate refuse data with object keys the
	// registered GoType has no field for (json.Decoder.DisallowUnknownFields).
	// Defaults to false, because adding a field is a compatible change within
	// a version: a consumer's catalog may lag behind the producer's. A
	// producer may turn it on to catch misspelt fields in map-built data.
	DisallowUnknownFields bool
	// MaxSize limits the encoded event checked by Validate, in bytes.
	// Defaults to DefaultMaxSize.
	MaxSize int
	// GenericResources lists first segments that do not name a resource; a
	// strict Catalog refuses to register types that start with one.
	// Defaults to DefaultGenericResources.
	GenericResources []string
	// CacheControl is the Cache-Control header ServeHTTP sends. Defaults to
	// "no-cache" (clients may cache but revalidate with the ETag, which is
	// cheap and never stale after a deploy).
	CacheControl string
}

// DefaultGenericResources are first segments a strict Catalog refuses,
// because a type like "data.changed" or "event.created" tells a consumer
// nothing about what changed; name the resource instead ("invoice.paid").
var DefaultGenericResources = []string{
	"data", "event", "events", "object", "item", "thing", "entity",
	"resource", "record", "message", "payload", "webhook", "generic",
}

// Catalog is the registry of every event type an application sends or
// accepts. It validates events (Validate) and publishes itself as JSON
// (ServeHTTP) so consumers can discover every event. It is safe for
// concurrent use; register definitions at start-up. The zero value is an
// empty, lenient catalog; NewCatalog configures one.
type Catalog struct {
	cfg     CatalogConfig
	generic map[string]bool

	mu       sync.RWMutex
	entries  map[string]*entry
	rendered *renderedCatalog // nil after a change
}

type entry struct {
	def     Definition
	example json.RawMessage
	schema  *schema
}

type renderedCatalog struct {
	body []byte
	etag string
}

// NewCatalog returns an empty Catalog.
func NewCatalog(cfg CatalogConfig) *Catalog {
	if cfg.GenericResources == nil {
		cfg.GenericResources = DefaultGenericResources
	}
	if cfg.CacheControl == "" {
		cfg.CacheControl = "no-cache"
	}
	c := &Catalog{cfg: cfg, generic: make(map[string]bool), entries: make(map[string]*entry)}
	for _, r := range cfg.GenericResources {
		c.generic[r] = true
	}
	return c
}

// Register adds a Definition. It fails with an error wrapping
// ErrInvalidDefinition (and, where it applies, ErrInvalidType or
// ErrSchemaMismatch) when the type is invalid or already registered, the
// type is generic and the catalog strict, the description is empty, the
// version is malformed, the schema is invalid or unsupported, or the
// example does not match GoType or Schema.
func (c *Catalog) Register(d Definition) error {
	// Field names the Definition field at fault; the reason names the type.
	fail := func(field, reason string, cause error) error {
		return &ValidationError{Field: field, Err: ErrInvalidDefinition, Reason: fmt.Sprintf("%q: %s", d.Type, reason), cause: cause}
	}
	if err := ValidateType(d.Type); err != nil {
		return fail("Type", "invalid type", err)
	}
	if res, _, _ := strings.Cut(d.Type, "."); c.cfg.Strict && c.generic[res] {
		return fail("Type", fmt.Sprintf("%q is a generic word, not a resource; a strict catalog wants the first segment to name what the event is about, e.g. \"invoice.paid\"", res), ErrInvalidType)
	}
	if strings.TrimSpace(d.Description) == "" {
		return fail("Description", "a description is required: say when the event is sent and what data holds", nil)
	}
	if d.Version == "" {
		d.Version = "1"
	}
	if err := validateVersion(d.Version); err != nil {
		return fail("Version", err.Error(), nil)
	}
	if d.GoType != nil {
		if err := checkGoType(d.GoType); err != nil {
			return fail("GoType", err.Error(), nil)
		}
	}
	e := &entry{def: d}
	if len(d.Schema) > 0 {
		if !utf8.Valid(d.Schema) {
			return fail("Schema", "the schema is not valid UTF-8", nil)
		}
		s, err := compileSchema(d.Schema)
		if err != nil {
			return fail("Schema", "invalid or unsupported JSON Schema", err)
		}
		e.schema = s
		var buf bytes.Buffer
		if err := json.Compact(&buf, d.Schema); err != nil {
			return fail("Schema", "invalid JSON Schema", err)
		}
		e.def.Schema = buf.Bytes()
	}
	if d.Example != nil {
		raw, err := MarshalData(d.Example)
		if err != nil {
			return fail("Example", "invalid example", err)
		}
		if err := c.checkData(e, raw); err != nil {
			return fail("Example", "the example does not match the definition", err)
		}
		e.example = raw
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]*entry)
	}
	if _, dup := c.entries[d.Type]; dup {
		return fail("Type", "already registered; register each type once (bump Version for breaking changes)", nil)
	}
	c.entries[d.Type] = e
	c.rendered = nil
	return nil
}

// MustRegister is Register for start-up code: it panics on error.
func (c *Catalog) MustRegister(defs ...Definition) {
	for _, d := range defs {
		if err := c.Register(d); err != nil {
			panic(err)
		}
	}
}

func validateVersion(v string) error {
	if len(v) > 64 {
		return fmt.Errorf("version is %d bytes long, the limit is 64", len(v))
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("version %q contains %s; use printable ASCII such as \"1\", \"v2\" or \"2026-01-01\"", v, quoteByte(v, i))
		}
	}
	return nil
}

func checkGoType(t reflect.Type) error {
	base := t
	for base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	switch base.Kind() {
	case reflect.Struct, reflect.Interface:
		return nil
	case reflect.Map:
		if base.Key().Kind() == reflect.String {
			return nil
		}
	}
	return fmt.Errorf("GoType %s cannot hold a JSON object; use a struct or a map with string keys", t)
}

// Lookup returns the Definition registered for eventType.
func (c *Catalog) Lookup(eventType string) (Definition, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[eventType]
	if !ok {
		return Definition{}, false
	}
	return e.def, true
}

// Definitions returns every Definition, sorted by type.
func (c *Catalog) Definitions() []Definition {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Definition, 0, len(c.entries))
	for _, e := range c.entries {
		out = append(out, e.def)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// Validate checks e: its fields (Event.Validate), its encoded size against
// MaxSize (ErrTooLarge), and its data against the registered GoType and
// Schema (ErrSchemaMismatch). An event whose type is not registered passes
// unless the catalog is Strict (ErrUnknownType). Registered types are
// checked in both modes.
func (c *Catalog) Validate(e Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if err := checkSize(e.Size(), c.cfg.MaxSize); err != nil {
		return err
	}
	c.mu.RLock()
	ent, ok := c.entries[e.Type]
	c.mu.RUnlock()
	if !ok {
		if c.cfg.Strict {
			return invalid("event_type", ErrUnknownType,
				fmt.Sprintf("%q is not in the catalog; register a Definition for it first", e.Type))
		}
		return nil
	}
	return c.checkData(ent, e.Data)
}

// checkData checks data against the entry's Go type and schema.
func (c *Catalog) checkData(ent *entry, data json.RawMessage) error {
	if t := ent.def.GoType; t != nil {
		dec := json.NewDecoder(bytes.NewReader(data))
		if c.cfg.DisallowUnknownFields {
			dec.DisallowUnknownFields()
		}
		if err := dec.Decode(reflect.New(t).Interface()); err != nil {
			return invalidCause("data", ErrSchemaMismatch,
				fmt.Sprintf("does not decode into %s, the Go type registered for %q", t, ent.def.Type), err)
		}
	}
	if ent.schema != nil {
		if err := ent.schema.validateJSON(data); err != nil {
			return invalidCause("data", ErrSchemaMismatch,
				fmt.Sprintf("does not satisfy the JSON Schema registered for %q", ent.def.Type), err)
		}
	}
	return nil
}

// catalogJSON is the document ServeHTTP serves.
type catalogJSON struct {
	Events []definitionJSON `json:"events"`
}

type definitionJSON struct {
	Type        string          `json:"type"`
	Description string          `json:"description"`
	Version     string          `json:"version"`
	Deprecated  bool            `json:"deprecated"`
	Example     json.RawMessage `json:"example,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
}

// MarshalJSON returns the catalog document ServeHTTP serves (which adds a
// final newline):
//
//	{"events":[{"type":"invoice.paid","description":"…","version":"1","deprecated":false,"example":{…},"schema":{…}}]}
//
// Events are sorted by type, so the document (and its ETag) only changes
// when the catalog does.
func (c *Catalog) MarshalJSON() ([]byte, error) {
	r, err := c.render()
	if err != nil {
		return nil, err
	}
	return bytes.Clone(bytes.TrimSuffix(r.body, []byte("\n"))), nil
}

func (c *Catalog) render() (*renderedCatalog, error) {
	c.mu.RLock()
	r := c.rendered
	c.mu.RUnlock()
	if r != nil {
		return r, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rendered != nil {
		return c.rendered, nil
	}
	doc := catalogJSON{Events: make([]definitionJSON, 0, len(c.entries))}
	for _, e := range c.entries {
		doc.Events = append(doc.Events, definitionJSON{
			Type:        e.def.Type,
			Description: e.def.Description,
			Version:     e.def.Version,
			Deprecated:  e.def.Deprecated,
			Example:     e.example,
			Schema:      e.def.Schema,
		})
	}
	sort.Slice(doc.Events, func(i, j int) bool { return doc.Events[i].Type < doc.Events[j].Type })
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	body = append(body, '\n')
	sum := sha256.Sum256(body)
	c.rendered = &renderedCatalog{body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	return c.rendered, nil
}

// ServeHTTP serves the catalog document (see MarshalJSON) to GET and HEAD
// requests, with an ETag (If-None-Match gets 304 Not Modified) and the
// configured Cache-Control. Other methods get 405 Method Not Allowed with
// an Allow header. Mount it where consumers can find it, e.g.
// mux.Handle("GET /webhooks/events", catalog).
func (c *Catalog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: use GET or HEAD", http.StatusMethodNotAllowed)
		return
	}
	doc, err := c.render()
	if err != nil {
		http.Error(w, "catalog unavailable", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if c.cfg.CacheControl != "" {
		h.Set("Cache-Control", c.cfg.CacheControl)
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", doc.etag)
	// ServeContent handles HEAD, If-None-Match (304) and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(doc.body))
}
