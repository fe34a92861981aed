package sender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookkit/hookkit/internal/clock"
	"github.com/hookkit/hookkit/retry"
	"github.com/hookkit/hookkit/signature"
)

// Version is the hookkit version, sent in the User-Agent header of every attempt as
// "hookkit/<Version>".
const Version = "0.1.0"

// userAgent is the User-Agent of every attempt.
const userAgent = "hookkit/" + Version

// Defaults of the HTTP side of an attempt.
const (
	// DefaultTimeout is the per-attempt timeout when neither Config.Timeout nor the endpoint's
	// own timeout is set.
	DefaultTimeout = 15 * time.Second
	// DefaultMaxResponseBytes is how much of a response body an attempt reads at most.
	DefaultMaxResponseBytes = 64 << 10
	// DefaultSnippetBytes is how much of a response body the attempt log keeps.
	DefaultSnippetBytes = 256
	// DefaultMaxConnsPerHost caps the connections the sender opens to one host.
	DefaultMaxConnsPerHost = 64
)

// errRedirect is the Outcome error of a 3xx answer: redirects are never followed.
var errRedirect = errors.New("sender: endpoint answered with a redirect; redirects are not followed")

// attemptRequest is what one attempt sends.
type attemptRequest struct {
	url     string
	eventID string
	body    []byte
	headers map[string]string // custom headers; values are secrets
	signer  *signature.Signer
	timeout time.Duration
}

// attemptResult is what one attempt got back.
type attemptResult struct {
	outcome  retry.Outcome
	started  time.Time
	duration time.Duration
	snippet  string // at most snippetBytes of the response body, valid UTF-8
}

// attempter makes attempts: signs afresh, POSTs, reads a capped body and classifies.
type attempter struct {
	client     *http.Client
	classifier retry.Classifier
	clock      clock.Clock
	maxBody    int64
	snippet    int
}

// do makes one attempt. It never returns an error: every failure is in the outcome.
func (a *attempter) do(ctx context.Context, r attemptRequest) attemptResult {
	res := attemptResult{started: a.clock.Now()}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(r.body))
	if err != nil {
		res.outcome = retry.Outcome{Kind: retry.PermanentFailure, Err: fmt.Errorf("sender: building request: %w", err)}
		return res
	}
	h := req.Header
	for k, v := range r.headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", userAgent)
	if err := r.signer.SignHeader(h, r.eventID, res.started, r.body); err != nil {
		// No key can sign (all expired): retrying will not help until keys change.
		res.outcome = retry.Outcome{Kind: retry.PermanentFailure, Err: fmt.Errorf("sender: signing: %w", err)}
		return res
	}

	resp, err := a.client.Do(req)
	if resp != nil {
		res.snippet = a.readBody(resp.Body)
		resp.Body.Close()
	}
	res.outcome = a.classifier.Classify(resp, err)
	if res.outcome.Err == nil && resp != nil && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		res.outcome.Err = errRedirect
	}
	if res.outcome.Err != nil {
		res.outcome.Err = cleanError(res.outcome.Err)
	}
	res.duration = a.clock.Since(res.started)
	return res
}

// readBody reads up to maxBody bytes (so the connection can be reused after small answers) and
// returns the snippet.
func (a *attempter) readBody(body io.Reader) string {
	lr := io.LimitReader(body, a.maxBody)
	buf := make([]byte, min(int64(a.snippet), a.maxBody))
	n, _ := io.ReadFull(lr, buf)
	_, _ = io.Copy(io.Discard, lr)
	return strings.ToValidUTF8(string(buf[:n]), "\uFFFD")
}

// cleanError removes the request URL from *url.Error texts (the URL may carry a token in its
// query) while keeping the whole chain for errors.Is/As.
func cleanError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &attemptError{op: ue.Op, err: ue.Err, cause: err}
	}
	return err
}

// attemptError is a transport error without the URL in its text.
type attemptError struct {
	op    string
	err   error // what Error prints
	cause error // the original chain
}

func (e *attemptError) Error() string   { return e.op + ": " + e.err.Error() }
func (e *attemptError) Unwrap() []error { return []error{e.err, e.cause} }

// noRedirect makes an http.Client return 3xx answers instead of following them.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// dialFunc dials a connection (the SSRF guard's DialContext).
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// newTransport returns the sender's transport: keep-alive, per-host connection cap, no proxy
// (a proxy would dial on our behalf and dodge the SSRF guard), dialling through dial.
func newTransport(base *http.Transport, dial dialFunc, maxConnsPerHost int) *http.Transport {
	var t *http.Transport
	if base != nil {
		t = base.Clone()
	} else {
		t = &http.Transport{
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          1024,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
		t.MaxConnsPerHost = maxConnsPerHost
		t.MaxIdleConnsPerHost = maxConnsPerHost
	}
	t.DialContext = dial
	t.DialTLSContext = nil
	return t
}

// newHTTPClient returns the client of a Sender: the given one (copied, with redirects turned
// off) or one on transport.
func newHTTPClient(user *http.Client, transport http.RoundTripper) *http.Client {
	if user != nil {
		c := *user
		c.CheckRedirect = noRedirect
		return &c
	}
	return &http.Client{Transport: transport, CheckRedirect: noRedirect}
}
