package policy

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/restguard/restguard/authz"
)

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	const (
		lb     = "10.0.1.15"
		proxyP = "192.0.2.0/24"
		proxy  = "192.0.2.10"
	)
	tests := []struct {
		name    string
		trusted []netip.Prefix
		hops    int
		source  string
		header  http.Header
		want    string // "" for the zero address
		from    string
	}{
		// Fixtures 08 (merged, Envoy appended its peer) and 11 (raw header_map lines).
		{"fixture 08 hops", nil, 1, lb, http.Header{"X-Forwarded-For": {"203.0.113.7, 198.51.100.20, 10.0.1.15"}}, "198.51.100.20", SourceForwardedFor},
		{"fixture 11 hops", nil, 1, lb, http.Header{"X-Forwarded-For": {"203.0.113.7", "198.51.100.20"}}, "198.51.100.20", SourceForwardedFor},
		{"fixture 08 trusted proxies", prefixes("10.0.0.0/8"), 0, lb, http.Header{"X-Forwarded-For": {"203.0.113.7, 198.51.100.20, 10.0.1.15"}}, "198.51.100.20", SourceForwardedFor},
		{"fixture 11 trusted proxies", prefixes("10.0.0.0/8"), 0, lb, http.Header{"X-Forwarded-For": {"203.0.113.7", "198.51.100.20"}}, "198.51.100.20", SourceForwardedFor},
		{"hops 2", nil, 2, lb, http.Header{"X-Forwarded-For": {"203.0.113.7, 198.51.100.20"}}, "203.0.113.7", SourceForwardedFor},
		{"hops and trusted, peer untrusted", prefixes("10.0.0.0/8"), 1, "203.0.113.9", http.Header{"X-Forwarded-For": {"10.1.2.3"}}, "203.0.113.9", SourcePeer},

		// F2: without trust, forwarding headers are ignored.
		{"F2 XFF ignored without trust", nil, 0, "203.0.113.7", http.Header{
			"X-Forwarded-For":          {"10.1.2.3"},
			"X-Real-Ip":                {"10.1.2.3"},
			"Forwarded":                {"for=10.1.2.3"},
			"True-Client-Ip":           {"10.1.2.3"},
			"X-Envoy-External-Address": {"10.1.2.3"},
		}, "203.0.113.7", SourcePeer},
		{"F2 garbage XFF ignored without trust", nil, 0, "203.0.113.7", http.Header{"X-Forwarded-For": {"unknown, ,,"}}, "203.0.113.7", SourcePeer},

		// F3: from the right, never the left.
		{"F3 rightmost untrusted", prefixes(proxyP), 0, proxy, http.Header{"X-Forwarded-For": {"10.9.9.9, 203.0.113.7"}}, "203.0.113.7", SourceForwardedFor},
		{"F3 spoofed left ignored", prefixes(proxyP), 0, proxy, http.Header{"X-Forwarded-For": {"203.0.113.7, 10.9.9.9"}}, "10.9.9.9", SourceForwardedFor},
		{"F3 untrusted peer", prefixes(proxyP), 0, "203.0.113.7", http.Header{"X-Forwarded-For": {"10.9.9.9"}}, "203.0.113.7", SourcePeer},
		{"F3 trusted chain skipped", prefixes(proxyP), 0, proxy, http.Header{"X-Forwarded-For": {"10.9.9.9, 203.0.113.7, 192.0.2.11"}}, "203.0.113.7", SourceForwardedFor},
		{"all trusted gives leftmost", prefixes("10.0.0.0/8"), 0, "10.0.0.1", http.Header{"X-Forwarded-For": {"10.0.0.3, 10.0.0.2"}}, "10.0.0.3", SourceForwardedFor},
		{"trusted peer without XFF", prefixes("10.0.0.0/8"), 0, "10.0.0.1", nil, "10.0.0.1", SourcePeer},

		// F4: merged and raw shapes agree.
		{"F4 two lines", prefixes(proxyP), 0, proxy, http.Header{"X-Forwarded-For": {"10.9.9.9", "203.0.113.7"}}, "203.0.113.7", SourceForwardedFor},
		{"F4 merged", prefixes(proxyP), 0, proxy, http.Header{"X-Forwarded-For": {"10.9.9.9,203.0.113.7"}}, "203.0.113.7", SourceForwardedFor},
		{"F4 two lines hops", nil, 1, proxy, http.Header{"X-Forwarded-For": {"10.9.9.9", "203.0.113.7"}}, "203.0.113.7", SourceForwardedFor},
		{"F4 merged hops", nil, 1, proxy, http.Header{"X-Forwarded-For": {"10.9.9.9,203.0.113.7"}}, "203.0.113.7", SourceForwardedFor},

		// Out of range.
		{"hops without XFF", nil, 1, lb, nil, "", SourceInvalid},
		{"more hops than entries", nil, 3, lb, http.Header{"X-Forwarded-For": {"203.0.113.7"}}, "", SourceInvalid},
		{"65 elements", prefixes(proxyP), 0, proxy, http.Header{"X-Forwarded-For": {strings.Repeat("192.0.2.1,", 64) + "203.0.113.7"}}, "", SourceInvalid},
		{"10000 elements", nil, 1, proxy, http.Header{"X-Forwarded-For": {strings.Repeat("203.0.113.7,", 9999) + "203.0.113.7"}}, "", SourceInvalid},
		{"64 elements over lines", prefixes(proxyP), 0, proxy, http.Header{"X-Forwarded-For": {strings.Repeat("192.0.2.1,", 62) + "192.0.2.1", "203.0.113.7"}}, "203.0.113.7", SourceForwardedFor},

		// F6: mapped peer.
		{"F6 mapped peer without trust", nil, 0, "::ffff:10.1.2.3", nil, "10.1.2.3", SourcePeer},
		{"F6 mapped peer trusted", prefixes("10.0.0.0/8"), 0, "::ffff:10.0.1.15", http.Header{"X-Forwarded-For": {"203.0.113.7, ::ffff:10.0.1.15"}}, "203.0.113.7", SourceForwardedFor},
		{"F6 mapped trusted prefix", prefixes("::ffff:10.0.0.0/104"), 0, "10.0.1.15", http.Header{"X-Forwarded-For": {"203.0.113.7"}}, "203.0.113.7", SourceForwardedFor},
		{"zero source", prefixes(proxyP), 1, "", http.Header{"X-Forwarded-For": {"203.0.113.7"}}, "", SourcePeer},
	}
	// F5: malformed elements directly left of a trusted proxy peer.
	for _, e := range []struct{ elem, want string }{
		{"unknown", ""},
		{"_hidden", ""},
		{"10.1.1.1:8080", "10.1.1.1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"2001:DB8::1", "2001:db8::1"},
		{"010.001.002.003", ""},
		{"10.1.1", ""},
		{"0x0a.1.1.1", ""},
		{"::ffff:10.1.1.1", "10.1.1.1"},
		{"10.1.1.1%eth0", ""},
		{"fe80::1%eth0", ""},
		{"[fe80::1%eth0]:80", ""},
		{"  10.1.1.1  ", "10.1.1.1"},
		{"\t10.1.1.1", "10.1.1.1"},
		{"", ""},
		{"１０.1.1.1", ""},
		{"10.1.1.1:", ""},
		{"10.1.1.1:0080", ""},
		{"10.1.1.1:99999", ""},
		{"[2001:db8::1]:x", ""},
		{"[10.1.1.1]:80", ""},
		{"2001:db8::1]", ""},
		{"10.1.1.1 10.1.1.2", ""},
		{`"[2001:db8::1]"`, ""},
	} {
		tests = append(tests, struct {
			name    string
			trusted []netip.Prefix
			hops    int
			source  string
			header  http.Header
			want    string
			from    string
		}{"F5 " + e.elem, prefixes(proxyP), 0, proxy, http.Header{"X-Forwarded-For": {e.elem}}, e.want, map[bool]string{true: SourceInvalid, false: SourceForwardedFor}[e.want == ""]})
	}
	tests = append(tests, []struct {
		name    string
		trusted []netip.Prefix
		hops    int
		source  string
		header  http.Header
		want    string
		from    string
	}{
		{"F5 empty element on the way", prefixes(proxyP), 0, proxy, http.Header{"X-Forwarded-For": {"203.0.113.7,,192.0.2.5"}}, "", SourceInvalid},
		{"F5 garbage left of client not read", prefixes(proxyP), 0, proxy, http.Header{"X-Forwarded-For": {"unknown, ,0x1, 203.0.113.7"}}, "203.0.113.7", SourceForwardedFor},
		{"F5 garbage left of client not read (hops)", nil, 1, proxy, http.Header{"X-Forwarded-For": {"unknown, _x, 203.0.113.7"}}, "203.0.113.7", SourceForwardedFor},
		{"F5 garbage right of client read (hops)", nil, 2, proxy, http.Header{"X-Forwarded-For": {"203.0.113.7, unknown"}}, "", SourceInvalid},
	}...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := &authz.Request{Header: tc.header}
			if tc.source != "" {
				req.Source = netip.MustParseAddr(tc.source)
			}
			got, from := NewClientIP(tc.trusted, tc.hops).ClientIP(req)
			var want netip.Addr
			if tc.want != "" {
				want = netip.MustParseAddr(tc.want)
			}
			if got != want || from != tc.from {
				t.Errorf("ClientIP = %v %q, want %v %q", got, from, want, tc.from)
			}
			if got.Is4In6() {
				t.Errorf("ClientIP returned a mapped address %v", got)
			}
		})
	}
}

func TestClientIPNilRequest(t *testing.T) {
	t.Parallel()
	if a, _ := NewClientIP(nil, 1).ClientIP(nil); a.IsValid() {
		t.Errorf("ClientIP(nil) = %v, want zero", a)
	}
}
