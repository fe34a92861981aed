package hostile_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/receiver"
	"github.com/hookkit/hookkit/retry"
	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/sender/sendertest"
	"github.com/hookkit/hookkit/signature"
)

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// debugLogger logs every record twice into buf: as JSON and as text, at Debug level.
func debugLogger(buf *lockedBuffer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true}
	return slog.New(slog.NewMultiHandler(slog.NewJSONHandler(buf, opts), slog.NewTextHandler(buf, opts)))
}

// secretForms returns the needles that reveal a secret string: the string itself and, for
// whsec_/whsk_ keys, windows of its base64 text and of its raw bytes in hex (lower and upper
// case) and in every base64 alphabet, so that a partial or re-encoded leak is found too.
// For whsk_ keys only the seed (the first 32 bytes) is secret; the public half is public.
func secretForms(t *testing.T, secret string) []string {
	t.Helper()
	forms := []string{secret}
	var raw []byte
	switch {
	case strings.HasPrefix(secret, "whsec_"):
		var err error
		raw, err = base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		require.NoError(t, err)
		forms = append(forms, windows(strings.TrimPrefix(secret, "whsec_"), 12)...)
	case strings.HasPrefix(secret, "whsk_"):
		full, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsk_"))
		require.NoError(t, err)
		raw = full[:32]
		forms = append(forms, windows(strings.TrimPrefix(secret, "whsk_")[:40], 12)...) // the first 30 bytes: seed only
	default:
		return append(forms, windows(secret, 12)...)
	}
	forms = append(forms, string(raw))
	for _, enc := range []string{
		hex.EncodeToString(raw), strings.ToUpper(hex.EncodeToString(raw)),
		base64.StdEncoding.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw),
	} {
		forms = append(forms, windows(enc, 16)...)
	}
	// Go syntax for a byte slice, as %#v of a []byte would print it.
	forms = append(forms, strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%#v", raw[:6]), "[]byte{"), "}"))
	return forms
}

// windows returns every substring of s of length n (s itself when shorter).
func windows(s string, n int) []string {
	if len(s) <= n {
		return []string{s}
	}
	out := make([]string, 0, len(s)-n+1)
	for i := 0; i+n <= len(s); i++ {
		out = append(out, s[i:i+n])
	}
	return out
}

func randomToken(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 18)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// secretsObserver keeps every error and reason the sender reports.
type secretsObserver struct {
	mu      sync.Mutex
	texts   []string
	changed chan struct{}
}

func (o *secretsObserver) add(r sender.AttemptReport) {
	o.mu.Lock()
	if r.Err != nil {
		o.texts = append(o.texts, r.Err.Error(), fmt.Sprintf("%+v", r.Err), fmt.Sprintf("%#v", r))
	}
	o.texts = append(o.texts, r.Reason)
	o.mu.Unlock()
	select {
	case o.changed <- struct{}{}:
	default:
	}
}

func (o *secretsObserver) AttemptFinished(_ context.Context, r sender.AttemptReport) { o.add(r) }
func (o *secretsObserver) Delivered(_ context.Context, r sender.AttemptReport)       { o.add(r) }
func (o *secretsObserver) RetryScheduled(_ context.Context, r sender.AttemptReport)  { o.add(r) }
func (o *secretsObserver) DeadLettered(_ context.Context, r sender.AttemptReport)    { o.add(r) }
func (o *secretsObserver) EndpointDisabled(_ context.Context, r sender.EndpointReport) {
	o.add(sender.AttemptReport{Reason: r.Reason})
}
func (o *secretsObserver) EndpointRecovered(_ context.Context, r sender.EndpointReport) {
	o.add(sender.AttemptReport{Reason: r.Reason})
}

// TestSecretsNeverLeak runs a sender and a receiver through deliveries, retries, failures,
// custom Authorization and API-key headers, whsec_ and whsk_ keys, two rotations, signature
// verification failures, dead letters on both sides, an endpoint refused by the SSRF guard and
// one that refuses connections, with both logging at Debug level as JSON and text. Then it
// searches the logs, every error and reason the library produced (returned, observed, in the
// attempt log, dead letters and deliveries), and fmt's %v, %+v, %#v and %s of endpoints, keys,
// keyrings, signers and verifiers for every secret, in every encoding. The receiver's logs
// must not hold signatures or bodies either.
//
//	go test -race -run TestSecretsNeverLeak -v ./internal/hostile/
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var sendLog, recvLog lockedBuffer

	// Secrets.
	s1, s2 := mustSecret(t), "" // s2 comes from RotateSecret
	sk, pk, err := signature.GenerateKeyPair()
	require.NoError(t, err)
	sWrong := mustSecret(t)
	bearer, apiKey := randomToken(t, "tok_"), randomToken(t, "key_")
	qToken, qToken2 := randomToken(t, "q_"), randomToken(t, "q2_")
	malformed := []string{ // secrets typed wrongly: they must not be echoed either
		"whsec_" + strings.TrimPrefix(mustSecret(t), "whsec_")[:20],       // bad base64 length
		"whsec_" + strings.TrimPrefix(mustSecret(t), "whsec_") + "!",      // stray byte
		"whsec_" + base64.StdEncoding.EncodeToString([]byte("short-k3y")), // too short
		"whsk_" + strings.TrimPrefix(sk, "whsk_")[:50],                    // truncated
	}

	// Receiver: knows s1 and the ed25519 public key now, s2 after the first rotation.
	var (
		recvMu      sync.Mutex
		sigs        []string
		authSeen    []string
		recvErrs    []string
		rejected    int
		processed   int
		deadLetters int
	)
	recvKeys := func(keys ...string) *signature.Keyring {
		kr, err := signature.NewKeyringFromStrings(keys...)
		require.NoError(t, err)
		return kr
	}
	// The receiver is rebuilt after the first rotation, when s2 is known; both share the
	// observer.
	recvObserver := receiver.Observer{
		Rejected: func(_ context.Context, r receiver.Rejection) {
			recvMu.Lock()
			defer recvMu.Unlock()
			rejected++
			recvErrs = append(recvErrs, r.Reason, fmt.Sprintf("%+v", r))
			if r.Err != nil {
				recvErrs = append(recvErrs, r.Err.Error())
			}
		},
		Processed: func(context.Context, receiver.Info) {
			recvMu.Lock()
			defer recvMu.Unlock()
			processed++
		},
		Failed: func(_ context.Context, _ receiver.Info, err error) {
			recvMu.Lock()
			defer recvMu.Unlock()
			recvErrs = append(recvErrs, err.Error())
		},
		DeadLettered: func(_ context.Context, _ receiver.Info, err error) {
			recvMu.Lock()
			defer recvMu.Unlock()
			deadLetters++
			recvErrs = append(recvErrs, err.Error())
		},
	}
	var current atomic.Pointer[receiver.Handler]
	newReceiver := func(kr *signature.Keyring) *receiver.Handler {
		h, err := receiver.New(receiver.Config{
			Keys:     kr,
			Logger:   debugLogger(&recvLog),
			Observer: recvObserver,
			Retry:    retry.Schedule{Delays: []time.Duration{0, time.Millisecond, time.Millisecond}},
			Handler: receiver.HandlerFunc(func(_ context.Context, ev event.Event) error {
				if ev.Type == "invoice.unprocessable" {
					return retry.Permanent(errors.New("cannot process this invoice"))
				}
				if ev.Type == "invoice.flaky" {
					return errors.New("temporary failure")
				}
				return nil
			}),
		})
		require.NoError(t, err)
		return h
	}
	h1 := newReceiver(recvKeys(s1, pk))
	current.Store(h1)
	recvSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		recvMu.Lock()
		if sig := r.Header.Get("Webhook-Signature"); sig != "" {
			for _, e := range strings.Fields(sig) {
				if _, v, ok := strings.Cut(e, ","); ok && len(v) > 12 {
					sigs = append(sigs, v)
				}
			}
		}
		authSeen = append(authSeen, r.Header.Get("Authorization"))
		recvMu.Unlock()
		current.Load().ServeHTTP(w, r)
	}))
	defer recvSrv.Close()

	// A failing endpoint (500, then 410 Gone) and a closed port.
	failing := sendertest.NewEndpoint(t, sendertest.Config{}, sendertest.Status(http.StatusInternalServerError, 2), sendertest.Gone())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedURL := "http://" + ln.Addr().String() + "/hook?token=" + qToken2
	require.NoError(t, ln.Close())

	obs := &secretsObserver{changed: make(chan struct{}, 1)}
	s, err := sender.New(sender.Config{
		Logger:          debugLogger(&sendLog),
		Observer:        obs,
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Policy:          retry.Schedule{Delays: []time.Duration{0, time.Millisecond, 2 * time.Millisecond}},
	})
	require.NoError(t, err)
	headers := map[string]string{"Authorization": "Bearer " + bearer, "X-Api-Key": apiKey}
	var errs []error
	endpoints := []sender.Endpoint{
		{ID: "ep_main", URL: recvSrv.URL + "/hook?token=" + qToken, Keys: []sender.EndpointKey{{Secret: s1}}, Headers: headers},
		{ID: "ep_ed25519", URL: recvSrv.URL + "/ed", Keys: []sender.EndpointKey{{Secret: sk}}, Headers: headers},
		{ID: "ep_wrong_key", URL: recvSrv.URL + "/wrong", Keys: []sender.EndpointKey{{Secret: sWrong}}, Headers: headers},
		{ID: "ep_failing", URL: failing.URL + "/f?token=" + qToken, Keys: []sender.EndpointKey{{Secret: s1}}, Headers: headers},
		{ID: "ep_closed", URL: closedURL, Keys: []sender.EndpointKey{{Secret: s1}}, Headers: headers},
		{ID: "ep_blocked", URL: "http://[::1]:1/hook?token=" + qToken, Keys: []sender.EndpointKey{{Secret: s1}}, Headers: headers},
	}
	for _, ep := range endpoints {
		_, err := s.CreateEndpoint(ctx, ep)
		require.NoError(t, err)
	}
	// Rejected endpoints: malformed keys, credentials in the URL, a header with a newline.
	for _, bad := range malformed {
		_, err := s.CreateEndpoint(ctx, sender.Endpoint{URL: recvSrv.URL, Keys: []sender.EndpointKey{{Secret: bad}}})
		require.Error(t, err)
		errs = append(errs, err)
		_, err = signature.ParseKey(bad)
		require.Error(t, err)
		errs = append(errs, err)
		_, err = signature.NewKeyringFromStrings(s1, bad)
		require.Error(t, err)
		errs = append(errs, err)
	}
	for _, bad := range []sender.Endpoint{
		{URL: "https://user:" + bearer + "@example.com/", Keys: []sender.EndpointKey{{Secret: s1}}},
		{URL: recvSrv.URL, Keys: []sender.EndpointKey{{Secret: s1}}, Headers: map[string]string{"Authorization": "Bearer " + bearer + "\r\nX: y"}},
		{URL: recvSrv.URL, Keys: []sender.EndpointKey{{Secret: s1}}, Headers: map[string]string{"Webhook-Signature": apiKey}},
		{URL: "ftp://example.com/?token=" + qToken, Keys: []sender.EndpointKey{{Secret: s1}}},
		{URL: recvSrv.URL + "/" + strings.Repeat("a", 3000) + "?token=" + qToken, Keys: []sender.EndpointKey{{Secret: s1}}},
	} {
		_, err := s.CreateEndpoint(ctx, bad)
		require.Error(t, err)
		errs = append(errs, err)
	}

	runSender(t, s)
	send := func(endpointID, typ string) {
		ev, err := event.New(typ, map[string]string{"marker": "body-marker-7f3a"})
		require.NoError(t, err)
		_, err = s.Send(ctx, endpointID, ev)
		require.NoError(t, err)
	}
	settled := func() {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			var open []sender.Delivery
			for _, st := range []sender.DeliveryState{sender.StatePending, sender.StateInFlight} {
				d, err := s.ListDeliveries(ctx, sender.DeliveryFilter{State: st})
				require.NoError(t, err)
				open = append(open, d...)
			}
			n := len(open)
			if n == 0 {
				return
			}
			select {
			case <-obs.changed:
			case <-time.After(50 * time.Millisecond): // a retry due without an observer report
			case <-deadline:
				t.Fatalf("%d deliveries still unsettled: %+v", n, open)
			}
		}
	}

	// Round 1: s1 and the ed25519 key verify; the wrong key, the failing, closed and blocked
	// endpoints fail, are retried and dead-lettered.
	for _, ep := range endpoints {
		send(ep.ID, "invoice.paid")
	}
	send("ep_main", "invoice.unprocessable")
	send("ep_main", "invoice.flaky")
	settled()

	// Rotation with overlap: s1 and s2 both sign; the receiver learns s2.
	k2, err := s.RotateSecret(ctx, "ep_main", time.Hour)
	require.NoError(t, err)
	s2 = k2.Secret
	h2 := newReceiver(recvKeys(s1, s2, pk))
	current.Store(h2)
	send("ep_main", "invoice.paid")
	settled()

	// Rotation without overlap to a key the receiver does not know: verification failures,
	// retries, a dead letter; then a replay of every dead letter.
	k3, err := s.RotateSecret(ctx, "ep_main", 0)
	require.NoError(t, err)
	send("ep_main", "invoice.paid")
	settled()
	_, err = s.EnableEndpoint(ctx, "ep_failing") // disabled by its 410; its replay is delivered
	require.NoError(t, err)
	n, err := s.ReplaySince(ctx, time.Time{}.Add(time.Nanosecond))
	require.NoError(t, err)
	require.Positive(t, n)
	settled()

	// Collect everything the library produced.
	var texts []string
	for _, e := range errs {
		texts = append(texts, e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e))
	}
	attempts, err := s.ListAttempts(ctx, sender.AttemptFilter{Limit: 10_000})
	require.NoError(t, err)
	for _, a := range attempts {
		texts = append(texts, a.Error, a.ResponseSnippet, a.Outcome, fmt.Sprintf("%+v", a))
	}
	deliveries, err := s.ListDeliveries(ctx, sender.DeliveryFilter{Limit: 10_000})
	require.NoError(t, err)
	for _, d := range deliveries {
		texts = append(texts, d.LastError, fmt.Sprintf("%+v", d))
	}
	dead, err := s.ListDeadLetters(ctx, sender.DeadLetterFilter{Limit: 10_000})
	require.NoError(t, err)
	for _, d := range dead {
		texts = append(texts, d.LastError)
	}
	eps, err := s.ListEndpoints(ctx, sender.EndpointFilter{})
	require.NoError(t, err)
	var printable []any
	for _, ep := range eps {
		printable = append(printable, ep, &ep)
		for _, k := range ep.Keys {
			printable = append(printable, k, &k)
		}
		texts = append(texts, ep.DisabledReason)
	}
	for _, str := range []string{s1, s2, k3.Secret, sk, pk, sWrong} {
		k, err := signature.ParseKey(str)
		require.NoError(t, err)
		kr := signature.MustKeyring(str)
		printable = append(printable, k, &k, kr, signature.Entry{Key: k})
		if k.CanSign() {
			signer, err := signature.NewSigner(signature.SignerConfig{Keys: kr})
			require.NoError(t, err)
			printable = append(printable, signer)
		}
		v, err := signature.NewVerifier(signature.VerifierConfig{Keys: kr})
		require.NoError(t, err)
		printable = append(printable, v)
		j, err := k.MarshalJSON()
		require.NoError(t, err)
		texts = append(texts, string(j))
	}
	for _, p := range printable {
		texts = append(texts, fmt.Sprintf("%v", p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p), fmt.Sprintf("%s", p))
	}
	// slog of endpoints and keys, through the captured logger.
	logger := debugLogger(&sendLog)
	for _, p := range printable {
		logger.Debug("printing a value", "value", p)
	}
	obs.mu.Lock()
	texts = append(texts, obs.texts...)
	obs.mu.Unlock()

	// Stop the receivers (their workers may still log) before reading their logs.
	for _, h := range []*receiver.Handler{h1, h2} {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		require.NoError(t, h.Shutdown(sctx))
		cancel()
	}
	recvMu.Lock()
	texts = append(texts, recvErrs...)
	haystacks := map[string]string{
		"sender log":   sendLog.String(),
		"receiver log": recvLog.String(),
		"errors, reports, attempt log, printed values": strings.Join(texts, "\n"),
	}
	signatures := append([]string(nil), sigs...)
	sawBearer := strings.Count(strings.Join(authSeen, "\n"), bearer)
	stats := fmt.Sprintf("receiver: processed %d, rejected %d, dead-lettered %d", processed, rejected, deadLetters)
	require.GreaterOrEqual(t, processed, 3, "s1, s2 and ed25519 signatures verified")
	require.Positive(t, rejected, "verification failures")
	require.Equal(t, 2, deadLetters, "invoice.unprocessable and invoice.flaky")
	recvMu.Unlock()

	// The scenario did what it should, so the search means something.
	require.Positive(t, sawBearer, "the custom Authorization header was sent")
	require.NotEmpty(t, dead, "dead letters")
	secrets := map[string]string{"s1": s1, "s2": s2, "s3": k3.Secret, "whsk": sk, "wrong key": sWrong,
		"bearer token": bearer, "API key": apiKey, "query token": qToken, "query token 2": qToken2}
	needles := 0
	forms := map[string][]string{}
	for name, secret := range secrets {
		forms[name] = secretForms(t, secret)
	}
	for i, m := range malformed {
		// Not decodable: search the text after the prefix, in windows.
		_, body, _ := strings.Cut(m, "_")
		forms[fmt.Sprintf("malformed secret %d", i)] = append([]string{m}, windows(body, 12)...)
	}
	for name, fs := range forms {
		for _, form := range fs {
			needles++
			for where, hay := range haystacks {
				require.NotContains(t, hay, form, "%s (form %q) found in the %s", name, form, where)
			}
		}
	}
	for _, sig := range signatures {
		require.NotContains(t, recvLog.String(), sig, "a signature in the receiver's log")
	}
	require.NotContains(t, recvLog.String(), "body-marker-7f3a", "a body in the receiver's log")
	t.Logf("secrets: %d secrets, %d needles (forms and windows) searched in %d B of sender logs, %d B of receiver logs and %d texts (%d attempts, %d deliveries, %d errors, %d printed values x 4 verbs); receiver signatures checked %d; %s; found 0",
		len(secrets), needles, len(haystacks["sender log"]), len(haystacks["receiver log"]), len(texts), len(attempts), len(deliveries), len(errs), len(printable), len(signatures), stats)
}

// TestSecretFormsFindPlantedLeaks shows the search of TestSecretsNeverLeak can fail: a secret
// planted in any encoding, or in part, is found.
func TestSecretFormsFindPlantedLeaks(t *testing.T) {
	t.Parallel()
	secret := mustSecret(t)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	require.NoError(t, err)
	sk, _, err := signature.GenerateKeyPair()
	require.NoError(t, err)
	seed, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sk, "whsk_"))
	require.NoError(t, err)
	found := func(secret, hay string) bool {
		for _, f := range secretForms(t, secret) {
			if strings.Contains(hay, f) {
				return true
			}
		}
		return false
	}
	for name, hay := range map[string]string{
		"the secret":                     "key=" + secret,
		"its base64 without the prefix":  "k " + strings.TrimPrefix(secret, "whsec_") + " x",
		"its first 16 base64 characters": `"key":"` + strings.TrimPrefix(secret, "whsec_")[:16] + `…"`,
		"its raw bytes in hex":           fmt.Sprintf("key=%x", raw),
		"its raw bytes in upper hex":     fmt.Sprintf("key=%X", raw),
		"its raw bytes in URL base64":    base64.RawURLEncoding.EncodeToString(raw),
		"its raw bytes":                  string(raw),
		"its raw bytes as %v":            fmt.Sprintf("%#v", raw),
	} {
		require.True(t, found(secret, hay), name)
	}
	require.True(t, found(sk, fmt.Sprintf("%x", seed[:32])), "an ed25519 seed in hex")
	require.False(t, found(secret, "whsec_[REDACTED] "+mustSecret(t)), "another secret does not match")
}
