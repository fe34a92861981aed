package signature_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/hookkit/hookkit/signature"
)

const (
	secretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	secretB = "whsec_ZHJvcCB0aGUgb2xkIGtleSB0b21vcnJvdyE="
)

// peer is one peer library's signer and verifier behind a common shape.
type peer struct {
	name   string
	sign   func(id string, ts time.Time, body []byte) (string, error)
	verify func(body []byte, h http.Header) error
}

func peersFor(t testing.TB, secret string) []peer {
	t.Helper()
	sw, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	sv, err := svix.NewWebhook(secret)
	require.NoError(t, err)
	return []peer{
		{name: "standard-webhooks", sign: sw.Sign, verify: sw.Verify},
		{name: "svix", sign: sv.Sign, verify: sv.Verify},
	}
}

func payloads() map[string][]byte {
	return map[string][]byte{
		"an empty payload":  {},
		"a small payload":   []byte(`{"test": 2432232314}`),
		"a 64 KiB payload":  bytes.Repeat([]byte(`{"k":"v"},`), 64<<10/10+1)[:64<<10],
		"a 1 MiB payload":   bytes.Repeat([]byte{'x', 0, 0xff, '.', ' '}, 1<<20/5+1)[:1<<20],
		"a payload of dots": []byte("1614265331.tail"),
	}
}

func headers(id string, ts time.Time, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", sig)
	return h
}

func hookkit(t testing.TB, secrets ...string) (*signature.Signer, *signature.StandardVerifier) {
	t.Helper()
	kr := signature.MustKeyring(secrets...)
	s, err := signature.NewSigner(signature.SignerConfig{Keys: kr})
	require.NoError(t, err)
	v, err := signature.NewVerifier(signature.VerifierConfig{Keys: kr})
	require.NoError(t, err)
	return s, v
}

func TestHookkitSignaturesVerifyWithPeers(t *testing.T) {
	t.Parallel()
	signer, _ := hookkit(t, secretA)
	for name, body := range payloads() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			now := time.Now()
			h := http.Header{}
			require.NoError(t, signer.SignHeader(h, "msg_interop_1", now, body))
			for _, p := range peersFor(t, secretA) {
				require.NoError(t, p.verify(body, h), p.name)
				tampered := append(append([]byte(nil), body...), '!')
				require.Error(t, p.verify(tampered, h), p.name+" must refuse a changed body")
			}
		})
	}
}

func TestPeerSignaturesVerifyWithHookkit(t *testing.T) {
	t.Parallel()
	_, verifier := hookkit(t, secretA)
	for name, body := range payloads() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, p := range peersFor(t, secretA) {
				now := time.Now()
				sig, err := p.sign("msg_interop_2", now, body)
				require.NoError(t, err)
				h := headers("msg_interop_2", now, sig)
				require.NoError(t, verifier.Verify(h, body), p.name)
				require.ErrorIs(t, verifier.Verify(h, append(append([]byte(nil), body...), '!')), signature.ErrNoMatchingSignature, p.name)

				// The svix-* aliases carry the same values.
				alias := http.Header{}
				alias.Set("svix-id", h.Get("webhook-id"))
				alias.Set("svix-timestamp", h.Get("webhook-timestamp"))
				alias.Set("svix-signature", h.Get("webhook-signature"))
				require.NoError(t, verifier.Verify(alias, body), p.name+" via svix-* headers")
			}
		})
	}
}

func TestSvixHeadersFromHookkitVerifyWithSvix(t *testing.T) {
	t.Parallel()
	signer, _ := hookkit(t, secretA)
	body := []byte(`{"svix":true}`)
	now := time.Now()
	sig, err := signer.Sign(nil, "msg_interop_3", now.Unix(), body)
	require.NoError(t, err)
	h := http.Header{}
	h.Set("svix-id", "msg_interop_3")
	h.Set("svix-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("svix-signature", string(sig))
	sv, err := svix.NewWebhook(secretA)
	require.NoError(t, err)
	require.NoError(t, sv.Verify(body, h))
}

func TestRotationAcrossLibraries(t *testing.T) {
	t.Parallel()
	for name, body := range payloads() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			now := time.Now()

			// hookkit signs with both keys: a peer holding either one accepts.
			signer, _ := hookkit(t, secretA, secretB)
			h := http.Header{}
			require.NoError(t, signer.SignHeader(h, "msg_rotate", now, body))
			require.Len(t, strings.Fields(h.Get("webhook-signature")), 2)
			for _, secret := range []string{secretA, secretB} {
				for _, p := range peersFor(t, secret) {
					require.NoError(t, p.verify(body, h), p.name)
				}
			}

			// Peers sign with one key each; their signatures joined in one
			// header verify with a hookkit verifier holding either key.
			var sigs []string
			for _, secret := range []string{secretA, secretB} {
				for _, p := range peersFor(t, secret) {
					s, err := p.sign("msg_rotate", now, body)
					require.NoError(t, err)
					sigs = append(sigs, s)
				}
			}
			joined := headers("msg_rotate", now, strings.Join(sigs, " "))
			for _, secret := range []string{secretA, secretB} {
				_, v := hookkit(t, secret)
				require.NoError(t, v.Verify(joined, body))
			}
			_, other := hookkit(t, "whsec_"+strings.Repeat("QUJD", 8))
			require.ErrorIs(t, other.Verify(joined, body), signature.ErrNoMatchingSignature)
		})
	}
}

func TestSharedVectorAgreesAcrossLibraries(t *testing.T) {
	t.Parallel()
	const want = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	for _, p := range peersFor(t, secretA) {
		got, err := p.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body)
		require.NoError(t, err)
		require.Equal(t, want, got, p.name)
	}
	signer, _ := hookkit(t, secretA)
	got, err := signer.Sign(nil, "msg_p5jXN8AQM9LWM0D4loKWxJek", ts.Unix(), body)
	require.NoError(t, err)
	require.Equal(t, want, string(got))
}

// TestHookkitIsStricterThanThePeers records where hookkit deliberately
// refuses what a peer accepts.
func TestHookkitIsStricterThanThePeers(t *testing.T) {
	t.Parallel()
	t.Run("the reference library accepts an empty secret; hookkit refuses it", func(t *testing.T) {
		t.Parallel()
		_, err := standardwebhooks.NewWebhook("whsec_")
		require.NoError(t, err, "if this fails, the reference library has fixed the weakness")
		_, err = signature.ParseKey("whsec_")
		require.ErrorIs(t, err, signature.ErrEmptyKey)
	})
	t.Run("an id with a dot verifies with peers but not with hookkit", func(t *testing.T) {
		t.Parallel()
		now := time.Now()
		body := []byte("tail")
		for _, p := range peersFor(t, secretA) {
			sig, err := p.sign("a.1", now, body)
			require.NoError(t, err)
			h := headers("a.1", now, sig)
			require.NoError(t, p.verify(body, h), p.name)
			_, v := hookkit(t, secretA)
			require.ErrorIs(t, v.Verify(h, body), signature.ErrInvalidHeader)
		}
	})
	t.Run("a non-canonical timestamp verifies with peers but not with hookkit", func(t *testing.T) {
		t.Parallel()
		now := time.Now()
		body := []byte("x")
		for _, p := range peersFor(t, secretA) {
			sig, err := p.sign("msg_1", now, body)
			require.NoError(t, err)
			h := headers("msg_1", now, sig)
			h.Set("webhook-timestamp", "+"+h.Get("webhook-timestamp"))
			require.NoError(t, p.verify(body, h), p.name)
			_, v := hookkit(t, secretA)
			require.ErrorIs(t, v.Verify(h, body), signature.ErrInvalidHeader)
		}
	})
}
