package policy

import (
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	t.Parallel()
	const myself = "/rest/api/2/myself"
	tests := []struct {
		name      string
		raw       string
		clean     string
		ambiguous bool
		wantErr   bool
	}{
		{"plain", myself, myself, false, false},
		{"root", "/", "/", false, false},
		{"trailing slash kept", "/rest/api/", "/rest/api/", false, false},
		{"context path", "/jira" + myself, "/jira" + myself, false, false},
		{"upper case is not ambiguous by itself", "/REST/api/2/myself", "/REST/api/2/myself", false, false},
		{"dotted file name", "/status.json", "/status.json", false, false},

		// G1: normalisation tricks.
		{"G1 double slash", "//rest/api/2/myself", myself, true, false},
		{"G1 dot segment", "/./rest/api/2/myself", myself, true, false},
		{"G1 dotdot", "/status/../rest/api/2/myself", myself, true, false},
		{"G1 dotdot semicolon", "/status/..;/rest/api/2/myself", myself, true, false},
		{"G1 semicolon then dotdot", "/status;/../rest/api/2/myself", myself, true, false},
		{"G1 param then dotdot", "/status;x=y/../rest/api/2/myself", myself, true, false},
		{"G1 encoded unreserved letter", "/%72est/api/2/myself", myself, true, false},
		{"G1 jsessionid", "/rest;jsessionid=1/api/2/myself", myself, true, false},
		{"G1 encoded dot segment", "/%2e/rest/api/2/myself", myself, true, false},
		{"G1 encoded dotdot", "/status/%2e%2e/rest/api/2/myself", myself, true, false},
		{"G1 mixed encoded dotdot", "/status/.%2E/rest/api/2/myself", myself, true, false},
		{"G1 encoded slash dotdot stays one segment", "/status%2f..%2frest/api/2/myself", "/status%2F..%2Frest/api/2/myself", true, false},
		{"G1 encoded slash", "/rest%2fapi/2/myself", "/rest%2Fapi/2/myself", true, false},
		{"G1 encoded backslash", "/rest%5capi/2/myself", "/rest%5Capi/2/myself", true, false},
		{"G1 backslash", "/\\rest/api/2/myself", myself, true, false},
		{"G1 backslash dotdot", "/status\\..\\rest/api/2/myself", myself, true, false},
		{"G1 encoded NUL", "/rest/api/2/myself%00", "/rest/api/2/myself%00", true, false},
		{"G1 encoded control", "/rest/api/2/myself%0a", "/rest/api/2/myself%0A", true, false},
		{"G1 encoded percent", "/rest/api/2/%252e", "/rest/api/2/%252e", true, false},
		{"G1 trailing dot", "/rest/api/2/myself.", "/rest/api/2/myself.", true, false},
		{"G1 encoded trailing dot", "/rest/api/2/myself%2e", "/rest/api/2/myself.", true, false},
		{"G1 absolute form", "http://jira.example.test/rest/api/2/myself", "", false, true},
		{"G1 raw non-ASCII", "/caf\xc3\xa9", "/caf\xc3\xa9", true, false},
		{"G1 encoded non-ASCII", "/caf%c3%a9", "/caf%C3%A9", true, false},

		// G2 and G4.
		{"G2 static rewrite with param segment", "/s/x/_/;/WEB-INF/web.xml", "/s/x/_/WEB-INF/web.xml", true, false},
		{"G4 trailing semicolon", "/secure/InsightPluginShowGeneralConfiguration.jspa;", "/secure/InsightPluginShowGeneralConfiguration.jspa", true, false},

		// G3: prefix confusion.
		{"G3 statusfoo", "/statusfoo", "/statusfoo", false, false},
		{"G3 status-admin", "/status-admin", "/status-admin", false, false},
		{"G3 dotdot above root", "/status/../../rest/api/2/myself", "", false, true},
		{"G3 raw fragment", "/status#/rest", "/status#/rest", true, false},
		{"G3 encoded question mark", "/status%3f/../rest/api/2/myself", myself, true, false},

		// Resolution details.
		{"dot at end keeps directory", "/a/.", "/a/", true, false},
		{"dotdot at end keeps directory", "/a/b/..", "/a/", true, false},
		{"dotdot to root", "/a/..", "/", true, false},
		{"many slashes", "///a//b///", "/a/b/", true, false},
		{"param-only segment merges", "/;x/rest", "/rest", true, false},
		{"triple dot is a name", "/a/.../b", "/a/.../b", true, false},
		{"kept escape upper-cased", "/a%3bb", "/a%3Bb", false, false},
		{"decoded tilde", "/%7euser", "/~user", true, false},

		// Errors.
		{"empty", "", "", false, true},
		{"relative", "rest/api", "", false, true},
		{"asterisk form", "*", "", false, true},
		{"raw NUL", "/rest\x00/api", "", false, true},
		{"raw newline", "/rest/api\n", "", false, true},
		{"raw DEL", "/rest\x7f", "", false, true},
		{"control inside param", "/rest;a\x01b/api", "", false, true},
		{"dotdot at root", "/..", "", false, true},
		{"encoded dotdot at root", "/%2E%2e/x", "", false, true},
		{"invalid escape", "/%zz", "", false, true},
		{"truncated escape", "/a%2", "", false, true},
		{"lone percent", "/a%", "", false, true},
		{"too long", "/" + strings.Repeat("a", MaxPathBytes), "", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clean, ambiguous, err := NormalizePath(tc.raw)
			if (err != nil) != tc.wantErr {
				t.Fatalf("NormalizePath(%q) error = %v, want error %v", tc.raw, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if clean != tc.clean || ambiguous != tc.ambiguous {
				t.Errorf("NormalizePath(%q) = %q, %v; want %q, %v", tc.raw, clean, ambiguous, tc.clean, tc.ambiguous)
			}
		})
	}
}

func TestNormalizePathFastPathDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		_, _, _ = NormalizePath("/rest/api/2/issue/ABC-123/comment")
	})
	if allocs != 0 {
		t.Errorf("allocs = %v, want 0", allocs)
	}
}

func TestMatchGlob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/status", "/status", true},
		{"/status", "/status/", true},
		{"/status", "/statusfoo", false},
		{"/status", "/status-admin", false},
		{"/status", "/status.json", false},
		{"/status", "/status/x", false},
		{"/status", "/Status", false},
		{"/rest/**", "/rest", true},
		{"/rest/**", "/rest/", true},
		{"/rest/**", "/rest/a/b", true},
		{"/rest/**", "/restx/a", false},
		{"/rest/**", "/rest;x/a", false}, // ambiguous never matches
		{"/rest/*/issue", "/rest/2/issue", true},
		{"/rest/*/issue", "/rest/issue", false},
		{"/rest/*/issue", "/rest/a/b/issue", false},
		{"/**/web.xml", "/WEB-INF/web.xml", true},
		{"/**/web.xml", "/web.xml", true},
		{"/scm/*/*/**", "/scm/p/r.git/info/refs", true},
		{"/scm/*/*/**", "/scm/p", false},
		{"/", "/", true},
		{"/", "/a", false},
		{"/**", "/", true},
		{"/**", "/a/b", true},
		{"/*.png", "/a.png", false}, // invalid pattern never matches
	}
	for _, tc := range tests {
		t.Run(tc.pattern+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			if got := MatchGlob(tc.pattern, tc.path); got != tc.want {
				t.Errorf("MatchGlob(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
			}
		})
	}
}

func TestCompileGlobRejects(t *testing.T) {
	t.Parallel()
	for _, p := range []string{
		"", "rest", "/a//b", "/a/", "/*.png", "/a*", "/a/**/b/**", "/a;b", "/%2e", "/./a", "/a/..",
		"/a\\b", "/a?b", "/a#b", "/a b", "/caf\xc3\xa9", "/a\x00",
	} {
		if _, err := compileGlob(p); err == nil {
			t.Errorf("compileGlob(%q) = nil error, want an error", p)
		}
	}
}

func TestStaticRewrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		want []string
	}{
		{"/s/x/_/rest/api", []string{"/rest/api"}},
		{"/s/a/b/_/x/_/rest", []string{"/rest"}}, // greedy: the last "_"
		{"/jira/s/x/_/rest/api", []string{"/jira/rest/api"}},
		{"/s/_/rest", nil}, // "(.*)" needs something between "/s/" and "/_/"
		{"/static/x/_/rest", nil},
		{"/s/x/_/", []string{"/"}},
		{"/s/x/_", nil},
		{"/s/0/_/rest/_", []string{"/rest/_"}}, // the last "_" has no '/' after it
		{"/s/0/_/rest/_/", []string{"/"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			var got []string
			staticRewrites(segments(tc.path, nil), strings.HasSuffix(tc.path, "/"), func(rw []string) bool {
				got = append(got, "/"+strings.Join(rw, "/"))
				return false
			})
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("rewrites of %q = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}
