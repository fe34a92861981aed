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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hookkit/hookkit/internal/clock"
	"github.com/hookkit/hookkit/internal/ssrf"
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
	// DefaultMaxResponseBytes is how much of a response body an attempt reads at most.
	DefaultMaxResponseBytes = 64 << 10
	// DefaultMaxResponseHeaderBytes caps the response headers an attempt reads (net/http's
	// own default is 10 MiB, which would let a customer's endpoint make every attempt buffer
	// megabytes). A response with larger headers is a failed attempt, retried like any other.
	// It applies unless Config.Transport sets its own MaxResponseHeaderBytes.
	DefaultMaxResponseHeaderBytes = 64 << 10
	// DefaultSnippetBytes is how much of a response body the attempt log keeps.
	DefaultSnippetBytes = 256
	// DefaultMaxConnsPerHost caps the connections the sender opens to one host.
	DefaultMaxConnsPerHost = 64
)

// ErrDestinationBlocked is the attempt error when the SSRF guard refused the address an
// endpoint's host resolved to (private, loopback, link-local, metadata, … ranges). The delivery
// is dead-lettered at once. Allow the range with Config.AllowPrivateNetworks,
// Config.AllowedNetworks or Config.AllowedHosts if the endpoint is trusted.
var ErrDestinationBlocked = errors.New("sender: destination refused by the SSRF guard")

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
		res.outcome = retry.Outcome{Kind: retry.PermanentFailure, Err: fmt.Errorf("sender: building request: %w", cleanError(err))}
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
		var blocked *ssrf.BlockedError
		if errors.As(res.outcome.Err, &blocked) {
			// The URL leads into a refused network: retrying cannot help until the endpoint
			// or the sender's allow-list changes.
			res.outcome.Kind = retry.PermanentFailure
			res.outcome.Err = fmt.Errorf("%w: %w (to permit it, set sender.Config.AllowedNetworks, AllowedHosts or AllowPrivateNetworks)", ErrDestinationBlocked, blocked)
		} else {
			res.outcome.Err = cleanError(res.outcome.Err)
		}
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
		if t.MaxConnsPerHost == 0 {
			t.MaxConnsPerHost = maxConnsPerHost
		}
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
	if t.MaxResponseHeaderBytes == 0 {
		t.MaxResponseHeaderBytes = DefaultMaxResponseHeaderBytes
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

// signerCache keeps one signature.Signer per endpoint, rebuilt when the endpoint's keys change,
// so secrets are parsed once, not per attempt. It is safe for concurrent use.
type signerCache struct {
	now func() time.Time
	mu  sync.RWMutex
	m   map[string]*cachedSigner
}

type cachedSigner struct {
	keys   []EndpointKey
	signer *signature.Signer
}

func sameKeys(a, b []EndpointKey) bool {
	return slices.EqualFunc(a, b, func(x, y EndpointKey) bool {
		return x.Secret == y.Secret && x.NotAfter.Equal(y.NotAfter)
	})
}

// get returns the signer for ep's current keys.
func (c *signerCache) get(ep *Endpoint) (*signature.Signer, error) {
	c.mu.RLock()
	cs := c.m[ep.ID]
	c.mu.RUnlock()
	if cs != nil && sameKeys(cs.keys, ep.Keys) {
		return cs.signer, nil
	}
	entries := make([]signature.Entry, 0, len(ep.Keys))
	for i, k := range ep.Keys {
		key, err := signature.ParseKey(k.Secret)
		if err != nil {
			// The error of ParseKey never holds the secret.
			return nil, fmt.Errorf("sender: endpoint key %d: %w", i, err)
		}
		entries = append(entries, signature.Entry{Key: key, NotAfter: k.NotAfter})
	}
	kr, err := signature.NewKeyring(entries...)
	if err != nil {
		return nil, fmt.Errorf("sender: endpoint keys: %w", err)
	}
	s, err := signature.NewSigner(signature.SignerConfig{Keys: kr, Now: c.now})
	if err != nil {
		return nil, fmt.Errorf("sender: endpoint keys: %w", err)
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]*cachedSigner)
	}
	c.m[ep.ID] = &cachedSigner{keys: slices.Clone(ep.Keys), signer: s}
	c.mu.Unlock()
	return s, nil
}

// forget drops an endpoint's signer.
func (c *signerCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}
