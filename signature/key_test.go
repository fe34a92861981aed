package signature_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/signature"
)

const (
	vectorSecret     = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorSecretBare = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

func b64(b []byte) string    { return base64.StdEncoding.EncodeToString(b) }
func rawB64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }

func TestParseKey(t *testing.T) {
	t.Parallel()

	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	otherPub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32)).Public().(ed25519.PublicKey)
	mismatched := append(append([]byte(nil), seed...), otherPub...)
	key16 := bytes.Repeat([]byte{1}, 16)
	key17 := bytes.Repeat([]byte{2}, 17) // needs padding

	tests := []struct {
		name        string
		in          string
		wantErr     error
		wantVersion string
		wantCanSign bool
	}{
		{name: "a prefixed secret parses as v1", in: vectorSecret, wantVersion: "v1", wantCanSign: true},
		{name: "a bare secret parses as v1", in: vectorSecretBare, wantVersion: "v1", wantCanSign: true},
		{name: "a padded secret parses", in: "whsec_" + b64(key17), wantVersion: "v1", wantCanSign: true},
		{name: "an unpadded secret parses", in: "whsec_" + rawB64(key17), wantVersion: "v1", wantCanSign: true},
		{name: "a bare unpadded secret parses", in: rawB64(key17), wantVersion: "v1", wantCanSign: true},
		{name: "a 16-byte secret is the shortest accepted", in: "whsec_" + b64(key16), wantVersion: "v1", wantCanSign: true},
		{name: "surrounding white space is ignored", in: " " + vectorSecret + "\n", wantVersion: "v1", wantCanSign: true},
		{name: "an empty string is an empty key", in: "", wantErr: signature.ErrEmptyKey},
		{name: "a bare prefix is an empty key", in: "whsec_", wantErr: signature.ErrEmptyKey},
		{name: "a bare signing prefix is an empty key", in: "whsk_", wantErr: signature.ErrEmptyKey},
		{name: "a bare public prefix is an empty key", in: "whpk_", wantErr: signature.ErrEmptyKey},
		{name: "padding alone is an empty key", in: "whsec_====", wantErr: signature.ErrInvalidKey},
		{name: "a 15-byte secret is too short", in: "whsec_" + b64(key16[:15]), wantErr: signature.ErrKeyTooShort},
		{name: "a one-byte secret is too short", in: "whsec_AA==", wantErr: signature.ErrKeyTooShort},
		{name: "non-base64 text is invalid", in: "whsec_not base64!!", wantErr: signature.ErrInvalidKey},
		{name: "url-safe base64 is invalid", in: "whsec_" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 18)), wantErr: signature.ErrInvalidKey},
		{name: "a 64-byte signing key parses as v1a", in: "whsk_" + b64(priv), wantVersion: "v1a", wantCanSign: true},
		{name: "a 32-byte seed signing key parses as v1a", in: "whsk_" + b64(seed), wantVersion: "v1a", wantCanSign: true},
		{name: "an unpadded seed signing key parses", in: "whsk_" + rawB64(seed), wantVersion: "v1a", wantCanSign: true},
		{name: "a signing key whose public half does not match is invalid", in: "whsk_" + b64(mismatched), wantErr: signature.ErrInvalidKey},
		{name: "a signing key of the wrong size is invalid", in: "whsk_" + b64(seed[:31]), wantErr: signature.ErrInvalidKey},
		{name: "a public key parses as verify-only v1a", in: "whpk_" + b64(pub), wantVersion: "v1a", wantCanSign: false},
		{name: "a public key of the wrong size is invalid", in: "whpk_" + b64(priv), wantErr: signature.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := signature.ParseKey(tt.in)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.True(t, k.IsZero())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantVersion, k.Version())
			require.Equal(t, tt.wantCanSign, k.CanSign())
		})
	}
}

func TestParseKeyPrefixedAndBareAreTheSameKey(t *testing.T) {
	t.Parallel()
	a := signature.MustParseKey(vectorSecret)
	b := signature.MustParseKey(vectorSecretBare)
	require.Equal(t, a.Fingerprint(), b.Fingerprint())
	require.NotEqual(t, a.Fingerprint(), signature.MustParseKey("whsec_"+b64(bytes.Repeat([]byte{1}, 24))).Fingerprint())
}

func TestGenerateSecretGivesAParseable32ByteKey(t *testing.T) {
	t.Parallel()
	s1, err := signature.GenerateSecret()
	require.NoError(t, err)
	s2, err := signature.GenerateSecret()
	require.NoError(t, err)
	require.NotEqual(t, s1, s2)
	require.True(t, strings.HasPrefix(s1, "whsec_"))
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s1, "whsec_"))
	require.NoError(t, err)
	require.Len(t, raw, 32)
	k, err := signature.ParseKey(s1)
	require.NoError(t, err)
	require.Equal(t, "v1", k.Version())
}

func TestGenerateKeyPairGivesMatchingKeys(t *testing.T) {
	t.Parallel()
	sec, pub, err := signature.GenerateKeyPair()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(sec, "whsk_"))
	require.True(t, strings.HasPrefix(pub, "whpk_"))
	sk := signature.MustParseKey(sec)
	pk := signature.MustParseKey(pub)
	require.True(t, sk.CanSign())
	require.False(t, pk.CanSign())
	require.Equal(t, pub, sk.PublicString())
	require.Equal(t, pub, sk.Public().String())
	require.False(t, sk.Public().CanSign())
	require.Equal(t, pk.Fingerprint(), sk.Fingerprint())
}

func TestNewEd25519KeyAcceptsStdlibKeys(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	sk, err := signature.NewEd25519Key(priv)
	require.NoError(t, err)
	require.True(t, sk.CanSign())
	pk, err := signature.NewEd25519Key(pub)
	require.NoError(t, err)
	require.False(t, pk.CanSign())
	_, err = signature.NewEd25519Key(pub[:5])
	require.ErrorIs(t, err, signature.ErrInvalidKey)
}

func TestNewSecretKeyChecksLength(t *testing.T) {
	t.Parallel()
	_, err := signature.NewSecretKey(nil)
	require.ErrorIs(t, err, signature.ErrEmptyKey)
	_, err = signature.NewSecretKey(make([]byte, 15))
	require.ErrorIs(t, err, signature.ErrKeyTooShort)
	k, err := signature.NewSecretKey(make([]byte, 16))
	require.NoError(t, err)
	require.Equal(t, "v1", k.Version())
}

func TestZeroKey(t *testing.T) {
	t.Parallel()
	var k signature.Key
	require.True(t, k.IsZero())
	require.Empty(t, k.Version())
	require.False(t, k.CanSign())
	require.Empty(t, k.Fingerprint())
	require.Equal(t, "signature.Key{}", k.String())
	_, err := signature.NewKeyring(signature.Entry{Key: k})
	require.ErrorIs(t, err, signature.ErrInvalidKey)
	_, err = signature.NewKeyring()
	require.ErrorIs(t, err, signature.ErrEmptyKey)
}

// secretForms returns every text form in which the secret material of the
// test keys could leak.
func secretForms(t *testing.T, raw ...[]byte) []string {
	t.Helper()
	var forms []string
	for _, r := range raw {
		forms = append(forms,
			b64(r), rawB64(r), string(r),
			fmt.Sprintf("%x", r), fmt.Sprintf("%X", r), fmt.Sprintf("%v", r), fmt.Sprintf("%d", r),
			// a distinctive middle slice catches partial leaks
			b64(r)[4:16],
		)
	}
	return forms
}

func requireNoLeak(t *testing.T, out string, forms []string) {
	t.Helper()
	for _, f := range forms {
		require.NotContains(t, out, f, "secret material leaked")
	}
}

func TestSecretsNeverAppearInFormattingLogsOrJSON(t *testing.T) {
	t.Parallel()

	hmacRaw := []byte("0123456789abcdefGHIJKLMNOPQRSTUV") // 32 distinctive bytes
	seed := []byte("seedseedSEEDSEEDseedseedSEEDSEED")
	priv := ed25519.NewKeyFromSeed(seed)
	hk := signature.MustParseKey("whsec_" + b64(hmacRaw))
	sk := signature.MustParseKey("whsk_" + b64(priv))
	forms := secretForms(t, hmacRaw, seed, priv)

	kr, err := signature.NewKeyring(signature.Entry{Key: hk}, signature.Entry{Key: sk, NotAfter: time.Unix(2e9, 0)})
	require.NoError(t, err)
	signer, err := signature.NewSigner(signature.SignerConfig{Keys: kr})
	require.NoError(t, err)
	verifier, err := signature.NewVerifier(signature.VerifierConfig{Keys: kr})
	require.NoError(t, err)
	providerSecret := "provider-secret-" + string(hmacRaw[:8])
	gh, err := signature.NewGitHub(providerSecret)
	require.NoError(t, err)
	st, err := signature.NewStripe(signature.StripeConfig{Secrets: []string{providerSecret}})
	require.NoError(t, err)
	sh, err := signature.NewShopify(providerSecret)
	require.NoError(t, err)
	sl, err := signature.NewSlack(signature.SlackConfig{Secrets: []string{providerSecret}})
	require.NoError(t, err)
	gen, err := signature.NewGenericHMAC(signature.GenericHMACConfig{Secrets: []string{providerSecret}, Header: "X-Signature"})
	require.NoError(t, err)
	forms = append(forms, providerSecret, "provider-secret")

	type config struct {
		Key  signature.Key
		Keys []signature.Entry
		// reached by fmt through reflection only, where their own
		// String and Format methods are not consulted
		private  signature.Key
		ring     *signature.Keyring
		signer   *signature.Signer
		verifier *signature.StandardVerifier
		github   *signature.GitHub
		stripe   *signature.Stripe
		generic  *signature.GenericHMAC
	}
	cfg := config{Key: hk, Keys: kr.Entries(), private: sk, ring: kr, signer: signer, verifier: verifier, github: gh, stripe: st, generic: gen}
	values := []any{hk, &hk, sk, kr, signer, verifier, gh, st, sh, sl, gen, cfg, &cfg, kr.Entries()}

	t.Run("fmt with every common verb", func(t *testing.T) {
		t.Parallel()
		for _, v := range values {
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
				requireNoLeak(t, fmt.Sprintf(verb, v), forms)
			}
			requireNoLeak(t, fmt.Sprint(v), forms)
			requireNoLeak(t, fmt.Sprintln(v), forms)
			if g, ok := v.(fmt.GoStringer); ok {
				requireNoLeak(t, g.GoString(), forms)
			}
			if s, ok := v.(fmt.Stringer); ok {
				requireNoLeak(t, s.String(), forms)
			}
		}
	})
	t.Run("slog text and JSON handlers", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
			logger := slog.New(h)
			logger.Info("keys", "key", hk, "signing", sk, "ring", kr, "signer", signer, "verifier", verifier, "cfg", cfg)
			logger.Info("providers", slog.Any("gh", gh), slog.Any("stripe", st), slog.Any("shopify", sh), slog.Any("slack", sl), slog.Any("generic", gen))
		}
		require.Contains(t, buf.String(), "whsec_[REDACTED]")
		requireNoLeak(t, buf.String(), forms)
	})
	t.Run("a capturing slog handler that resolves values", func(t *testing.T) {
		t.Parallel()
		h := &captureHandler{}
		logger := slog.New(h).With("ring", kr).WithGroup("g")
		logger.Info("keys", "key", hk, "signing", sk, "signer", signer, "verifier", verifier, "cfg", cfg, "gh", gh, "stripe", st)
		logger.Error("verify failed", "err", verifier.VerifyParts("msg_1", "1", "v1,x", nil))
		out := strings.Join(h.lines, "\n")
		require.Contains(t, out, "key=whsec_[REDACTED]")
		require.Contains(t, out, "signing=whsk_[REDACTED]")
		requireNoLeak(t, out, forms)
	})
	t.Run("encoding/json", func(t *testing.T) {
		t.Parallel()
		out, err := json.Marshal(cfg)
		require.NoError(t, err)
		require.Contains(t, string(out), "REDACTED")
		requireNoLeak(t, string(out), forms)
		out, err = json.Marshal(map[string]any{"k": hk, "s": sk})
		require.NoError(t, err)
		requireNoLeak(t, string(out), forms)
		txt, err := hk.MarshalText()
		require.NoError(t, err)
		requireNoLeak(t, string(txt), forms)
	})
	t.Run("errors from parsing a bad key", func(t *testing.T) {
		t.Parallel()
		bad := []string{
			"whsec_" + b64(hmacRaw[:10]),
			"whsec_" + b64(hmacRaw) + "!",
			"whsk_" + b64(seed[:20]),
			"whsk_" + b64(append(append([]byte(nil), seed...), hmacRaw...)),
			"whpk_" + b64(priv),
		}
		for _, s := range bad {
			_, err := signature.ParseKey(s)
			require.Error(t, err)
			requireNoLeak(t, err.Error(), forms)
			requireNoLeak(t, fmt.Sprintf("%+v", err), forms)
		}
	})
	t.Run("errors from verifying", func(t *testing.T) {
		t.Parallel()
		err := verifier.VerifyParts("msg_1", "1", "v1,"+b64(hmacRaw), []byte("body"))
		require.Error(t, err)
		requireNoLeak(t, err.Error(), forms)
		err = gh.Verify(map[string][]string{"X-Hub-Signature-256": {"sha256=00"}}, nil)
		require.Error(t, err)
		requireNoLeak(t, err.Error(), forms)
	})
}

func TestPublicKeysPrintInFull(t *testing.T) {
	t.Parallel()
	_, pub, err := signature.GenerateKeyPair()
	require.NoError(t, err)
	k := signature.MustParseKey(pub)
	require.Equal(t, pub, fmt.Sprint(k))
	require.Equal(t, pub, k.PublicString())
}

func TestErrorsAreDistinctSentinels(t *testing.T) {
	t.Parallel()
	all := []error{
		signature.ErrEmptyKey, signature.ErrKeyTooShort, signature.ErrInvalidKey, signature.ErrNoSigningKey,
		signature.ErrMissingHeaders, signature.ErrInvalidHeader, signature.ErrNoMatchingSignature,
		signature.ErrTooOld, signature.ErrTooNew,
	}
	for i, a := range all {
		for j, b := range all {
			require.Equal(t, i == j, errors.Is(a, b), "%v vs %v", a, b)
		}
	}
}

func base64StdDecode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

// captureHandler records every attribute of every record as "key=value",
// resolving LogValuers the way handlers must.
type captureHandler struct {
	mu    sync.Mutex
	attrs []slog.Attr
	lines []string
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var add func(prefix string, a slog.Attr)
	add = func(prefix string, a slog.Attr) {
		v := a.Value.Resolve()
		if v.Kind() == slog.KindGroup {
			for _, g := range v.Group() {
				add(prefix+a.Key+".", g)
			}
			return
		}
		h.lines = append(h.lines, prefix+a.Key+"="+v.String())
	}
	for _, a := range h.attrs {
		add("", a)
	}
	r.Attrs(func(a slog.Attr) bool { add("", a); return true })
	h.lines = append(h.lines, "msg="+r.Message)
	return nil
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attrs = append(h.attrs, as...)
	return h
}

func (h *captureHandler) WithGroup(string) slog.Handler { return h }
