package event_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/hookkit/hookkit/event"
)

type InvoicePaid struct {
	InvoiceID   string `json:"invoice_id"`
	AmountCents int    `json:"amount_cents"`
}

// Build an event. New assigns a fresh "evt_" + UUIDv7 id and the current
// time; a Factory with a fixed clock and id generator makes the output
// deterministic (handy in tests).
func Example() {
	f := event.Factory{
		Now:   func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
		NewID: func() string { return "evt_01JGZ5V3QK" },
	}
	e, err := f.New("invoice.paid", InvoicePaid{InvoiceID: "in_123", AmountCents: 4200})
	if err != nil {
		panic(err)
	}
	e.ResourceURL = "https://api.example.com/invoices/in_123"

	body, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(body))
	// Output:
	// {"event_id":"evt_01JGZ5V3QK","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{"invoice_id":"in_123","amount_cents":4200},"resource_url":"https://api.example.com/invoices/in_123"}
}

func ExampleNew() {
	e, err := event.New("invoice.paid", InvoicePaid{InvoiceID: "in_123", AmountCents: 4200})
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Type, string(e.Data), e.ID[:4], len(e.ID))

	_, err = event.New("Invoice-Paid", InvoicePaid{})
	fmt.Println(errors.Is(err, event.ErrInvalidType))
	// Output:
	// invoice.paid {"invoice_id":"in_123","amount_cents":4200} evt_ 40
	// true
}

// Parse a webhook body on the receiving side, then decode its data.
func ExampleParse() {
	body := []byte(`{
		"event_id": "evt_01JGZ5V3QK",
		"event_type": "invoice.paid",
		"timestamp": "2026-01-02T04:04:05+01:00",
		"data": {"invoice_id": "in_123", "amount_cents": 4200},
		"added_in_a_later_version": true
	}`)
	e, err := event.Parse(body)
	if err != nil {
		panic(err)
	}
	var data InvoicePaid
	if err := json.Unmarshal(e.Data, &data); err != nil {
		panic(err)
	}
	fmt.Println(e.ID, e.Type, e.Timestamp.Format(time.RFC3339), data.AmountCents)

	_, err = event.Parse([]byte(`{"event_id":"evt.1","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{}}`))
	var ve *event.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Field, errors.Is(err, event.ErrInvalidID))
		fmt.Println(err)
	}
	// Output:
	// evt_01JGZ5V3QK invoice.paid 2026-01-02T03:04:05Z 4200
	// event_id true
	// event: invalid event id: event_id: "evt.1" contains '.' at byte 3; ids are 1 to 255 printable ASCII bytes without '.' or space
}

// A strict catalog documents every event a producer sends, refuses
// undocumented ones and serves itself to consumers over HTTP.
func ExampleCatalog() {
	catalog := event.NewCatalog(event.CatalogConfig{Strict: true})
	catalog.MustRegister(
		event.Define("invoice.paid", "Sent when an invoice is paid in full.", "1",
			InvoicePaid{InvoiceID: "in_123", AmountCents: 4200}),
	)

	e, _ := event.New("invoice.paid", InvoicePaid{InvoiceID: "in_9", AmountCents: 100})
	fmt.Println(catalog.Validate(e))

	e, _ = event.New("invoice.voided", map[string]string{"invoice_id": "in_9"})
	fmt.Println(errors.Is(catalog.Validate(e), event.ErrUnknownType))

	e, _ = event.New("invoice.paid", map[string]any{"amount_cents": "100"})
	fmt.Println(errors.Is(catalog.Validate(e), event.ErrSchemaMismatch))

	err := catalog.Register(event.Definition{Type: "data.changed", Description: "Something changed."})
	fmt.Println(errors.Is(err, event.ErrInvalidDefinition))

	// Serve it, e.g. mux.Handle("GET /webhooks/events", catalog).
	rec := httptest.NewRecorder()
	catalog.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/webhooks/events", nil))
	fmt.Print(rec.Body.String())
	// Output:
	// <nil>
	// true
	// true
	// true
	// {"events":[{"type":"invoice.paid","description":"Sent when an invoice is paid in full.","version":"1","deprecated":false,"example":{"invoice_id":"in_123","amount_cents":4200}}]}
}

func ExampleEvent_ToCloudEvent() {
	f := event.Factory{
		Now:   func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
		NewID: func() string { return "evt_01JGZ5V3QK" },
	}
	e, err := f.New("invoice.paid", InvoicePaid{InvoiceID: "in_123", AmountCents: 4200})
	if err != nil {
		panic(err)
	}
	ce, err := e.ToCloudEvent("https://billing.example.com")
	if err != nil {
		panic(err)
	}
	fmt.Println(string(ce))
	// Output:
	// {"specversion":"1.0","id":"evt_01JGZ5V3QK","source":"https://billing.example.com","type":"invoice.paid","time":"2026-01-02T03:04:05Z","datacontenttype":"application/json","data":{"invoice_id":"in_123","amount_cents":4200}}
}

func ExampleFromCloudEvent() {
	ce := []byte(`{
		"specversion": "1.0",
		"id": "a8f3c1",
		"source": "/billing",
		"type": "invoice.paid",
		"time": "2026-01-02T03:04:05Z",
		"data": {"invoice_id": "in_123"},
		"resourceurl": "https://api.example.com/invoices/in_123"
	}`)
	e, err := event.FromCloudEvent(ce)
	if err != nil {
		panic(err)
	}
	fmt.Println(e.ID, e.Type, e.ResourceURL)
	// Output:
	// a8f3c1 invoice.paid https://api.example.com/invoices/in_123
}
