package signature

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Standard Webhooks header names (lower case, as in the specification; Go's
// http.Header canonicalises them to "Webhook-Id" and so on).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Svix header aliases, accepted on verify when the webhook-* header is absent.
const (
	HeaderSvixID        = "svix-id"
	HeaderSvixTimestamp = "svix-timestamp"
	HeaderSvixSignature = "svix-signature"
)

// Canonical (http.Header map key) forms, looked up directly so that a verify
// does not pay for header-name canonicalisation.
const (
	canonID            = "Webhook-Id"
	canonTimestamp     = "Webhook-Timestamp"
	canonSignature     = "Webhook-Signature"
	canonSvixID        = "Svix-Id"
	canonSvixTimestamp = "Svix-Timestamp"
	canonSvixSignature = "Svix-Signature"
)

// Defaults and bounds.
const (
	// DefaultTolerance is the largest accepted distance between the
	// webhook-timestamp and the verifier's clock, in either direction.
	DefaultTolerance = 5 * time.Minute
	// DefaultMaxEntries is how many entries of a signature header are
	// examined at most; the rest are ignored.
	DefaultMaxEntries = 10
	// MaxIDLength is the longest accepted webhook-id, in bytes.
	MaxIDLength = 255
	// maxTimestampDigits bounds the webhook-timestamp: 18 decimal digits
	// always fit an int64.
	maxTimestampDigits = 18
	maxTimestamp       = 999_999_999_999_999_999
)

const (
	v1SigLen     = sha256.Size             // 32
	v1SigB64Len  = (v1SigLen + 2) / 3 * 4  // 44
	v1aSigLen    = ed25519.SignatureSize   // 64
	v1aSigB64Len = (v1aSigLen + 2) / 3 * 4 // 88
	// base64's Decode needs room for DecodedLen(len(src)) bytes even when
	// the valid result is shorter (a malformed quantum can write past it).
	v1SigDecodeBuf  = v1SigB64Len / 4 * 3                           // 33
	v1aSigDecodeBuf = v1aSigB64Len / 4 * 3                          // 66
	maxPrefixUsed   = MaxIDLength + 1 + maxTimestampDigits + 1 + 16 // fits maxPrefix
)

var strictB64 = base64.StdEncoding.Strict()

// Verifier checks the signature of a received webhook. Every scheme in this
// package implements it (StandardVerifier, GitHub, Stripe, Shopify, Slack,
// GenericHMAC). body must be the exact bytes received. Verify is safe for
// concurrent use and returns nil only for an authentic, timely request;
// otherwise an error wrapping one of ErrMissingHeaders, ErrInvalidHeader,
// ErrNoMatchingSignature, ErrTooOld or ErrTooNew.
type Verifier interface {
	Verify(h http.Header, body []byte) error
}

// Pre-built errors keep the rejection path of junk requests allocation-free.
var (
	errMissingID        = fmt.Errorf("%w: %s (or %s) is absent or empty", ErrMissingHeaders, HeaderID, HeaderSvixID)
	errMissingTimestamp = fmt.Errorf("%w: %s (or %s) is absent or empty", ErrMissingHeaders, HeaderTimestamp, HeaderSvixTimestamp)
	errMissingSignature = fmt.Errorf("%w: %s (or %s) is absent or empty", ErrMissingHeaders, HeaderSignature, HeaderSvixSignature)
	errRepeatedHeader   = fmt.Errorf("%w: a signature header was given more than once", ErrInvalidHeader)
	errBadID            = fmt.Errorf("%w: the id must be 1 to %d printable ASCII bytes without '.' or space", ErrInvalidHeader, MaxIDLength)
	errBadTimestamp     = fmt.Errorf("%w: the timestamp must be Unix seconds in canonical decimal (digits only, no sign, no leading zero, at most %d digits)", ErrInvalidHeader, maxTimestampDigits)
	errNoActiveKey      = fmt.Errorf("%w: every key in the keyring has expired", ErrNoMatchingSignature)
	errNoMatch          = fmt.Errorf("%w: no entry matches any active key", ErrNoMatchingSignature)
	errNoUsableEntry    = fmt.Errorf("%w: the header has no well-formed entry of a version the keyring can verify (v1 for whsec_ keys, v1a for ed25519 keys)", ErrNoMatchingSignature)
	errTooOld           = fmt.Errorf("%w: further in the past than the tolerance (a delayed or replayed request, or a sender clock running behind)", ErrTooOld)
	errTooNew           = fmt.Errorf("%w: further in the future than the tolerance (check the sender's clock)", ErrTooNew)
)

// ValidateID reports whether id is acceptable as a webhook-id: 1 to
// MaxIDLength bytes of printable ASCII (0x21–0x7E) without '.'. Refusing '.'
// keeps the signed string "{id}.{timestamp}.{body}" unambiguous.
func ValidateID(id string) error {
	if !validID(id) {
		return errBadID
	}
	return nil
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c < 0x21 || c > 0x7e || c == '.' {
			return false
		}
	}
	return true
}

// ParseTimestamp parses a canonical webhook-timestamp: decimal digits only,
// no sign, no leading zero (except "0" itself), at most 18 digits. Anything
// else wraps ErrInvalidHeader.
func ParseTimestamp(s string) (int64, error) {
	ts, ok := parseCanonicalInt(s)
	if !ok {
		return 0, errBadTimestamp
	}
	return ts, nil
}

func parseCanonicalInt(s string) (int64, bool) {
	if len(s) == 0 || len(s) > maxTimestampDigits || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// checkTolerance compares the timestamp with now in both directions,
// strictly greater than: exactly tol away passes.
func checkTolerance(ts int64, now time.Time, tol time.Duration) error {
	d := now.Sub(time.Unix(ts, 0)) // saturates, never overflows
	if d > tol {
		return errTooOld
	}
	if d < -tol {
		return errTooNew
	}
	return nil
}

// SignerConfig configures NewSigner.
type SignerConfig struct {
	// Keys holds the signing keys; every active key that can sign signs each
	// message. Required.
	Keys *Keyring
	// Now decides which keys are active (see Entry.NotAfter). Defaults to
	// time.Now.
	Now func() time.Time
}

// Signer produces Standard Webhooks signatures (v1 and v1a). It is safe for
// concurrent use.
type Signer struct {
	keys *Keyring
	now  func() time.Time
}

// NewSigner returns a Signer. The keyring must hold at least one key that can
// sign (an HMAC secret or an ed25519 private key), else ErrNoSigningKey.
func NewSigner(cfg SignerConfig) (*Signer, error) {
	if cfg.Keys == nil {
		return nil, fmt.Errorf("%w: SignerConfig.Keys is nil", ErrNoSigningKey)
	}
	canSign := false
	for _, e := range cfg.Keys.entries {
		canSign = canSign || e.Key.CanSign()
	}
	if !canSign {
		return nil, fmt.Errorf("%w: the keyring holds only public keys", ErrNoSigningKey)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Signer{keys: cfg.Keys, now: cfg.Now}, nil
}

// Sign appends the webhook-signature header value for the message to dst and
// returns the extended slice: one space-separated "v1,<base64>" or
// "v1a,<base64>" entry per active signing key, in keyring order. The signed
// content is "{id}.{ts}.{body}", streamed into the MAC without copying body.
// id must pass ValidateID and ts must be non-negative with at most 18
// digits, so that the signed string is unambiguous; errors wrap
// ErrInvalidHeader or ErrNoSigningKey.
//
// With HMAC keys only, Sign allocates nothing beyond growing dst. An ed25519
// key needs the signed string in one piece (ed25519 hashes the message
// twice and cannot stream), so it is built once per call and shared by all
// ed25519 keys.
func (s *Signer) Sign(dst []byte, id string, ts int64, body []byte) ([]byte, error) {
	if !validID(id) {
		return dst, errBadID
	}
	if ts < 0 || ts > maxTimestamp {
		return dst, errBadTimestamp
	}
	now := s.now()
	start := len(dst)
	var msg []byte // id.ts.body, built once if an ed25519 key signs
	for _, e := range s.keys.entries {
		if !e.Key.CanSign() || !e.activeAt(now) {
			continue
		}
		if len(dst) > start {
			dst = append(dst, ' ')
		}
		switch e.Key.d.kind {
		case kindHMAC:
			st := e.Key.d.mac.get()
			st.scratch = appendSignedPrefix(st.scratch, id, ts)
			st.writeScratch()
			st.h.Write(body)
			dst = append(dst, "v1,"...)
			dst = base64.StdEncoding.AppendEncode(dst, st.finish())
			st.put()
		case kindEd25519Private:
			if msg == nil {
				msg = appendSignedPrefix(make([]byte, 0, maxPrefixUsed+len(body)), id, ts)
				msg = append(msg, body...)
			}
			dst = append(dst, "v1a,"...)
			dst = base64.StdEncoding.AppendEncode(dst, ed25519.Sign(e.Key.d.ed.priv, msg))
		}
	}
	if len(dst) == start {
		return dst, fmt.Errorf("%w: every signing key has expired", ErrNoSigningKey)
	}
	return dst, nil
}

func appendSignedPrefix(b []byte, id string, ts int64) []byte {
	b = append(b, id...)
	b = append(b, '.')
	b = strconv.AppendInt(b, ts, 10)
	return append(b, '.')
}

// SignHeader signs the message and sets the webhook-id, webhook-timestamp
// and webhook-signature headers of h (replacing earlier values). ts is
// truncated to whole seconds.
func (s *Signer) SignHeader(h http.Header, id string, ts time.Time, body []byte) error {
	unix := ts.Unix()
	sig, err := s.Sign(nil, id, unix, body)
	if err != nil {
		return err
	}
	h[canonID] = []string{id}
	h[canonTimestamp] = []string{strconv.FormatInt(unix, 10)}
	h[canonSignature] = []string{string(sig)}
	return nil
}

// String describes the signer without secret material.
func (s *Signer) String() string { return "signature.Signer{" + s.keys.String() + "}" }

// GoString returns String.
func (s *Signer) GoString() string { return s.String() }

// Format prints String for every verb.
func (s *Signer) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// VerifierConfig configures NewVerifier.
type VerifierConfig struct {
	// Keys holds the verification keys; a signature from any active key is
	// accepted. Required.
	Keys *Keyring
	// Tolerance is the largest accepted distance between webhook-timestamp
	// and Now, checked in both directions and strictly: a timestamp exactly
	// Tolerance away passes, one second more fails. Defaults to
	// DefaultTolerance (5 minutes). Negative values are rejected.
	Tolerance time.Duration
	// Now is the verifier's clock, used for the tolerance and for key
	// expiry. Defaults to time.Now.
	Now func() time.Time
	// MaxEntries is how many space-separated entries of the signature header
	// are examined at most (malformed and unknown-version entries count),
	// so that a crafted header cannot force unbounded work: at most one
	// HMAC per v1 key (computed once, compared with each entry) and one
	// ed25519 verification (tens of microseconds) per v1a entry and ed25519
	// key. Defaults to DefaultMaxEntries (10).
	MaxEntries int
}

// StandardVerifier verifies Standard Webhooks signatures (v1 HMAC-SHA256 and
// v1a ed25519). It is safe for concurrent use.
//
// Timing: every v1 comparison is hmac.Equal over two 32-byte values (the
// decoded entry, held in a fixed-size stack buffer, and the computed MAC),
// which examines every byte whatever the position of the first difference,
// so the time taken does not reveal how much of a forged signature matched.
// Entries of the wrong length are skipped before any comparison; their
// length is public anyway.
type StandardVerifier struct {
	keys       *Keyring
	tolerance  time.Duration
	now        func() time.Time
	maxEntries int
}

// NewVerifier returns a StandardVerifier, applying the defaults documented
// on VerifierConfig.
func NewVerifier(cfg VerifierConfig) (*StandardVerifier, error) {
	if cfg.Keys == nil {
		return nil, fmt.Errorf("%w: VerifierConfig.Keys is nil", ErrEmptyKey)
	}
	if cfg.Tolerance < 0 {
		return nil, errors.New("signature: VerifierConfig.Tolerance must not be negative")
	}
	if cfg.Tolerance == 0 {
		cfg.Tolerance = DefaultTolerance
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxEntries < 0 {
		return nil, errors.New("signature: VerifierConfig.MaxEntries must not be negative")
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	return &StandardVerifier{keys: cfg.Keys, tolerance: cfg.Tolerance, now: cfg.Now, maxEntries: cfg.MaxEntries}, nil
}

// String describes the verifier without secret material.
func (v *StandardVerifier) String() string {
	return fmt.Sprintf("signature.StandardVerifier{tolerance %s, max entries %d, %s}", v.tolerance, v.maxEntries, v.keys.String())
}

// GoString returns String.
func (v *StandardVerifier) GoString() string { return v.String() }

// Format prints String for every verb.
func (v *StandardVerifier) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(v.String())) }

// headerValue returns the single value of the header canon (or its
// non-canonical spelling lower, for maps built by hand), falling back to
// the alias pair. A header given twice is ErrInvalidHeader: joining or
// picking one could let an intermediary's extra value change what is
// verified, so the request is refused. An empty value counts as absent.
func headerValue(h http.Header, canon, lower, aliasCanon, aliasLower string) (string, error) {
	for _, name := range [4]string{canon, lower, aliasCanon, aliasLower} {
		vs, ok := h[name]
		if !ok {
			continue
		}
		if len(vs) > 1 {
			return "", errRepeatedHeader
		}
		if len(vs) == 1 && vs[0] != "" {
			return vs[0], nil
		}
	}
	return "", nil
}

// Verify checks the webhook-id, webhook-timestamp and webhook-signature
// headers of h (or, for each one absent, its svix-* alias) against body, the
// exact bytes received. See VerifyParts for the checks.
//
// Each header must appear once. A header given twice (two webhook-signature
// lines, say) is refused with ErrInvalidHeader instead of joining the values
// or picking one: an intermediary that appends a header must not be able to
// change what is verified, and no legitimate sender repeats these headers
// (rotation puts several entries in one header value).
//
// Verify reads h directly by its canonical keys (and their lower-case
// spellings, for maps built by hand), so it pays no header-name
// canonicalisation; a v1 verify allocates nothing.
func (v *StandardVerifier) Verify(h http.Header, body []byte) error {
	id, err := headerValue(h, canonID, HeaderID, canonSvixID, HeaderSvixID)
	if err != nil {
		return err
	}
	ts, err := headerValue(h, canonTimestamp, HeaderTimestamp, canonSvixTimestamp, HeaderSvixTimestamp)
	if err != nil {
		return err
	}
	sig, err := headerValue(h, canonSignature, HeaderSignature, canonSvixSignature, HeaderSvixSignature)
	if err != nil {
		return err
	}
	switch {
	case id == "":
		return errMissingID
	case ts == "":
		return errMissingTimestamp
	case sig == "":
		return errMissingSignature
	}
	return v.VerifyParts(id, ts, sig, body)
}

// VerifyParts checks one message given its header values. In order: id and
// timestamp must be canonical (ErrInvalidHeader), the timestamp within the
// tolerance (ErrTooOld, ErrTooNew), and at least one of the first MaxEntries
// entries of sig must be a v1 or v1a signature of "{id}.{ts}.{body}" by an
// active key (ErrNoMatchingSignature). Malformed and unknown-version entries
// are skipped. A v1 verify allocates nothing; a v1a verify builds the signed
// string once (ed25519 cannot stream).
func (v *StandardVerifier) VerifyParts(id, ts, sig string, body []byte) error {
	if id == "" {
		return errMissingID
	}
	if ts == "" {
		return errMissingTimestamp
	}
	if sig == "" {
		return errMissingSignature
	}
	if !validID(id) {
		return errBadID
	}
	unix, ok := parseCanonicalInt(ts)
	if !ok {
		return errBadTimestamp
	}
	now := v.now()
	if err := checkTolerance(unix, now, v.tolerance); err != nil {
		return err
	}
	var (
		active, usable bool
		msg            []byte // for v1a
	)
	for _, e := range v.keys.entries {
		if !e.activeAt(now) {
			continue
		}
		active = true
		switch e.Key.d.kind {
		case kindHMAC:
			m, u := v.matchV1(e.Key.d.mac, id, ts, sig, body)
			usable = usable || u
			if m {
				return nil
			}
		case kindEd25519Private, kindEd25519Public:
			m, u := v.matchV1a(e.Key.d.ed.pub, &msg, id, ts, sig, body)
			usable = usable || u
			if m {
				return nil
			}
		}
	}
	switch {
	case !active:
		return errNoActiveKey
	case !usable:
		return errNoUsableEntry
	}
	return errNoMatch
}

// nextEntry returns the next space-separated entry of sig starting at *pos,
// skipping runs of spaces, and advances *pos. ok is false at the end.
func nextEntry(sig string, pos *int) (version, value string, ok bool) {
	i := *pos
	for i < len(sig) && sig[i] == ' ' {
		i++
	}
	if i >= len(sig) {
		*pos = i
		return "", "", false
	}
	j := i
	comma := -1
	for j < len(sig) && sig[j] != ' ' {
		if comma < 0 && sig[j] == ',' {
			comma = j
		}
		j++
	}
	*pos = j
	if comma < 0 {
		return sig[i:j], "", true // malformed: no comma; caller skips it
	}
	return sig[i:comma], sig[comma+1 : j], true
}

// matchV1 computes the MAC lazily (only if a well-formed v1 entry exists)
// and compares it with each v1 entry among the first maxEntries.
func (v *StandardVerifier) matchV1(k *macKey, id, ts, sig string, body []byte) (matched, usable bool) {
	var (
		st      *macState
		mac     []byte
		encoded [v1SigB64Len]byte
		decoded [v1SigDecodeBuf]byte // Decode may write up to DecodedLen bytes for malformed input
	)
	pos := 0
	for n := 0; n < v.maxEntries; n++ {
		ver, val, ok := nextEntry(sig, &pos)
		if !ok {
			break
		}
		if ver != VersionV1 || len(val) != v1SigB64Len {
			continue
		}
		copy(encoded[:], val)
		if dn, err := strictB64.Decode(decoded[:], encoded[:]); err != nil || dn != v1SigLen {
			continue
		}
		usable = true
		if mac == nil {
			st = k.get()
			st.scratch = append(st.scratch, id...)
			st.scratch = append(st.scratch, '.')
			st.scratch = append(st.scratch, ts...)
			st.scratch = append(st.scratch, '.')
			st.writeScratch()
			st.h.Write(body)
			mac = st.finish()
		}
		if hmac.Equal(decoded[:v1SigLen], mac) {
			matched = true
			break
		}
	}
	if st != nil {
		st.put()
	}
	return matched, usable
}

func (v *StandardVerifier) matchV1a(pub ed25519.PublicKey, msg *[]byte, id, ts, sig string, body []byte) (matched, usable bool) {
	var (
		encoded [v1aSigB64Len]byte
		decoded [v1aSigDecodeBuf]byte
	)
	pos := 0
	for n := 0; n < v.maxEntries; n++ {
		ver, val, ok := nextEntry(sig, &pos)
		if !ok {
			break
		}
		if ver != VersionV1a || len(val) != v1aSigB64Len {
			continue
		}
		copy(encoded[:], val)
		if dn, err := strictB64.Decode(decoded[:], encoded[:]); err != nil || dn != v1aSigLen {
			continue
		}
		usable = true
		if *msg == nil {
			m := make([]byte, 0, len(id)+len(ts)+2+len(body))
			m = append(m, id...)
			m = append(m, '.')
			m = append(m, ts...)
			m = append(m, '.')
			*msg = append(m, body...)
		}
		if ed25519.Verify(pub, *msg, decoded[:v1aSigLen]) {
			return true, true
		}
	}
	return false, usable
}
