package policy

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/restguard/restguard/authz"
)

// FuzzNormalizePath: never panics; a clean path is absolute, has no empty,
// "." or ".." segment, and normalises to itself without any change. It may
// be less suspicious the second time ("/#/.." → "/"), never more.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{
		"/rest/api/2/myself", "//rest/api/2/myself", "/status/..;/rest/api/2/myself", "/%72est/api",
		"/status%2f..%2frest", "/\\rest", "/a/./b/../c/", "/%2e%2E/x", "/s/x/_/;/WEB-INF/web.xml", "/caf\xc3\xa9.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		clean, changed, suspicious, err := normalize(raw)
		if c2, amb2, err2 := NormalizePath(raw); c2 != clean || amb2 != (changed || suspicious) || (err2 == nil) != (err == nil) {
			t.Fatalf("NormalizePath and normalize disagree on %q", raw)
		}
		if err != nil {
			return
		}
		if !strings.HasPrefix(clean, "/") || strings.Contains(clean, "//") || strings.Contains(clean, "/./") ||
			strings.Contains(clean, "/../") || strings.HasSuffix(clean, "/.") || strings.HasSuffix(clean, "/..") ||
			strings.ContainsAny(clean, ";\\") {
			t.Fatalf("NormalizePath(%q) = %q: not clean", raw, clean)
		}
		again, changed2, suspicious2, err := normalize(clean)
		if err != nil || again != clean || changed2 || suspicious2 && !suspicious {
			t.Fatalf("NormalizePath(%q) = %q (suspicious %v), then %q changed=%v suspicious=%v err=%v",
				raw, clean, suspicious, again, changed2, suspicious2, err)
		}
		// Only the case of kept escapes' hex digits may change silently.
		if !strings.EqualFold(clean, raw) && !changed {
			t.Fatalf("NormalizePath(%q) = %q but reports no change", raw, clean)
		}
	})
}

// FuzzRouterMatch: never panics, never returns a nil rule, and never
// lets a request reach a pass rule when a non-pass rule matches its
// normalised path case-insensitively.
func FuzzRouterMatch(f *testing.F) {
	for _, s := range []string{
		"/rest/api/2/myself", "/REST/api", "/s/x/_/rest/api", "/status;/../rest", "/status", "/s/a/_/b", "/%2e/rest",
	} {
		f.Add("GET", "jira.example.test", s)
	}
	f.Add("post", "JIRA.example.test.:443", "/rest/x")
	f.Add("GET", "a@b", "/status")
	r := atlassianRouter(f)
	f.Fuzz(func(t *testing.T, method, host, path string) {
		rule, d := r.Match(&authz.Request{Method: method, Host: host, Path: path})
		if rule == nil {
			t.Fatal("nil rule")
		}
		if d.Verdict != authz.Continue {
			if d.Verdict != authz.BadRequest {
				t.Fatalf("verdict %s", d.Verdict)
			}
			return
		}
		if rule.Action != authz.ActionPass {
			return
		}
		clean, ambiguous, err := NormalizePath(path)
		if err != nil || ambiguous {
			t.Fatalf("pass rule %q for %q (ambiguous=%v err=%v)", rule.Name, path, ambiguous, err)
		}
		segs := segments(clean, nil)
		if got := r.find(method, NormalizeHost(host), segs, true); got.Action != authz.ActionPass {
			t.Fatalf("pass rule %q for %q, but a case variant routes to %q", rule.Name, path, got.Name)
		}
		lower := strings.ToLower(clean)
		reach := []string{lower}
		if i := strings.LastIndex(lower, "/_/"); i > 2 && strings.HasPrefix(lower, "/s/") {
			reach = append(reach, lower[i+2:]) // where UrlRewriteFilter forwards it
		}
		for _, p := range reach {
			for _, protected := range []string{"/rest", "/secure/admin"} {
				if p == protected || strings.HasPrefix(p, protected+"/") {
					t.Fatalf("pass rule %q for %q, which reaches protected %q", rule.Name, path, p)
				}
			}
		}
	})
}

// FuzzClientIP: arbitrary X-Forwarded-For values never panic, and the
// result is the zero address or a valid, unmapped, zone-free address.
func FuzzClientIP(f *testing.F) {
	f.Add("203.0.113.7, 198.51.100.20, 10.0.1.15", "", "10.0.1.15")
	f.Add("203.0.113.7", "198.51.100.20", "10.0.1.15")
	f.Add("unknown,,_x", "[2001:db8::1]:443", "::ffff:10.0.1.15")
	f.Add("010.1.1.1, 10.1.1.1%eth0", "fe80::1%eth0", "192.0.2.10")
	resolvers := []*ClientIP{
		NewClientIP(nil, 0),
		NewClientIP(nil, 1),
		NewClientIP(nil, 2),
		NewClientIP(prefixes("10.0.0.0/8", "192.0.2.0/24"), 0),
		NewClientIP(prefixes("10.0.0.0/8"), 1),
	}
	f.Fuzz(func(t *testing.T, line1, line2, source string) {
		src, _ := netip.ParseAddr(source)
		h := http.Header{"X-Forwarded-For": {line1}}
		if line2 != "" {
			h["X-Forwarded-For"] = append(h["X-Forwarded-For"], line2)
		}
		for _, c := range resolvers {
			a, from := c.ClientIP(&authz.Request{Source: src, Header: h})
			switch from {
			case SourcePeer, SourceForwardedFor, SourceInvalid:
			default:
				t.Fatalf("source %q", from)
			}
			if !a.IsValid() {
				continue
			}
			if a.Is4In6() || (a.Zone() != "" && from != SourcePeer) {
				t.Fatalf("ClientIP = %v from %s", a, from)
			}
			if from == SourceInvalid {
				t.Fatalf("valid address %v with source invalid", a)
			}
		}
	})
}
