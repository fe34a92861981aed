package ssrf_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/internal/ssrf"
)

// verdict is how an address is judged by the default guard and by one with AllowPrivate.
type verdict int

const (
	public     verdict = iota // permitted by default
	privateNet                // refused by default, permitted with AllowPrivate
	never                     // refused even with AllowPrivate
)

var addressTable = []struct {
	addr string
	want verdict
}{
	// IPv4 public, including the neighbours of every refused range.
	{"8.8.8.8", public},
	{"1.1.1.1", public},
	{"1.0.0.0", public},
	{"9.255.255.255", public},
	{"11.0.0.0", public},
	{"100.63.255.255", public},
	{"100.128.0.0", public},
	{"126.255.255.255", public},
	{"128.0.0.0", public},
	{"169.253.255.255", public},
	{"169.255.0.0", public},
	{"172.15.255.255", public},
	{"172.32.0.0", public},
	{"191.255.255.255", public},
	{"192.0.1.0", public},
	{"192.0.3.0", public},
	{"192.167.255.255", public},
	{"192.169.0.0", public},
	{"198.17.255.255", public},
	{"198.20.0.0", public},
	{"198.51.99.255", public},
	{"203.0.112.255", public},
	{"223.255.255.255", public},

	// 0.0.0.0/8
	{"0.0.0.0", never},
	{"0.0.0.1", never},
	{"0.255.255.255", never},
	// 10/8
	{"10.0.0.0", privateNet},
	{"10.0.0.1", privateNet},
	{"10.255.255.255", privateNet},
	// 100.64/10 CGNAT
	{"100.64.0.0", privateNet},
	{"100.100.100.200", never}, // Alibaba Cloud metadata
	{"100.127.255.255", privateNet},
	// 127/8
	{"127.0.0.0", privateNet},
	{"127.0.0.1", privateNet},
	{"127.1.2.3", privateNet},
	{"127.255.255.255", privateNet},
	// 169.254/16, including the metadata services
	{"169.254.0.0", privateNet},
	{"169.254.0.1", privateNet},
	{"169.254.169.254", never},
	{"169.254.170.2", never},
	{"169.254.170.23", never},
	{"169.254.255.255", privateNet},
	// 172.16/12
	{"172.16.0.0", privateNet},
	{"172.20.1.1", privateNet},
	{"172.31.255.255", privateNet},
	// 192.0.0/24
	{"192.0.0.0", never},
	{"192.0.0.8", never},
	{"192.0.0.255", never},
	// documentation
	{"192.0.2.1", never},
	{"198.51.100.1", never},
	{"203.0.113.255", never},
	// 192.168/16
	{"192.168.0.0", privateNet},
	{"192.168.1.1", privateNet},
	{"192.168.255.255", privateNet},
	// 198.18/15
	{"198.18.0.0", privateNet},
	{"198.19.255.255", privateNet},
	// 224/4 multicast
	{"224.0.0.0", never},
	{"224.0.0.251", never},
	{"239.255.255.255", never},
	// 240/4 and broadcast
	{"240.0.0.0", never},
	{"254.255.255.255", never},
	{"255.255.255.255", never},

	// IPv6 public
	{"2001:4860:4860::8888", public},
	{"2606:4700:4700::1111", public},
	{"2001:200::1", public},
	{"2003::1", public},
	{"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", public},
	{"fe00::1", public},
	{"fec0::", privateNet},
	// ::/128, ::1/128, ::/96
	{"::", never},
	{"::1", privateNet},
	{"::2", never},
	{"::7f00:1", never}, // IPv4-compatible ::127.0.0.1
	{"::808:808", never},
	{"::ffff:0:7f00:1", never}, // IPv4-translated (SIIT)
	{"::ffff:0:808:808", never},
	{"64:ff9c::1", never},
	{"ff::1", never},
	// fc00::/7, with AWS IMDS
	{"fc00::", privateNet},
	{"fd00::1", privateNet},
	{"fd00:ec2::254", never},
	{"fd00:ec2::23", never},
	{"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", privateNet},
	// fe80::/10
	{"fe80::", privateNet},
	{"fe80::1", privateNet},
	{"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", privateNet},
	// ff00::/8
	{"ff00::", never},
	{"ff02::1", never},
	{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", never},
	// other special-purpose IPv6
	{"64:ff9b:1::1", never},
	{"100::1", never},
	{"2001::1", never},          // Teredo
	{"2001:1ff:ffff::1", never}, // IETF protocol assignments
	{"2001:db8::1", never},
	{"3fff::1", never},

	// IPv4-mapped: judged by the IPv4 inside
	{"::ffff:8.8.8.8", public},
	{"::ffff:127.0.0.1", privateNet},
	{"::ffff:7f00:1", privateNet},
	{"::ffff:10.0.0.1", privateNet},
	{"::ffff:169.254.169.254", never},
	{"::ffff:0.0.0.0", never},
	{"::ffff:255.255.255.255", never},
	// NAT64 64:ff9b::/96
	{"64:ff9b::8.8.8.8", public},
	{"64:ff9b::808:808", public},
	{"64:ff9b::127.0.0.1", privateNet},
	{"64:ff9b::a00:1", privateNet},
	{"64:ff9b::169.254.169.254", never},
	// 6to4 2002::/16: the IPv4 address is in bits 16-47
	{"2002:808:808::1", public},
	{"2002:7f00:1::", privateNet},
	{"2002:c0a8:101::1", privateNet},
	{"2002:a9fe:a9fe::", never},
	{"2002:e000::1", never},
	{"2002::", never}, // embeds 0.0.0.0
}

func TestCheckAddressTable(t *testing.T) {
	t.Parallel()
	strict, err := ssrf.New(ssrf.Config{})
	require.NoError(t, err)
	lax, err := ssrf.New(ssrf.Config{AllowPrivate: true})
	require.NoError(t, err)
	for _, tt := range addressTable {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			ip := netip.MustParseAddr(tt.addr)

			err := strict.Check(ip)
			if tt.want == public {
				require.NoError(t, err, "a public address was refused")
			} else {
				require.ErrorIs(t, err, ssrf.ErrBlocked)
				var be *ssrf.BlockedError
				require.True(t, errors.As(err, &be))
				require.Equal(t, ip, be.IP)
				require.NotEmpty(t, be.Reason)
				require.Contains(t, err.Error(), tt.addr[:2], "the message names the address")
			}

			err = lax.Check(ip)
			if tt.want == never {
				require.ErrorIs(t, err, ssrf.ErrBlocked, "AllowPrivate must not permit this")
			} else {
				require.NoError(t, err, "AllowPrivate did not permit it")
			}
		})
	}
}

func TestCheckRefusesZonesAndInvalidAddresses(t *testing.T) {
	t.Parallel()
	g, err := ssrf.New(ssrf.Config{AllowPrivate: true, Allow: []netip.Prefix{netip.MustParsePrefix("::/0")}})
	require.NoError(t, err)
	require.ErrorIs(t, g.Check(netip.MustParseAddr("fe80::1%eth0")), ssrf.ErrBlocked)
	require.ErrorIs(t, g.Check(netip.MustParseAddr("2001:4860:4860::8888%1")), ssrf.ErrBlocked)
	require.ErrorIs(t, g.Check(netip.Addr{}), ssrf.ErrBlocked)
}

func TestCheckWithAllowPrefixes(t *testing.T) {
	t.Parallel()
	g, err := ssrf.New(ssrf.Config{Allow: []netip.Prefix{
		netip.MustParsePrefix("10.1.0.0/16"),
		netip.MustParsePrefix("169.254.169.254/32"),
		netip.MustParsePrefix("fd12:3456::/32"),
		netip.MustParsePrefix("127.0.0.1/8"), // not masked: New masks it
	}})
	require.NoError(t, err)
	tests := []struct {
		addr    string
		allowed bool
	}{
		{"10.1.2.3", true},
		{"10.2.0.1", false},
		{"169.254.169.254", true},
		{"169.254.169.253", false},
		{"fd12:3456::1", true},
		{"fd12:3457::1", false},
		{"127.9.9.9", true},
		{"::ffff:10.1.0.1", true}, // the IPv4 inside matches
		{"64:ff9b::a01:1", true},  // NAT64 of 10.1.0.1
		{"2002:a01:1::", true},    // 6to4 of 10.1.0.1
		{"2002:a02:1::", false},   // 6to4 of 10.2.0.1
		{"192.168.0.1", false},
		{"8.8.8.8", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			err := g.Check(netip.MustParseAddr(tt.addr))
			if tt.allowed {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ssrf.ErrBlocked)
			}
		})
	}
}

func TestBlockedErrorMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *ssrf.BlockedError
		want string
	}{
		{"host and address", &ssrf.BlockedError{Host: "evil.example", IP: netip.MustParseAddr("10.0.0.1"), Reason: "private network"},
			`ssrf: refused to connect to "evil.example" at 10.0.0.1: private network`},
		{"address only", &ssrf.BlockedError{IP: netip.MustParseAddr("::1"), Reason: "loopback"},
			`ssrf: refused to connect to ::1: loopback`},
		{"a literal host is not repeated", &ssrf.BlockedError{Host: "127.0.0.1", IP: netip.MustParseAddr("127.0.0.1"), Reason: "loopback"},
			`ssrf: refused to connect to 127.0.0.1: loopback`},
		{"host only", &ssrf.BlockedError{Host: "0x7f.1", Reason: "odd"},
			`ssrf: refused to connect to "0x7f.1": odd`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.err.Error())
			require.ErrorIs(t, tt.err, ssrf.ErrBlocked)
		})
	}
}

func TestCheckReasonNamesTheEmbeddedAddress(t *testing.T) {
	t.Parallel()
	g, err := ssrf.New(ssrf.Config{})
	require.NoError(t, err)
	var be *ssrf.BlockedError
	require.ErrorAs(t, g.Check(netip.MustParseAddr("2002:7f00:1::")), &be)
	require.Equal(t, "6to4 embedding 127.0.0.1: loopback", be.Reason)
	require.ErrorAs(t, g.Check(netip.MustParseAddr("64:ff9b::a9fe:a9fe")), &be)
	require.Equal(t, "NAT64 embedding 169.254.169.254: cloud metadata service", be.Reason)
	require.ErrorAs(t, g.Check(netip.MustParseAddr("::ffff:10.0.0.1")), &be)
	require.Equal(t, "IPv4-mapped embedding 10.0.0.1: private network", be.Reason)
}
