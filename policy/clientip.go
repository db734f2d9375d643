package policy

import (
	"net/netip"
	"strings"

	"github.com/restguard/restguard/authz"
)

// MaxForwardedFor bounds the number of X-Forwarded-For elements read
// (all header lines together). A longer chain gives the invalid result.
const MaxForwardedFor = 64

// Client address sources reported by ClientIP.
const (
	SourcePeer         = "peer"            // Envoy's downstream peer (source.address)
	SourceForwardedFor = "x-forwarded-for" // an X-Forwarded-For element
	SourceInvalid      = "invalid"         // X-Forwarded-For had to be read and could not be
)

const (
	headerForwardedFor  = "X-Forwarded-For"
	maxForwardedElement = 64 // bytes; longer elements are invalid
)

// ClientIP chooses the client address IP rules apply to. It implements
// authz.ClientIPResolver and is immutable and safe for concurrent use.
//
// The peer is Envoy's downstream address (Request.Source), IPv4-mapped
// IPv6 unmapped. Which address is the client:
//
//   - No trusted proxies and no trusted hops (the default): the peer,
//     always. X-Forwarded-For, X-Real-IP, Forwarded, True-Client-IP and
//     X-Envoy-External-Address are ignored entirely: any client can set
//     them (security catalogue F2).
//   - Trusted proxies set and the peer not inside one of them: the peer.
//   - Otherwise X-Forwarded-For is read. All its header lines are taken in
//     order (Envoy's raw header_map mode sends separate lines), each split
//     on ',' (Envoy's merged form "a,b, c"), elements trimmed of spaces and
//     tabs. More than 64 elements gives the invalid result. If the
//     rightmost element is the peer itself it is dropped (Envoy with
//     use_remote_address appends its peer). The chain is the elements
//     followed by the peer.
//   - With trusted hops N > 0 (and, if trusted proxies are set too, a
//     peer inside one of them): the client is the element N places left of
//     the peer, where N counts the trusted proxies including the one
//     connected to Envoy (Envoy's xff_num_trusted_hops). A chain that is
//     too short gives the invalid result.
//   - With trusted proxies only: the chain is walked from the right,
//     skipping addresses inside a trusted proxy prefix; the first
//     untrusted address is the client. If all are trusted, the leftmost.
//
// Elements are addresses "IP", "IP:port", "[IPv6]" or "[IPv6]:port".
// Anything else read on the way, from the chosen client to the peer
// ("unknown", RFC 7239 obfuscated identifiers such as "_hidden", leading
// zero or hex IPv4, short forms like "10.1", zones, empty elements,
// non-ASCII), gives the invalid result: the zero address with source
// "invalid", which IP rules deny (fail closed, catalogue F5). Elements left
// of the client are never parsed. The rightmost, never the leftmost,
// element is trusted first: the leftmost is whatever the client sent
// (catalogue F3).
//
// Every returned address is unmapped. The source is "peer" when the
// address is the peer and "x-forwarded-for" when it came from the header.
// A zero Source gives the zero address with source "peer".
type ClientIP struct {
	trusted []netip.Prefix
	hops    int
}

var _ authz.ClientIPResolver = (*ClientIP)(nil)

// NewClientIP returns a resolver. trustedProxies are masked; an IPv4-mapped
// prefix is turned into its IPv4 form. A negative trustedHops counts as 0.
func NewClientIP(trustedProxies []netip.Prefix, trustedHops int) *ClientIP {
	c := &ClientIP{hops: max(trustedHops, 0)}
	c.trusted = canonicalPrefixes(trustedProxies)
	return c
}

// ClientIP returns the client address of req and where it came from.
func (c *ClientIP) ClientIP(req *authz.Request) (netip.Addr, string) {
	if req == nil {
		return netip.Addr{}, SourceInvalid
	}
	peer := req.Source.Unmap()
	if !peer.IsValid() {
		return netip.Addr{}, SourcePeer
	}
	if len(c.trusted) == 0 && c.hops == 0 {
		return peer, SourcePeer
	}
	if len(c.trusted) > 0 && !inPrefixes(c.trusted, peer) {
		return peer, SourcePeer
	}

	values := req.Header[headerForwardedFor] // canonical: no need for Values()
	n := 0
	for _, v := range values {
		n += strings.Count(v, ",") + 1
		if n > MaxForwardedFor {
			return netip.Addr{}, SourceInvalid
		}
	}
	var buf [MaxForwardedFor]string
	elems := buf[:0]
	for _, v := range values {
		for {
			e, rest, more := strings.Cut(v, ",")
			elems = append(elems, strings.Trim(e, " \t"))
			if !more {
				break
			}
			v = rest
		}
	}
	if k := len(elems); k > 0 {
		if a, ok := parseForwardedElement(elems[k-1]); ok && a == peer {
			elems = elems[:k-1]
		}
	}

	// The chain is elems followed by peer; position len(elems) is the peer.
	if c.hops > 0 {
		client := len(elems) - c.hops
		if client < 0 {
			return netip.Addr{}, SourceInvalid
		}
		// Every element from the client to the peer must be readable.
		var addr netip.Addr
		for i := len(elems) - 1; i >= client; i-- {
			a, ok := parseForwardedElement(elems[i])
			if !ok {
				return netip.Addr{}, SourceInvalid
			}
			addr = a
		}
		return addr, SourceForwardedFor
	}
	for i := len(elems) - 1; i >= 0; i-- {
		a, ok := parseForwardedElement(elems[i])
		if !ok {
			return netip.Addr{}, SourceInvalid
		}
		if !inPrefixes(c.trusted, a) || i == 0 {
			return a, SourceForwardedFor
		}
	}
	// No elements: the trusted peer is the only (leftmost) address.
	return peer, SourcePeer
}

// parseForwardedElement parses one trimmed X-Forwarded-For element
// strictly: "IP", "IP:port", "[IPv6]" or "[IPv6]:port", ASCII only, no
// zone. netip rejects leading zeros, hex and short IPv4 forms. The result
// is unmapped.
func parseForwardedElement(e string) (netip.Addr, bool) {
	if e == "" || len(e) > maxForwardedElement {
		return netip.Addr{}, false
	}
	for i := 0; i < len(e); i++ {
		if c := e[i]; c <= 0x20 || c >= 0x7f || c == '%' {
			return netip.Addr{}, false
		}
	}
	host := e
	switch {
	case e[0] == '[':
		end := strings.IndexByte(e, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		if rest := e[end+1:]; rest != "" && (rest[0] != ':' || !isPortNumber(rest[1:])) {
			return netip.Addr{}, false
		}
		host = e[1:end]
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	case strings.Count(e, ":") == 1:
		h, port, _ := strings.Cut(e, ":")
		if !isPortNumber(port) {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is4() {
			return netip.Addr{}, false
		}
		return a, true
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// isPortNumber accepts 1-5 digits without a leading zero, up to 65535.
func isPortNumber(s string) bool {
	if s == "" || len(s) > 5 || s[0] == '0' && len(s) > 1 {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n <= 65535
}

// canonicalPrefixes masks prefixes and turns IPv4-mapped prefixes
// (::ffff:10.0.0.0/104) into IPv4 ones, because addresses are unmapped
// before matching. Invalid prefixes are dropped.
func canonicalPrefixes(in []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		if !p.IsValid() {
			continue
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
