package signature_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/signature"
)

var benchSizes = []int{256, 4 << 10, 64 << 10}

func sizeName(n int) string {
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// BenchmarkStandard measures sign and verify against the floor: a raw
// HMAC-SHA256 with a reused hasher over the same bytes. The side-by-side
// comparison with peer libraries lives in internal/peers/signature.
func BenchmarkStandard(b *testing.B) {
	const id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	now := time.Unix(1_700_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	keys := signature.MustKeyring(vectorSecret)
	signer, err := signature.NewSigner(signature.SignerConfig{Keys: keys, Now: fixedClock(now)})
	if err != nil {
		b.Fatal(err)
	}
	verifier, err := signature.NewVerifier(signature.VerifierConfig{Keys: keys, Now: fixedClock(now)})
	if err != nil {
		b.Fatal(err)
	}
	rawKey, _ := base64StdDecode(strings.TrimPrefix(vectorSecret, "whsec_"))
	for _, n := range benchSizes {
		body := []byte(strings.Repeat("a", n))
		sig, err := signer.Sign(nil, id, now.Unix(), body)
		if err != nil {
			b.Fatal(err)
		}
		h := http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {string(sig)}}
		b.Run("floor/"+sizeName(n), func(b *testing.B) {
			m := hmac.New(sha256.New, rawKey)
			var sum [32]byte
			prefix := []byte(id + "." + ts + ".")
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				m.Reset()
				m.Write(prefix)
				m.Write(body)
				m.Sum(sum[:0])
			}
		})
		b.Run("sign/"+sizeName(n), func(b *testing.B) {
			dst := make([]byte, 0, 64)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := signer.Sign(dst[:0], id, now.Unix(), body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("verify/"+sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if err := verifier.Verify(h, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkProviders(b *testing.B) {
	body := []byte(strings.Repeat("a", 4<<10))
	now := time.Unix(1_700_000_000, 0)
	gh, _ := signature.NewGitHub("github secret")
	st, _ := signature.NewStripe(signature.StripeConfig{Secrets: []string{"whsec_stripe"}, Now: fixedClock(now)})
	sl, _ := signature.NewSlack(signature.SlackConfig{Secrets: []string{"slack"}, Now: fixedClock(now)})
	ghH := http.Header{}
	gh.SignHeader(ghH, body)
	stH := http.Header{"Stripe-Signature": {st.SignHeader(now, body)}}
	slH := http.Header{}
	sl.SignHeader(slH, now, body)
	for name, c := range map[string]struct {
		v signature.Verifier
		h http.Header
	}{"github": {gh, ghH}, "stripe": {st, stH}, "slack": {sl, slH}} {
		b.Run(name+"/4KiB", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.v.Verify(c.h, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHMACStrategies justifies the pooled hasher: hmac.New per message
// re-hashes the key pads and allocates; a reused hasher's Reset restores the
// saved keyed states. (The pooled form is what Signer and StandardVerifier
// use.)
func BenchmarkHMACStrategies(b *testing.B) {
	key := []byte("0123456789abcdef0123456789abcdef")
	msg := []byte(strings.Repeat("a", 256))
	b.Run("new-per-message/256B", func(b *testing.B) {
		b.ReportAllocs()
		var sum [32]byte
		for b.Loop() {
			m := hmac.New(sha256.New, key)
			m.Write(msg)
			m.Sum(sum[:0])
		}
	})
	b.Run("reused-reset/256B", func(b *testing.B) {
		b.ReportAllocs()
		var sum [32]byte
		m := hmac.New(sha256.New, key)
		for b.Loop() {
			m.Reset()
			m.Write(msg)
			m.Sum(sum[:0])
		}
	})
	b.Run("sync-pool-reset/256B", func(b *testing.B) {
		b.ReportAllocs()
		pool := sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
		var sum [32]byte
		for b.Loop() {
			m := pool.Get().(hash.Hash)
			m.Reset()
			m.Write(msg)
			m.Sum(sum[:0])
			pool.Put(m)
		}
	})
}
