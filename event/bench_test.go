package event_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookkit/hookkit/event"
)

// body1KiB returns a realistic envelope of about 1 KiB.
func body1KiB(tb testing.TB) []byte {
	tb.Helper()
	data := map[string]any{
		"invoice_id":   "in_1NqXyZ2eZvKYlo2C8uLKqg3B",
		"customer_id":  "cus_9s6XKzkNRiz8i3",
		"amount_cents": 4200,
		"currency":     "eur",
		"status":       "paid",
		"lines": []map[string]any{
			{"id": "il_1", "description": "Pro plan, monthly", "amount_cents": 4000, "quantity": 1},
			{"id": "il_2", "description": "Extra seat", "amount_cents": 200, "quantity": 1},
		},
		"metadata": map[string]string{"order": "ord_12345", "note": strings.Repeat("n", 450)},
	}
	f := event.Factory{Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC) }}
	e, err := f.New("invoice.paid", data)
	if err != nil {
		tb.Fatal(err)
	}
	e.ResourceURL = "https://api.example.com/v1/invoices/in_1NqXyZ2eZvKYlo2C8uLKqg3B"
	raw, err := e.MarshalJSON()
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

func TestBenchmarkBodyIsAbout1KiB(t *testing.T) {
	t.Parallel()
	if n := len(body1KiB(t)); n < 900 || n > 1124 {
		t.Fatalf("benchmark body is %d bytes, want about 1024", n)
	}
}

func BenchmarkParse(b *testing.B) {
	raw := body1KiB(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := event.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEncodingJSON is the baseline: json.Unmarshal into the same
// fields (without Parse's validation).
func BenchmarkParseEncodingJSON(b *testing.B) {
	raw := body1KiB(b)
	type plain struct {
		ID          string          `json:"event_id"`
		Type        string          `json:"event_type"`
		Timestamp   time.Time       `json:"timestamp"`
		Data        json.RawMessage `json:"data"`
		ResourceURL string          `json:"resource_url"`
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var p plain
		if err := json.Unmarshal(raw, &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNew(b *testing.B) {
	data := invoicePaid{InvoiceID: "in_1", AmountCents: 4200}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := event.New("invoice.paid", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	e, err := event.Parse(body1KiB(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(e.Size()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = event.NewID()
	}
}

func BenchmarkCatalogValidate(b *testing.B) {
	c := event.NewCatalog(event.CatalogConfig{Strict: true})
	c.MustRegister(event.Define("invoice.paid", "Sent when an invoice is paid.", "1", invoicePaid{"in_1", 1}))
	e, err := event.New("invoice.paid", invoicePaid{"in_1", 4200})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Validate(e); err != nil {
			b.Fatal(err)
		}
	}
}
