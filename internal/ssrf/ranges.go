package ssrf

import (
	"net/netip"
)

// class says whether Config.AllowPrivate lifts a refusal.
type class uint8

const (
	always  class = iota // refused unless an Allow prefix or host permits it
	private              // refused unless AllowPrivate (or Allow)
)

type rangeRule struct {
	prefix netip.Prefix
	reason string
	class  class
}

// metadata are cloud instance metadata addresses, refused even with AllowPrivate.
var metadata = map[netip.Addr]string{
	netip.MustParseAddr("169.254.169.254"): "cloud metadata service",
	netip.MustParseAddr("169.254.170.2"):   "cloud metadata service (AWS ECS)",
	netip.MustParseAddr("169.254.170.23"):  "cloud metadata service (AWS EKS pod identity)",
	netip.MustParseAddr("100.100.100.200"): "cloud metadata service (Alibaba Cloud)",
	netip.MustParseAddr("fd00:ec2::254"):   "cloud metadata service (AWS IPv6)",
	netip.MustParseAddr("fd00:ec2::23"):    "cloud metadata service (AWS EKS pod identity, IPv6)",
}

var broadcast = netip.MustParseAddr("255.255.255.255")

var v4Rules = []rangeRule{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified (\"this network\")", always},
	{netip.MustParsePrefix("10.0.0.0/8"), "private network", private},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (CGNAT)", private},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback", private},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local", private},
	{netip.MustParsePrefix("172.16.0.0/12"), "private network", private},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments", always},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation (TEST-NET-1)", always},
	{netip.MustParsePrefix("192.168.0.0/16"), "private network", private},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking", private},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation (TEST-NET-2)", always},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation (TEST-NET-3)", always},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast", always},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved", always},
}

// v6Rules excludes the IPv4-embedding prefixes, which are handled before them.
var v6Rules = []rangeRule{
	{netip.MustParsePrefix("::/128"), "unspecified", always},
	{netip.MustParsePrefix("::1/128"), "loopback", private},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible IPv6 (deprecated)", always},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64", always},
	{netip.MustParsePrefix("::/8"), "reserved by IETF (incl. IPv4-translated ::ffff:0:0:0/96)", always},
	{netip.MustParsePrefix("100::/64"), "discard-only", always},
	{netip.MustParsePrefix("2001::/32"), "Teredo", always},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments", always},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation", always},
	{netip.MustParsePrefix("3fff::/20"), "documentation", always},
	{netip.MustParsePrefix("fc00::/7"), "unique local (private network)", private},
	{netip.MustParsePrefix("fe80::/10"), "link-local", private},
	{netip.MustParsePrefix("fec0::/10"), "site-local (deprecated)", private},
	{netip.MustParsePrefix("ff00::/8"), "multicast", always},
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// embedded returns the IPv4 address inside an IPv4-mapped, NAT64 or 6to4 address.
func embedded(ip netip.Addr) (v4 netip.Addr, form string, ok bool) {
	switch {
	case ip.Is4In6():
		return ip.Unmap(), "IPv4-mapped", true
	case nat64.Contains(ip):
		b := ip.As16()
		return netip.AddrFrom4([4]byte(b[12:16])), "NAT64", true
	case sixToFour.Contains(ip):
		b := ip.As16()
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4", true
	}
	return netip.Addr{}, "", false
}

// classify returns why ip is refused and whether AllowPrivate lifts that, or ok == false
// when it is a public address. ip has no zone and is not an IPv4-embedding form.
func classify(ip netip.Addr) (reason string, c class, refused bool) {
	if r, ok := metadata[ip]; ok {
		return r, always, true
	}
	if ip == broadcast {
		return "broadcast", always, true
	}
	rules := v6Rules
	if ip.Is4() {
		rules = v4Rules
	}
	for _, r := range rules {
		if r.prefix.Contains(ip) {
			return r.reason, r.class, true
		}
	}
	return "", 0, false
}
