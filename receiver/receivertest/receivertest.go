// Package receivertest builds correctly signed webhook requests for testing
// handlers built with package receiver, in the style of net/http/httptest:
// the helpers panic on programmer error and fill in safe defaults (a
// fixed secret, the current time, target "/webhook", Content-Type
// application/json, RemoteAddr 192.0.2.1:1234), so tests stay short.
//
//	req := receivertest.NewRequest(receivertest.Secret, receivertest.NewEvent("invoice.paid", map[string]any{"id": "inv_1"}))
//	rec := httptest.NewRecorder()
//	h.ServeHTTP(rec, req)
package receivertest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/signature"
)

// Secret is a valid Standard Webhooks secret for tests (the shared test
// vector of the Standard Webhooks libraries). Never use it in production.
const Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// ProviderSecret is a secret for the provider helpers (GitHub, Stripe,
// Shopify, Slack use the bytes of the string as the HMAC key).
const ProviderSecret = "receivertest-provider-secret"

// Target is the default request target.
const Target = "/webhook"

// Keyring returns a keyring holding secret (Secret when empty), for
// receiver.Config.Keys. It panics if the secret is invalid.
func Keyring(secret string) *signature.Keyring {
	if secret == "" {
		secret = Secret
	}
	return signature.MustKeyring(secret)
}

// NewEvent returns a new event of the given type and data (event.New). It
// panics if the type or data is invalid.
func NewEvent(eventType string, data any) event.Event {
	ev, err := event.New(eventType, data)
	if err != nil {
		panic("receivertest.NewEvent: " + err.Error())
	}
	return ev
}

// NewRequest returns a POST of ev's JSON envelope signed with secret
// (Secret when empty) at the current time, webhook-id set to ev.ID.
func NewRequest(secret string, ev event.Event) *http.Request {
	return NewRequestAt(secret, ev, time.Now())
}

// NewRequestAt is NewRequest with the signature timestamp ts.
func NewRequestAt(secret string, ev event.Event, ts time.Time) *http.Request {
	body, err := ev.MarshalJSON()
	if err != nil {
		panic("receivertest.NewRequestAt: " + err.Error())
	}
	return Sign(Request{Secret: secret, ID: ev.ID, Timestamp: ts, Body: body})
}

// Request describes a Standard Webhooks request for Sign. Zero fields get
// safe defaults.
type Request struct {
	// Secret signs the request. Defaults to Secret.
	Secret string
	// ID is the webhook-id. Defaults to a new event id.
	ID string
	// Timestamp is the webhook-timestamp. Defaults to time.Now().
	Timestamp time.Time
	// Body is sent verbatim. Defaults to a valid envelope of type
	// "test.event" with ID as its event_id.
	Body []byte
	// Target is the request target. Defaults to Target.
	Target string
	// Header holds extra headers, set after the signature headers (so a
	// test can also override them).
	Header http.Header
}

// Sign builds the request described by r. It panics on an invalid secret
// or id.
func Sign(r Request) *http.Request {
	if r.Secret == "" {
		r.Secret = Secret
	}
	if r.ID == "" {
		r.ID = event.NewID()
	}
	if r.Timestamp.IsZero() {
		r.Timestamp = time.Now()
	}
	if r.Body == nil {
		ev := NewEvent("test.event", map[string]any{})
		ev.ID = r.ID
		var err error
		if r.Body, err = ev.MarshalJSON(); err != nil {
			panic("receivertest.Sign: " + err.Error())
		}
	}
	signer, err := signature.NewSigner(signature.SignerConfig{Keys: Keyring(r.Secret)})
	if err != nil {
		panic("receivertest.Sign: " + err.Error())
	}
	req := newPost(r.Target, r.Body)
	if err := signer.SignHeader(req.Header, r.ID, r.Timestamp, r.Body); err != nil {
		panic("receivertest.Sign: " + err.Error())
	}
	for k, vs := range r.Header {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	return req
}

func newPost(target string, body []byte) *http.Request {
	if target == "" {
		target = Target
	}
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func mac(secret string, parts ...[]byte) []byte {
	if secret == "" {
		secret = ProviderSecret
	}
	m := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// GitHubRequest returns a GitHub webhook: body signed with secret
// (ProviderSecret when empty) in X-Hub-Signature-256, X-GitHub-Event set
// to eventType and X-GitHub-Delivery to delivery.
func GitHubRequest(secret, eventType, delivery string, body []byte) *http.Request {
	req := newPost("", body)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac(secret, body)))
	req.Header.Set("X-GitHub-Event", eventType)
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("User-Agent", "GitHub-Hookshot/receivertest")
	return req
}

// StripeRequest returns a Stripe webhook: body (a Stripe event with "id"
// and "type") signed with secret (ProviderSecret when empty) at ts (now
// when zero) in Stripe-Signature.
func StripeRequest(secret string, body []byte, ts time.Time) *http.Request {
	if ts.IsZero() {
		ts = time.Now()
	}
	t := strconv.FormatInt(ts.Unix(), 10)
	req := newPost("", body)
	req.Header.Set("Stripe-Signature", "t="+t+",v1="+hex.EncodeToString(mac(secret, []byte(t), []byte("."), body)))
	return req
}

// ShopifyRequest returns a Shopify webhook: body signed with secret
// (ProviderSecret when empty) in X-Shopify-Hmac-Sha256, X-Shopify-Topic set
// to topic and X-Shopify-Event-Id to eventID.
func ShopifyRequest(secret, topic, eventID string, body []byte) *http.Request {
	req := newPost("", body)
	req.Header.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(mac(secret, body)))
	req.Header.Set("X-Shopify-Topic", topic)
	req.Header.Set("X-Shopify-Event-Id", eventID)
	return req
}

// SlackRequest returns a Slack Events API request: body (with "event_id"
// and "type") signed with secret (ProviderSecret when empty) at ts (now when
// zero) in X-Slack-Signature and X-Slack-Request-Timestamp.
func SlackRequest(secret string, body []byte, ts time.Time) *http.Request {
	if ts.IsZero() {
		ts = time.Now()
	}
	t := strconv.FormatInt(ts.Unix(), 10)
	req := newPost("", body)
	req.Header.Set("X-Slack-Request-Timestamp", t)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac(secret, []byte("v0:"+t+":"), body)))
	return req
}
