package receiverbench

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// benchWriter is a minimal, reusable http.ResponseWriter.
type benchWriter struct {
	h      http.Header
	status int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(code int)        { w.status = code }

// BenchmarkInProcess runs the same scenarios as BenchmarkLoopback without
// the network, client and net/http: ServeHTTP is called directly with
// pre-built requests (distinct ids, 1 KiB signed bodies), and for full
// pipelines the time includes the workers finishing every event. It
// isolates the server-side cost per event: cpu-ns/op is the process CPU
// time per event (the workers included), robust on a shared machine where
// ns/op (wall time) is not; allocs/op include the workers.
func BenchmarkInProcess(b *testing.B) {
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			signedReqs := makeRequests(b, b.N)
			reqs := make([]*http.Request, b.N)
			readers := make([]*bytes.Reader, b.N)
			for i, s := range signedReqs {
				r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/webhook", nil)
				r.Header = http.Header{
					"Content-Type":      {"application/json"},
					"Webhook-Id":        {s.id},
					"Webhook-Timestamp": {s.ts},
					"Webhook-Signature": {s.sig},
				}
				readers[i] = bytes.NewReader(s.body)
				r.Body, r.ContentLength = io.NopCloser(readers[i]), int64(len(s.body))
				r.RemoteAddr = "127.0.0.1:50000"
				reqs[i] = r
			}
			h, processed, stop := sc.build(b)
			defer stop()
			w := &benchWriter{h: http.Header{}}
			b.SetBytes(int64(len(signedReqs[0].body)))
			b.ReportAllocs()
			runtime.GC()
			b.ResetTimer()
			cpu0 := cpuTime()
			busy := 0
			for i := range b.N {
				for {
					clear(w.h)
					w.status = 0
					h.ServeHTTP(w, reqs[i])
					if w.status != http.StatusServiceUnavailable {
						break
					}
					// The queue is full: back off as a sender would, so
					// the workers catch up (the hand-built receiver
					// blocks on its channel instead).
					busy++
					readers[i].Reset(signedReqs[i].body)
					runtime.Gosched()
				}
				if w.status/100 != 2 {
					b.Fatalf("status %d", w.status)
				}
			}
			if processed != nil {
				for processed() < int64(b.N) {
					time.Sleep(20 * time.Microsecond)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(busy)/float64(b.N), "503s/op")
		})
	}
}
