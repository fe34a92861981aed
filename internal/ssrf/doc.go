// Package ssrf guards outgoing connections against server-side request forgery: a webhook
// endpoint URL chosen by a customer must not reach the sender's own network, loopback, or a
// cloud metadata service.
//
// # Guarantee
//
// [Guard.DialContext] resolves the host itself, judges every address the resolver returns,
// and then dials one of those addresses literally. The address judged is the address dialled,
// so DNS rebinding (a name that answers a public address to the check and a private one to
// the dial) cannot get through; a [net.Dialer] Control hook re-checks the socket address just
// before connect, as defence in depth. Use it as the DialContext of an [net/http.Transport]:
//
//	g, err := ssrf.New(ssrf.Config{})
//	...
//	tr := &http.Transport{DialContext: g.DialContext, Proxy: nil}
//
// Refused by default (see [Guard.Check] for the full table): unspecified, loopback, private
// (RFC 1918, unique local fc00::/7), shared address space 100.64/10 (CGNAT), link-local,
// cloud metadata addresses (169.254.169.254, fd00:ec2::254, …), IETF protocol assignments
// 192.0.0/24, benchmarking 198.18/15, documentation ranges, multicast, reserved 240/4 and the
// broadcast address; in IPv6 also the rest of ::/8 (IPv4-compatible, IPv4-translated),
// discard 100::/64, 2001::/23 (Teredo and other IETF assignments), documentation,
// local-use NAT64, site-local and multicast. Addresses that embed an IPv4 address — IPv4-mapped
// ::ffff:0:0/96, NAT64 64:ff9b::/96 and 6to4 2002::/16 — are judged by the IPv4 address inside.
// Addresses with an IPv6 zone are always refused. Host names that end in a number (such as
// "2130706433", "0x7f.1", "127.1" or "0177.0.0.1") are refused before any lookup: they are
// not canonical IP addresses, and C resolvers read them as IPv4 literals. So are names with
// bytes other than ASCII letters, digits, '-', '_' and '.'.
//
// When a name resolves to several addresses and any of them is refused, the whole host is
// refused: a public name that also answers a private address is a rebinding attempt or a
// misconfiguration either way.
//
// # Opting in
//
// [Config.AllowPrivate] permits private, loopback, CGNAT, benchmarking and link-local
// addresses (for on-premises deployments and tests), but still refuses cloud metadata
// addresses and the non-routable classes. [Config.Allow] permits exactly the listed prefixes,
// whatever they contain, and [Config.AllowHosts] permits named hosts whatever they resolve to.
//
// # Caveat: proxies
//
// A forward proxy bypasses the guard: with an HTTP or SOCKS proxy configured, the only
// connection this process makes is to the proxy, and the proxy connects to the endpoint.
// http.DefaultTransport uses ProxyFromEnvironment (HTTP_PROXY, HTTPS_PROXY); a transport
// that dials through a Guard must set Proxy to nil, or the proxy must enforce the same policy.
package ssrf
