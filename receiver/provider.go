package receiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/signature"
)

// Provider describes a sender's scheme: how requests are signed, which id
// deduplicates them and where the event type is. The zero Provider is
// hookkit's own: Standard Webhooks signatures and the hookkit envelope
// (event.Parse). Presets: GitHub, Stripe, Shopify, Slack, StandardWebhooks.
type Provider struct {
	// Name identifies the provider in logs, metrics and Metadata. Defaults
	// to "hookkit".
	Name string
	// Verifier checks the signature. When nil, Config.Verifier (or a
	// Standard Webhooks verifier over Config.Keys) is used.
	Verifier signature.Verifier
	// Parse extracts the event from a verified request: ID (the dedupe
	// key, which must satisfy event.ValidateID), Type (the routing key,
	// non-empty), Timestamp (zero means the time received) and Data. body
	// is owned by the caller's Delivery; Parse may keep sub-slices of it
	// (the presets set Data to body, the raw provider payload). An error
	// answers 400. When nil, body is parsed as a hookkit envelope.
	Parse func(h http.Header, body []byte) (event.Event, error)
	// Challenge, when set, is consulted after verification and before
	// Parse: when it returns ok, the request is answered 200 with resp
	// (text/plain) and nothing is claimed or queued. Slack's url_verification
	// uses it.
	Challenge func(h http.Header, body []byte) (resp []byte, ok bool)
}

// name returns p.Name or "hookkit".
func (p Provider) name() string {
	if p.Name == "" {
		return "hookkit"
	}
	return p.Name
}

// ErrProviderPayload is wrapped by the errors of the presets' Parse
// functions (answered 400): a missing dedupe key or event type.
var ErrProviderPayload = errors.New("receiver: provider payload lacks an id or type")

// GitHub returns the GitHub preset: v verifies X-Hub-Signature-256 (use
// signature.NewGitHub), the dedupe key is X-GitHub-Delivery, the event type
// is X-GitHub-Event ("push", "pull_request", …), Data is the raw payload.
// GitHub must be configured with content type application/json.
func GitHub(v signature.Verifier) Provider {
	return Provider{Name: "github", Verifier: v, Parse: func(h http.Header, body []byte) (event.Event, error) {
		return headerEvent(h, body, "X-Github-Delivery", "", "X-Github-Event")
	}}
}

// Shopify returns the Shopify preset: v verifies X-Shopify-Hmac-Sha256 (use
// signature.NewShopify), the dedupe key is X-Shopify-Event-Id, falling back
// to X-Shopify-Webhook-Id, the event type is X-Shopify-Topic
// ("orders/create", …), Data is the raw payload.
func Shopify(v signature.Verifier) Provider {
	return Provider{Name: "shopify", Verifier: v, Parse: func(h http.Header, body []byte) (event.Event, error) {
		return headerEvent(h, body, "X-Shopify-Event-Id", "X-Shopify-Webhook-Id", "X-Shopify-Topic")
	}}
}

// Stripe returns the Stripe preset: v verifies Stripe-Signature (use
// signature.NewStripe), the dedupe key is the event's "id" and the type its
// "type" ("invoice.paid", …), the timestamp its "created"; Data is the raw
// payload.
func Stripe(v signature.Verifier) Provider {
	return Provider{Name: "stripe", Verifier: v, Parse: func(_ http.Header, body []byte) (event.Event, error) {
		var p struct {
			ID      string `json:"id"`
			Type    string `json:"type"`
			Created int64  `json:"created"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return event.Event{}, fmt.Errorf("%w: stripe event: %w", ErrProviderPayload, err)
		}
		ev, err := bodyEvent(body, p.ID, p.Type, "id", "type")
		if err == nil && p.Created > 0 {
			ev.Timestamp = time.Unix(p.Created, 0).UTC()
		}
		return ev, err
	}}
}

// Slack returns the Slack Events API preset: v verifies X-Slack-Signature
// with X-Slack-Request-Timestamp (use signature.NewSlack), the dedupe key is
// the body's "event_id", the type is the inner event's "type" for
// event_callback payloads ("app_mention", …) and the outer "type"
// otherwise; Data is the raw payload. The url_verification handshake is
// answered with its challenge.
func Slack(v signature.Verifier) Provider {
	return Provider{
		Name:     "slack",
		Verifier: v,
		Parse: func(_ http.Header, body []byte) (event.Event, error) {
			var p struct {
				Type      string `json:"type"`
				EventID   string `json:"event_id"`
				EventTime int64  `json:"event_time"`
				Event     struct {
					Type string `json:"type"`
				} `json:"event"`
			}
			if err := json.Unmarshal(body, &p); err != nil {
				return event.Event{}, fmt.Errorf("%w: slack event: %w", ErrProviderPayload, err)
			}
			typ := p.Type
			if p.Type == "event_callback" && p.Event.Type != "" {
				typ = p.Event.Type
			}
			ev, err := bodyEvent(body, p.EventID, typ, "event_id", "type")
			if err == nil && p.EventTime > 0 {
				ev.Timestamp = time.Unix(p.EventTime, 0).UTC()
			}
			return ev, err
		},
		Challenge: func(_ http.Header, body []byte) ([]byte, bool) {
			if !bytes.Contains(body, []byte(`url_verification`)) {
				return nil, false
			}
			var p struct {
				Type      string `json:"type"`
				Challenge string `json:"challenge"`
			}
			if json.Unmarshal(body, &p) != nil || p.Type != "url_verification" {
				return nil, false
			}
			return []byte(p.Challenge), true
		},
	}
}

// StandardWebhooks returns a preset for any Standard Webhooks sender whose
// payload is not a hookkit envelope (for example one using Svix): v
// verifies webhook-* (or svix-*) headers (use signature.NewVerifier), the
// dedupe key is webhook-id (or svix-id), the event type is the body's
// "type" and the timestamp its RFC 3339 "timestamp" if present; Data is the
// raw payload.
func StandardWebhooks(v signature.Verifier) Provider {
	return Provider{Name: "standard-webhooks", Verifier: v, Parse: func(h http.Header, body []byte) (event.Event, error) {
		var p struct {
			Type      string    `json:"type"`
			Timestamp time.Time `json:"timestamp"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return event.Event{}, fmt.Errorf("%w: standard webhooks payload: %w", ErrProviderPayload, err)
		}
		id := h.Get(signature.HeaderID)
		if id == "" {
			id = h.Get(signature.HeaderSvixID)
		}
		ev, err := bodyEvent(body, id, p.Type, "webhook-id", "type")
		if err == nil && !p.Timestamp.IsZero() {
			ev.Timestamp = p.Timestamp.UTC()
		}
		return ev, err
	}}
}

// headerEvent builds a provider event whose id and type come from headers.
func headerEvent(h http.Header, body []byte, idHeader, fallbackIDHeader, typeHeader string) (event.Event, error) {
	id := single(h, idHeader)
	if id == "" && fallbackIDHeader != "" {
		id = single(h, fallbackIDHeader)
	}
	if id == "" {
		return event.Event{}, fmt.Errorf("%w: header %s is missing, empty or repeated", ErrProviderPayload, idHeader)
	}
	typ := single(h, typeHeader)
	if typ == "" {
		return event.Event{}, fmt.Errorf("%w: header %s is missing, empty or repeated", ErrProviderPayload, typeHeader)
	}
	return providerEvent(body, id, typ)
}

// bodyEvent builds a provider event from an id and type read from the body.
func bodyEvent(body []byte, id, typ, idField, typeField string) (event.Event, error) {
	if id == "" {
		return event.Event{}, fmt.Errorf("%w: %s is missing or empty", ErrProviderPayload, idField)
	}
	if typ == "" {
		return event.Event{}, fmt.Errorf("%w: %s is missing or empty", ErrProviderPayload, typeField)
	}
	return providerEvent(body, id, typ)
}

func providerEvent(body []byte, id, typ string) (event.Event, error) {
	if err := event.ValidateID(id); err != nil {
		return event.Event{}, err
	}
	if len(typ) > event.MaxTypeLength || !printable(typ) {
		return event.Event{}, fmt.Errorf("%w: event type must be 1 to %d printable ASCII bytes", ErrProviderPayload, event.MaxTypeLength)
	}
	return event.Event{ID: id, Type: typ, Data: body}, nil
}

// single returns the only value of a canonical header, "" if it is absent
// or repeated.
func single(h http.Header, canon string) string {
	if vs := h[canon]; len(vs) == 1 {
		return vs[0]
	}
	return ""
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// itoa formats n in decimal.
func itoa(n int) string { return strconv.Itoa(n) }
