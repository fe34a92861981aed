package ssrf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrBlocked is wrapped by every refusal; test for it with errors.Is, or use errors.As with
// a *[BlockedError] for the details.
var ErrBlocked = errors.New("ssrf: destination refused")

// BlockedError is a refusal to connect to a host or address.
type BlockedError struct {
	// Host is the host name as given to the dial, empty when only an address was checked.
	Host string
	// IP is the refused address, invalid when the host name itself was refused.
	IP netip.Addr
	// Reason says which rule refused it, e.g. "loopback" or "6to4 embedding 10.0.0.1: private network".
	Reason string
}

func (e *BlockedError) Error() string {
	var b strings.Builder
	b.WriteString("ssrf: refused to connect to ")
	switch {
	case e.Host != "" && e.IP.IsValid() && e.Host != e.IP.String():
		fmt.Fprintf(&b, "%q at %s", e.Host, e.IP)
	case e.IP.IsValid():
		b.WriteString(e.IP.String())
	default:
		fmt.Fprintf(&b, "%q", e.Host)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns [ErrBlocked].
func (e *BlockedError) Unwrap() error { return ErrBlocked }

// Resolver looks up the addresses of a host. *net.Resolver implements it.
type Resolver interface {
	// LookupNetIP looks up host; network is "ip", "ip4" or "ip6".
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a [Guard]. The zero value refuses every non-public address.
type Config struct {
	// AllowPrivate permits private (RFC 1918, fc00::/7), loopback, link-local, CGNAT
	// (100.64/10) and benchmarking (198.18/15) addresses, for on-premises deployments and
	// tests. Cloud metadata addresses, unspecified, multicast, reserved, documentation and
	// broadcast addresses stay refused. Defaults to false.
	AllowPrivate bool
	// Allow lists prefixes that are permitted whatever they contain (including metadata
	// addresses, if a prefix covers them: list only what you mean). An embedded IPv4 address
	// (IPv4-mapped, NAT64, 6to4) matches an IPv4 prefix. Defaults to none.
	Allow []netip.Prefix
	// AllowHosts lists host names permitted whatever they resolve to, compared without case
	// and trailing dot. An entry "*.example.internal" permits every name below
	// example.internal (not example.internal itself). An entry that is an IP address is
	// added to Allow. Defaults to none.
	AllowHosts []string
	// Resolver looks up host names. Defaults to net.DefaultResolver.
	Resolver Resolver
	// Dialer makes the connections; its Control or ControlContext hook, if any, runs after
	// the guard's own check. Defaults to a net.Dialer with a 30 s Timeout and 30 s KeepAlive,
	// like http.DefaultTransport's.
	Dialer *net.Dialer
}

// Guard dials only permitted addresses. It is safe for concurrent use.
type Guard struct {
	allowPrivate bool
	allow        []netip.Prefix
	hosts        map[string]bool // exact names
	suffixes     []string        // ".example.internal" for "*.example.internal"
	resolver     Resolver
	dialer       net.Dialer
}

// New returns a Guard for cfg, or an error describing an invalid allow-list entry.
func New(cfg Config) (*Guard, error) {
	g := &Guard{
		allowPrivate: cfg.AllowPrivate,
		hosts:        map[string]bool{},
		resolver:     cfg.Resolver,
	}
	if g.resolver == nil {
		g.resolver = net.DefaultResolver
	}
	if cfg.Dialer != nil {
		g.dialer = *cfg.Dialer
	} else {
		g.dialer = net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	}
	for i, p := range cfg.Allow {
		if !p.IsValid() {
			return nil, fmt.Errorf("ssrf: Config.Allow[%d] is not a valid prefix", i)
		}
		g.allow = append(g.allow, p.Masked())
	}
	for i, h := range cfg.AllowHosts {
		h = normalizeHost(h)
		if ip, err := netip.ParseAddr(h); err == nil {
			if ip.Zone() != "" {
				return nil, fmt.Errorf("ssrf: Config.AllowHosts[%d] %q has an IPv6 zone", i, cfg.AllowHosts[i])
			}
			g.allow = append(g.allow, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		if h == "" || h == "*." || strings.ContainsAny(h, ":/@ %[]") || strings.Contains(h[1:], "*") {
			return nil, fmt.Errorf("ssrf: Config.AllowHosts[%d] %q is not a host name (no scheme, port or path; \"*.\" only as a prefix)", i, cfg.AllowHosts[i])
		}
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			if !strings.HasPrefix(suffix, ".") {
				return nil, fmt.Errorf("ssrf: Config.AllowHosts[%d] %q: a wildcard must be \"*.\" followed by a domain", i, cfg.AllowHosts[i])
			}
			g.suffixes = append(g.suffixes, suffix)
			continue
		}
		g.hosts[h] = true
	}
	return g, nil
}

// normalizeHost lower-cases h and removes one trailing dot and IPv6 brackets.
func normalizeHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if len(h) > 1 {
		h = strings.TrimSuffix(h, ".")
	}
	return h
}

func (g *Guard) hostAllowed(host string) bool {
	if len(g.hosts) == 0 && len(g.suffixes) == 0 {
		return false
	}
	h := normalizeHost(host)
	if g.hosts[h] {
		return true
	}
	for _, s := range g.suffixes {
		if len(h) > len(s) && strings.HasSuffix(h, s) {
			return true
		}
	}
	return false
}

// Check reports whether ip may be dialled, returning a *[BlockedError] (wrapping
// [ErrBlocked]) if not. AllowHosts plays no part: Check sees only the address.
func (g *Guard) Check(ip netip.Addr) error {
	if reason, ok := g.refusal(ip); ok {
		return &BlockedError{IP: ip, Reason: reason}
	}
	return nil
}

// refusal returns why ip is refused, or ok == false when it is permitted.
func (g *Guard) refusal(ip netip.Addr) (reason string, refused bool) {
	if !ip.IsValid() {
		return "invalid address", true
	}
	if ip.Zone() != "" {
		return "IPv6 address with a zone", true
	}
	if g.allowed(ip) {
		return "", false
	}
	if v4, form, ok := embedded(ip); ok {
		if g.allowed(v4) {
			return "", false
		}
		if r, c, refused := classify(v4); refused && !(c == private && g.allowPrivate) {
			return fmt.Sprintf("%s embedding %s: %s", form, v4, r), true
		}
		return "", false
	}
	if r, c, refused := classify(ip); refused && !(c == private && g.allowPrivate) {
		return r, true
	}
	return "", false
}

func (g *Guard) allowed(ip netip.Addr) bool {
	for _, p := range g.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Resolve returns the addresses host may be dialled at, unmapped (an IPv4-mapped address is
// returned as IPv4), in the resolver's order. network is "tcp", "tcp4" or "tcp6" (or "ip",
// "ip4", "ip6") and selects the address family.
//
// A host that is an IP address is judged as is. A host name with bytes other than ASCII
// letters, digits, '-', '_' and '.', or one that ends in a number but is not a canonical IP
// address, is refused. A host in AllowHosts is permitted whatever it resolves
// to. Otherwise the host is resolved and refused if any of its addresses is refused.
func (g *Guard) Resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
	family, err := familyOf(network)
	if err != nil {
		return nil, err
	}
	name := normalizeHost(host)
	if name == "" {
		return nil, &BlockedError{Host: host, Reason: "empty host (the local system)"}
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(name); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		if strings.Contains(name, "%") {
			return nil, &BlockedError{Host: host, Reason: "IPv6 address with a zone"}
		}
		if !validName(name) {
			return nil, &BlockedError{Host: host, Reason: "not a valid host name (only ASCII letters, digits, '-', '_' and '.')"}
		}
		if endsInNumber(name) {
			return nil, &BlockedError{Host: host, Reason: "host name ending in a number that is not a canonical IP address"}
		}
		addrs, err = g.resolver.LookupNetIP(ctx, family, name)
		if err != nil {
			return nil, fmt.Errorf("ssrf: resolving %q: %w", host, err)
		}
	}
	hostOK := g.hostAllowed(name)
	out := make([]netip.Addr, 0, len(addrs))
	for _, ip := range addrs {
		if !hostOK {
			if reason, refused := g.refusal(ip); refused {
				return nil, &BlockedError{Host: host, IP: ip, Reason: reason}
			}
		}
		if ip.Zone() != "" { // even for allowed hosts: a zone is not dialled by address alone
			return nil, &BlockedError{Host: host, IP: ip, Reason: "IPv6 address with a zone"}
		}
		ip = ip.Unmap()
		if (family == "ip4" && !ip.Is4()) || (family == "ip6" && !ip.Is6()) {
			continue
		}
		out = append(out, ip)
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no suitable address found", Name: host, IsNotFound: true}
	}
	return out, nil
}

func familyOf(network string) (string, error) {
	switch network {
	case "tcp", "ip", "":
		return "ip", nil
	case "tcp4", "ip4":
		return "ip4", nil
	case "tcp6", "ip6":
		return "ip6", nil
	}
	return "", fmt.Errorf("ssrf: network %q is not supported (only tcp, tcp4, tcp6)", network)
}

// validName reports whether name has only the bytes of an ASCII (IDNA-encoded) host name.
// net/http converts internationalized names to punycode before it dials.
func validName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// endsInNumber reports whether the last label of name is a decimal number or a 0x hex
// number: the WHATWG URL rule for host names that are read as IPv4 addresses.
func endsInNumber(name string) bool {
	name = strings.TrimSuffix(name, ".")
	last := name[strings.LastIndexByte(name, '.')+1:]
	if last == "" {
		return false
	}
	if rest, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(rest, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// control returns the Dialer.ControlContext hook that re-checks the socket address just
// before connect, then runs the user's own hook, if any.
func (g *Guard) control(host string, hostOK bool,
	userCtl func(network, address string, c syscall.RawConn) error,
	userCtlCtx func(ctx context.Context, network, address string, c syscall.RawConn) error,
) func(ctx context.Context, network, address string, c syscall.RawConn) error {
	return func(ctx context.Context, network, address string, c syscall.RawConn) error {
		if !hostOK {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return &BlockedError{Host: host, Reason: fmt.Sprintf("unparsable socket address %q", address)}
			}
			if reason, refused := g.refusal(ap.Addr()); refused {
				return &BlockedError{Host: host, IP: ap.Addr(), Reason: reason}
			}
		}
		switch {
		case userCtlCtx != nil:
			return userCtlCtx(ctx, network, address, c)
		case userCtl != nil:
			return userCtl(network, address, c)
		}
		return nil
	}
}

// DialContext connects to addr ("host:port") on network ("tcp", "tcp4" or "tcp6") if the
// host is permitted, trying its permitted addresses in order and dialling each one as an IP
// literal. The dialer's Timeout (and ctx's deadline) covers the whole call and is shared out
// among the addresses as net.Dialer does. Refusals are *[BlockedError] values wrapping [ErrBlocked]. It has the signature of
// net/http.Transport.DialContext.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("ssrf: %w", err)
	}
	ips, err := g.Resolve(ctx, network, host)
	if err != nil {
		return nil, err
	}
	d := g.dialer
	d.Control, d.ControlContext = nil, g.control(host, g.hostAllowed(host), g.dialer.Control, g.dialer.ControlContext)
	// Like net.Dialer, spread the dial deadline over the addresses, so one that does not
	// answer cannot use up the time of the others.
	deadline := dialDeadline(ctx, time.Now(), d)
	d.Timeout, d.Deadline = 0, time.Time{}
	var first error
	for i, ip := range ips {
		actx := ctx
		cancel := context.CancelFunc(func() {})
		if !deadline.IsZero() {
			actx, cancel = context.WithDeadline(ctx, partialDeadline(time.Now(), deadline, len(ips)-i))
		}
		conn, err := d.DialContext(actx, network, net.JoinHostPort(ip.String(), port))
		cancel()
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// dialDeadline is the earliest of d's Timeout, d's Deadline and ctx's deadline; zero for none.
func dialDeadline(ctx context.Context, now time.Time, d net.Dialer) time.Time {
	var earliest time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (earliest.IsZero() || t.Before(earliest)) {
			earliest = t
		}
	}
	if d.Timeout > 0 {
		consider(now.Add(d.Timeout))
	}
	consider(d.Deadline)
	if t, ok := ctx.Deadline(); ok {
		consider(t)
	}
	return earliest
}

// partialDeadline gives one of remaining addresses its share of the time left before
// deadline, but at least 2 s when there is that much (net.Dialer's rule).
func partialDeadline(now, deadline time.Time, remaining int) time.Time {
	left := deadline.Sub(now)
	share := left / time.Duration(remaining)
	const saneMinimum = 2 * time.Second
	if share < saneMinimum {
		share = min(left, saneMinimum)
	}
	return now.Add(share)
}
