package signature_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/signature"
)

type vectorFile struct {
	Secret           string `json:"secret"`
	SecretUnprefixed string `json:"secret_unprefixed"`
	MsgID            string `json:"msg_id"`
	Timestamp        int64  `json:"timestamp"`
	Payload          string `json:"payload"`
	Expected         string `json:"expected"`
	MustVerify       []struct {
		Name      string `json:"name"`
		Signature string `json:"signature"`
	} `json:"must_verify"`
	MustNotVerify []struct {
		Name      string `json:"name"`
		Signature string `json:"signature"`
	} `json:"must_not_verify"`
}

func loadVectors(t *testing.T) vectorFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/standard-webhooks-vectors.json")
	require.NoError(t, err)
	var v vectorFile
	require.NoError(t, json.Unmarshal(raw, &v))
	require.NotEmpty(t, v.MustVerify)
	require.NotEmpty(t, v.MustNotVerify)
	return v
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// testBundle is a signer and verifier over one keyring with a fixed clock.
type testBundle struct {
	now      time.Time
	keys     *signature.Keyring
	signer   *signature.Signer
	verifier *signature.StandardVerifier
}

func setup(t *testing.T, now time.Time, entries ...signature.Entry) testBundle {
	t.Helper()
	kr, err := signature.NewKeyring(entries...)
	require.NoError(t, err)
	b := testBundle{now: now, keys: kr}
	b.signer, err = signature.NewSigner(signature.SignerConfig{Keys: kr, Now: fixedClock(now)})
	if err != nil {
		require.ErrorIs(t, err, signature.ErrNoSigningKey)
	}
	b.verifier, err = signature.NewVerifier(signature.VerifierConfig{Keys: kr, Now: fixedClock(now)})
	require.NoError(t, err)
	return b
}

func TestSharedVector(t *testing.T) {
	t.Parallel()
	vec := loadVectors(t)
	now := time.Unix(vec.Timestamp, 0)

	for _, secret := range []string{vec.Secret, vec.SecretUnprefixed} {
		t.Run("signing with "+secret[:6]+"… gives the expected signature", func(t *testing.T) {
			t.Parallel()
			b := setup(t, now, signature.Entry{Key: signature.MustParseKey(secret)})
			got, err := b.signer.Sign(nil, vec.MsgID, vec.Timestamp, []byte(vec.Payload))
			require.NoError(t, err)
			require.Equal(t, vec.Expected, string(got))
		})
	}
	b := setup(t, now, signature.Entry{Key: signature.MustParseKey(vec.Secret)})
	ts := strconv.FormatInt(vec.Timestamp, 10)
	for _, c := range vec.MustVerify {
		t.Run("verifies "+c.Name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, b.verifier.VerifyParts(vec.MsgID, ts, c.Signature, []byte(vec.Payload)))
		})
	}
	for _, c := range vec.MustNotVerify {
		t.Run("refuses "+c.Name, func(t *testing.T) {
			t.Parallel()
			err := b.verifier.VerifyParts(vec.MsgID, ts, c.Signature, []byte(vec.Payload))
			require.ErrorIs(t, err, signature.ErrNoMatchingSignature)
		})
	}
	t.Run("refuses the right signature over a changed payload", func(t *testing.T) {
		t.Parallel()
		err := b.verifier.VerifyParts(vec.MsgID, ts, vec.Expected, []byte(vec.Payload+" "))
		require.ErrorIs(t, err, signature.ErrNoMatchingSignature)
	})
	t.Run("refuses the right signature under another id", func(t *testing.T) {
		t.Parallel()
		err := b.verifier.VerifyParts(vec.MsgID+"x", ts, vec.Expected, []byte(vec.Payload))
		require.ErrorIs(t, err, signature.ErrNoMatchingSignature)
	})
}

// independentV1 computes a v1 signature with crypto/hmac directly.
func independentV1(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return "v1," + b64(m.Sum(nil))
}

func TestSignMatchesAnIndependentHMACForManySizes(t *testing.T) {
	t.Parallel()
	key := []byte("an independent 32-byte HMAC key")
	b := setup(t, time.Unix(1_700_000_000, 0), signature.Entry{Key: signature.MustParseKey(b64(key))})
	for _, n := range []int{0, 1, 63, 64, 65, 4096, 1 << 16, 1<<20 + 3} {
		body := []byte(strings.Repeat("x", n))
		got, err := b.signer.Sign(nil, "evt_1", 1_700_000_000, body)
		require.NoError(t, err)
		require.Equal(t, independentV1(key, "evt_1", 1_700_000_000, body), string(got), "size %d", n)
		require.NoError(t, b.verifier.VerifyParts("evt_1", "1700000000", string(got), body))
	}
}

func TestSignAppendsToDst(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Unix(1_614_265_330, 0), signature.Entry{Key: signature.MustParseKey(vectorSecret)})
	got, err := b.signer.Sign([]byte("prefix:"), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	require.Equal(t, "prefix:v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", string(got))
}

func TestTimestampTolerance(t *testing.T) {
	t.Parallel()
	const signedAt = 1_700_000_000
	body := []byte(`{"a":1}`)
	tests := []struct {
		name      string
		offset    time.Duration // verifier clock minus signing time
		tolerance time.Duration
		wantErr   error
	}{
		{name: "the same second passes", offset: 0},
		{name: "299 seconds old passes", offset: 299 * time.Second},
		{name: "exactly 300 seconds old passes (strictly greater fails)", offset: 300 * time.Second},
		{name: "300.5 seconds old fails", offset: 300*time.Second + 500*time.Millisecond, wantErr: signature.ErrTooOld},
		{name: "301 seconds old fails", offset: 301 * time.Second, wantErr: signature.ErrTooOld},
		{name: "299 seconds in the future passes", offset: -299 * time.Second},
		{name: "exactly 300 seconds in the future passes", offset: -300 * time.Second},
		{name: "301 seconds in the future fails", offset: -301 * time.Second, wantErr: signature.ErrTooNew},
		{name: "a day old fails", offset: 24 * time.Hour, wantErr: signature.ErrTooOld},
		{name: "a custom tolerance of 10 s accepts 10 s", offset: 10 * time.Second, tolerance: 10 * time.Second},
		{name: "a custom tolerance of 10 s refuses 11 s", offset: 11 * time.Second, tolerance: 10 * time.Second, wantErr: signature.ErrTooOld},
		{name: "a custom tolerance of 10 s refuses 11 s ahead", offset: -11 * time.Second, tolerance: 10 * time.Second, wantErr: signature.ErrTooNew},
	}
	key := signature.MustParseKey(vectorSecret)
	kr, err := signature.NewKeyring(signature.Entry{Key: key})
	require.NoError(t, err)
	signer, err := signature.NewSigner(signature.SignerConfig{Keys: kr})
	require.NoError(t, err)
	sig, err := signer.Sign(nil, "msg_1", signedAt, body)
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := signature.NewVerifier(signature.VerifierConfig{
				Keys: kr, Tolerance: tt.tolerance, Now: fixedClock(time.Unix(signedAt, 0).Add(tt.offset)),
			})
			require.NoError(t, err)
			err = v.VerifyParts("msg_1", strconv.Itoa(signedAt), string(sig), body)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}

func TestExtremeTimestampsDoNotOverflowTheToleranceCheck(t *testing.T) {
	t.Parallel()
	b := setup(t, time.Unix(1_700_000_000, 0), signature.Entry{Key: signature.MustParseKey(vectorSecret)})
	for _, tc := range []struct {
		ts   string
		want error
	}{
		{ts: "0", want: signature.ErrTooOld},
		{ts: "999999999999999999", want: signature.ErrTooNew},
	} {
		err := b.verifier.VerifyParts("msg_1", tc.ts, "v1,"+strings.Repeat("A", 43)+"=", nil)
		require.ErrorIs(t, err, tc.want, tc.ts)
	}
	nearMinTime := setup(t, time.Unix(-1<<62, 0), signature.Entry{Key: signature.MustParseKey(vectorSecret)})
	err := nearMinTime.verifier.VerifyParts("msg_1", "999999999999999999", "v1,x", nil)
	require.ErrorIs(t, err, signature.ErrTooNew)
}

func TestRotation(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	oldKey := signature.MustParseKey("whsec_" + b64([]byte("old key old key old key old key!")))
	newKey := signature.MustParseKey("whsec_" + b64([]byte("new key new key new key new key!")))
	body := []byte(`{"rotate":true}`)

	t.Run("the signer signs with every active key", func(t *testing.T) {
		t.Parallel()
		b := setup(t, now, signature.Entry{Key: oldKey, NotAfter: now.Add(time.Hour)}, signature.Entry{Key: newKey})
		sig, err := b.signer.Sign(nil, "msg_1", now.Unix(), body)
		require.NoError(t, err)
		entries := strings.Split(string(sig), " ")
		require.Len(t, entries, 2)
		for _, k := range []signature.Key{oldKey, newKey} {
			only := setup(t, now, signature.Entry{Key: k})
			require.NoError(t, only.verifier.VerifyParts("msg_1", strconv.FormatInt(now.Unix(), 10), string(sig), body))
		}
	})
	t.Run("a key is still active exactly at its NotAfter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, now, signature.Entry{Key: oldKey, NotAfter: now})
		sig, err := b.signer.Sign(nil, "msg_1", now.Unix(), body)
		require.NoError(t, err)
		require.NoError(t, b.verifier.VerifyParts("msg_1", strconv.FormatInt(now.Unix(), 10), string(sig), body))
	})
	t.Run("an expired key neither signs nor verifies", func(t *testing.T) {
		t.Parallel()
		b := setup(t, now, signature.Entry{Key: oldKey, NotAfter: now.Add(-time.Second)}, signature.Entry{Key: newKey})
		sig, err := b.signer.Sign(nil, "msg_1", now.Unix(), body)
		require.NoError(t, err)
		require.NotContains(t, string(sig), " ", "only the new key signs")
		onlyOld := setup(t, now, signature.Entry{Key: oldKey})
		require.ErrorIs(t, onlyOld.verifier.VerifyParts("msg_1", strconv.FormatInt(now.Unix(), 10), string(sig), body), signature.ErrNoMatchingSignature)

		oldSig, err := onlyOld.signer.Sign(nil, "msg_1", now.Unix(), body)
		require.NoError(t, err)
		err = b.verifier.VerifyParts("msg_1", strconv.FormatInt(now.Unix(), 10), string(oldSig), body)
		require.ErrorIs(t, err, signature.ErrNoMatchingSignature, "the expired old key must not verify")
	})
	t.Run("a keyring whose every key has expired cannot sign or verify", func(t *testing.T) {
		t.Parallel()
		b := setup(t, now, signature.Entry{Key: oldKey, NotAfter: now.Add(-time.Second)})
		_, err := b.signer.Sign(nil, "msg_1", now.Unix(), body)
		require.ErrorIs(t, err, signature.ErrNoSigningKey)
		err = b.verifier.VerifyParts("msg_1", strconv.FormatInt(now.Unix(), 10), independentV1([]byte("old key old key old key old key!"), "msg_1", now.Unix(), body), body)
		require.ErrorIs(t, err, signature.ErrNoMatchingSignature)
	})
}

func TestV1a(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	seed := []byte("v1a seed v1a seed v1a seed v1a!!")
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	body := []byte(`{"v1a":true}`)
	msg := []byte("msg_1." + ts + "." + string(body))
	independent := "v1a," + b64(ed25519.Sign(priv, msg))

	t.Run("hookkit signs what crypto/ed25519 verifies", func(t *testing.T) {
		t.Parallel()
		for _, form := range []string{"whsk_" + b64(priv), "whsk_" + b64(seed)} {
			b := setup(t, now, signature.Entry{Key: signature.MustParseKey(form)})
			sig, err := b.signer.Sign(nil, "msg_1", now.Unix(), body)
			require.NoError(t, err)
			require.Equal(t, independent, string(sig), "ed25519 is deterministic")
			raw, err := base64StdDecode(strings.TrimPrefix(string(sig), "v1a,"))
			require.NoError(t, err)
			require.True(t, ed25519.Verify(pub, msg, raw))
		}
	})
	t.Run("a public key verifies what crypto/ed25519 signed", func(t *testing.T) {
		t.Parallel()
		b := setup(t, now, signature.Entry{Key: signature.MustParseKey("whpk_" + b64(pub))})
		require.Nil(t, b.signer, "a public-only keyring cannot make a signer")
		require.NoError(t, b.verifier.VerifyParts("msg_1", ts, independent, body))
		require.ErrorIs(t, b.verifier.VerifyParts("msg_1", ts, independent, append(body, ' ')), signature.ErrNoMatchingSignature)
	})
	t.Run("a header mixing v1 and v1a verifies with either key alone", func(t *testing.T) {
		t.Parallel()
		hk := signature.MustParseKey(vectorSecret)
		sk := signature.MustParseKey("whsk_" + b64(seed))
		b := setup(t, now, signature.Entry{Key: hk}, signature.Entry{Key: sk})
		sig, err := b.signer.Sign(nil, "msg_1", now.Unix(), body)
		require.NoError(t, err)
		require.Regexp(t, `^v1,\S{44} v1a,\S{88}$`, string(sig))
		for _, k := range []signature.Key{hk, sk.Public()} {
			only := setup(t, now, signature.Entry{Key: k})
			require.NoError(t, only.verifier.VerifyParts("msg_1", ts, string(sig), body))
		}
	})
	t.Run("a v1a signature by another key is refused", func(t *testing.T) {
		t.Parallel()
		other := ed25519.NewKeyFromSeed([]byte("another seed another seed anoth!"))
		b := setup(t, now, signature.Entry{Key: signature.MustParseKey("whpk_" + b64(pub))})
		err := b.verifier.VerifyParts("msg_1", ts, "v1a,"+b64(ed25519.Sign(other, msg)), body)
		require.ErrorIs(t, err, signature.ErrNoMatchingSignature)
	})
	t.Run("a v1 entry carrying a v1a signature is refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, now, signature.Entry{Key: signature.MustParseKey("whpk_" + b64(pub))})
		err := b.verifier.VerifyParts("msg_1", ts, "v1,"+strings.TrimPrefix(independent, "v1a,"), body)
		require.ErrorIs(t, err, signature.ErrNoMatchingSignature)
	})
}

func TestVerifyHeaders(t *testing.T) {
	t.Parallel()
	vec := loadVectors(t)
	now := time.Unix(vec.Timestamp, 0)
	b := setup(t, now, signature.Entry{Key: signature.MustParseKey(vec.Secret)})
	ts := strconv.FormatInt(vec.Timestamp, 10)
	body := []byte(vec.Payload)

	tests := []struct {
		name    string
		header  http.Header
		wantErr error
	}{
		{name: "webhook-* headers verify", header: http.Header{"Webhook-Id": {vec.MsgID}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {vec.Expected}}},
		{name: "svix-* aliases verify", header: http.Header{"Svix-Id": {vec.MsgID}, "Svix-Timestamp": {ts}, "Svix-Signature": {vec.Expected}}},
		{name: "non-canonical map keys set by hand verify", header: http.Header{"webhook-id": {vec.MsgID}, "webhook-timestamp": {ts}, "webhook-signature": {vec.Expected}}},
		{name: "webhook-* wins over a wrong svix-* signature", header: http.Header{"Webhook-Id": {vec.MsgID}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {vec.Expected}, "Svix-Signature": {"v1,bad"}}},
		{name: "no headers at all is missing headers", header: http.Header{}, wantErr: signature.ErrMissingHeaders},
		{name: "a missing id is missing headers", header: http.Header{"Webhook-Timestamp": {ts}, "Webhook-Signature": {vec.Expected}}, wantErr: signature.ErrMissingHeaders},
		{name: "a missing timestamp is missing headers", header: http.Header{"Webhook-Id": {vec.MsgID}, "Webhook-Signature": {vec.Expected}}, wantErr: signature.ErrMissingHeaders},
		{name: "a missing signature is missing headers", header: http.Header{"Webhook-Id": {vec.MsgID}, "Webhook-Timestamp": {ts}}, wantErr: signature.ErrMissingHeaders},
		{name: "an empty signature is missing headers", header: http.Header{"Webhook-Id": {vec.MsgID}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {""}}, wantErr: signature.ErrMissingHeaders},
		{name: "a signature header given twice is invalid", header: http.Header{"Webhook-Id": {vec.MsgID}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {vec.Expected, "v1,other"}}, wantErr: signature.ErrInvalidHeader},
		{name: "a signature header given twice with the good one second is invalid", header: http.Header{"Webhook-Id": {vec.MsgID}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {"v1,other", vec.Expected}}, wantErr: signature.ErrInvalidHeader},
		{name: "an id given twice is invalid", header: http.Header{"Webhook-Id": {vec.MsgID, vec.MsgID}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {vec.Expected}}, wantErr: signature.ErrInvalidHeader},
		{name: "a timestamp given twice is invalid", header: http.Header{"Webhook-Id": {vec.MsgID}, "Webhook-Timestamp": {ts, ts}, "Webhook-Signature": {vec.Expected}}, wantErr: signature.ErrInvalidHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := b.verifier.Verify(tt.header, body)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}

func TestSignHeaderSetsAllThreeHeaders(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_614_265_330, 0)
	b := setup(t, now, signature.Entry{Key: signature.MustParseKey(vectorSecret)})
	h := http.Header{}
	require.NoError(t, b.signer.SignHeader(h, "msg_p5jXN8AQM9LWM0D4loKWxJek", now.Add(900*time.Millisecond), []byte(`{"test": 2432232314}`)))
	require.Equal(t, "msg_p5jXN8AQM9LWM0D4loKWxJek", h.Get(signature.HeaderID))
	require.Equal(t, "1614265330", h.Get(signature.HeaderTimestamp))
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", h.Get(signature.HeaderSignature))
	require.NoError(t, b.verifier.Verify(h, []byte(`{"test": 2432232314}`)))
	require.ErrorIs(t, b.signer.SignHeader(http.Header{}, "bad id", now, nil), signature.ErrInvalidHeader)
}

func TestCanonicalIDsAndTimestamps(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	key := []byte("canonical canonical canonical!!!")
	b := setup(t, now, signature.Entry{Key: signature.MustParseKey(b64(key))})
	body := []byte("tail")

	t.Run("the reference ambiguity cannot be exploited", func(t *testing.T) {
		t.Parallel()
		// id "a", ts T, body "<T+1>.tail" signs the same bytes as id "a.T", ts T+1, body "tail".
		T := now.Unix()
		sig := independentV1(key, "a", T, []byte(strconv.FormatInt(T+1, 10)+".tail"))
		err := b.verifier.VerifyParts("a."+strconv.FormatInt(T, 10), strconv.FormatInt(T+1, 10), sig, body)
		require.ErrorIs(t, err, signature.ErrInvalidHeader)
		_, err = b.signer.Sign(nil, "a."+strconv.FormatInt(T, 10), T+1, body)
		require.ErrorIs(t, err, signature.ErrInvalidHeader)
	})

	ts := strconv.FormatInt(now.Unix(), 10)
	good := independentV1(key, "msg_1", now.Unix(), body)
	require.NoError(t, b.verifier.VerifyParts("msg_1", ts, good, body))
	badIDs := map[string]string{
		"an id with a dot":               "msg.1",
		"an id with a space":             "msg 1",
		"an id with a tab":               "msg\t1",
		"an id with a non-ASCII byte":    "msg_\xc3\xa9",
		"an id with a control character": "msg\x7f",
		"an id of 256 bytes":             strings.Repeat("a", 256),
	}
	for name, id := range badIDs {
		t.Run("refuses "+name, func(t *testing.T) {
			t.Parallel()
			require.ErrorIs(t, b.verifier.VerifyParts(id, ts, good, body), signature.ErrInvalidHeader)
			_, err := b.signer.Sign(nil, id, now.Unix(), body)
			require.ErrorIs(t, err, signature.ErrInvalidHeader)
			require.ErrorIs(t, signature.ValidateID(id), signature.ErrInvalidHeader)
		})
	}
	t.Run("accepts an id of 255 bytes", func(t *testing.T) {
		t.Parallel()
		id := strings.Repeat("a", 255)
		require.NoError(t, signature.ValidateID(id))
		require.NoError(t, b.verifier.VerifyParts(id, ts, independentV1(key, id, now.Unix(), body), body))
	})
	badTS := map[string]string{
		"a leading plus":       "+" + ts,
		"a leading minus":      "-" + ts,
		"a leading zero":       "0" + ts,
		"a trailing space":     ts + " ",
		"a fraction":           ts + ".0",
		"hex":                  "0x6553f100",
		"an exponent":          "1.7e9",
		"19 digits":            "1" + strings.Repeat("0", 18),
		"full-width digits":    "１７００００００００",
		"an underscore":        "1_700_000_000",
		"white space in front": " " + ts,
	}
	for name, bad := range badTS {
		t.Run("refuses a timestamp with "+name, func(t *testing.T) {
			t.Parallel()
			require.ErrorIs(t, b.verifier.VerifyParts("msg_1", bad, good, body), signature.ErrInvalidHeader)
			_, err := signature.ParseTimestamp(bad)
			require.ErrorIs(t, err, signature.ErrInvalidHeader)
		})
	}
	t.Run("the signer refuses a negative timestamp", func(t *testing.T) {
		t.Parallel()
		_, err := b.signer.Sign(nil, "msg_1", -1, body)
		require.ErrorIs(t, err, signature.ErrInvalidHeader)
	})
}

func TestEntryCapBoundsWork(t *testing.T) {
	t.Parallel()
	vec := loadVectors(t)
	now := time.Unix(vec.Timestamp, 0)
	ts := strconv.FormatInt(vec.Timestamp, 10)
	body := []byte(vec.Payload)
	bad := "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
	header := func(badBefore int) string {
		return strings.Repeat(bad+" ", badBefore) + vec.Expected
	}
	b := setup(t, now, signature.Entry{Key: signature.MustParseKey(vec.Secret)})

	t.Run("a good entry in tenth place is examined", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, b.verifier.VerifyParts(vec.MsgID, ts, header(9), body))
	})
	t.Run("a good entry in eleventh place is ignored", func(t *testing.T) {
		t.Parallel()
		require.ErrorIs(t, b.verifier.VerifyParts(vec.MsgID, ts, header(10), body), signature.ErrNoMatchingSignature)
	})
	t.Run("a good entry after 1,000 bad ones is ignored", func(t *testing.T) {
		t.Parallel()
		require.ErrorIs(t, b.verifier.VerifyParts(vec.MsgID, ts, header(1000), body), signature.ErrNoMatchingSignature)
	})
	t.Run("malformed and unknown entries count towards the cap", func(t *testing.T) {
		t.Parallel()
		h := strings.Repeat("junk v2,x ", 5) + vec.Expected
		require.ErrorIs(t, b.verifier.VerifyParts(vec.MsgID, ts, h, body), signature.ErrNoMatchingSignature)
	})
	t.Run("runs of spaces between entries are tolerated", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, b.verifier.VerifyParts(vec.MsgID, ts, "   "+bad+"    "+vec.Expected+"  ", body))
	})
	t.Run("a larger MaxEntries reaches further", func(t *testing.T) {
		t.Parallel()
		v, err := signature.NewVerifier(signature.VerifierConfig{Keys: b.keys, Now: fixedClock(now), MaxEntries: 20})
		require.NoError(t, err)
		require.NoError(t, v.VerifyParts(vec.MsgID, ts, header(19), body))
		require.ErrorIs(t, v.VerifyParts(vec.MsgID, ts, header(20), body), signature.ErrNoMatchingSignature)
	})
}

func TestVerifyAllocatesNothingForV1(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race (sync.Pool drops items at random)")
	}
	vec := loadVectors(t)
	now := time.Unix(vec.Timestamp, 0)
	b := setup(t, now, signature.Entry{Key: signature.MustParseKey(vec.Secret)})
	h := http.Header{"Webhook-Id": {vec.MsgID}, "Webhook-Timestamp": {strconv.FormatInt(vec.Timestamp, 10)}, "Webhook-Signature": {vec.Expected}}
	body := []byte(vec.Payload)
	require.NoError(t, b.verifier.Verify(h, body))
	allocs := testing.AllocsPerRun(100, func() {
		if err := b.verifier.Verify(h, body); err != nil {
			panic(err)
		}
	})
	require.LessOrEqual(t, allocs, 0.0)

	crafted := strings.Repeat("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= ", 1000) + vec.Expected
	ts := strconv.FormatInt(vec.Timestamp, 10)
	allocs = testing.AllocsPerRun(20, func() {
		_ = b.verifier.VerifyParts(vec.MsgID, ts, crafted, body)
	})
	require.LessOrEqual(t, allocs, 0.0, "a 1,000-entry header allocates nothing")
}

func TestConstructorsValidateConfig(t *testing.T) {
	t.Parallel()
	kr := signature.MustKeyring(vectorSecret)
	_, err := signature.NewSigner(signature.SignerConfig{})
	require.ErrorIs(t, err, signature.ErrNoSigningKey)
	_, err = signature.NewVerifier(signature.VerifierConfig{})
	require.Error(t, err)
	_, err = signature.NewVerifier(signature.VerifierConfig{Keys: kr, Tolerance: -time.Second})
	require.Error(t, err)
	_, err = signature.NewVerifier(signature.VerifierConfig{Keys: kr, MaxEntries: -1})
	require.Error(t, err)
	_, err = signature.NewKeyringFromStrings(vectorSecret, "whsec_")
	require.ErrorIs(t, err, signature.ErrEmptyKey)
	require.Equal(t, 1, kr.Len())
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	b := setup(t, now, signature.Entry{Key: signature.MustParseKey(vectorSecret)})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				body := []byte(strings.Repeat("x", (g*200+i)%700))
				id := "msg_" + strconv.Itoa(g) + "_" + strconv.Itoa(i)
				sig, err := b.signer.Sign(nil, id, now.Unix(), body)
				if err != nil {
					t.Error(err)
					return
				}
				if err := b.verifier.VerifyParts(id, strconv.FormatInt(now.Unix(), 10), string(sig), body); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
