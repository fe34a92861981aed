package receiver

import (
	"net/http"
	"net/netip"
	"strings"
)

// sourceFilter implements the source-IP allow-list.
type sourceFilter struct {
	allowed []netip.Prefix
	proxies []netip.Prefix
}

func containsAddr(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// allow reports whether the request comes from an allowed source. The
// client is the TCP peer, unless the peer is a trusted proxy: then the
// forwarding headers (Forwarded, else X-Forwarded-For) are walked from the
// right, skipping trusted proxies, and the first other address is the
// client. A malformed or missing hop fails closed.
func (f *sourceFilter) allow(r *http.Request) bool {
	if len(f.allowed) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	var peer netip.Addr
	if err == nil {
		peer = ap.Addr().Unmap()
	} else if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		peer = a.Unmap()
	} else {
		return false
	}
	client := peer
	if containsAddr(f.proxies, peer) {
		var ok bool
		if client, ok = f.forwardedClient(r.Header); !ok {
			return false
		}
	}
	return containsAddr(f.allowed, client)
}

// forwardedClient walks the forwarding headers from the right.
func (f *sourceFilter) forwardedClient(h http.Header) (netip.Addr, bool) {
	if vs := h["Forwarded"]; len(vs) > 0 {
		return f.walk(vs, parseForwardedFor)
	}
	if vs := h["X-Forwarded-For"]; len(vs) > 0 {
		return f.walk(vs, parseXFF)
	}
	return netip.Addr{}, false // a trusted proxy that did not say who the client is
}

// walk visits the comma-separated hops of the header lines vs from the
// last to the first; it returns the first hop that is not a trusted proxy.
// When every hop is trusted, the leftmost one is the client.
func (f *sourceFilter) walk(vs []string, parse func(string) (netip.Addr, bool)) (netip.Addr, bool) {
	var last netip.Addr
	for i := len(vs) - 1; i >= 0; i-- {
		line := vs[i]
		for line != "" {
			j := strings.LastIndexByte(line, ',')
			hop := line[j+1:]
			if j < 0 {
				line = ""
			} else {
				line = line[:j]
			}
			a, ok := parse(strings.TrimSpace(hop))
			if !ok {
				return netip.Addr{}, false
			}
			if !containsAddr(f.proxies, a) {
				return a, true
			}
			last = a
		}
	}
	return last, last.IsValid()
}

func parseXFF(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// parseForwardedFor extracts the for= node of one RFC 7239 forwarded-element
// ("for=192.0.2.60;proto=http", `for="[2001:db8::1]:4711"`).
func parseForwardedFor(elem string) (netip.Addr, bool) {
	for elem != "" {
		var pair string
		pair, elem, _ = strings.Cut(elem, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(k, "for") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		if strings.HasPrefix(v, "[") { // [v6] or [v6]:port
			end := strings.IndexByte(v, ']')
			if end < 0 {
				return netip.Addr{}, false
			}
			v = v[1:end]
		} else if i := strings.IndexByte(v, ':'); i >= 0 { // v4:port
			v = v[:i]
		}
		return parseXFF(v)
	}
	return netip.Addr{}, false // no for= (or "unknown"/obfuscated): cannot tell
}
