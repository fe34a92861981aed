package signature_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/signature"
)

// mac computes an HMAC independently of the package under test.
func mac(h func() hash.Hash, key string, parts ...string) []byte {
	m := hmac.New(h, []byte(key))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func hexMAC(h func() hash.Hash, key string, parts ...string) string {
	return hex.EncodeToString(mac(h, key, parts...))
}

func TestGitHub(t *testing.T) {
	t.Parallel()
	const secret, oldSecret = "It's a Secret to Everybody", "the previous secret"
	body := `Hello, World!`
	// GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!".
	const documented = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	require.Equal(t, documented, "sha256="+hexMAC(sha256.New, secret, body), "the independent computation matches GitHub's documentation")

	gh, err := signature.NewGitHubWithConfig(signature.GitHubConfig{Secrets: []string{secret, oldSecret}})
	require.NoError(t, err)
	require.Equal(t, documented, gh.Sign([]byte(body)))
	sha1gh, err := signature.NewGitHubWithConfig(signature.GitHubConfig{Secrets: []string{secret}, AllowSHA1: true})
	require.NoError(t, err)

	tests := []struct {
		name     string
		verifier signature.Verifier
		header   http.Header
		body     string
		wantErr  error
	}{
		{name: "the documented signature verifies", verifier: gh, header: http.Header{"X-Hub-Signature-256": {documented}}, body: body},
		{name: "a lower-case map key set by hand verifies", verifier: gh, header: http.Header{"x-hub-signature-256": {documented}}, body: body},
		{name: "upper-case hex verifies", verifier: gh, header: http.Header{"X-Hub-Signature-256": {"sha256=" + strings.ToUpper(documented[7:])}}, body: body},
		{name: "a signature by the old secret verifies during rotation", verifier: gh, header: http.Header{"X-Hub-Signature-256": {"sha256=" + hexMAC(sha256.New, oldSecret, body)}}, body: body},
		{name: "a changed body is refused", verifier: gh, header: http.Header{"X-Hub-Signature-256": {documented}}, body: body + "!", wantErr: signature.ErrNoMatchingSignature},
		{name: "an unsigned request is refused", verifier: gh, header: http.Header{}, body: body, wantErr: signature.ErrMissingHeaders},
		{name: "an empty signature is refused", verifier: gh, header: http.Header{"X-Hub-Signature-256": {""}}, body: body, wantErr: signature.ErrMissingHeaders},
		{name: "a missing sha256= prefix is invalid", verifier: gh, header: http.Header{"X-Hub-Signature-256": {documented[7:]}}, body: body, wantErr: signature.ErrInvalidHeader},
		{name: "truncated hex is invalid", verifier: gh, header: http.Header{"X-Hub-Signature-256": {documented[:len(documented)-2]}}, body: body, wantErr: signature.ErrInvalidHeader},
		{name: "non-hex is invalid", verifier: gh, header: http.Header{"X-Hub-Signature-256": {"sha256=" + strings.Repeat("zz", 32)}}, body: body, wantErr: signature.ErrInvalidHeader},
		{name: "the header given twice is invalid", verifier: gh, header: http.Header{"X-Hub-Signature-256": {documented, documented}}, body: body, wantErr: signature.ErrInvalidHeader},
		{name: "a legacy SHA-1 header alone is refused by default", verifier: gh, header: http.Header{"X-Hub-Signature": {"sha1=" + hexMAC(sha1.New, secret, body)}}, body: body, wantErr: signature.ErrMissingHeaders},
		{name: "a legacy SHA-1 header verifies when allowed", verifier: sha1gh, header: http.Header{"X-Hub-Signature": {"sha1=" + hexMAC(sha1.New, secret, body)}}, body: body},
		{name: "a wrong SHA-1 signature is refused when allowed", verifier: sha1gh, header: http.Header{"X-Hub-Signature": {"sha1=" + hexMAC(sha1.New, "nope", body)}}, body: body, wantErr: signature.ErrNoMatchingSignature},
		{name: "SHA-256 is preferred over SHA-1 when both are sent", verifier: sha1gh, header: http.Header{"X-Hub-Signature-256": {"sha256=" + strings.Repeat("00", 32)}, "X-Hub-Signature": {"sha1=" + hexMAC(sha1.New, secret, body)}}, body: body, wantErr: signature.ErrNoMatchingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.verifier.Verify(tt.header, []byte(tt.body))
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
	t.Run("SignHeader produces a verifiable request", func(t *testing.T) {
		t.Parallel()
		h := http.Header{}
		gh.SignHeader(h, []byte(body))
		require.Equal(t, documented, h.Get("X-Hub-Signature-256"))
		require.NoError(t, gh.Verify(h, []byte(body)))
	})
	t.Run("an empty secret is refused", func(t *testing.T) {
		t.Parallel()
		_, err := signature.NewGitHub("")
		require.ErrorIs(t, err, signature.ErrEmptyKey)
		_, err = signature.NewGitHubWithConfig(signature.GitHubConfig{})
		require.ErrorIs(t, err, signature.ErrEmptyKey)
	})
}

func TestStripe(t *testing.T) {
	t.Parallel()
	const secret, rolled = "whsec_test_secret", "whsec_rolled_secret"
	now := time.Unix(1_700_000_000, 0)
	body := `{"id":"evt_1","object":"event"}`
	ts := strconv.FormatInt(now.Unix(), 10)
	good := hexMAC(sha256.New, secret, ts, ".", body)
	rolledSig := hexMAC(sha256.New, rolled, ts, ".", body)

	st, err := signature.NewStripe(signature.StripeConfig{Secrets: []string{secret}, Now: fixedClock(now)})
	require.NoError(t, err)
	both, err := signature.NewStripe(signature.StripeConfig{Secrets: []string{secret, rolled}, Now: fixedClock(now)})
	require.NoError(t, err)

	t.Run("SignHeader matches an independent computation", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "t="+ts+",v1="+good, st.SignHeader(now, []byte(body)))
		require.Equal(t, "t="+ts+",v1="+good+",v1="+rolledSig, both.SignHeader(now, []byte(body)))
	})

	tests := []struct {
		name     string
		verifier *signature.Stripe
		header   string
		wantErr  error
	}{
		{name: "a single v1 verifies", verifier: st, header: "t=" + ts + ",v1=" + good},
		{name: "the good v1 among several verifies", verifier: st, header: "t=" + ts + ",v1=" + rolledSig + ",v1=" + good + ",v0=" + good},
		{name: "items in any order verify", verifier: st, header: "v0=abc,v1=" + good + ",t=" + ts},
		{name: "a signature by a second secret verifies", verifier: both, header: "t=" + ts + ",v1=" + rolledSig},
		{name: "a signature by an unknown secret is refused", verifier: st, header: "t=" + ts + ",v1=" + rolledSig, wantErr: signature.ErrNoMatchingSignature},
		{name: "only a v0 is refused", verifier: st, header: "t=" + ts + ",v0=" + good, wantErr: signature.ErrNoMatchingSignature},
		{name: "a non-hex v1 is skipped", verifier: st, header: "t=" + ts + ",v1=xyz,v1=" + good},
		{name: "a missing t is invalid", verifier: st, header: "v1=" + good, wantErr: signature.ErrInvalidHeader},
		{name: "two t items are invalid", verifier: st, header: "t=" + ts + ",t=" + ts + ",v1=" + good, wantErr: signature.ErrInvalidHeader},
		{name: "a non-canonical t is invalid", verifier: st, header: "t=0" + ts + ",v1=" + good, wantErr: signature.ErrInvalidHeader},
		{name: "an empty header is missing", verifier: st, header: "", wantErr: signature.ErrMissingHeaders},
		{name: "garbage is invalid", verifier: st, header: ",,,=,=", wantErr: signature.ErrInvalidHeader},
		{name: "an old timestamp is too old", verifier: st, header: "t=" + strconv.FormatInt(now.Unix()-301, 10) + ",v1=" + hexMAC(sha256.New, secret, strconv.FormatInt(now.Unix()-301, 10), ".", body), wantErr: signature.ErrTooOld},
		{name: "a future timestamp is too new", verifier: st, header: "t=" + strconv.FormatInt(now.Unix()+301, 10) + ",v1=" + hexMAC(sha256.New, secret, strconv.FormatInt(now.Unix()+301, 10), ".", body), wantErr: signature.ErrTooNew},
		{name: "a timestamp 300 s in the future passes", verifier: st, header: "t=" + strconv.FormatInt(now.Unix()+300, 10) + ",v1=" + hexMAC(sha256.New, secret, strconv.FormatInt(now.Unix()+300, 10), ".", body)},
		{name: "a good v1 beyond the item cap is ignored", verifier: st, header: "t=" + ts + strings.Repeat(",v0=x", 20) + ",v1=" + good, wantErr: signature.ErrNoMatchingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.verifier.Verify(http.Header{"Stripe-Signature": {tt.header}}, []byte(body))
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
	t.Run("the header given twice is invalid", func(t *testing.T) {
		t.Parallel()
		err := st.Verify(http.Header{"Stripe-Signature": {"t=" + ts + ",v1=" + good, "t=1"}}, []byte(body))
		require.ErrorIs(t, err, signature.ErrInvalidHeader)
	})
	t.Run("a missing header is refused", func(t *testing.T) {
		t.Parallel()
		require.ErrorIs(t, st.Verify(http.Header{}, []byte(body)), signature.ErrMissingHeaders)
	})
	t.Run("a bad config is refused", func(t *testing.T) {
		t.Parallel()
		_, err := signature.NewStripe(signature.StripeConfig{})
		require.ErrorIs(t, err, signature.ErrEmptyKey)
		_, err = signature.NewStripe(signature.StripeConfig{Secrets: []string{"x"}, Tolerance: -1})
		require.Error(t, err)
	})
}

func TestShopify(t *testing.T) {
	t.Parallel()
	const secret, next = "shpss_client_secret", "shpss_next_secret"
	body := `{"id":820982911946154508}`
	good := b64(mac(sha256.New, secret, body))
	sh, err := signature.NewShopifyWithConfig(signature.ShopifyConfig{Secrets: []string{secret, next}})
	require.NoError(t, err)
	require.Equal(t, good, sh.Sign([]byte(body)))
	h := http.Header{}
	sh.SignHeader(h, []byte(body))
	require.Equal(t, good, h.Get("X-Shopify-Hmac-Sha256"))

	tests := []struct {
		name    string
		value   []string
		wantErr error
	}{
		{name: "a padded base64 signature verifies", value: []string{good}},
		{name: "an unpadded base64 signature verifies", value: []string{strings.TrimRight(good, "=")}},
		{name: "a signature by the next secret verifies", value: []string{b64(mac(sha256.New, next, body))}},
		{name: "a signature by another secret is refused", value: []string{b64(mac(sha256.New, "other", body))}, wantErr: signature.ErrNoMatchingSignature},
		{name: "hex instead of base64 is invalid", value: []string{hexMAC(sha256.New, secret, body)}, wantErr: signature.ErrInvalidHeader},
		{name: "an absent header is missing", wantErr: signature.ErrMissingHeaders},
		{name: "the header twice is invalid", value: []string{good, good}, wantErr: signature.ErrInvalidHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tt.value != nil {
				h["X-Shopify-Hmac-Sha256"] = tt.value
			}
			err := sh.Verify(h, []byte(body))
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}

func TestSlack(t *testing.T) {
	t.Parallel()
	// Slack's documented example.
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	const ts = "1531420618"
	const body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	const documented = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	require.Equal(t, documented, "v0="+hexMAC(sha256.New, secret, "v0:", ts, ":", body))

	now := time.Unix(1531420618, 0)
	sl, err := signature.NewSlack(signature.SlackConfig{Secrets: []string{secret}, Now: fixedClock(now)})
	require.NoError(t, err)
	require.Equal(t, documented, sl.Sign(now, []byte(body)))

	tests := []struct {
		name    string
		header  http.Header
		clock   time.Duration
		wantErr error
	}{
		{name: "the documented request verifies", header: http.Header{"X-Slack-Signature": {documented}, "X-Slack-Request-Timestamp": {ts}}},
		{name: "five minutes later it still verifies", header: http.Header{"X-Slack-Signature": {documented}, "X-Slack-Request-Timestamp": {ts}}, clock: 300 * time.Second},
		{name: "five minutes and a second later it is too old", header: http.Header{"X-Slack-Signature": {documented}, "X-Slack-Request-Timestamp": {ts}}, clock: 301 * time.Second, wantErr: signature.ErrTooOld},
		{name: "five minutes and a second earlier it is too new", header: http.Header{"X-Slack-Signature": {documented}, "X-Slack-Request-Timestamp": {ts}}, clock: -301 * time.Second, wantErr: signature.ErrTooNew},
		{name: "a different timestamp is refused", header: http.Header{"X-Slack-Signature": {documented}, "X-Slack-Request-Timestamp": {"1531420619"}}, wantErr: signature.ErrNoMatchingSignature},
		{name: "a missing timestamp is missing headers", header: http.Header{"X-Slack-Signature": {documented}}, wantErr: signature.ErrMissingHeaders},
		{name: "a non-canonical timestamp is invalid", header: http.Header{"X-Slack-Signature": {documented}, "X-Slack-Request-Timestamp": {"+" + ts}}, wantErr: signature.ErrInvalidHeader},
		{name: "a missing v0= prefix is invalid", header: http.Header{"X-Slack-Signature": {documented[3:]}, "X-Slack-Request-Timestamp": {ts}}, wantErr: signature.ErrInvalidHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := signature.NewSlack(signature.SlackConfig{Secrets: []string{"another secret", secret}, Now: fixedClock(now.Add(tt.clock))})
			require.NoError(t, err)
			err = v.Verify(tt.header, []byte(body))
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
	t.Run("SignHeader sets both headers", func(t *testing.T) {
		t.Parallel()
		h := http.Header{}
		sl.SignHeader(h, now, []byte(body))
		require.Equal(t, ts, h.Get("X-Slack-Request-Timestamp"))
		require.NoError(t, sl.Verify(h, []byte(body)))
	})
}

func TestGenericHMAC(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	const secret = "generic secret"
	body := `{"x":1}`

	tests := []struct {
		name   string
		cfg    signature.GenericHMACConfig
		header http.Header
	}{
		{
			name:   "hex SHA-256 with a prefix",
			cfg:    signature.GenericHMACConfig{Header: "X-Signature", Prefix: "sha256="},
			header: http.Header{"X-Signature": {"sha256=" + hexMAC(sha256.New, secret, body)}},
		},
		{
			name:   "bare hex SHA-256",
			cfg:    signature.GenericHMACConfig{Header: "x-signature"},
			header: http.Header{"X-Signature": {hexMAC(sha256.New, secret, body)}},
		},
		{
			name:   "base64 SHA-512",
			cfg:    signature.GenericHMACConfig{Header: "X-Sig", Encoding: signature.Base64, Hash: signature.SHA512},
			header: http.Header{"X-Sig": {b64(mac(sha512.New, secret, body))}},
		},
		{
			name:   "hex SHA-1",
			cfg:    signature.GenericHMACConfig{Header: "X-Sig", Hash: signature.SHA1, Prefix: "sha1="},
			header: http.Header{"X-Sig": {"sha1=" + hexMAC(sha1.New, secret, body)}},
		},
		{
			name:   "a timestamp with the default template",
			cfg:    signature.GenericHMACConfig{Header: "X-Sig", TimestampHeader: "X-Timestamp"},
			header: http.Header{"X-Sig": {hexMAC(sha256.New, secret, ts, ".", body)}, "X-Timestamp": {ts}},
		},
		{
			name:   "a timestamp with a custom template around the body",
			cfg:    signature.GenericHMACConfig{Header: "X-Sig", TimestampHeader: "X-Timestamp", Template: "ts={timestamp};body={body};end={timestamp}"},
			header: http.Header{"X-Sig": {hexMAC(sha256.New, secret, "ts=", ts, ";body=", body, ";end=", ts)}, "X-Timestamp": {ts}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name+" verifies and signs", func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.Secrets = []string{"rotated out", secret}
			cfg.Now = fixedClock(now)
			g, err := signature.NewGenericHMAC(cfg)
			require.NoError(t, err)
			require.NoError(t, g.Verify(tt.header, []byte(body)))
			require.ErrorIs(t, g.Verify(tt.header, []byte(body+" ")), signature.ErrNoMatchingSignature)

			cfg.Secrets = []string{secret}
			signer, err := signature.NewGenericHMAC(cfg)
			require.NoError(t, err)
			h := http.Header{}
			signer.SignHeader(h, now, []byte(body))
			for name := range tt.header {
				require.Equal(t, tt.header.Get(name), h.Get(name), name)
			}
		})
	}

	t.Run("the tolerance applies to the timestamp header", func(t *testing.T) {
		t.Parallel()
		g, err := signature.NewGenericHMAC(signature.GenericHMACConfig{
			Secrets: []string{secret}, Header: "X-Sig", TimestampHeader: "X-Timestamp", Tolerance: time.Minute, Now: fixedClock(now.Add(61 * time.Second)),
		})
		require.NoError(t, err)
		h := http.Header{"X-Sig": {hexMAC(sha256.New, secret, ts, ".", body)}, "X-Timestamp": {ts}}
		require.ErrorIs(t, g.Verify(h, []byte(body)), signature.ErrTooOld)
	})
	t.Run("bad configurations are refused", func(t *testing.T) {
		t.Parallel()
		bad := map[string]signature.GenericHMACConfig{
			"no secret":                        {Header: "X"},
			"an empty secret":                  {Secrets: []string{""}, Header: "X"},
			"no header":                        {Secrets: []string{"s"}},
			"a template without the body":      {Secrets: []string{"s"}, Header: "X", Template: "{timestamp}"},
			"a template with the body twice":   {Secrets: []string{"s"}, Header: "X", Template: "{body}{body}"},
			"a timestamp without its header":   {Secrets: []string{"s"}, Header: "X", Template: "{timestamp}.{body}"},
			"a timestamp header left unsigned": {Secrets: []string{"s"}, Header: "X", TimestampHeader: "X-Ts", Template: "{body}"},
			"an unknown hash":                  {Secrets: []string{"s"}, Header: "X", Hash: 9},
			"an unknown encoding":              {Secrets: []string{"s"}, Header: "X", Encoding: 9},
			"a negative tolerance":             {Secrets: []string{"s"}, Header: "X", Tolerance: -1},
			"a template longer than 256 bytes": {Secrets: []string{"s"}, Header: "X", Template: strings.Repeat("a", 300) + "{body}"},
		}
		for name, cfg := range bad {
			_, err := signature.NewGenericHMAC(cfg)
			require.Error(t, err, name)
		}
	})
	t.Run("a missing or malformed header is refused", func(t *testing.T) {
		t.Parallel()
		g, err := signature.NewGenericHMAC(signature.GenericHMACConfig{Secrets: []string{secret}, Header: "X-Sig", Prefix: "sha256="})
		require.NoError(t, err)
		require.ErrorIs(t, g.Verify(http.Header{}, []byte(body)), signature.ErrMissingHeaders)
		require.ErrorIs(t, g.Verify(http.Header{"X-Sig": {"sha256=abc"}}, []byte(body)), signature.ErrInvalidHeader)
		require.ErrorIs(t, g.Verify(http.Header{"X-Sig": {"md5=" + hexMAC(sha256.New, secret, body)}}, []byte(body)), signature.ErrInvalidHeader)
	})
}
