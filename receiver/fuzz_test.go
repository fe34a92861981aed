package receiver_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/receivertest"
	"github.com/hookkit/hookkit/signature"
)

// FuzzHandler drives the whole handler with arbitrary methods, bodies and
// headers. It never panics, answers only the documented statuses, and
// answers 2xx (the only way to reach the event handler) only to requests
// that carry a valid signature.
func FuzzHandler(f *testing.F) {
	store := idempotency.NewMemoryStore(idempotency.MemoryConfig{SweepInterval: -1})
	var calls atomic.Int64
	h, err := receiver.New(receiver.Config{
		Keys:           receivertest.Keyring(""),
		Store:          store,
		MaxBodyBytes:   16 << 10,
		AllowedSources: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32")},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
		Workers:        1,
		Logger:         discardLogger(),
		Handler: receiver.HandlerFunc(func(context.Context, event.Event) error {
			calls.Add(1)
			return nil
		}),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
		store.Close()
	})
	signer, err := signature.NewSigner(signature.SignerConfig{Keys: receivertest.Keyring("")})
	if err != nil {
		f.Fatal(err)
	}
	var signedAccepted atomic.Int64

	good := envelope("evt_seed", "invoice.paid", `{"amount":1}`)
	f.Add(uint8(0), good, "application/json", "evt_seed", "", "", "198.51.100.7", true)
	f.Add(uint8(0), good, "application/json", "evt_seed", "1700000000", "v1,AAAA", "198.51.100.7", false)
	f.Add(uint8(0), []byte(`[]`), "application/json", "evt_arr", "", "", "for=198.51.100.7", true)
	f.Add(uint8(0), []byte(`{"event_id":"x"`), "application/cloudevents+json; charset=utf-8", "evt_t", "", "", `for="[2001:db8::1]:80"`, true)
	f.Add(uint8(1), good, "text/plain", "a.b", "0123", "v1a,xyz v1,", "203.0.113.1, 198.51.100.9", false)
	f.Add(uint8(2), []byte{0xff, 0xfe}, "", "", "", "", "", false)

	methods := []string{http.MethodPost, http.MethodGet, http.MethodOptions, http.MethodPut}
	// 409: a duplicate whose claim is held (never answered 2xx).
	allowed := map[int]bool{200: true, 202: true, 400: true, 401: true, 403: true, 405: true, 409: true, 413: true, 415: true, 503: true}
	f.Fuzz(func(t *testing.T, method uint8, body []byte, ctype, id, ts, sig, xff string, sign bool) {
		r := httptest.NewRequest(methods[int(method)%len(methods)], "/webhook", bytes.NewReader(body))
		if ctype != "" {
			r.Header["Content-Type"] = []string{ctype}
		}
		if xff != "" {
			if strings.HasPrefix(xff, "for=") {
				r.Header["Forwarded"] = []string{xff}
			} else {
				r.Header["X-Forwarded-For"] = []string{xff}
			}
		}
		r.Header["Webhook-Id"] = []string{id}
		validlySigned := false
		if sign {
			now := time.Now()
			if s, err := signer.Sign(nil, id, now.Unix(), body); err == nil {
				ts, sig = strconv.FormatInt(now.Unix(), 10), string(s)
				validlySigned = true
			}
		}
		r.Header["Webhook-Timestamp"] = []string{ts}
		r.Header["Webhook-Signature"] = []string{sig}

		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if !allowed[rec.Code] {
			t.Fatalf("status %d is not an allowed answer", rec.Code)
		}
		if rec.Code == http.StatusConflict && !validlySigned {
			t.Fatalf("status 409 (duplicate in progress) for a request without a valid signature")
		}
		if rec.Code < 300 {
			if !validlySigned {
				t.Fatalf("status %d for a request without a valid signature", rec.Code)
			}
			signedAccepted.Add(1)
		}
		if n, max := calls.Load(), signedAccepted.Load(); n > max {
			t.Fatalf("handler called %d times for %d signed, accepted requests", n, max)
		}
	})
}

// FuzzProviderParse feeds arbitrary headers and bodies to every preset's
// Parse and Challenge (which run after verification, but on data chosen by
// the sender): they never panic, and what they accept has a valid id and a
// printable type, with the raw payload as Data.
func FuzzProviderParse(f *testing.F) {
	presets := []receiver.Provider{
		receiver.GitHub(nil), receiver.Stripe(nil), receiver.Shopify(nil), receiver.Slack(nil), receiver.StandardWebhooks(nil),
	}
	f.Add([]byte(`{"id":"evt_1","type":"invoice.paid","created":1700000000}`), "d-1", "push", "e-1", "w-1", "orders/create")
	f.Add([]byte(`{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}`), "", "", "", "", "")
	f.Add([]byte(`{"type":"url_verification","challenge":"abc"}`), "a.b", "", "", "", "")
	f.Add([]byte(`{"type":"user.created","timestamp":"2026-01-02T03:04:05Z"}`), "msg_1", "x", "", "", "")
	f.Fuzz(func(t *testing.T, body []byte, id, typ, eventID, webhookID, topic string) {
		h := http.Header{
			"X-Github-Delivery":    {id},
			"X-Github-Event":       {typ},
			"X-Shopify-Event-Id":   {eventID},
			"X-Shopify-Webhook-Id": {webhookID},
			"X-Shopify-Topic":      {topic},
			"Webhook-Id":           {id},
		}
		for _, p := range presets {
			if p.Challenge != nil {
				p.Challenge(h, body)
			}
			ev, err := p.Parse(h, body)
			if err != nil {
				continue
			}
			if event.ValidateID(ev.ID) != nil {
				t.Fatalf("%s accepted invalid id %q", p.Name, ev.ID)
			}
			if ev.Type == "" || !bytes.Equal(ev.Data, body) {
				t.Fatalf("%s: empty type or Data is not the raw payload", p.Name)
			}
		}
	})
}
