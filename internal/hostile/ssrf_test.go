package hostile_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/event"
	"github.com/hookkit/hookkit/internal/ssrf"
	"github.com/hookkit/hookkit/retry"
	"github.com/hookkit/hookkit/sender"
	"github.com/hookkit/hookkit/sender/sendertest"
)

// These tests never let a packet leave loopback. Host names are answered by a fake resolver,
// and the guards built here dial through safetyDialer, whose Control hook (run after the
// guard's own check, just before connect) refuses every non-loopback address: a guard that
// wrongly let an address through is caught there, before anything is sent, and fails the
// test. The sender's own guard (no custom client) is only given IP-literal URLs, after
// Config.DialContext (the same guard) was seen to refuse them with a cancelled context,
// which connects to nothing.
//
// sender.Config has no resolver injection point (its guard always uses net.DefaultResolver),
// so host names go through Config.HTTPClient with a guard built like the sender's own
// (ssrf.Config{AllowPrivate, Allow, AllowHosts} from the same fields) plus the fake resolver.

// targetServer is a loopback server that must receive nothing.
type targetServer struct {
	*httptest.Server
	port string
	hits atomic.Int64
}

func newTarget(t *testing.T) *targetServer {
	t.Helper()
	ts := &targetServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.hits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(ts.Close)
	_, ts.port, _ = net.SplitHostPort(ts.Listener.Addr().String())
	return ts
}

// fakeResolver answers from a function and counts lookups.
type fakeResolver struct {
	mu      sync.Mutex
	lookups map[string]int
	answer  func(host string, n int) []netip.Addr
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	r.lookups[host]++
	n := r.lookups[host]
	r.mu.Unlock()
	addrs := r.answer(host, n)
	if addrs == nil {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return addrs, nil
}

func (r *fakeResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lookups[host]
}

// safetyDialer records every address a guard was about to connect to and refuses all but
// loopback, so nothing is ever sent elsewhere.
type safetyDialer struct {
	mu       sync.Mutex
	attempts []string
}

var errNotLoopback = errors.New("hostile test: refusing to connect outside loopback")

func (s *safetyDialer) dialer() *net.Dialer {
	return &net.Dialer{Timeout: 5 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		s.mu.Lock()
		s.attempts = append(s.attempts, address)
		s.mu.Unlock()
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			return errNotLoopback
		}
		return nil
	}}
}

func (s *safetyDialer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.attempts...)
}

// guardedClient returns an http.Client dialling through a guard configured like a Sender's
// with cfg, resolving with res and connecting through sd.
func guardedClient(t *testing.T, cfg sender.Config, res ssrf.Resolver, sd *safetyDialer) *http.Client {
	t.Helper()
	g, err := ssrf.New(ssrf.Config{AllowPrivate: cfg.AllowPrivateNetworks, Allow: cfg.AllowedNetworks, AllowHosts: cfg.AllowedHosts, Resolver: res, Dialer: sd.dialer()})
	require.NoError(t, err)
	tr := &http.Transport{DialContext: g.DialContext, Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// deadLetters collects the sender's reports by endpoint.
type deadLetters struct {
	sender.NopObserver
	mu       sync.Mutex
	dead     map[string]sender.AttemptReport
	attempts map[string]int
	changed  chan struct{}
}

func newDeadLetters() *deadLetters {
	return &deadLetters{dead: map[string]sender.AttemptReport{}, attempts: map[string]int{}, changed: make(chan struct{}, 1)}
}

func (d *deadLetters) AttemptFinished(_ context.Context, r sender.AttemptReport) {
	d.mu.Lock()
	d.attempts[r.EndpointID]++
	d.mu.Unlock()
}

func (d *deadLetters) DeadLettered(_ context.Context, r sender.AttemptReport) {
	d.mu.Lock()
	d.dead[r.EndpointID] = r
	d.mu.Unlock()
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

// wait waits until n endpoints have a dead letter.
func (d *deadLetters) wait(t *testing.T, n int) map[string]sender.AttemptReport {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		d.mu.Lock()
		if len(d.dead) >= n {
			out := make(map[string]sender.AttemptReport, len(d.dead))
			for k, v := range d.dead {
				out[k] = v
			}
			d.mu.Unlock()
			return out
		}
		have := len(d.dead)
		d.mu.Unlock()
		select {
		case <-d.changed:
		case <-deadline:
			t.Fatalf("%d of %d deliveries dead-lettered", have, n)
		}
	}
}

// runSender starts s and stops it at the end of the test.
func runSender(t *testing.T, s *sender.Sender) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.Shutdown(ctx))
		require.NoError(t, <-done)
	})
}

// sendOne sends one event to the endpoint.
func sendOne(t *testing.T, s *sender.Sender, endpointID string) {
	t.Helper()
	ev, err := event.New("invoice.paid", map[string]string{"invoice_id": "in_1"})
	require.NoError(t, err)
	_, err = s.Send(context.Background(), endpointID, ev)
	require.NoError(t, err)
}

// refusedAddrs are addresses in every range the sender refuses by default
// (reference/retry-and-status.md, "SSRF"), with the edges of the larger ranges, and
// the IPv6 forms that embed a refused IPv4 address.
var refusedAddrs = []struct{ name, addr string }{
	{"this network 0.0.0.0/8", "0.0.0.0"},
	{"this network 0.0.0.0/8, last", "0.255.255.255"},
	{"private 10/8", "10.0.0.1"},
	{"private 10/8, last", "10.255.255.255"},
	{"CGNAT 100.64/10", "100.64.0.1"},
	{"CGNAT 100.64/10, last", "100.127.255.255"},
	{"loopback 127/8", "127.0.0.1"},
	{"loopback 127/8, last", "127.255.255.254"},
	{"link-local 169.254/16", "169.254.0.1"},
	{"cloud metadata 169.254.169.254", "169.254.169.254"},
	{"private 172.16/12", "172.16.0.1"},
	{"private 172.16/12, last", "172.31.255.255"},
	{"IETF protocol assignments 192.0.0/24", "192.0.0.8"},
	{"private 192.168/16", "192.168.1.1"},
	{"benchmarking 198.18/15", "198.18.0.1"},
	{"benchmarking 198.18/15, last", "198.19.255.255"},
	{"multicast 224/4", "224.0.0.1"},
	{"multicast 224/4, last", "239.255.255.250"},
	{"reserved 240/4", "240.0.0.1"},
	{"broadcast", "255.255.255.255"},
	{"IPv6 unspecified ::", "::"},
	{"IPv6 loopback ::1", "::1"},
	{"IPv6 unique local fc00::/7", "fc00::1"},
	{"AWS IMDS fd00:ec2::254", "fd00:ec2::254"},
	{"IPv6 link-local fe80::/10", "fe80::1"},
	{"IPv6 multicast ff00::/8", "ff02::1"},
	{"IPv4-mapped loopback ::ffff:127.0.0.1", "::ffff:127.0.0.1"},
	{"IPv4-mapped private ::ffff:10.0.0.1", "::ffff:10.0.0.1"},
	{"IPv4-mapped metadata ::ffff:169.254.169.254", "::ffff:169.254.169.254"},
	{"NAT64 loopback 64:ff9b::7f00:1", "64:ff9b::7f00:1"},
	{"NAT64 metadata 64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe"},
	{"NAT64 private 64:ff9b::c0a8:101", "64:ff9b::c0a8:101"},
	{"6to4 loopback 2002:7f00:1::", "2002:7f00:1::"},
	{"6to4 metadata 2002:a9fe:a9fe::1", "2002:a9fe:a9fe::1"},
	{"6to4 private 2002:a00:1::", "2002:a00:1::"},
	{"IPv4-compatible ::127.0.0.1", "::7f00:1"},
}

// TestSSRFHostNamesResolvingIntoRefusedRanges gives the Sender one endpoint per refused
// address, named by a host the fake resolver maps to it (URL port: a loopback target's), and
// a name that answers a public and a private address together. Every delivery is
// dead-lettered at its first attempt with ErrDestinationBlocked naming the address and the
// rule and the sender.Config settings that would permit it, no connection is attempted, the
// target receives nothing, and the URL's query string stays out of the error.
//
//	go test -race -run TestSSRFHostNamesResolvingIntoRefusedRanges -v ./internal/hostile/
func TestSSRFHostNamesResolvingIntoRefusedRanges(t *testing.T) {
	t.Parallel()
	target := newTarget(t)
	hosts := map[string][]netip.Addr{}
	for i, c := range refusedAddrs {
		hosts[fmt.Sprintf("h%02d.hostile.test", i)] = []netip.Addr{netip.MustParseAddr(c.addr)}
	}
	hosts["mixed.hostile.test"] = []netip.Addr{netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("127.0.0.1")}
	res := &fakeResolver{lookups: map[string]int{}, answer: func(host string, _ int) []netip.Addr { return hosts[host] }}
	sd := &safetyDialer{}
	obs := newDeadLetters()
	cfg := sender.Config{Logger: discard(), Observer: obs}
	cfg.HTTPClient = guardedClient(t, cfg, res, sd)
	s, err := sender.New(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	for host := range hosts {
		_, err := s.CreateEndpoint(ctx, sender.Endpoint{ID: host, URL: "http://" + host + ":" + target.port + "/hook?token=query-secret-123", Keys: []sender.EndpointKey{{Secret: mustSecret(t)}}})
		require.NoError(t, err)
		sendOne(t, s, host)
	}
	runSender(t, s)
	dead := obs.wait(t, len(hosts))

	check := func(t *testing.T, host string, want netip.Addr) {
		r := dead[host]
		require.ErrorIs(t, r.Err, sender.ErrDestinationBlocked)
		require.ErrorIs(t, r.Err, ssrf.ErrBlocked)
		var be *ssrf.BlockedError
		require.ErrorAs(t, r.Err, &be)
		require.Equal(t, want.Unmap(), be.IP.Unmap(), "the error names the refused address")
		require.NotEmpty(t, be.Reason)
		require.Contains(t, r.Err.Error(), "refused")
		require.Contains(t, r.Err.Error(), be.Reason, "the error says which rule refused it")
		require.Contains(t, r.Err.Error(), "sender.Config.AllowedNetworks", "the error names the setting a Sender user can change")
		require.NotContains(t, r.Err.Error(), "ssrf.Config", "the error does not name the internal guard's settings")
		require.NotContains(t, r.Err.Error(), "query-secret-123")
		require.Equal(t, 1, r.Attempt, "dead-lettered at the first attempt, not retried")
		d, err := s.ListDeadLetters(ctx, sender.DeadLetterFilter{EndpointID: host})
		require.NoError(t, err)
		require.Len(t, d, 1)
		require.Contains(t, d[0].LastError, be.Reason)
		require.NotContains(t, d[0].LastError, "query-secret-123")
		t.Logf("%s: %v", host, r.Err)
	}
	for i, c := range refusedAddrs {
		t.Run(c.name, func(t *testing.T) {
			check(t, fmt.Sprintf("h%02d.hostile.test", i), netip.MustParseAddr(c.addr))
		})
	}
	t.Run("a name answering a public and a private address", func(t *testing.T) {
		check(t, "mixed.hostile.test", netip.MustParseAddr("127.0.0.1"))
	})
	require.Empty(t, sd.seen(), "no connection was attempted")
	require.Zero(t, target.hits.Load(), "nothing reached the loopback target")
	t.Logf("SSRF by host name: %d endpoints, %d dead-lettered with ErrDestinationBlocked, connections attempted %d, requests received %d",
		len(hosts), len(dead), len(sd.seen()), target.hits.Load())
}

// TestSSRFMetadataRefusedEvenWithPrivateNetworksAllowed: AllowPrivateNetworks opens private
// ranges but never cloud metadata addresses, in any form.
//
//	go test -race -run TestSSRFMetadataRefusedEvenWithPrivateNetworksAllowed -v ./internal/hostile/
func TestSSRFMetadataRefusedEvenWithPrivateNetworksAllowed(t *testing.T) {
	t.Parallel()
	target := newTarget(t)
	metadata := []string{"169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1"}
	res := &fakeResolver{lookups: map[string]int{}, answer: func(host string, _ int) []netip.Addr {
		var i int
		if _, err := fmt.Sscanf(host, "m%d.hostile.test", &i); err != nil || i >= len(metadata) {
			return nil
		}
		return []netip.Addr{netip.MustParseAddr(metadata[i])}
	}}
	sd := &safetyDialer{}
	obs := newDeadLetters()
	cfg := sender.Config{Logger: discard(), Observer: obs, AllowPrivateNetworks: true}
	cfg.HTTPClient = guardedClient(t, cfg, res, sd)
	s, err := sender.New(cfg)
	require.NoError(t, err)
	for i := range metadata {
		id := fmt.Sprintf("m%d.hostile.test", i)
		_, err := s.CreateEndpoint(context.Background(), sender.Endpoint{ID: id, URL: "http://" + id + ":" + target.port + "/", Keys: []sender.EndpointKey{{Secret: mustSecret(t)}}})
		require.NoError(t, err)
		sendOne(t, s, id)
	}
	runSender(t, s)
	dead := obs.wait(t, len(metadata))
	for i, a := range metadata {
		r := dead[fmt.Sprintf("m%d.hostile.test", i)]
		require.ErrorIs(t, r.Err, sender.ErrDestinationBlocked, a)
		require.Contains(t, r.Err.Error(), "metadata", a)
	}
	require.Empty(t, sd.seen())
	require.Zero(t, target.hits.Load())
}

// TestSSRFLiteralAddressesThroughTheSendersOwnGuard uses the Sender's own guard (no custom
// client): endpoint URLs with IP literals in refused ranges, including the embedded IPv6
// forms pointing at a loopback target. Each literal is first checked against
// Config.DialContext (the same guard) with a cancelled context, which connects to nothing; only
// refused ones are handed to the Sender.
//
//	go test -race -run TestSSRFLiteralAddressesThroughTheSendersOwnGuard -v ./internal/hostile/
func TestSSRFLiteralAddressesThroughTheSendersOwnGuard(t *testing.T) {
	t.Parallel()
	target := newTarget(t)
	literals := []string{"127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]", "[::ffff:7f00:1]",
		"169.254.169.254", "[fd00:ec2::254]", "10.0.0.1", "192.168.0.1", "0.0.0.0", "[::]", "[fe80::1]", "100.64.0.1"}
	obs := newDeadLetters()
	cfg := sender.Config{Logger: discard(), Observer: obs}
	dial, err := cfg.DialContext()
	require.NoError(t, err)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, l := range literals {
		_, err := dial(cancelled, "tcp", net.JoinHostPort(strings.Trim(l, "[]"), target.port))
		require.ErrorIs(t, err, ssrf.ErrBlocked, "%s must be refused before any dial; not running the sender", l)
	}
	s, err := sender.New(cfg)
	require.NoError(t, err)
	for i, l := range literals {
		id := fmt.Sprintf("lit%02d", i)
		_, err := s.CreateEndpoint(context.Background(), sender.Endpoint{ID: id, URL: "http://" + l + ":" + target.port + "/", Keys: []sender.EndpointKey{{Secret: mustSecret(t)}}})
		require.NoError(t, err)
		sendOne(t, s, id)
	}
	runSender(t, s)
	dead := obs.wait(t, len(literals))
	for i, l := range literals {
		r := dead[fmt.Sprintf("lit%02d", i)]
		require.ErrorIs(t, r.Err, sender.ErrDestinationBlocked, l)
		require.Equal(t, 1, r.Attempt, l)
	}
	require.Zero(t, target.hits.Load(), "nothing reached the loopback target")
}

// TestSSRFDNSRebinding: a name that answers a public address at the first lookup and the
// loopback target's address afterwards. The guard dials exactly what it judged, once per
// lookup: the first attempt goes to the public address (stopped by the safety dialer, so it
// is a connection failure and is retried), the second is refused with ErrDestinationBlocked
// and dead-lettered; the loopback target never receives anything and no dial ever reaches
// 127.0.0.1.
//
//	go test -race -run TestSSRFDNSRebinding -v ./internal/hostile/
func TestSSRFDNSRebinding(t *testing.T) {
	t.Parallel()
	target := newTarget(t)
	public, private := netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("127.0.0.1")
	res := &fakeResolver{lookups: map[string]int{}, answer: func(_ string, n int) []netip.Addr {
		if n == 1 {
			return []netip.Addr{public}
		}
		return []netip.Addr{private}
	}}
	sd := &safetyDialer{}
	obs := newDeadLetters()
	cfg := sender.Config{Logger: discard(), Observer: obs, Policy: retry.Schedule{Delays: []time.Duration{0, time.Millisecond, time.Millisecond}}}
	cfg.HTTPClient = guardedClient(t, cfg, res, sd)
	s, err := sender.New(cfg)
	require.NoError(t, err)
	_, err = s.CreateEndpoint(context.Background(), sender.Endpoint{ID: "ep_rebind", URL: "http://rebind.hostile.test:" + target.port + "/", Keys: []sender.EndpointKey{{Secret: mustSecret(t)}}})
	require.NoError(t, err)
	sendOne(t, s, "ep_rebind")
	runSender(t, s)
	r := obs.wait(t, 1)["ep_rebind"]
	require.ErrorIs(t, r.Err, sender.ErrDestinationBlocked)
	require.Equal(t, 2, r.Attempt, "the public answer was tried, the private one refused")
	require.Equal(t, 2, res.count("rebind.hostile.test"), "one lookup per attempt")
	require.Equal(t, []string{netip.AddrPortFrom(public, mustPort(t, target.port)).String()}, sd.seen(),
		"the only dial was to the address judged at the first lookup (stopped by the safety dialer)")
	require.Zero(t, target.hits.Load())
	t.Logf("DNS rebinding: lookups %d, dials %v, attempts %d, final error %v, requests received %d",
		res.count("rebind.hostile.test"), sd.seen(), r.Attempt, r.Err, target.hits.Load())
}

// TestSSRFRedirectsAreNotFollowed: an endpoint on loopback (allowed with AllowedNetworks)
// answers 301, 302, 303, 307 or 308 toward the metadata address or toward another loopback
// server the guard would allow. The sender never follows: the attempt is a failure with the
// 3xx status, the delivery is dead-lettered after its single attempt, and the redirect target
// receives nothing. The same holds with a custom HTTPClient whose CheckRedirect follows.
//
//	go test -race -run TestSSRFRedirectsAreNotFollowed -v ./internal/hostile/
func TestSSRFRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	target := newTarget(t)
	for _, custom := range []bool{false, true} {
		t.Run(fmt.Sprintf("custom client %v", custom), func(t *testing.T) {
			t.Parallel()
			obs := newDeadLetters()
			cfg := sender.Config{
				Logger: discard(), Observer: obs,
				AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
				Policy:          retry.Schedule{Delays: []time.Duration{0}},
			}
			if custom {
				dial, err := cfg.DialContext()
				require.NoError(t, err)
				tr := &http.Transport{DialContext: dial}
				t.Cleanup(tr.CloseIdleConnections)
				cfg.HTTPClient = &http.Client{Transport: tr} // nil CheckRedirect: would follow 10 redirects
			}
			s, err := sender.New(cfg)
			require.NoError(t, err)
			type tc struct {
				id, location string
				status       int
			}
			var cases []tc
			for _, code := range []int{301, 302, 303, 307, 308} {
				cases = append(cases,
					tc{fmt.Sprintf("ep_%d_metadata", code), "http://169.254.169.254/latest/meta-data/iam/security-credentials/", code},
					tc{fmt.Sprintf("ep_%d_loopback", code), target.URL + "/internal-admin", code})
			}
			secret := mustSecret(t)
			for _, c := range cases {
				ep := sendertest.NewEndpoint(t, sendertest.Config{}, sendertest.Step{Status: c.status, Header: http.Header{"Location": {c.location}}})
				_, err := s.CreateEndpoint(context.Background(), sender.Endpoint{ID: c.id, URL: ep.URL, Keys: []sender.EndpointKey{{Secret: secret}}})
				require.NoError(t, err)
				sendOne(t, s, c.id)
			}
			runSender(t, s)
			dead := obs.wait(t, len(cases))
			for _, c := range cases {
				r := dead[c.id]
				require.Equal(t, c.status, r.StatusCode, c.id)
				require.Error(t, r.Err, c.id)
				require.Equal(t, 1, r.Attempt, c.id)
				require.NotContains(t, r.Err.Error(), "169.254.169.254", "the Location is not dialled")
			}
			require.Zero(t, target.hits.Load(), "no redirect was followed to the loopback target")
			t.Logf("redirects (custom client %v): %d endpoints answering 3xx, %d dead-lettered as failures, redirect targets hit %d", custom, len(cases), len(dead), target.hits.Load())
		})
	}
}

func mustSecret(t *testing.T) string {
	t.Helper()
	s, err := signatureSecret()
	require.NoError(t, err)
	return s
}

func mustPort(t *testing.T, p string) uint16 {
	t.Helper()
	var n uint16
	_, err := fmt.Sscanf(p, "%d", &n)
	require.NoError(t, err)
	return n
}
