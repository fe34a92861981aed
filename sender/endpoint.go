package sender

import (
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Endpoint defaults and limits.
const (
	// DefaultMaxConcurrency is the number of concurrent deliveries to one endpoint
	// when Endpoint.MaxConcurrency is 0.
	DefaultMaxConcurrency = 10
	// DefaultEndpointTimeout is the per-attempt timeout when Endpoint.Timeout is 0.
	DefaultEndpointTimeout = 15 * time.Second

	// MaxURLLength bounds Endpoint.URL.
	MaxURLLength = 2048
	// MaxIDLength bounds Endpoint.ID.
	MaxIDLength = 255
	// MaxDescriptionLength bounds Endpoint.Description.
	MaxDescriptionLength = 1024
	// MaxKeys bounds Endpoint.Keys.
	MaxKeys = 16
	// MaxEventTypes bounds Endpoint.EventTypes.
	MaxEventTypes = 256
	// MaxHeaders bounds Endpoint.Headers.
	MaxHeaders = 32
	// MaxHeaderValueLength bounds each custom header value.
	MaxHeaderValueLength = 4096
	// MaxMetadata bounds the number of Endpoint.Metadata entries.
	MaxMetadata = 64
	// MaxMetadataLength bounds each metadata key and value.
	MaxMetadataLength = 1024
	// MaxEndpointTimeout bounds Endpoint.Timeout.
	MaxEndpointTimeout = 5 * time.Minute
	// MaxEndpointConcurrency bounds Endpoint.MaxConcurrency.
	MaxEndpointConcurrency = 10000
)

// EndpointKey is one signing key of an endpoint. Several keys give rotation with
// overlap: every unexpired key signs each attempt, so a receiver holding either
// the old or the new secret verifies it; once NotAfter passes, the old key stops
// signing.
//
// The secret is kept as its string form so any store can persist it. It is
// redacted by String, GoString and LogValue.
type EndpointKey struct {
	// Secret is a Standard Webhooks secret: "whsec_…" (HMAC, v1) or "whsk_…"
	// (ed25519 signing key, v1a).
	Secret string
	// NotAfter is when the key stops signing; zero means never.
	NotAfter time.Time
}

// Active reports whether the key signs at now.
func (k EndpointKey) Active(now time.Time) bool { return k.NotAfter.IsZero() || now.Before(k.NotAfter) }

// String redacts the secret, keeping only its prefix.
func (k EndpointKey) String() string {
	s := secretPrefix(k.Secret) + "[REDACTED]"
	if !k.NotAfter.IsZero() {
		s += " until " + k.NotAfter.UTC().Format(time.RFC3339)
	}
	return s
}

// GoString redacts the secret in %#v.
func (k EndpointKey) GoString() string { return "sender.EndpointKey{" + k.String() + "}" }

// LogValue redacts the secret in slog output.
func (k EndpointKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

func secretPrefix(s string) string {
	for _, p := range [...]string{"whsec_", "whsk_", "whpk_"} {
		if strings.HasPrefix(s, p) {
			return p
		}
	}
	return ""
}

// Endpoint is a subscriber: where events go, which events, and how they are
// delivered. Keys and Headers are secrets: String, GoString and LogValue redact
// them, and the attempt log never records them.
type Endpoint struct {
	// ID identifies the endpoint: 1 to 255 printable ASCII bytes without spaces.
	ID string
	// URL receives the POSTs: absolute http or https, with a host, no user info
	// and no fragment.
	URL string
	// Description is free text for operators.
	Description string
	// Keys sign every attempt (at least one; see EndpointKey for rotation).
	Keys []EndpointKey
	// EventTypes are the subscriptions: exact types ("invoice.paid"), prefix
	// wildcards ("invoice.*" matches "invoice.paid" and "invoice.line.added") or
	// "*". Empty means every event type.
	EventTypes []string
	// Headers are custom request headers, e.g. credentials the receiver checks.
	// Hop-by-hop, Host, Content-Length, Content-Type and signature (webhook-*,
	// svix-*) headers are refused. Values are secrets.
	Headers map[string]string
	// RateLimit caps deliveries per second to the endpoint; 0 means unlimited.
	RateLimit float64
	// MaxConcurrency caps concurrent deliveries to the endpoint. Defaults to
	// DefaultMaxConcurrency (10).
	MaxConcurrency int
	// Ordered delivers in publish order (FIFO): the next delivery waits until the
	// previous one is delivered or dead-lettered.
	Ordered bool
	// Timeout is the per-attempt timeout. Defaults to DefaultEndpointTimeout (15 s).
	Timeout time.Duration
	// Disabled stops deliveries: pending ones are paused until the endpoint is
	// enabled again, and Publish creates none for it.
	Disabled bool
	// DisabledReason says why (for example "410 Gone" or "failing for 5 days").
	DisabledReason string
	// DisabledAt is when it was disabled.
	DisabledAt time.Time
	// Metadata is free-form data for the application.
	Metadata map[string]string
	// CreatedAt is when the endpoint was created (set by the Sender; Store.UpdateEndpoint
	// keeps the stored value).
	CreatedAt time.Time
	// UpdatedAt is when the endpoint was last changed (set by the Sender).
	UpdatedAt time.Time
	// LastSuccessAt is the time of the last successful attempt (maintained by Settle).
	LastSuccessAt time.Time
	// LastFailureAt is the time of the last failed attempt (maintained by Settle).
	LastFailureAt time.Time
	// FailingSince is the time of the first failure since the last success, zero
	// when healthy (maintained by Settle): the auto-disable clock.
	FailingSince time.Time
}

// WithDefaults returns e with zero MaxConcurrency and Timeout replaced by
// their defaults.
func (e Endpoint) WithDefaults() Endpoint {
	if e.MaxConcurrency == 0 {
		e.MaxConcurrency = DefaultMaxConcurrency
	}
	if e.Timeout == 0 {
		e.Timeout = DefaultEndpointTimeout
	}
	return e
}

// Clone returns a deep copy of e: its slices and maps are new.
func (e Endpoint) Clone() Endpoint {
	if e.Keys != nil {
		e.Keys = append([]EndpointKey(nil), e.Keys...)
	}
	if e.EventTypes != nil {
		e.EventTypes = append([]string(nil), e.EventTypes...)
	}
	e.Headers = cloneMap(e.Headers)
	e.Metadata = cloneMap(e.Metadata)
	return e
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Subscribed reports whether the endpoint wants events of eventType. It does
// not look at Disabled. It does not allocate.
func (e Endpoint) Subscribed(eventType string) bool {
	if len(e.EventTypes) == 0 {
		return true
	}
	for _, p := range e.EventTypes {
		if matchEventType(p, eventType) {
			return true
		}
	}
	return false
}

func matchEventType(pattern, eventType string) bool {
	if pattern == "*" {
		return true
	}
	if n := len(pattern); n >= 2 && pattern[n-1] == '*' && pattern[n-2] == '.' {
		// "invoice.*" matches "invoice.<anything non-empty>".
		return len(eventType) > n-1 && eventType[:n-1] == pattern[:n-1]
	}
	return pattern == eventType
}

// ValidateOptions tunes Endpoint.Validate.
type ValidateOptions struct {
	// HTTPSOnly refuses http:// URLs.
	HTTPSOnly bool
}

// Validate checks e and returns a *ValidationError (matching
// ErrInvalidEndpoint and a specific sentinel such as ErrURLCredentials) for
// the first problem found. It validates the shape of things only: whether the
// URL's host resolves to an allowed address is checked at dial time.
func (e Endpoint) Validate(opts ValidateOptions) error {
	if err := ValidateEndpointID(e.ID); err != nil {
		return err
	}
	if err := validateURL(e.URL, opts.HTTPSOnly); err != nil {
		return err
	}
	if len(e.Description) > MaxDescriptionLength {
		return invalid("Description", ErrInvalidLimit, "longer than "+strconv.Itoa(MaxDescriptionLength)+" bytes")
	}
	if len(e.Keys) == 0 {
		return invalid("Keys", ErrInvalidKey, "no signing key")
	}
	if len(e.Keys) > MaxKeys {
		return invalid("Keys", ErrInvalidKey, "more than "+strconv.Itoa(MaxKeys)+" keys")
	}
	for i, k := range e.Keys {
		if err := validateSecret(k.Secret); err != "" {
			return invalid("Keys["+strconv.Itoa(i)+"]", ErrInvalidKey, err)
		}
	}
	if len(e.EventTypes) > MaxEventTypes {
		return invalid("EventTypes", ErrInvalidEventFilter, "more than "+strconv.Itoa(MaxEventTypes)+" filters")
	}
	for _, p := range e.EventTypes {
		if !validEventFilter(p) {
			return invalid("EventTypes", ErrInvalidEventFilter, strconv.Quote(truncate(p, 64)))
		}
	}
	if len(e.Headers) > MaxHeaders {
		return invalid("Headers", ErrInvalidHeader, "more than "+strconv.Itoa(MaxHeaders)+" headers")
	}
	for _, name := range sortedKeys(e.Headers) {
		if err := validateHeader(name, e.Headers[name]); err != nil {
			return err
		}
	}
	if e.RateLimit < 0 || e.RateLimit != e.RateLimit || e.RateLimit > 1e9 {
		return invalid("RateLimit", ErrInvalidLimit, "must be >= 0 deliveries per second (0 = unlimited)")
	}
	if e.MaxConcurrency < 0 || e.MaxConcurrency > MaxEndpointConcurrency {
		return invalid("MaxConcurrency", ErrInvalidLimit, "must be 0 (default) to "+strconv.Itoa(MaxEndpointConcurrency))
	}
	if e.Timeout < 0 || e.Timeout > MaxEndpointTimeout {
		return invalid("Timeout", ErrInvalidLimit, "must be 0 (default) to "+MaxEndpointTimeout.String())
	}
	if len(e.Metadata) > MaxMetadata {
		return invalid("Metadata", ErrInvalidLimit, "more than "+strconv.Itoa(MaxMetadata)+" entries")
	}
	for k, v := range e.Metadata {
		if len(k) == 0 || len(k) > MaxMetadataLength || len(v) > MaxMetadataLength {
			return invalid("Metadata", ErrInvalidLimit, "keys must be 1 to "+strconv.Itoa(MaxMetadataLength)+" bytes, values at most as long")
		}
	}
	if len(e.DisabledReason) > MaxDescriptionLength {
		return invalid("DisabledReason", ErrInvalidLimit, "longer than "+strconv.Itoa(MaxDescriptionLength)+" bytes")
	}
	return nil
}

// ValidateEndpointID checks an endpoint id: 1 to 255 printable ASCII bytes
// without spaces. It returns a *ValidationError wrapping ErrInvalidID.
func ValidateEndpointID(id string) error {
	if len(id) == 0 || len(id) > MaxIDLength {
		return invalid("ID", ErrInvalidID, "")
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return invalid("ID", ErrInvalidID, "")
		}
	}
	return nil
}

func validateURL(raw string, httpsOnly bool) error {
	if raw == "" {
		return invalid("URL", ErrInvalidURL, "empty")
	}
	if len(raw) > MaxURLLength {
		return invalid("URL", ErrInvalidURL, "longer than "+strconv.Itoa(MaxURLLength)+" bytes")
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f {
			return invalid("URL", ErrInvalidURL, "contains spaces or control characters")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		// Do not echo the URL: it may hold a secret.
		return invalid("URL", ErrInvalidURL, "does not parse")
	}
	if u.User != nil {
		return invalid("URL", ErrURLCredentials, "")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if httpsOnly {
			return invalid("URL", ErrHTTPSRequired, "")
		}
	default:
		return invalid("URL", ErrInvalidURL, "scheme must be http or https")
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return invalid("URL", ErrInvalidURL, "no host")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return invalid("URL", ErrInvalidURL, "has a fragment")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return invalid("URL", ErrInvalidURL, "bad port")
		}
	}
	return nil
}

// validateSecret returns a description of what is wrong with s, or "".
// The full key parsing happens in package signature; this catches the common
// mistakes early without echoing the secret.
func validateSecret(s string) string {
	switch {
	case s == "":
		return "empty secret"
	case strings.HasPrefix(s, "whpk_"):
		return "whpk_ is a public key and cannot sign; use the whsk_ signing key"
	case len(s) > 1024:
		return "secret too long"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return "secret contains spaces or non-ASCII characters"
		}
	}
	return ""
}

func validEventFilter(p string) bool {
	if p == "*" {
		return true
	}
	if len(p) == 0 || len(p) > 255 {
		return false
	}
	p = strings.TrimSuffix(p, ".*")
	// Dot-separated non-empty segments of letters, digits, '_' and '-'.
	seg := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '.':
			if seg == 0 {
				return false
			}
			seg = 0
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			seg++
		default:
			return false
		}
	}
	return seg > 0
}

// reservedHeaders are set by the sender itself or are hop-by-hop (RFC 9110 §7.6.1).
var reservedHeaders = map[string]bool{
	"connection":        true,
	"keep-alive":        true,
	"te":                true,
	"trailer":           true,
	"transfer-encoding": true,
	"upgrade":           true,
	"host":              true,
	"content-length":    true,
	"content-type":      true,
}

// IsReservedHeader reports whether a custom header name is refused by
// Validate (case-insensitive): hop-by-hop headers, Proxy-*, Host,
// Content-Length, Content-Type, webhook-* and svix-*.
func IsReservedHeader(name string) bool {
	l := strings.ToLower(name)
	return reservedHeaders[l] || strings.HasPrefix(l, "proxy-") ||
		strings.HasPrefix(l, "webhook-") || strings.HasPrefix(l, "svix-")
}

func validateHeader(name, value string) error {
	field := "Headers[" + truncate(name, 64) + "]"
	if !validHeaderName(name) {
		return invalid(field, ErrInvalidHeader, "name is not an HTTP token")
	}
	if IsReservedHeader(name) {
		return invalid(field, ErrForbiddenHeader, "")
	}
	if len(value) > MaxHeaderValueLength {
		return invalid(field, ErrInvalidHeader, "value longer than "+strconv.Itoa(MaxHeaderValueLength)+" bytes")
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return invalid(field, ErrInvalidHeader, "value contains control characters")
		}
	}
	return nil
}

func validHeaderName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// redactedURL returns the URL without its query string, which may carry tokens.
func redactedURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i] + "?[REDACTED]"
	}
	return raw
}

// String describes the endpoint for logs and errors with secrets redacted:
// signing keys, custom header values and the URL's query string.
func (e Endpoint) String() string {
	var b strings.Builder
	b.WriteString("Endpoint{ID:")
	b.WriteString(strconv.Quote(e.ID))
	b.WriteString(" URL:")
	b.WriteString(strconv.Quote(redactedURL(e.URL)))
	b.WriteString(" Keys:")
	b.WriteString(strconv.Itoa(len(e.Keys)))
	b.WriteString("×[REDACTED]")
	if len(e.Headers) > 0 {
		b.WriteString(" Headers:[")
		for i, k := range sortedKeys(e.Headers) {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(k)
			b.WriteString(":[REDACTED]")
		}
		b.WriteByte(']')
	}
	if len(e.EventTypes) > 0 {
		b.WriteString(" EventTypes:")
		b.WriteString(strings.Join(e.EventTypes, ","))
	}
	if e.Ordered {
		b.WriteString(" Ordered")
	}
	if e.Disabled {
		b.WriteString(" Disabled:")
		b.WriteString(strconv.Quote(e.DisabledReason))
	}
	b.WriteByte('}')
	return b.String()
}

// GoString redacts secrets in %#v.
func (e Endpoint) GoString() string { return "sender." + e.String() }

// LogValue renders the endpoint as a slog group with secrets redacted.
func (e Endpoint) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("id", e.ID),
		slog.String("url", redactedURL(e.URL)),
		slog.Int("keys", len(e.Keys)),
	}
	if len(e.Headers) > 0 {
		attrs = append(attrs, slog.String("headers", strings.Join(sortedKeys(e.Headers), ",")))
	}
	if e.Disabled {
		attrs = append(attrs, slog.Bool("disabled", true), slog.String("disabled_reason", e.DisabledReason))
	}
	return slog.GroupValue(attrs...)
}
