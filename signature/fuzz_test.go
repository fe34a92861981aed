package signature_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/signature"
)

// The fuzz targets check that no parser of untrusted input panics, and a few
// invariants that must hold for every input.

func FuzzVerifyHeader(f *testing.F) {
	vecID, vecTS, vecBody := "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", `{"test": 2432232314}`
	f.Add(vecID, vecTS, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", vecBody)
	f.Add(vecID, vecTS, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,x v1a,"+string(make([]byte, 88)), vecBody)
	f.Add("a.b", "+1", "v1,", "")
	f.Add("", "", "", "")
	f.Add("id", "00", "   ,,, v1,=== v1a,", "x")
	f.Add("id", "999999999999999999", "v1", "")

	_, pub, err := signature.GenerateKeyPair()
	if err != nil {
		f.Fatal(err)
	}
	kr, err := signature.NewKeyring(
		signature.Entry{Key: signature.MustParseKey(vectorSecret)},
		signature.Entry{Key: signature.MustParseKey(pub)},
	)
	if err != nil {
		f.Fatal(err)
	}
	v, err := signature.NewVerifier(signature.VerifierConfig{Keys: kr, Now: fixedClock(time.Unix(1614265330, 0))})
	if err != nil {
		f.Fatal(err)
	}
	signer, err := signature.NewSigner(signature.SignerConfig{Keys: signature.MustKeyring(vectorSecret)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, ts, sig, body string) {
		err := v.Verify(http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {sig}}, []byte(body))
		if err == nil {
			// Anything accepted must have a valid id and a canonical timestamp.
			if signature.ValidateID(id) != nil {
				t.Fatalf("accepted invalid id %q", id)
			}
			if n, perr := signature.ParseTimestamp(ts); perr != nil || strconv.FormatInt(n, 10) != ts {
				t.Fatalf("accepted non-canonical timestamp %q", ts)
			}
		}
		// Whatever verifies must also verify when the signer signs it.
		n, perr := signature.ParseTimestamp(ts)
		if signature.ValidateID(id) == nil && perr == nil {
			s, err := signer.Sign(nil, id, n, []byte(body))
			if err != nil {
				t.Fatalf("sign: %v", err)
			}
			if err := v.VerifyParts(id, ts, string(s), []byte(body)); err != nil && n == 1614265330 {
				t.Fatalf("own signature refused: %v", err)
			}
		}
	})
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{
		vectorSecret, vectorSecretBare, "", "whsec_", "whsk_", "whpk_", "whsec_AA==", "whsec_====",
		"whsk_" + b64(make([]byte, 64)), "whpk_" + b64(make([]byte, 32)), "whsk_" + rawB64(make([]byte, 32)),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := signature.ParseKey(s)
		if err != nil {
			if !k.IsZero() {
				t.Fatal("a failed parse returned a non-zero key")
			}
			return
		}
		if k.Version() != signature.VersionV1 && k.Version() != signature.VersionV1a {
			t.Fatalf("unexpected version %q", k.Version())
		}
		_ = k.String()
		_ = k.Fingerprint()
	})
}

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{"0", "1614265330", "01", "+1", "-1", "", "999999999999999999", "9999999999999999999", "1e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := signature.ParseTimestamp(s)
		if err == nil && strconv.FormatInt(n, 10) != s {
			t.Fatalf("accepted non-canonical %q as %d", s, n)
		}
	})
}

func FuzzStripeHeader(f *testing.F) {
	f.Add("t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd", `{"id":"evt_1"}`)
	f.Add("t=1700000000,t=1,v1=", "")
	f.Add(",,,=,,v1=zz,v0=", "x")
	f.Add("v1="+string(make([]byte, 64)), "")
	st, err := signature.NewStripe(signature.StripeConfig{Secrets: []string{"whsec_test"}, Now: fixedClock(time.Unix(1_700_000_000, 0))})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header, body string) {
		_ = st.Verify(http.Header{"Stripe-Signature": {header}}, []byte(body))
		_ = st.VerifyHeader(header, []byte(body))
	})
}

func FuzzGenericHeader(f *testing.F) {
	f.Add("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "1700000000", "Hello, World!")
	f.Add("sha256=", "", "")
	f.Add("sha256=zz", "01", "x")
	f.Add("dGVzdA==", "+5", "")
	secrets := []string{"It's a Secret to Everybody"}
	now := fixedClock(time.Unix(1_700_000_000, 0))
	var verifiers []signature.Verifier
	for _, cfg := range []signature.GenericHMACConfig{
		{Header: "X-Sig", Prefix: "sha256="},
		{Header: "X-Sig", Encoding: signature.Base64, Hash: signature.SHA512},
		{Header: "X-Sig", Hash: signature.SHA1, TimestampHeader: "X-Ts", Template: "{timestamp}:{body}:{timestamp}"},
	} {
		cfg.Secrets, cfg.Now = secrets, now
		g, err := signature.NewGenericHMAC(cfg)
		if err != nil {
			f.Fatal(err)
		}
		verifiers = append(verifiers, g)
	}
	gh, err := signature.NewGitHubWithConfig(signature.GitHubConfig{Secrets: secrets, AllowSHA1: true})
	if err != nil {
		f.Fatal(err)
	}
	sh, err := signature.NewShopify(secrets[0])
	if err != nil {
		f.Fatal(err)
	}
	sl, err := signature.NewSlack(signature.SlackConfig{Secrets: secrets, Now: now})
	if err != nil {
		f.Fatal(err)
	}
	verifiers = append(verifiers, gh, sh, sl)
	f.Fuzz(func(t *testing.T, sig, ts, body string) {
		h := http.Header{
			"X-Sig": {sig}, "X-Ts": {ts},
			"X-Hub-Signature-256": {sig}, "X-Hub-Signature": {sig},
			"X-Shopify-Hmac-Sha256": {sig},
			"X-Slack-Signature":     {sig}, "X-Slack-Request-Timestamp": {ts},
		}
		for _, v := range verifiers {
			_ = v.Verify(h, []byte(body))
		}
	})
}

// TestMalformedBase64OfTheRightLengthDoesNotPanic is the regression test for
// a fuzz finding: base64 Decode may write DecodedLen(len(src)) bytes, one
// more than a 32-byte MAC, when the last quantum has no padding.
func TestMalformedBase64OfTheRightLengthDoesNotPanic(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Unix(1_700_000_000, 0), signature.Entry{Key: signature.MustParseKey(vectorSecret)})
	_, pub, err := signature.GenerateKeyPair()
	require.NoError(t, err)
	pk := setup(t, time.Unix(1_700_000_000, 0), signature.Entry{Key: signature.MustParseKey(pub)})
	for _, sig := range []string{"v1," + strings.Repeat("A", 44), "v1a," + strings.Repeat("A", 88), "v1," + strings.Repeat("/", 43) + "=", "v1a," + strings.Repeat("+", 86) + "=="} {
		require.ErrorIs(t, b.verifier.VerifyParts("msg_1", "1700000000", sig, nil), signature.ErrNoMatchingSignature)
		require.ErrorIs(t, pk.verifier.VerifyParts("msg_1", "1700000000", sig, nil), signature.ErrNoMatchingSignature)
	}
	g, err := signature.NewGenericHMAC(signature.GenericHMACConfig{Secrets: []string{"s"}, Header: "X-Sig", Encoding: signature.Base64, Hash: signature.SHA512})
	require.NoError(t, err)
	for _, sig := range []string{strings.Repeat("A", 88), strings.Repeat("A", 86)} {
		err := g.Verify(http.Header{"X-Sig": {sig}}, nil)
		require.Error(t, err)
	}
	sh, err := signature.NewShopify("s")
	require.NoError(t, err)
	require.ErrorIs(t, sh.Verify(http.Header{"X-Shopify-Hmac-Sha256": {strings.Repeat("A", 44)}}, nil), signature.ErrInvalidHeader)
}
