// Package event defines hookkit's webhook envelope, its validation, its
// JSON encoding, a Catalog of event types that consumers can discover, and
// conversion to and from CloudEvents.
//
// # The envelope
//
// Every webhook hookkit sends carries one Event as its JSON body:
//
//	{
//	  "event_id": "evt_019374a8-5bd1-7c2e-9a3f-0c8d5e7f1a2b",
//	  "event_type": "invoice.paid",
//	  "timestamp": "2026-01-02T03:04:05.123456Z",
//	  "data": {"invoice_id": "in_123", "amount_cents": 4200},
//	  "resource_url": "https://api.example.com/invoices/in_123"
//	}
//
// The fields:
//
//   - event_id identifies the event. It is also the Standard Webhooks
//     webhook-id header, stays the same across retries and endpoints, and is
//     the receiver's idempotency key. NewID makes "evt_" + a UUIDv7, which
//     sorts by creation time. Any id of 1 to 255 printable ASCII bytes
//     without '.' or space is accepted (see ValidateID).
//   - event_type says what happened, as "resource.action": two or more
//     dot-separated segments of [a-z0-9_], at most 128 bytes
//     ("invoice.paid", "customer.subscription.deleted"). See ValidateType.
//   - timestamp is when the event happened, RFC 3339, always written in UTC.
//   - data is a JSON object. Keep it small: the encoded event is limited to
//     DefaultMaxSize (1 MiB) by default, but the Standard Webhooks
//     specification recommends staying under 20 KB. Prefer thin payloads
//     (ids and the fields that changed) plus resource_url.
//   - resource_url (optional) is an absolute http or https URL where the
//     consumer can fetch the resource's full, current state.
//
// Build events with New (or a Factory, to inject the clock and id
// generator), decode them with Parse (or a Parser, to set the size limit).
// Parse is strict about what it understands — the four required fields
// must be present, well typed and valid; a known field may not appear twice
// or in another case ("Event_ID"); the body must be UTF-8 — and tolerant of
// what it does not: unknown top-level fields are ignored so producers can
// add fields without breaking consumers. It decodes only the top level,
// validates the rest in one pass and keeps data as raw bytes, so it is cheap
// on a receiver's hot path.
//
// Every error is a *ValidationError naming the field and saying what is
// allowed, wrapping one of the sentinels (ErrInvalidType, ErrInvalidID,
// ErrInvalidData, ErrInvalidTimestamp, ErrInvalidResourceURL, ErrTooLarge,
// ErrMalformed, ErrUnknownType, ErrSchemaMismatch, ErrInvalidDefinition,
// ErrInvalidCloudEvent) for errors.Is.
//
// # The catalog
//
// A Catalog lists every event type an application sends, each with a
// description, a version, an example and optionally a Go type (Define) and
// a JSON Schema. Catalog.Validate checks an event's data against its
// definition; a Strict catalog also refuses unregistered types and refuses
// to register generic names that do not say what the event is about, such
// as "data.changed" or "event.created" (the first segment must not be one
// of DefaultGenericResources). Data must decode into the registered Go type
// with encoding/json (wrong JSON types are refused); unknown fields are
// allowed unless CatalogConfig.DisallowUnknownFields is set, because adding
// a field is a compatible change. Go types cannot express required fields;
// use a Schema for that. Catalog is an http.Handler serving the catalog as
// JSON, so consumers can discover every event, its version, example and
// schema.
//
// # Versioning event types
//
// Consumers depend on event types as on an API. hookkit's rules:
//
//   - Each type carries its own Version (Definition.Version, "1" by
//     default); there is no global version.
//   - Within a version only additive, optional changes are allowed: new
//     fields in data, new enum values consumers were told to expect. That is
//     why Parse ignores unknown envelope fields and a Catalog allows unknown
//     data fields by default.
//   - A breaking change (removing or renaming a field, changing a type or
//     the meaning of a field) needs a new type name ("invoice.paid_v2" or a
//     new action) or a new Version published alongside the old one; mark
//     the old definition Deprecated, say in its Description what replaces
//     it, keep sending it until consumers have moved, then remove it.
//
// # CloudEvents
//
// Event.ToCloudEvent and FromCloudEvent convert to and from CloudEvents 1.0
// structured JSON, so CloudEvents tooling can consume and produce hookkit
// events: event_id ↔ id, event_type ↔ type, timestamp ↔ time, data ↔ data
// (datacontenttype application/json), resource_url ↔ the "resourceurl"
// extension attribute; source is supplied on the way out and dropped on the
// way in.
package event
