package receiver_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/receiver/receivertest"
	"github.com/hookkit/hookkit/signature"
)

// signRaw builds a request with body signed by the test secret.
func signRaw(id string, ts time.Time, body []byte) *http.Request {
	return receivertest.Sign(receivertest.Request{ID: id, Timestamp: ts, Body: body})
}

func envelope(id, typ, data string) []byte {
	return []byte(`{"event_id":"` + id + `","event_type":"` + typ + `","timestamp":"2026-01-02T03:04:05Z","data":` + data + `}`)
}

type truncatedBody struct{ r io.Reader }

func (t truncatedBody) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF // what net/http reports when the client hangs up early
	}
	return n, err
}

func TestBadInputGetsA4xxAndNeverReachesTheHandler(t *testing.T) {
	t.Parallel()
	const processedID = "evt_already_processed"
	b := setup(t, nil, func(c *receiver.Config) {
		c.MaxBodyBytes = 64 << 10
		c.AllowedSources = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	processed := envelope(processedID, "invoice.paid", `{}`)
	require.Equal(t, http.StatusAccepted, serve(b.h, signRaw(processedID, time.Now(), processed)).Code)
	recv(t, b.calls)
	waitDone(t, b.h, event.Event{ID: processedID, Type: "invoice.paid", Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Data: []byte(`{}`)})

	good := func() *http.Request {
		return signRaw("evt_good", time.Now(), envelope("evt_good", "invoice.paid", `{}`))
	}
	with := func(mod func(r *http.Request)) func() *http.Request {
		return func() *http.Request { r := good(); mod(r); return r }
	}
	signedBody := func(body []byte) func() *http.Request {
		return func() *http.Request { return signRaw("evt_body", time.Now(), body) }
	}
	huge := bytes.Repeat([]byte("a"), 65<<10)
	deep := envelope("evt_deep", "invoice.paid", `{"a":`+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+`}`)
	thousand := strings.TrimSpace(strings.Repeat("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= ", 1000))

	tests := []struct {
		name string
		req  func() *http.Request
		want int
	}{
		{name: "a GET is not allowed", req: with(func(r *http.Request) { r.Method = http.MethodGet }), want: 405},
		{name: "a PUT is not allowed", req: with(func(r *http.Request) { r.Method = http.MethodPut }), want: 405},
		{name: "an OPTIONS without handshake is not allowed", req: with(func(r *http.Request) { r.Method = http.MethodOptions }), want: 405},
		{name: "no body", req: with(func(r *http.Request) { r.Body, r.ContentLength = http.NoBody, 0 }), want: 400},
		{name: "a nil body", req: with(func(r *http.Request) { r.Body, r.ContentLength = nil, 0 }), want: 400},
		{name: "an empty signed body", req: signedBody([]byte{}), want: 400},
		{name: "a body announced over the cap", req: with(func(r *http.Request) { r.ContentLength = 1 << 30 }), want: 413},
		{name: "a chunked body over the cap", req: with(func(r *http.Request) { r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(huge)), -1 }), want: 413},
		{name: "a truncated body", req: with(func(r *http.Request) {
			r.Body, r.ContentLength = io.NopCloser(truncatedBody{strings.NewReader(`{"event_id":`)}), 200
		}), want: 400},
		{name: "a text/plain content type", req: with(func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }), want: 415},
		{name: "no content type", req: with(func(r *http.Request) { r.Header.Del("Content-Type") }), want: 415},
		{name: "two content types", req: with(func(r *http.Request) { r.Header.Add("Content-Type", "application/json") }), want: 415},
		{name: "a look-alike content type", req: with(func(r *http.Request) { r.Header.Set("Content-Type", "application/jsonp") }), want: 415},
		{name: "no signature headers", req: with(func(r *http.Request) {
			r.Header.Del(signature.HeaderID)
			r.Header.Del(signature.HeaderTimestamp)
			r.Header.Del(signature.HeaderSignature)
		}), want: 401},
		{name: "no webhook-id", req: with(func(r *http.Request) { r.Header.Del(signature.HeaderID) }), want: 401},
		{name: "no webhook-timestamp", req: with(func(r *http.Request) { r.Header.Del(signature.HeaderTimestamp) }), want: 401},
		{name: "no webhook-signature", req: with(func(r *http.Request) { r.Header.Del(signature.HeaderSignature) }), want: 401},
		{name: "a duplicated webhook-id", req: with(func(r *http.Request) { r.Header.Add(signature.HeaderID, "evt_other") }), want: 401},
		{name: "a duplicated webhook-signature", req: with(func(r *http.Request) {
			r.Header.Add(signature.HeaderSignature, r.Header.Get(signature.HeaderSignature))
		}), want: 401},
		{name: "a malformed timestamp", req: with(func(r *http.Request) { r.Header.Set(signature.HeaderTimestamp, "yesterday") }), want: 401},
		{name: "a timestamp with a plus sign", req: with(func(r *http.Request) {
			r.Header.Set(signature.HeaderTimestamp, "+"+strconv.FormatInt(time.Now().Unix(), 10))
		}), want: 401},
		{name: "a stale timestamp", req: func() *http.Request {
			return signRaw("evt_stale", time.Now().Add(-10*time.Minute), envelope("evt_stale", "invoice.paid", `{}`))
		}, want: 401},
		{name: "a future timestamp", req: func() *http.Request {
			return signRaw("evt_future", time.Now().Add(10*time.Minute), envelope("evt_future", "invoice.paid", `{}`))
		}, want: 401},
		{name: "a stale replay of a processed id", req: func() *http.Request {
			return signRaw(processedID, time.Now().Add(-time.Hour), processed)
		}, want: 401},
		{name: "the wrong secret", req: func() *http.Request {
			return receivertest.Sign(receivertest.Request{Secret: "whsec_dGhpcyBpcyBhIGRpZmZlcmVudCBzZWNyZXQ=", ID: "evt_x", Body: envelope("evt_x", "invoice.paid", `{}`)})
		}, want: 401},
		{name: "a thousand signature entries", req: with(func(r *http.Request) { r.Header.Set(signature.HeaderSignature, thousand) }), want: 401},
		{name: "the good signature after a thousand bad ones", req: with(func(r *http.Request) {
			r.Header.Set(signature.HeaderSignature, thousand+" "+r.Header.Get(signature.HeaderSignature))
		}), want: 401},
		{name: "a tampered body", req: with(func(r *http.Request) {
			body := envelope("evt_good", "invoice.paid", `{"amount":1000000}`)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}), want: 401},
		{name: "signed non-UTF-8 JSON", req: signedBody(envelope("evt_utf", "invoice.paid", "{\"name\":\"\xff\xfe\"}")), want: 400},
		{name: "a signed JSON array", req: signedBody([]byte(`[{"event_id":"evt_arr"}]`)), want: 400},
		{name: "a signed JSON string", req: signedBody([]byte(`"evt_str"`)), want: 400},
		{name: "signed data that is not an object", req: signedBody(envelope("evt_d", "invoice.paid", `[1]`)), want: 400},
		{name: "signed deeply nested JSON", req: signedBody(deep), want: 400},
		{name: "signed invalid JSON", req: signedBody([]byte(`{"event_id":"evt_bad",`)), want: 400},
		{name: "a signed envelope without event_id", req: signedBody([]byte(`{"event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{}}`)), want: 400},
		{name: "a signed envelope with a bad event type", req: signedBody(envelope("evt_t", "Invoice Paid", `{}`)), want: 400},
		{name: "a signed envelope with a bad timestamp", req: signedBody([]byte(`{"event_id":"evt_ts","event_type":"invoice.paid","timestamp":"tomorrow","data":{}}`)), want: 400},
		{name: "a spoofed X-Forwarded-For from an untrusted peer", req: with(func(r *http.Request) {
			r.RemoteAddr = "203.0.113.9:4444"
			r.Header.Set("X-Forwarded-For", "192.0.2.1")
		}), want: 403},
		{name: "a spoofed Forwarded from an untrusted peer", req: with(func(r *http.Request) {
			r.RemoteAddr = "203.0.113.9:4444"
			r.Header.Set("Forwarded", "for=192.0.2.1")
		}), want: 403},
		{name: "an unparseable remote address", req: with(func(r *http.Request) { r.RemoteAddr = "pipe" }), want: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := serve(b.h, tt.req())
			require.Equal(t, tt.want, rec.Code, rec.Body.String())
			require.NotEmpty(t, rec.Body.String(), "a short reason")
			if tt.want == 405 {
				require.Equal(t, "POST", rec.Header().Get("Allow"))
			}
		})
	}
	t.Run("a replay of a processed id within the tolerance is a duplicate", func(t *testing.T) {
		t.Parallel()
		rec := serve(b.h, signRaw(processedID, time.Now(), processed))
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "true", rec.Header().Get(receiver.HeaderDuplicate))
	})
	t.Cleanup(func() {
		select {
		case c := <-b.calls:
			t.Errorf("handler called for %s", c.ev.ID)
		default:
		}
	})
}

func TestSourceAllowList(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, func(c *receiver.Config) {
		c.AllowedSources = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	})
	tests := []struct {
		name, remote string
		header       map[string]string
		want         int
	}{
		{name: "an allowed peer", remote: "192.0.2.7:1", want: 202},
		{name: "an allowed IPv6 peer", remote: "[2001:db8::5]:1", want: 202},
		{name: "an IPv4-mapped allowed peer", remote: "[::ffff:192.0.2.7]:1", want: 202},
		{name: "a peer outside the list", remote: "198.51.100.1:1", want: 403},
		{name: "a trusted proxy forwarding an allowed client", remote: "10.1.1.1:1", header: map[string]string{"X-Forwarded-For": "192.0.2.7"}, want: 202},
		{name: "a trusted proxy forwarding a client that spoofed its own X-Forwarded-For", remote: "10.1.1.1:1", header: map[string]string{"X-Forwarded-For": "192.0.2.7, 198.51.100.1"}, want: 403},
		{name: "a chain of trusted proxies", remote: "10.1.1.1:1", header: map[string]string{"X-Forwarded-For": "192.0.2.7, 10.2.2.2"}, want: 202},
		{name: "a trusted proxy forwarding a disallowed client", remote: "10.1.1.1:1", header: map[string]string{"X-Forwarded-For": "198.51.100.1"}, want: 403},
		{name: "a trusted proxy without forwarding headers", remote: "10.1.1.1:1", want: 403},
		{name: "a trusted proxy with a garbage X-Forwarded-For", remote: "10.1.1.1:1", header: map[string]string{"X-Forwarded-For": "not-an-ip"}, want: 403},
		{name: "a trusted proxy with Forwarded", remote: "10.1.1.1:1", header: map[string]string{"Forwarded": `for="[2001:db8::1]:4711";proto=https`}, want: 202},
		{name: "Forwarded is preferred over X-Forwarded-For", remote: "[fd00::1]:1", header: map[string]string{"Forwarded": "for=198.51.100.1", "X-Forwarded-For": "192.0.2.7"}, want: 403},
		{name: "a Forwarded with an obfuscated node", remote: "10.1.1.1:1", header: map[string]string{"Forwarded": "for=_hidden"}, want: 403},
		{name: "a Forwarded with an IPv4 and port", remote: "10.1.1.1:1", header: map[string]string{"Forwarded": "for=192.0.2.9:80, for=10.3.3.3"}, want: 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := receivertest.NewRequest("", newEvent(t))
			r.RemoteAddr = tt.remote
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			require.Equal(t, tt.want, serve(b.h, r).Code)
		})
	}
}

func TestCloudEventsHandshake(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, func(c *receiver.Config) {
		c.Handshake = &receiver.Handshake{AllowedOrigins: []string{"events.example.com"}, AllowedRate: 120}
	})
	options := func(origin ...string) *http.Request {
		r := httptest.NewRequest(http.MethodOptions, "/webhook", nil)
		for _, o := range origin {
			r.Header.Add("WebHook-Request-Origin", o)
		}
		r.Header.Set("WebHook-Request-Callback", "https://attacker.example/callback")
		return r
	}
	rec := serve(b.h, options("events.example.com"))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "events.example.com", rec.Header().Get("WebHook-Allowed-Origin"))
	require.Equal(t, "120", rec.Header().Get("WebHook-Allowed-Rate"))
	require.Equal(t, "POST, OPTIONS", rec.Header().Get("Allow"))

	for _, tt := range []struct {
		name   string
		origin []string
		want   int
	}{
		{name: "an unknown origin", origin: []string{"evil.example.com"}, want: 403},
		{name: "an origin that only starts with an allowed one", origin: []string{"events.example.com.evil.net"}, want: 403},
		{name: "an allowed origin as a suffix", origin: []string{"xevents.example.com"}, want: 403},
		{name: "a different case", origin: []string{"EVENTS.example.com"}, want: 403},
		{name: "no origin", want: 400},
		{name: "two origins", origin: []string{"events.example.com", "events.example.com"}, want: 400},
	} {
		rec := serve(b.h, options(tt.origin...))
		require.Equal(t, tt.want, rec.Code, tt.name)
		require.Empty(t, rec.Header().Get("WebHook-Allowed-Origin"), tt.name)
	}
	_ = context.Background
}

func TestContentTypes(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	tests := []struct {
		ctype string
		want  int
	}{
		{ctype: "application/json", want: 202},
		{ctype: "Application/JSON; charset=utf-8", want: 202},
		{ctype: "application/json;charset=UTF-8", want: 202},
		{ctype: "application/cloudevents+json", want: 202},
		{ctype: "application/vnd.api+json; charset=utf-8", want: 202},
		{ctype: "application/json-seq", want: 415},
		{ctype: "text/json", want: 415},
		{ctype: "application/+json", want: 415},
		{ctype: "application/x-www-form-urlencoded", want: 415},
		{ctype: "multipart/form-data; boundary=x", want: 415},
		{ctype: "", want: 415},
	}
	for _, tt := range tests {
		t.Run(tt.ctype, func(t *testing.T) {
			t.Parallel()
			r := receivertest.NewRequest("", newEvent(t))
			r.Header.Set("Content-Type", tt.ctype)
			require.Equal(t, tt.want, serve(b.h, r).Code)
		})
	}
}

func TestHandshakeHonoursTheSourceAllowList(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, func(c *receiver.Config) {
		c.Handshake = &receiver.Handshake{AllowedOrigins: []string{"events.example.com"}}
		c.AllowedSources = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	})
	r := httptest.NewRequest(http.MethodOptions, "/webhook", nil)
	r.Header.Set("WebHook-Request-Origin", "events.example.com")
	rec := serve(b.h, r)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Empty(t, rec.Header().Get("WebHook-Allowed-Rate"), "no rate configured")

	r.RemoteAddr = "203.0.113.1:1"
	require.Equal(t, http.StatusForbidden, serve(b.h, r).Code)
}
