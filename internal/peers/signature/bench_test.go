package signature_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"
)

// BenchmarkSignature runs hookkit, both peer libraries and the floor side by
// side at each size, in one run, so that their ratios are comparable on a
// loaded machine. Every verifier checks the timestamp against the real
// clock (the peers cannot take another), so every header is re-signed for
// the current time before each sub-benchmark.
//
// Besides wall-clock ns/op, each sub-benchmark reports cpu-ns/op: the
// process's CPU time (user + system, all threads, so the garbage collector's
// work on behalf of the allocating peers counts too) divided by the
// iterations. On a machine shared with other work, wall time includes the
// time spent waiting for a core; CPU time does not, so its ratios are the
// ones to compare.
//
// The floor is the least work any v1 verifier must do: one HMAC-SHA256 over
// "{id}.{ts}.{body}" with a reused hasher (Reset, Write id, ".", ts, ".",
// body, Sum into a reused buffer), with no header parsing, decoding or
// comparison.
func BenchmarkSignature(b *testing.B) {
	const id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	rawKey, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secretA, "whsec_"))
	if err != nil {
		b.Fatal(err)
	}
	signer, verifier := hookkit(b, secretA)
	sw, err := standardwebhooks.NewWebhook(secretA)
	if err != nil {
		b.Fatal(err)
	}
	sv, err := svix.NewWebhook(secretA)
	if err != nil {
		b.Fatal(err)
	}
	type impl struct {
		name   string
		sign   func(body []byte, now time.Time)
		verify func(body []byte, h http.Header) error
	}
	var sink []byte
	impls := []impl{
		{
			name: "hookkit",
			sign: func(body []byte, now time.Time) {
				var err error
				if sink, err = signer.Sign(sink[:0], id, now.Unix(), body); err != nil {
					b.Fatal(err)
				}
			},
			verify: func(body []byte, h http.Header) error { return verifier.Verify(h, body) },
		},
		{
			name: "standardwebhooks",
			sign: func(body []byte, now time.Time) {
				if _, err := sw.Sign(id, now, body); err != nil {
					b.Fatal(err)
				}
			},
			verify: func(body []byte, h http.Header) error { return sw.Verify(body, h) },
		},
		{
			name: "svix",
			sign: func(body []byte, now time.Time) {
				if _, err := sv.Sign(id, now, body); err != nil {
					b.Fatal(err)
				}
			},
			verify: func(body []byte, h http.Header) error { return sv.Verify(body, h) },
		},
	}
	for _, size := range []int{256, 4 << 10, 64 << 10} {
		body := bytes.Repeat([]byte("a"), size)
		sizeName := strconv.Itoa(size) + "B"
		if size >= 1<<10 {
			sizeName = strconv.Itoa(size>>10) + "KiB"
		}
		b.Run(sizeName+"/floor", func(b *testing.B) {
			m := hmac.New(sha256.New, rawKey)
			idB, dot, tsB := []byte(id), []byte("."), []byte(strconv.FormatInt(time.Now().Unix(), 10))
			sum := make([]byte, 0, sha256.Size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			defer reportCPU(b, processCPU())
			for b.Loop() {
				m.Reset()
				m.Write(idB)
				m.Write(dot)
				m.Write(tsB)
				m.Write(dot)
				m.Write(body)
				sum = m.Sum(sum[:0])
			}
		})
		for _, im := range impls {
			b.Run(sizeName+"/"+im.name+"-sign", func(b *testing.B) {
				now := time.Now()
				b.SetBytes(int64(size))
				b.ReportAllocs()
				defer reportCPU(b, processCPU())
				for b.Loop() {
					im.sign(body, now)
				}
			})
			b.Run(sizeName+"/"+im.name+"-verify", func(b *testing.B) {
				now := time.Now()
				sig, err := signer.Sign(nil, id, now.Unix(), body)
				if err != nil {
					b.Fatal(err)
				}
				h := headers(id, now, string(sig))
				b.SetBytes(int64(size))
				b.ReportAllocs()
				defer reportCPU(b, processCPU())
				for b.Loop() {
					if err := im.verify(body, h); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// reportCPU reports the process CPU time used since start per iteration.
func reportCPU(b *testing.B, start time.Duration) {
	if start == 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}
