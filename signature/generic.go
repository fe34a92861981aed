package signature

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Encoding is how a provider writes the MAC into its header.
type Encoding uint8

// Encodings for GenericHMACConfig.
const (
	// Hex is lower- or upper-case hexadecimal (the default).
	Hex Encoding = iota
	// Base64 is standard base64, padded or unpadded.
	Base64
)

// String returns "hex" or "base64".
func (e Encoding) String() string {
	switch e {
	case Hex:
		return "hex"
	case Base64:
		return "base64"
	}
	return "unknown"
}

// Placeholders of GenericHMACConfig.Template.
const (
	PlaceholderBody      = "{body}"
	PlaceholderTimestamp = "{timestamp}"
)

const maxTemplateLen = 256

// GenericHMACConfig configures NewGenericHMAC, a scheme for the many
// providers that put an HMAC of the body (optionally with a timestamp) into
// a single header such as "X-Signature: sha256=<hex>".
type GenericHMACConfig struct {
	// Secrets are the HMAC keys, used verbatim (the bytes of the string, as
	// providers do). The first signs; any verifies (rotation). Required;
	// empty strings are rejected.
	Secrets []string
	// Header is the signature header, e.g. "X-Signature". Required.
	Header string
	// Prefix is text before the MAC in Header, e.g. "sha256=". When set it
	// must be present. Defaults to none.
	Prefix string
	// Encoding of the MAC. Defaults to Hex.
	Encoding Encoding
	// Hash of the HMAC. Defaults to SHA256 (SHA1 and SHA512 available).
	Hash Hash
	// TimestampHeader, when set, names a header carrying Unix seconds that is
	// signed (see Template) and checked against Tolerance, which protects
	// against replays. Defaults to none: without it a captured request can
	// be replayed forever, so prefer a provider that sends one.
	TimestampHeader string
	// Tolerance is the largest accepted distance between the timestamp and
	// Now, both directions, strictly greater-than. Only used with
	// TimestampHeader. Defaults to DefaultTolerance (5 minutes).
	Tolerance time.Duration
	// Template is the signed content: PlaceholderBody exactly once and,
	// with a TimestampHeader (and only then), PlaceholderTimestamp at least
	// once, at most 256 bytes. Defaults to "{body}", or "{timestamp}.{body}" with a
	// TimestampHeader.
	Template string
	// Now is the clock for the tolerance. Defaults to time.Now.
	Now func() time.Time
}

// GenericHMAC verifies (and, for tests, produces) single-header HMAC
// signatures. It is safe for concurrent use.
type GenericHMAC struct {
	keys      []*macKey
	header    string // canonical
	headerLow string
	prefix    string
	enc       Encoding
	hash      Hash
	tsHeader  string // canonical, "" if none
	tsLow     string
	tolerance time.Duration
	now       func() time.Time
	pre, post string // template around {body}
	name      string // for String
}

// NewGenericHMAC validates cfg, applies its defaults and returns the scheme.
func NewGenericHMAC(cfg GenericHMACConfig) (*GenericHMAC, error) {
	return newGeneric(cfg, "signature.GenericHMAC")
}

func newGeneric(cfg GenericHMACConfig, name string) (*GenericHMAC, error) {
	if !cfg.Hash.valid() {
		return nil, fmt.Errorf("signature: %s: unknown Hash %d", name, cfg.Hash)
	}
	if cfg.Encoding > Base64 {
		return nil, fmt.Errorf("signature: %s: unknown Encoding %d", name, cfg.Encoding)
	}
	keys, err := newProviderKeys(cfg.Hash, cfg.Secrets, name)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.Header) == "" {
		return nil, fmt.Errorf("signature: %s: Header is required", name)
	}
	if cfg.Tolerance < 0 {
		return nil, fmt.Errorf("signature: %s: Tolerance must not be negative", name)
	}
	if cfg.Tolerance == 0 {
		cfg.Tolerance = DefaultTolerance
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Template == "" {
		cfg.Template = PlaceholderBody
		if cfg.TimestampHeader != "" {
			cfg.Template = PlaceholderTimestamp + "." + PlaceholderBody
		}
	}
	if len(cfg.Template) > maxTemplateLen {
		return nil, fmt.Errorf("signature: %s: Template longer than %d bytes", name, maxTemplateLen)
	}
	if strings.Count(cfg.Template, PlaceholderBody) != 1 {
		return nil, fmt.Errorf("signature: %s: Template must contain %s exactly once", name, PlaceholderBody)
	}
	if cfg.TimestampHeader == "" && strings.Contains(cfg.Template, PlaceholderTimestamp) {
		return nil, fmt.Errorf("signature: %s: Template uses %s but TimestampHeader is empty", name, PlaceholderTimestamp)
	}
	if cfg.TimestampHeader != "" && !strings.Contains(cfg.Template, PlaceholderTimestamp) {
		// An unsigned timestamp could be rewritten by anyone, which would
		// make the tolerance check worthless.
		return nil, fmt.Errorf("signature: %s: TimestampHeader is set but Template does not sign %s", name, PlaceholderTimestamp)
	}
	pre, post, _ := strings.Cut(cfg.Template, PlaceholderBody)
	g := &GenericHMAC{
		keys:      keys,
		header:    textproto.CanonicalMIMEHeaderKey(cfg.Header),
		headerLow: strings.ToLower(cfg.Header),
		prefix:    cfg.Prefix,
		enc:       cfg.Encoding,
		hash:      cfg.Hash,
		tolerance: cfg.Tolerance,
		now:       cfg.Now,
		pre:       pre,
		post:      post,
		name:      name,
	}
	if cfg.TimestampHeader != "" {
		g.tsHeader = textproto.CanonicalMIMEHeaderKey(cfg.TimestampHeader)
		g.tsLow = strings.ToLower(cfg.TimestampHeader)
	}
	return g, nil
}

func newProviderKeys(h Hash, secrets []string, name string) ([]*macKey, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: %s needs at least one secret", ErrEmptyKey, name)
	}
	keys := make([]*macKey, len(secrets))
	for i, s := range secrets {
		if s == "" {
			return nil, fmt.Errorf("%w: %s secret %d is empty", ErrEmptyKey, name, i)
		}
		keys[i] = newMACKey(h, []byte(s))
	}
	return keys, nil
}

// String describes the scheme without secret material.
func (g *GenericHMAC) String() string {
	return fmt.Sprintf("%s{header %s, %s %s, %d secret(s) [REDACTED]}", g.name, g.header, g.hash, g.enc, len(g.keys))
}

// GoString returns String.
func (g *GenericHMAC) GoString() string { return g.String() }

// Format prints String for every verb.
func (g *GenericHMAC) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(g.String())) }

// single returns the only value of a header, looked up by its canonical key
// and, failing that, its lower-case spelling (maps built by hand); "" if
// absent or empty; errRepeatedHeader if it appears more than once (see
// StandardVerifier.Verify for why).
func single(h http.Header, canon, lower string) (string, error) {
	vs, ok := h[canon]
	if !ok {
		vs = h[lower]
	}
	if len(vs) > 1 {
		return "", errRepeatedHeader
	}
	if len(vs) == 0 {
		return "", nil
	}
	return vs[0], nil
}

var errProviderNoMatch = fmt.Errorf("%w: the signature matches no secret", ErrNoMatchingSignature)

// Verify implements Verifier.
func (g *GenericHMAC) Verify(h http.Header, body []byte) error {
	sig, err := single(h, g.header, g.headerLow)
	if err != nil {
		return err
	}
	if sig == "" {
		return fmt.Errorf("%w: %s is absent or empty", ErrMissingHeaders, g.header)
	}
	var ts string
	if g.tsHeader != "" {
		if ts, err = single(h, g.tsHeader, g.tsLow); err != nil {
			return err
		}
		if ts == "" {
			return fmt.Errorf("%w: %s is absent or empty", ErrMissingHeaders, g.tsHeader)
		}
	}
	return g.VerifyParts(sig, ts, body)
}

// VerifyParts checks a signature header value (prefix included) and, when
// the scheme has a TimestampHeader, the timestamp header value.
func (g *GenericHMAC) VerifyParts(sig, ts string, body []byte) error {
	if g.tsHeader != "" {
		unix, ok := parseCanonicalInt(ts)
		if !ok {
			return errBadTimestamp
		}
		if err := checkTolerance(unix, g.now(), g.tolerance); err != nil {
			return err
		}
	}
	var buf [macBufSize]byte
	want, ok := g.decode(sig, &buf)
	if !ok {
		return fmt.Errorf("%w: %s is not %s%s of a %s MAC", ErrInvalidHeader, g.header, g.prefix, g.enc, g.hash)
	}
	for _, k := range g.keys {
		st := k.get()
		g.writeContent(st, ts, body)
		eq := hmac.Equal(want, st.finish())
		st.put()
		if eq {
			return nil
		}
	}
	return errProviderNoMatch
}

const (
	maxMACSize = 64 // SHA-512
	// macBufSize leaves room for base64's Decode, which may write up to
	// DecodedLen(len(src)) bytes (66 for a padded SHA-512) on bad input.
	macBufSize = (maxMACSize+2)/3*3 + 3
)

// decode strips the prefix and decodes the MAC into buf without allocating.
func (g *GenericHMAC) decode(sig string, buf *[macBufSize]byte) ([]byte, bool) {
	if !strings.HasPrefix(sig, g.prefix) {
		return nil, false
	}
	return decodeMAC(sig[len(g.prefix):], g.enc, g.hash.size(), buf)
}

func decodeMAC(s string, enc Encoding, size int, buf *[macBufSize]byte) ([]byte, bool) {
	var src [2 * maxMACSize]byte
	switch enc {
	case Hex:
		if len(s) != 2*size {
			return nil, false
		}
		copy(src[:], s)
		if _, err := hex.Decode(buf[:size], src[:len(s)]); err != nil {
			return nil, false
		}
		return buf[:size], true
	case Base64:
		e := base64.StdEncoding
		switch len(s) {
		case e.EncodedLen(size):
		case base64.RawStdEncoding.EncodedLen(size):
			e = base64.RawStdEncoding
		default:
			return nil, false
		}
		copy(src[:], s)
		n, err := e.Strict().Decode(buf[:], src[:len(s)])
		if err != nil || n != size {
			return nil, false
		}
		return buf[:size], true
	}
	return nil, false
}

// writeContent streams the template with the timestamp and body into st.
func (g *GenericHMAC) writeContent(st *macState, ts string, body []byte) {
	st.scratch = expandTemplate(st.scratch, g.pre, ts)
	st.writeScratch()
	st.h.Write(body)
	if g.post != "" {
		st.scratch = expandTemplate(st.scratch, g.post, ts)
		st.writeScratch()
	}
}

func expandTemplate(dst []byte, tmpl, ts string) []byte {
	for {
		i := strings.Index(tmpl, PlaceholderTimestamp)
		if i < 0 {
			return append(dst, tmpl...)
		}
		dst = append(dst, tmpl[:i]...)
		dst = append(dst, ts...)
		tmpl = tmpl[i+len(PlaceholderTimestamp):]
	}
}

// Sign returns the signature header value (prefix included) for body and,
// with a TimestampHeader, ts (ignored otherwise), using the first secret.
// It is meant for tests and for senders that must speak this scheme.
func (g *GenericHMAC) Sign(ts time.Time, body []byte) string {
	return g.sign(g.keys[0], strconv.FormatInt(ts.Unix(), 10), body)
}

func (g *GenericHMAC) sign(k *macKey, ts string, body []byte) string {
	st := k.get()
	defer st.put()
	g.writeContent(st, ts, body)
	mac := st.finish()
	if g.enc == Base64 {
		return g.prefix + base64.StdEncoding.EncodeToString(mac)
	}
	return g.prefix + hex.EncodeToString(mac)
}

// SignHeader sets the signature header (and the timestamp header, if the
// scheme has one) of h for body at ts.
func (g *GenericHMAC) SignHeader(h http.Header, ts time.Time, body []byte) {
	unix := strconv.FormatInt(ts.Unix(), 10)
	h[g.header] = []string{g.sign(g.keys[0], unix, body)}
	if g.tsHeader != "" {
		h[g.tsHeader] = []string{unix}
	}
}
