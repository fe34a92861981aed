// Package sendertest provides test helpers for code that sends webhooks with package sender:
// a scriptable webhook endpoint on loopback that records every request, with its arrival time,
// and verifies its Standard Webhooks signature.
//
// A script is a list of steps, each answering a number of requests: a status code n times,
// 429 with Retry-After, 410 Gone, a redirect, an answer after a delay, or a hang until the
// sender gives up. After the script, the endpoint answers 200 OK.
//
//	ep := sendertest.NewEndpoint(t, sendertest.Config{Keys: []string{secret}},
//		sendertest.Status(http.StatusInternalServerError, 2), // two failures
//		sendertest.Gone(),                                   // then 410 Gone
//	)
//	// point a sender.Endpoint at ep.URL (with sender.Config.AllowPrivateNetworks: loopback)
//	reqs := ep.WaitForRequests(t, 3)
//	ep.RequireVerified(t)
//
// [Clock] is a fake clock for sender.Config.Clock, so tests drive a sender's retry schedule,
// rate limits and circuit breakers without sleeping.
//
// Like net/http/httptest, helpers fail the test (or panic on programmer error) rather than
// returning errors, so tests stay short.
package sendertest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/signature"
)

// Step is one part of an endpoint's script: how to answer the next Times requests.
type Step struct {
	// Status is the status code to answer. Defaults to 200.
	Status int
	// Times is how many requests this step answers. Defaults to 1; a negative value answers
	// every remaining request.
	Times int
	// Header is added to the response (for example Retry-After or Location).
	Header http.Header
	// Body is the response body.
	Body string
	// Delay makes the endpoint wait before answering (a slow endpoint). The wait ends early
	// when the sender gives up on the request.
	Delay time.Duration
	// Hang makes the endpoint never answer: it waits until the sender gives up (its timeout)
	// or the endpoint is closed.
	Hang bool
}

// Status answers code to the next n requests.
func Status(code, n int) Step { return Step{Status: code, Times: n} }

// OK answers 200 to the next n requests.
func OK(n int) Step { return Step{Status: http.StatusOK, Times: n} }

// RetryAfter answers 429 Too Many Requests with a Retry-After header of after (delay-seconds
// or an HTTP-date), once.
func RetryAfter(after string) Step {
	return Step{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {after}}}
}

// RetryAfterSeconds answers 429 with Retry-After set to d in whole seconds, once.
func RetryAfterSeconds(d time.Duration) Step {
	return RetryAfter(strconv.FormatInt(int64(d/time.Second), 10))
}

// Gone answers 410 Gone once: the sender should disable the endpoint.
func Gone() Step { return Step{Status: http.StatusGone} }

// Redirect answers 301 Moved Permanently to location once. Senders must not follow it.
func Redirect(location string) Step {
	return Step{Status: http.StatusMovedPermanently, Header: http.Header{"Location": {location}}}
}

// Hang never answers the next request: it waits until the sender times out.
func Hang() Step { return Step{Hang: true} }

// Slow answers 200 after d, once.
func Slow(d time.Duration) Step { return Step{Status: http.StatusOK, Delay: d} }

// Config configures NewEndpoint.
type Config struct {
	// Keys are the Standard Webhooks keys ("whsec_…", "whpk_…") requests are verified with.
	// Defaults to none: signatures are not checked and Request.SignatureErr is nil.
	Keys []string
	// Now is the verifier's clock, for senders driven by a fake clock. Defaults to time.Now.
	Now func() time.Time
	// Tolerance is the verifier's timestamp tolerance. Defaults to the signature package's
	// default (5 minutes).
	Tolerance time.Duration
}

// Request is one request the endpoint received.
type Request struct {
	// At is the (wall clock) arrival time.
	At time.Time
	// Method, Path and Header are the request's.
	Method string
	Path   string
	Header http.Header
	// Body is the full request body.
	Body []byte
	// ID is the webhook-id header (the event id).
	ID string
	// SignatureErr is the verification error, nil when the signature verified (or no keys
	// were configured).
	SignatureErr error
	// Status is the status code the endpoint answered (0 for a hang).
	Status int
}

// Endpoint is a scriptable webhook endpoint on loopback. It is safe for concurrent use.
type Endpoint struct {
	// URL is the endpoint's base URL (http://127.0.0.1:port).
	URL string

	srv      *httptest.Server
	verifier *signature.StandardVerifier
	closing  chan struct{}
	once     sync.Once

	mu      sync.Mutex
	script  []Step
	reqs    []Request
	changed chan struct{} // closed and replaced when a request is recorded
}

// NewEndpoint starts an endpoint answering steps, then 200 OK. It is closed when the test
// ends. It panics on a bad key.
func NewEndpoint(tb testing.TB, cfg Config, steps ...Step) *Endpoint {
	tb.Helper()
	e := &Endpoint{closing: make(chan struct{}), changed: make(chan struct{})}
	if len(cfg.Keys) > 0 {
		kr, err := signature.NewKeyringFromStrings(cfg.Keys...)
		if err != nil {
			panic(fmt.Sprintf("sendertest: bad key: %v", err))
		}
		v, err := signature.NewVerifier(signature.VerifierConfig{Keys: kr, Now: cfg.Now, Tolerance: cfg.Tolerance})
		if err != nil {
			panic(fmt.Sprintf("sendertest: %v", err))
		}
		e.verifier = v
	}
	e.Script(steps...)
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	e.URL = e.srv.URL
	tb.Cleanup(e.Close)
	return e
}

// Close stops the endpoint, ending hanging requests. It is called at the end of the test.
func (e *Endpoint) Close() {
	e.once.Do(func() {
		close(e.closing)
		e.srv.CloseClientConnections()
		e.srv.Close()
	})
}

// Script appends steps to the endpoint's script.
func (e *Endpoint) Script(steps ...Step) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range steps {
		if s.Status == 0 && !s.Hang {
			s.Status = http.StatusOK
		}
		if s.Times == 0 {
			s.Times = 1
		}
		e.script = append(e.script, s)
	}
}

// next takes the step answering the next request.
func (e *Endpoint) next() Step {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.script) == 0 {
		return Step{Status: http.StatusOK}
	}
	s := e.script[0]
	switch {
	case s.Times < 0:
	case s.Times <= 1:
		e.script = e.script[1:]
	default:
		e.script[0].Times--
	}
	return s
}

func (e *Endpoint) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(r.Body)
	req := Request{At: at, Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, ID: r.Header.Get(signature.HeaderID)}
	if e.verifier != nil {
		req.SignatureErr = e.verifier.Verify(r.Header, body)
	}
	s := e.next()
	if !s.Hang {
		req.Status = s.Status
	}
	e.record(req)

	switch {
	case s.Hang:
		select {
		case <-r.Context().Done():
		case <-e.closing:
		}
		return
	case s.Delay > 0:
		t := time.NewTimer(s.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-e.closing:
			return
		}
	}
	for k, vs := range s.Header {
		w.Header()[http.CanonicalHeaderKey(k)] = vs
	}
	w.WriteHeader(s.Status)
	_, _ = io.WriteString(w, s.Body)
}

func (e *Endpoint) record(r Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reqs = append(e.reqs, r)
	close(e.changed)
	e.changed = make(chan struct{})
}

// Requests returns the requests received so far, in arrival order.
func (e *Endpoint) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Request(nil), e.reqs...)
}

// Count returns the number of requests received so far.
func (e *Endpoint) Count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.reqs)
}

// DefaultWait is how long WaitForRequests waits before failing the test.
const DefaultWait = 10 * time.Second

// WaitForRequests waits until at least n requests have arrived and returns them all. It fails
// the test after DefaultWait.
func (e *Endpoint) WaitForRequests(tb testing.TB, n int) []Request {
	tb.Helper()
	deadline := time.NewTimer(DefaultWait)
	defer deadline.Stop()
	for {
		e.mu.Lock()
		got, ch := len(e.reqs), e.changed
		e.mu.Unlock()
		if got >= n {
			return e.Requests()
		}
		select {
		case <-ch:
		case <-deadline.C:
			tb.Fatalf("sendertest: waited %v for %d requests, got %d", DefaultWait, n, got)
			return nil
		}
	}
}

// Changed returns a channel closed at the next request, for tests that wait on several
// things at once.
func (e *Endpoint) Changed() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed
}

// RequireVerified fails the test unless every request so far carried a valid signature.
func (e *Endpoint) RequireVerified(tb testing.TB) {
	tb.Helper()
	for i, r := range e.Requests() {
		if r.SignatureErr != nil {
			tb.Fatalf("sendertest: request %d (webhook-id %q) failed verification: %v", i, r.ID, r.SignatureErr)
		}
	}
}
