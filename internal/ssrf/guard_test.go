package ssrf_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hookkit/hookkit/internal/ssrf"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeResolver answers from a table; each host's answers are used in turn (the last one
// repeats), so a test can model DNS rebinding. It never touches the network.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	calls   map[string]int
}

func newResolver(answers map[string][]string) *fakeResolver {
	r := &fakeResolver{answers: map[string][][]netip.Addr{}, calls: map[string]int{}}
	for host, addrs := range answers {
		r.add(host, addrs...)
	}
	return r
}

// add appends one answer for host.
func (r *fakeResolver) add(host string, addrs ...string) {
	var a []netip.Addr
	for _, s := range addrs {
		a = append(a, netip.MustParseAddr(s))
	}
	r.answers[host] = append(r.answers[host], a)
}

func (r *fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	answers, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	i := min(r.calls[host], len(answers)-1)
	r.calls[host]++
	var out []netip.Addr
	for _, a := range answers[i] {
		if (network == "ip4" && !a.Unmap().Is4()) || (network == "ip6" && a.Unmap().Is4()) {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

func (r *fakeResolver) callCount(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

// listen starts a loopback TCP listener that accepts and closes connections, and returns
// its port.
func listen(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	})
	t.Cleanup(func() {
		_ = l.Close()
		wg.Wait()
	})
	_, port, err := net.SplitHostPort(l.Addr().String())
	require.NoError(t, err)
	return port
}

func newGuard(t *testing.T, cfg ssrf.Config) *ssrf.Guard {
	t.Helper()
	if cfg.Resolver == nil {
		cfg.Resolver = newResolver(nil) // never the real DNS
	}
	g, err := ssrf.New(cfg)
	require.NoError(t, err)
	return g
}

var loopbackOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func TestDialContextRefusesBeforeDialling(t *testing.T) {
	t.Parallel()
	r := newResolver(map[string][]string{
		"internal.example": {"10.0.0.1"},
		"metadata.example": {"169.254.169.254"},
		"mapped.example":   {"::ffff:127.0.0.1"},
		"nat64.example":    {"64:ff9b::7f00:1"},
		"6to4.example":     {"2002:7f00:1::1"},
		"mixed.example":    {"8.8.8.8", "127.0.0.1"},
		"mixed6.example":   {"2001:4860:4860::8888", "fd00:ec2::254"},
		"localhost":        {"127.0.0.1", "::1"},
	})
	// The dialer would fail any real connection attempt loudly: none may happen.
	dialer := &net.Dialer{ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
		panic("dialled " + address)
	}}
	g := newGuard(t, ssrf.Config{Resolver: r, Dialer: dialer})
	tests := []struct {
		name string
		addr string
	}{
		{"a name resolving to a private address", "internal.example:443"},
		{"a name resolving to the metadata service", "metadata.example:80"},
		{"a name resolving to an IPv4-mapped loopback", "mapped.example:443"},
		{"a name resolving to a NAT64 loopback", "nat64.example:443"},
		{"a name resolving to a 6to4 loopback", "6to4.example:443"},
		{"a name with one public and one loopback answer", "mixed.example:443"},
		{"a name with one public and one metadata IPv6 answer", "mixed6.example:443"},
		{"localhost", "localhost:8080"},
		{"an IPv4 loopback literal", "127.0.0.1:80"},
		{"an IPv6 loopback literal", "[::1]:80"},
		{"an IPv4-mapped literal", "[::ffff:127.0.0.1]:80"},
		{"an IPv4-mapped literal in hex", "[::ffff:7f00:1]:80"},
		{"a NAT64 literal", "[64:ff9b::a9fe:a9fe]:80"},
		{"a zoned link-local literal", "[fe80::1%eth0]:80"},
		{"a zoned public literal", "[2001:4860::1%25eth0]:80"},
		{"the unspecified IPv4 address", "0.0.0.0:80"},
		{"the unspecified IPv6 address", "[::]:80"},
		{"the broadcast address", "255.255.255.255:80"},
		{"a decimal IPv4 address", "2130706433:80"},
		{"a hex IPv4 address", "0x7f000001:80"},
		{"a short hex IPv4 address", "0x7f.1:80"},
		{"a short dotted IPv4 address", "127.1:80"},
		{"an octal IPv4 address", "0177.0.0.1:80"},
		{"a dotted address with a trailing dot", "127.0.0.1.:80"},
		{"a name ending in a numeric label", "evil.example.127:80"},
		{"an empty host", ":80"},
		{"a host with a space", "a b.example:80"},
		{"a host with a non-ASCII byte", "exämple.com:80"},
		{"a mixed-case metadata literal", "[FD00:EC2::254]:80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, err := g.DialContext(context.Background(), "tcp", tt.addr)
			require.Nil(t, conn)
			require.ErrorIs(t, err, ssrf.ErrBlocked)
			var be *ssrf.BlockedError
			require.ErrorAs(t, err, &be)
			require.NotEmpty(t, be.Reason)
		})
	}
}

func TestDialContextAllowsLoopbackWhenOptedIn(t *testing.T) {
	t.Parallel()
	port := listen(t)
	r := newResolver(map[string][]string{"app.internal": {"127.0.0.1"}})
	tests := []struct {
		name string
		cfg  ssrf.Config
		host string
	}{
		{"AllowPrivate permits a loopback literal", ssrf.Config{AllowPrivate: true}, "127.0.0.1"},
		{"AllowPrivate permits a name resolving to loopback", ssrf.Config{AllowPrivate: true}, "app.internal"},
		{"an Allow prefix permits a loopback literal", ssrf.Config{Allow: loopbackOnly}, "127.0.0.1"},
		{"an Allow prefix permits an IPv4-mapped loopback literal", ssrf.Config{Allow: loopbackOnly}, "::ffff:127.0.0.1"},
		{"an Allow prefix permits a name resolving into it", ssrf.Config{Allow: loopbackOnly}, "app.internal"},
		{"AllowHosts permits the named host", ssrf.Config{AllowHosts: []string{"APP.internal."}}, "app.internal"},
		{"a wildcard in AllowHosts permits a subdomain", ssrf.Config{AllowHosts: []string{"*.internal"}}, "app.internal"},
		{"an address in AllowHosts is an Allow prefix", ssrf.Config{AllowHosts: []string{"127.0.0.1"}}, "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.Resolver = r
			g := newGuard(t, tt.cfg)
			conn, err := g.DialContext(context.Background(), "tcp", net.JoinHostPort(tt.host, port))
			require.NoError(t, err)
			require.Equal(t, "127.0.0.1:"+port, conn.RemoteAddr().String(), "the literal address was dialled")
			require.NoError(t, conn.Close())
		})
	}
}

func TestDialContextIsNotFooledByRebinding(t *testing.T) {
	t.Parallel()
	port := listen(t)
	// The first answer is permitted (127.0.0.1 via Allow, standing in for a public address),
	// the next answers point at the private network.
	r := newResolver(nil)
	r.add("rebind.example", "127.0.0.1")
	r.add("rebind.example", "10.0.0.1")
	r.add("rebind.example", "::ffff:192.168.0.1")
	g := newGuard(t, ssrf.Config{Resolver: r, Allow: loopbackOnly})

	conn, err := g.DialContext(context.Background(), "tcp", "rebind.example:"+port)
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	require.Equal(t, 1, r.callCount("rebind.example"), "one lookup per dial: the checked address is the dialled one")

	_, err = g.DialContext(context.Background(), "tcp", "rebind.example:"+port)
	require.ErrorIs(t, err, ssrf.ErrBlocked)
	_, err = g.DialContext(context.Background(), "tcp", "rebind.example:"+port)
	require.ErrorIs(t, err, ssrf.ErrBlocked)
	require.Equal(t, 3, r.callCount("rebind.example"))
}

func TestDialContextTriesEachPermittedAddressInOrder(t *testing.T) {
	t.Parallel()
	port := listen(t)
	// 127.0.0.2 has no listener on this port (connection refused); 127.0.0.1 does.
	r := newResolver(map[string][]string{"two.example": {"127.0.0.2", "127.0.0.1"}})
	var mu sync.Mutex
	var dialled []string
	dialer := &net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
		mu.Lock()
		defer mu.Unlock()
		dialled = append(dialled, address)
		return nil
	}}
	g := newGuard(t, ssrf.Config{Resolver: r, Allow: loopbackOnly, Dialer: dialer})
	conn, err := g.DialContext(context.Background(), "tcp4", "two.example:"+port)
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"127.0.0.2:" + port, "127.0.0.1:" + port}, dialled, "the user's Control hook runs after the guard's")
}

func TestDialContextFiltersByNetworkFamily(t *testing.T) {
	t.Parallel()
	r := newResolver(map[string][]string{"v4only.example": {"127.0.0.1"}})
	g := newGuard(t, ssrf.Config{Resolver: r, Allow: loopbackOnly})
	_, err := g.DialContext(context.Background(), "tcp6", "v4only.example:80")
	var dnsErr *net.DNSError
	require.ErrorAs(t, err, &dnsErr)
	require.True(t, dnsErr.IsNotFound)
	_, err = g.DialContext(context.Background(), "tcp6", "127.0.0.1:80")
	require.ErrorAs(t, err, &dnsErr, "an IPv4 literal has no IPv6 address")
}

func TestDialContextErrors(t *testing.T) {
	t.Parallel()
	g := newGuard(t, ssrf.Config{})
	_, err := g.DialContext(context.Background(), "udp", "8.8.8.8:53")
	require.ErrorContains(t, err, `network "udp" is not supported`)
	_, err = g.DialContext(context.Background(), "tcp", "no-port")
	require.ErrorContains(t, err, "missing port")
	_, err = g.DialContext(context.Background(), "tcp", "unknown.example:443")
	var dnsErr *net.DNSError
	require.ErrorAs(t, err, &dnsErr, "resolver errors are passed on")
	require.ErrorContains(t, err, `ssrf: resolving "unknown.example"`)
	require.NotErrorIs(t, err, ssrf.ErrBlocked)
}

func TestDialContextControlHookRefusesAnUnexpectedSocketAddress(t *testing.T) {
	t.Parallel()
	// Defence in depth: even if a connection were attempted to a refused address (here,
	// forced by a user Dialer hook that runs after the guard's own), the guard's hook sees the
	// real socket address. We check the hook through a Dialer whose Control records what the
	// guard let through.
	port := listen(t)
	r := newResolver(map[string][]string{"ok.example": {"127.0.0.1"}})
	var seen []string
	dialer := &net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
		seen = append(seen, address)
		return nil
	}}
	g := newGuard(t, ssrf.Config{Resolver: r, AllowPrivate: true, Dialer: dialer})
	conn, err := g.DialContext(context.Background(), "tcp", "ok.example:"+port)
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	require.Equal(t, []string{"127.0.0.1:" + port}, seen)
}

func TestHTTPTransportThroughTheGuard(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	t.Cleanup(srv.Close)

	client := func(cfg ssrf.Config) *http.Client {
		g := newGuard(t, cfg)
		tr := &http.Transport{DialContext: g.DialContext, Proxy: nil}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}

	resp, err := client(ssrf.Config{}).Get(srv.URL)
	require.ErrorIs(t, err, ssrf.ErrBlocked, "the default guard refuses loopback")
	require.Nil(t, resp)

	resp, err = client(ssrf.Config{AllowPrivate: true}).Get(srv.URL)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, "hello", string(body))
}

func TestNewValidatesTheAllowLists(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  ssrf.Config
	}{
		{"an invalid prefix", ssrf.Config{Allow: []netip.Prefix{{}}}},
		{"an empty host", ssrf.Config{AllowHosts: []string{""}}},
		{"a host with a port", ssrf.Config{AllowHosts: []string{"example.com:443"}}},
		{"a URL", ssrf.Config{AllowHosts: []string{"https://example.com"}}},
		{"a wildcard in the middle", ssrf.Config{AllowHosts: []string{"a.*.example"}}},
		{"a wildcard without a dot", ssrf.Config{AllowHosts: []string{"*example.com"}}},
		{"a bare wildcard", ssrf.Config{AllowHosts: []string{"*."}}},
		{"a zoned address", ssrf.Config{AllowHosts: []string{"fe80::1%eth0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ssrf.New(tt.cfg)
			require.Error(t, err)
			require.True(t, strings.HasPrefix(err.Error(), "ssrf: Config."), err.Error())
		})
	}
}

func TestResolveWithAllowHostsPermitsEveryAnswer(t *testing.T) {
	t.Parallel()
	r := newResolver(map[string][]string{
		"db.corp.example":  {"10.0.0.5", "::ffff:10.0.0.6"},
		"corp.example":     {"10.0.0.7"},
		"evilcorp.example": {"10.0.0.8"},
	})
	g := newGuard(t, ssrf.Config{Resolver: r, AllowHosts: []string{"*.corp.example"}})
	addrs, err := g.Resolve(context.Background(), "tcp", "DB.corp.example.")
	require.NoError(t, err)
	require.Equal(t, []netip.Addr{netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("10.0.0.6")}, addrs, "answers are unmapped")

	_, err = g.Resolve(context.Background(), "tcp", "corp.example")
	require.ErrorIs(t, err, ssrf.ErrBlocked, "a wildcard does not cover the domain itself")
	_, err = g.Resolve(context.Background(), "tcp", "evilcorp.example")
	require.ErrorIs(t, err, ssrf.ErrBlocked, "a wildcard matches whole labels only")
}

func ExampleGuard_DialContext() {
	g, err := ssrf.New(ssrf.Config{}) // refuse everything but public addresses
	if err != nil {
		panic(err)
	}
	tr := &http.Transport{DialContext: g.DialContext, Proxy: nil} // no proxy: it would bypass the guard
	client := &http.Client{Transport: tr}

	_, err = client.Get("http://169.254.169.254/latest/meta-data/")
	fmt.Println(errors.Is(err, ssrf.ErrBlocked))
	var be *ssrf.BlockedError
	if errors.As(err, &be) {
		fmt.Println(be.IP, be.Reason)
	}
	// Output:
	// true
	// 169.254.169.254 cloud metadata service
}

func FuzzCheckHost(f *testing.F) {
	for _, s := range []string{
		"example.com", "127.0.0.1", "::1", "[::ffff:127.0.0.1]", "0x7f.1", "2130706433", "127.1",
		"0177.0.0.1", "fe80::1%eth0", "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "localhost.", "",
		"1.2.3.4.", "evil.example.0x10", "xn--80ak6aa92e.com", "[fd00:ec2::254]", "%", "[::",
	} {
		f.Add(s)
	}
	// Names resolve to a public address, or to loopback when they contain "private".
	public, private := netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("127.0.0.1")
	resolver := resolverFunc(func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if strings.Contains(host, "private") {
			return []netip.Addr{public, private}, nil
		}
		return []netip.Addr{public}, nil
	})
	g, err := ssrf.New(ssrf.Config{Resolver: resolver})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host string) {
		addrs, err := g.Resolve(context.Background(), "tcp", host)
		if err != nil {
			if addrs != nil {
				t.Fatalf("Resolve(%q) returned addresses with an error", host)
			}
			if !errors.Is(err, ssrf.ErrBlocked) {
				t.Fatalf("Resolve(%q) failed without a refusal: %v", host, err)
			}
		}
		for _, a := range addrs {
			if g.Check(a) != nil {
				t.Fatalf("Resolve(%q) returned refused address %v", host, a)
			}
		}
		if strings.Contains(strings.ToLower(host), "private") && err == nil {
			if _, perr := netip.ParseAddr(strings.Trim(host, "[]")); perr != nil {
				t.Fatalf("Resolve(%q) permitted a name with a loopback answer", host)
			}
		}
		// An IP literal is judged exactly as Check judges it.
		h := strings.ToLower(strings.TrimSpace(host))
		if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
			h = h[1 : len(h)-1]
		}
		if ip, perr := netip.ParseAddr(h); perr == nil {
			if (g.Check(ip) == nil) != (err == nil) {
				t.Fatalf("Resolve(%q) = %v but Check(%v) = %v", host, err, ip, g.Check(ip))
			}
		}
	})
}

type resolverFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

func (f resolverFunc) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return f(ctx, network, host)
}
