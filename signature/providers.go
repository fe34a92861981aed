package signature

import (
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Provider header names.
const (
	HeaderGitHubSignature256 = "X-Hub-Signature-256"
	HeaderGitHubSignature    = "X-Hub-Signature" // legacy SHA-1
	HeaderStripeSignature    = "Stripe-Signature"
	HeaderShopifyHMAC        = "X-Shopify-Hmac-Sha256"
	HeaderSlackSignature     = "X-Slack-Signature"
	HeaderSlackTimestamp     = "X-Slack-Request-Timestamp"
)

// ---- GitHub ----

// GitHubConfig configures NewGitHubWithConfig.
type GitHubConfig struct {
	// Secrets are the webhook secrets; the first signs, any verifies (GitHub
	// sends one signature, so rotate by listing the new secret next to the
	// old one while you change it on GitHub). Required, none empty.
	Secrets []string
	// AllowSHA1 accepts the legacy "X-Hub-Signature: sha1=<hex>" header when
	// X-Hub-Signature-256 is absent. Defaults to false.
	AllowSHA1 bool
}

// GitHub verifies GitHub's "X-Hub-Signature-256: sha256=<hex>" header (an
// HMAC-SHA256 of the raw body). A request without the header is always
// refused (ErrMissingHeaders): unlike some libraries, an empty secret or
// signature never lets an unsigned payload through. GitHub signs no
// timestamp, so it offers no replay protection: deduplicate on the
// X-GitHub-Delivery header.
type GitHub struct {
	sha256 *GenericHMAC
	sha1   *GenericHMAC // nil unless AllowSHA1
}

// NewGitHub returns a GitHub verifier for one secret.
func NewGitHub(secret string) (*GitHub, error) {
	return NewGitHubWithConfig(GitHubConfig{Secrets: []string{secret}})
}

// NewGitHubWithConfig returns a GitHub verifier for cfg.
func NewGitHubWithConfig(cfg GitHubConfig) (*GitHub, error) {
	g256, err := newGeneric(GenericHMACConfig{Secrets: cfg.Secrets, Header: HeaderGitHubSignature256, Prefix: "sha256="}, "signature.GitHub")
	if err != nil {
		return nil, err
	}
	g := &GitHub{sha256: g256}
	if cfg.AllowSHA1 {
		g.sha1, err = newGeneric(GenericHMACConfig{Secrets: cfg.Secrets, Header: HeaderGitHubSignature, Prefix: "sha1=", Hash: SHA1}, "signature.GitHub")
		if err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Verify implements Verifier.
func (g *GitHub) Verify(h http.Header, body []byte) error {
	if g.sha1 != nil && len(h[HeaderGitHubSignature256]) == 0 && len(h[HeaderGitHubSignature]) > 0 {
		return g.sha1.Verify(h, body)
	}
	return g.sha256.Verify(h, body)
}

// Sign returns the X-Hub-Signature-256 value ("sha256=<hex>") for body with
// the first secret.
func (g *GitHub) Sign(body []byte) string { return g.sha256.Sign(time.Time{}, body) }

// SignHeader sets X-Hub-Signature-256 on h.
func (g *GitHub) SignHeader(h http.Header, body []byte) { g.sha256.SignHeader(h, time.Time{}, body) }

// String describes the verifier without secret material.
func (g *GitHub) String() string { return g.sha256.String() }

// GoString returns String.
func (g *GitHub) GoString() string { return g.String() }

// Format prints String for every verb.
func (g *GitHub) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(g.String())) }

// ---- Shopify ----

// ShopifyConfig configures NewShopifyWithConfig.
type ShopifyConfig struct {
	// Secrets are the app's client secrets; the first signs, any verifies.
	// Required, none empty.
	Secrets []string
}

// Shopify verifies Shopify's "X-Shopify-Hmac-Sha256: <base64>" header (an
// HMAC-SHA256 of the raw body). Shopify signs no timestamp: deduplicate on
// X-Shopify-Event-Id.
type Shopify struct{ g *GenericHMAC }

// NewShopify returns a Shopify verifier for one secret.
func NewShopify(secret string) (*Shopify, error) {
	return NewShopifyWithConfig(ShopifyConfig{Secrets: []string{secret}})
}

// NewShopifyWithConfig returns a Shopify verifier for cfg.
func NewShopifyWithConfig(cfg ShopifyConfig) (*Shopify, error) {
	g, err := newGeneric(GenericHMACConfig{Secrets: cfg.Secrets, Header: HeaderShopifyHMAC, Encoding: Base64}, "signature.Shopify")
	if err != nil {
		return nil, err
	}
	return &Shopify{g: g}, nil
}

// Verify implements Verifier.
func (s *Shopify) Verify(h http.Header, body []byte) error { return s.g.Verify(h, body) }

// Sign returns the X-Shopify-Hmac-Sha256 value for body with the first secret.
func (s *Shopify) Sign(body []byte) string { return s.g.Sign(time.Time{}, body) }

// SignHeader sets X-Shopify-Hmac-Sha256 on h.
func (s *Shopify) SignHeader(h http.Header, body []byte) { s.g.SignHeader(h, time.Time{}, body) }

// String describes the verifier without secret material.
func (s *Shopify) String() string { return s.g.String() }

// GoString returns String.
func (s *Shopify) GoString() string { return s.String() }

// Format prints String for every verb.
func (s *Shopify) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// ---- Slack ----

// SlackConfig configures NewSlack.
type SlackConfig struct {
	// Secrets are the app's signing secrets; the first signs, any verifies.
	// Required, none empty.
	Secrets []string
	// Tolerance for X-Slack-Request-Timestamp, both directions. Defaults to
	// DefaultTolerance (5 minutes), as Slack recommends.
	Tolerance time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// Slack verifies Slack's "X-Slack-Signature: v0=<hex>" over
// "v0:{X-Slack-Request-Timestamp}:{body}" with a timestamp tolerance.
type Slack struct{ g *GenericHMAC }

// NewSlack returns a Slack verifier for cfg.
func NewSlack(cfg SlackConfig) (*Slack, error) {
	g, err := newGeneric(GenericHMACConfig{
		Secrets:         cfg.Secrets,
		Header:          HeaderSlackSignature,
		Prefix:          "v0=",
		TimestampHeader: HeaderSlackTimestamp,
		Template:        "v0:" + PlaceholderTimestamp + ":" + PlaceholderBody,
		Tolerance:       cfg.Tolerance,
		Now:             cfg.Now,
	}, "signature.Slack")
	if err != nil {
		return nil, err
	}
	return &Slack{g: g}, nil
}

// Verify implements Verifier.
func (s *Slack) Verify(h http.Header, body []byte) error { return s.g.Verify(h, body) }

// Sign returns the X-Slack-Signature value for body at ts with the first
// secret.
func (s *Slack) Sign(ts time.Time, body []byte) string { return s.g.Sign(ts, body) }

// SignHeader sets X-Slack-Signature and X-Slack-Request-Timestamp on h.
func (s *Slack) SignHeader(h http.Header, ts time.Time, body []byte) { s.g.SignHeader(h, ts, body) }

// String describes the verifier without secret material.
func (s *Slack) String() string { return s.g.String() }

// GoString returns String.
func (s *Slack) GoString() string { return s.String() }

// Format prints String for every verb.
func (s *Slack) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// ---- Stripe ----

// DefaultStripeMaxEntries is how many comma-separated items of a
// Stripe-Signature header are examined at most.
const DefaultStripeMaxEntries = 16

// StripeConfig configures NewStripe.
type StripeConfig struct {
	// Secrets are the endpoint signing secrets ("whsec_…", used verbatim as
	// Stripe does). SignHeader signs with each (as Stripe does while a
	// secret is being rolled); Verify accepts any. Required, none empty.
	Secrets []string
	// Tolerance for the t= timestamp, checked in both directions (stripe-go
	// checks only the past). Defaults to DefaultTolerance (5 minutes).
	Tolerance time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// MaxEntries bounds how many comma-separated items of the header are
	// examined. Defaults to DefaultStripeMaxEntries (16).
	MaxEntries int
}

// Stripe verifies "Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]" over
// "{t}.{body}". Every v1 is tried (secret roll); v0 and unknown items are
// ignored; exactly one t is required.
type Stripe struct {
	keys       []*macKey
	tolerance  time.Duration
	now        func() time.Time
	maxEntries int
}

// NewStripe returns a Stripe verifier for cfg.
func NewStripe(cfg StripeConfig) (*Stripe, error) {
	keys, err := newProviderKeys(SHA256, cfg.Secrets, "signature.Stripe")
	if err != nil {
		return nil, err
	}
	if cfg.Tolerance < 0 {
		return nil, fmt.Errorf("signature: signature.Stripe: Tolerance must not be negative")
	}
	if cfg.Tolerance == 0 {
		cfg.Tolerance = DefaultTolerance
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxEntries < 0 {
		return nil, fmt.Errorf("signature: signature.Stripe: MaxEntries must not be negative")
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultStripeMaxEntries
	}
	return &Stripe{keys: keys, tolerance: cfg.Tolerance, now: cfg.Now, maxEntries: cfg.MaxEntries}, nil
}

var (
	errStripeMissing = fmt.Errorf("%w: %s is absent or empty", ErrMissingHeaders, HeaderStripeSignature)
	errStripeNoT     = fmt.Errorf("%w: %s needs exactly one canonical t=<unix seconds>", ErrInvalidHeader, HeaderStripeSignature)
	errStripeNoV1    = fmt.Errorf("%w: %s has no well-formed v1 signature", ErrNoMatchingSignature, HeaderStripeSignature)
)

// Verify implements Verifier.
func (s *Stripe) Verify(h http.Header, body []byte) error {
	v, err := single(h, HeaderStripeSignature, "stripe-signature")
	if err != nil {
		return err
	}
	return s.VerifyHeader(v, body)
}

// VerifyHeader checks a Stripe-Signature header value against body.
func (s *Stripe) VerifyHeader(header string, body []byte) error {
	if header == "" {
		return errStripeMissing
	}
	ts, ok := stripeTimestamp(header, s.maxEntries)
	if !ok {
		return errStripeNoT
	}
	unix, ok := parseCanonicalInt(ts)
	if !ok {
		return errStripeNoT
	}
	if err := checkTolerance(unix, s.now(), s.tolerance); err != nil {
		return err
	}
	usable := false
	for _, k := range s.keys {
		var (
			st  *macState
			mac []byte
			buf [macBufSize]byte
		)
		rest := header
		for n := 0; n < s.maxEntries && rest != ""; n++ {
			var item string
			item, rest, _ = strings.Cut(rest, ",")
			val, ok := strings.CutPrefix(item, "v1=")
			if !ok {
				continue
			}
			want, ok := decodeMAC(val, Hex, 32, &buf)
			if !ok {
				continue
			}
			usable = true
			if mac == nil {
				st = k.get()
				st.scratch = append(st.scratch, ts...)
				st.scratch = append(st.scratch, '.')
				st.writeScratch()
				st.h.Write(body)
				mac = st.finish()
			}
			if hmac.Equal(want, mac) {
				st.put()
				return nil
			}
		}
		if st != nil {
			st.put()
		}
	}
	if !usable {
		return errStripeNoV1
	}
	return errProviderNoMatch
}

// stripeTimestamp returns the value of the only t= item among the first max.
func stripeTimestamp(header string, max int) (string, bool) {
	var ts string
	found := false
	rest := header
	for n := 0; n < max && rest != ""; n++ {
		var item string
		item, rest, _ = strings.Cut(rest, ",")
		if v, ok := strings.CutPrefix(item, "t="); ok {
			if found {
				return "", false
			}
			ts, found = v, true
		}
	}
	return ts, found
}

// SignHeader returns a Stripe-Signature value for body at ts:
// "t=<unix>,v1=<hex>" with one v1 per secret.
func (s *Stripe) SignHeader(ts time.Time, body []byte) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	b := make([]byte, 0, 2+len(t)+len(s.keys)*68)
	b = append(b, "t="...)
	b = append(b, t...)
	for _, k := range s.keys {
		st := k.get()
		st.scratch = append(st.scratch, t...)
		st.scratch = append(st.scratch, '.')
		st.writeScratch()
		st.h.Write(body)
		b = append(b, ",v1="...)
		b = hex.AppendEncode(b, st.finish())
		st.put()
	}
	return string(b)
}

// String describes the verifier without secret material.
func (s *Stripe) String() string {
	return fmt.Sprintf("signature.Stripe{tolerance %s, %d secret(s) [REDACTED]}", s.tolerance, len(s.keys))
}

// GoString returns String.
func (s *Stripe) GoString() string { return s.String() }

// Format prints String for every verb.
func (s *Stripe) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// Compile-time checks that every scheme implements Verifier.
var (
	_ Verifier = (*StandardVerifier)(nil)
	_ Verifier = (*GitHub)(nil)
	_ Verifier = (*Stripe)(nil)
	_ Verifier = (*Shopify)(nil)
	_ Verifier = (*Slack)(nil)
	_ Verifier = (*GenericHMAC)(nil)
)
