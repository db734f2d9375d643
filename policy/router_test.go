package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/restguard/restguard/authz"
)

var (
	ruleREST    = &authz.Rule{Name: "rest", Action: authz.ActionAuthenticate}
	ruleStatus  = &authz.Rule{Name: "status", Action: authz.ActionPass}
	ruleStatic  = &authz.Rule{Name: "static", Action: authz.ActionPass}
	ruleAdmin   = &authz.Rule{Name: "admin", Action: authz.ActionDeny}
	ruleDefPass = &authz.Rule{Name: "default", Action: authz.ActionPass, Reason: authz.ReasonDefaultPass}
	ruleDefAuth = &authz.Rule{Name: "default", Action: authz.ActionAuthenticate}
)

// atlassianRouter is the default profile: REST protected, /status and
// static resources public, everything else passes.
func atlassianRouter(t testing.TB) *Router {
	t.Helper()
	r, err := NewRouter([]RouteSpec{
		{Rule: ruleStatus, Paths: []string{"/status"}},
		{Rule: ruleREST, Paths: []string{"/rest/**"}},
		{Rule: ruleStatic, Paths: []string{"/s/**", "/download/batch/**"}},
		{Rule: ruleAdmin, Paths: []string{"/secure/admin/**"}},
	}, ruleDefPass)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func get(path string) *authz.Request {
	return &authz.Request{Method: "GET", Host: "jira.example.test", Path: path}
}

// TestPathTricksNeverReachPublicRule: every G1/G3/G4 path without a token
// either lands on a rule that does not pass (and is authenticated there)
// or is refused with 400.
func TestPathTricksNeverReachPublicRule(t *testing.T) {
	t.Parallel()
	r := atlassianRouter(t)
	tests := []struct {
		path   string
		rule   *authz.Rule   // expected rule
		reason authz.Reason  // "" for Continue
		status authz.Verdict // Continue or BadRequest
	}{
		{"//rest/api/2/myself", ruleREST, "", authz.Continue},
		{"/./rest/api/2/myself", ruleREST, "", authz.Continue},
		{"/status/../rest/api/2/myself", ruleREST, "", authz.Continue},
		{"/status/..;/rest/api/2/myself", ruleREST, "", authz.Continue},
		{"/status;/../rest/api/2/myself", ruleREST, "", authz.Continue},
		{"/status;x=y/../rest/api/2/myself", ruleREST, "", authz.Continue},
		{"/%72est/api/2/myself", ruleREST, "", authz.Continue},
		{"/rest;jsessionid=1/api/2/myself", ruleREST, "", authz.Continue},
		{"/%2e/rest/api/2/myself", ruleREST, "", authz.Continue},
		{"/status/%2e%2e/rest/api/2/myself", ruleREST, "", authz.Continue},
		{"/status%2f..%2frest/api/2/myself", ruleDefPass, authz.ReasonPathAmbiguous, authz.BadRequest},
		{"/rest%2fapi/2/myself", ruleDefPass, authz.ReasonPathAmbiguous, authz.BadRequest},
		{"/\\rest/api/2/myself", ruleREST, "", authz.Continue},
		{"/rest/api/2/myself%00", ruleREST, "", authz.Continue},
		{"/REST/api/2/myself", ruleDefPass, authz.ReasonPathAmbiguous, authz.BadRequest},
		{"/Rest/api/2/myself", ruleDefPass, authz.ReasonPathAmbiguous, authz.BadRequest},
		{"/rest/api/2/myself.", ruleREST, "", authz.Continue},
		{"/status/../../rest/api/2/myself", ruleDefPass, authz.ReasonMalformedRequest, authz.BadRequest},
		{"http://jira.example.test/rest/api/2/myself", ruleDefPass, authz.ReasonMalformedRequest, authz.BadRequest},
		{"/status#/rest", ruleDefPass, authz.ReasonPathAmbiguous, authz.BadRequest},
		{"/status%3f/../rest/api/2/myself", ruleREST, "", authz.Continue},
		{"/status;/", ruleStatus, authz.ReasonPathAmbiguous, authz.BadRequest},
		{"/s/x/_/;/WEB-INF/web.xml", ruleStatic, authz.ReasonPathAmbiguous, authz.BadRequest},
		{"/secure/admin/x.jspa;", ruleAdmin, "", authz.Continue},
		{"/%73ecure/admin/x.jspa", ruleAdmin, "", authz.Continue},
		{"/SECURE/admin/x.jspa", ruleDefPass, authz.ReasonPathAmbiguous, authz.BadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			rule, d := r.Match(get(tc.path))
			if d.Verdict == authz.Continue && rule.Action == authz.ActionPass {
				t.Fatalf("Match(%q) = pass rule %q with Continue: public bypass", tc.path, rule.Name)
			}
			if rule != tc.rule || d.Verdict != tc.status || d.Reason != tc.reason {
				t.Errorf("Match(%q) = %q %s %q, want %q %s %q", tc.path, rule.Name, d.Verdict, d.Reason, tc.rule.Name, tc.status, tc.reason)
			}
		})
	}
}

// TestPublicPrefixConfusion (G3): only /status itself is the public rule.
func TestPublicPrefixConfusion(t *testing.T) {
	t.Parallel()
	r := atlassianRouter(t)
	for path, want := range map[string]*authz.Rule{
		"/status":       ruleStatus,
		"/status/":      ruleStatus,
		"/statusfoo":    ruleDefPass,
		"/status-admin": ruleDefPass,
		"/status.json":  ruleDefPass,
		"/status/x":     ruleDefPass,
		"/rest":         ruleREST,
		"/restfoo":      ruleDefPass,
	} {
		rule, d := r.Match(get(path))
		if rule != want || d.Verdict != authz.Continue {
			t.Errorf("Match(%q) = %q %s, want %q continue", path, rule.Name, d.Verdict, want.Name)
		}
	}
}

func TestStaticRewriteDoesNotExposeREST(t *testing.T) {
	t.Parallel()
	r := atlassianRouter(t)
	tests := []struct {
		path    string
		rule    *authz.Rule
		verdict authz.Verdict
	}{
		{"/s/x/_/rest/api/2/myself", ruleStatic, authz.BadRequest},
		{"/s/a/b/c/_/rest/api/2/myself", ruleStatic, authz.BadRequest},
		{"/s/x/_/REST/api/2/myself", ruleStatic, authz.BadRequest},
		{"/s/x/_/secure/admin/ViewApplicationProperties.jspa", ruleStatic, authz.BadRequest},
		{"/s/x/_/y/_/rest/api", ruleStatic, authz.BadRequest},
		{"/s/0/_/rest/_", ruleStatic, authz.BadRequest},
		{"/S/x/_/rest/api/2/myself", ruleDefPass, authz.BadRequest},
		{"/s/d41d8cd9/1.0/_/download/batch/app.css", ruleStatic, authz.Continue},
		{"/s/d41d8cd9/1.0/_/images/logo.png", ruleStatic, authz.Continue},
		{"/s/en_GB/9120/abc/_/rest", ruleStatic, authz.BadRequest},
		{"/s/plain.css", ruleStatic, authz.Continue},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			rule, d := r.Match(get(tc.path))
			if rule != tc.rule || d.Verdict != tc.verdict {
				t.Fatalf("Match(%q) = %q %s %q, want %q %s", tc.path, rule.Name, d.Verdict, d.Reason, tc.rule.Name, tc.verdict)
			}
			if d.Verdict == authz.BadRequest && d.Reason != authz.ReasonPathAmbiguous {
				t.Errorf("reason = %q, want %q", d.Reason, authz.ReasonPathAmbiguous)
			}
		})
	}
}

func TestStaticRewriteBelowContextPath(t *testing.T) {
	t.Parallel()
	r, err := NewRouter([]RouteSpec{
		{Rule: ruleREST, Paths: []string{"/jira/rest/**"}},
		{Rule: ruleStatic, Paths: []string{"/jira/s/**"}},
	}, ruleDefPass)
	if err != nil {
		t.Fatal(err)
	}
	if rule, d := r.Match(get("/jira/s/x/_/rest/api/2/myself")); d.Reason != authz.ReasonPathAmbiguous {
		t.Errorf("Match = %q %s %q, want path_ambiguous", rule.Name, d.Verdict, d.Reason)
	}
}

// TestHostMatchingCaseAndPort (G5).
func TestHostMatchingCaseAndPort(t *testing.T) {
	t.Parallel()
	jira := &authz.Rule{Name: "jira"}
	wiki := &authz.Rule{Name: "wiki"}
	r, err := NewRouter([]RouteSpec{
		{Rule: jira, Hosts: []string{"jira.example.com"}},
		{Rule: wiki, Hosts: []string{"*.wiki.example.com", "Confluence.Example.com."}},
	}, ruleDefAuth)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host    string
		want    *authz.Rule
		verdict authz.Verdict
	}{
		{"jira.example.com", jira, authz.Continue},
		{"JIRA.EXAMPLE.COM", jira, authz.Continue},
		{"JIRA.EXAMPLE.COM.", jira, authz.Continue},
		{"jira.example.com:443", jira, authz.Continue},
		{"jira.example.com.:8443", jira, authz.Continue},
		{"jira.example.com.evil.test", ruleDefAuth, authz.Continue},
		{"xjira.example.com", ruleDefAuth, authz.Continue},
		{"confluence.example.com", wiki, authz.Continue},
		{"a.wiki.example.com", wiki, authz.Continue},
		{"a.b.wiki.example.com", wiki, authz.Continue},
		{"wiki.example.com", ruleDefAuth, authz.Continue},
		{"evilwiki.example.com", ruleDefAuth, authz.Continue},
		{"", ruleDefAuth, authz.Continue},
		{"unknown.test", ruleDefAuth, authz.Continue},
		{"alice:pass@jira.example.com", ruleDefAuth, authz.BadRequest},
		{"jira.example.com:https", ruleDefAuth, authz.BadRequest},
		{"jira example.com", ruleDefAuth, authz.BadRequest},
		{"jira..example.com", ruleDefAuth, authz.BadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			t.Parallel()
			rule, d := r.Match(&authz.Request{Method: "GET", Host: tc.host, Path: "/rest/api/2/myself"})
			if rule != tc.want || d.Verdict != tc.verdict {
				t.Errorf("Match(host %q) = %q %s, want %q %s", tc.host, rule.Name, d.Verdict, tc.want.Name, tc.verdict)
			}
		})
	}
}

func TestNormalizeHost(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Jira.Example.COM.:443": "jira.example.com",
		"jira.example.com:":     "jira.example.com",
		"10.0.0.1:8080":         "10.0.0.1",
		"[2001:DB8::1]:8443":    "[2001:db8::1]",
		"[2001:db8::1]":         "[2001:db8::1]",
		"2001:db8::1":           "",
		"[2001:db8::1":          "",
		"[]":                    "",
		"a@b":                   "",
		".":                     "",
		"":                      "",
		"a:123456":              "",
		"caf\xc3\xa9.test":      "",
	} {
		if got := NormalizeHost(in); got != want {
			t.Errorf("NormalizeHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMethodCaseDoesNotBypass (G6): a lower-case method never matches a
// method-restricted rule, and never turns a protected request into a
// public one.
func TestMethodCaseDoesNotBypass(t *testing.T) {
	t.Parallel()
	write := &authz.Rule{Name: "write"}
	read := &authz.Rule{Name: "read", Action: authz.ActionPass}
	r, err := NewRouter([]RouteSpec{
		{Rule: write, Paths: []string{"/rest/**"}, Methods: []string{"POST", "PUT", "DELETE"}},
		{Rule: read, Paths: []string{"/rest/**"}, Methods: []string{"GET"}},
	}, ruleDefPass)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method  string
		want    *authz.Rule
		verdict authz.Verdict
	}{
		{"POST", write, authz.Continue},
		{"DELETE", write, authz.Continue},
		{"GET", read, authz.Continue},
		{"get", ruleDefPass, authz.Continue}, // falls through; its case variant GET is a pass rule too
		{"post", ruleDefPass, authz.BadRequest},
		{"Put", ruleDefPass, authz.BadRequest},
		{"TRACE", ruleDefPass, authz.Continue},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			t.Parallel()
			rule, d := r.Match(&authz.Request{Method: tc.method, Path: "/rest/api/2/issue"})
			if rule != tc.want || d.Verdict != tc.verdict {
				t.Errorf("Match(%s) = %q %s %q, want %q %s", tc.method, rule.Name, d.Verdict, d.Reason, tc.want.Name, tc.verdict)
			}
		})
	}
}

func TestMatchAmbiguousOnProtectedRuleAuthenticates(t *testing.T) {
	t.Parallel()
	r, err := NewRouter([]RouteSpec{{Rule: ruleStatus, Paths: []string{"/status"}}}, ruleDefAuth)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/rest%2fapi/2/myself", "/REST/api", "/status;x", "/STATUS"} {
		rule, d := r.Match(get(p))
		switch p {
		case "/status;x":
			if rule != ruleStatus || d.Reason != authz.ReasonPathAmbiguous {
				t.Errorf("Match(%q) = %q %s %q, want status path_ambiguous", p, rule.Name, d.Verdict, d.Reason)
			}
		default:
			if rule != ruleDefAuth || d.Verdict != authz.Continue {
				t.Errorf("Match(%q) = %q %s, want default continue", p, rule.Name, d.Verdict)
			}
		}
	}
}

func TestMatchNilRequest(t *testing.T) {
	t.Parallel()
	r := atlassianRouter(t)
	rule, d := r.Match(nil)
	if rule == nil || d.Verdict != authz.BadRequest {
		t.Errorf("Match(nil) = %v %s, want default rule and 400", rule, d.Verdict)
	}
}

func TestNewRouterErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewRouter(nil, nil); err == nil {
		t.Error("NewRouter without default rule: no error")
	}
	tests := []struct {
		name string
		spec RouteSpec
		want string
	}{
		{"nil rule", RouteSpec{Paths: []string{"/a"}}, "routes[0]: no rule"},
		{"relative path", RouteSpec{Rule: ruleREST, Paths: []string{"rest"}}, "routes[0].paths[0]"},
		{"star in segment", RouteSpec{Rule: ruleREST, Paths: []string{"/a", "/*.png"}}, "routes[0].paths[1]"},
		{"host with port", RouteSpec{Rule: ruleREST, Hosts: []string{"jira:443"}}, "routes[0].hosts[0]"},
		{"host with space", RouteSpec{Rule: ruleREST, Hosts: []string{"a b"}}, "routes[0].hosts[0]"},
		{"bad wildcard", RouteSpec{Rule: ruleREST, Hosts: []string{"*.*.example.com"}}, "routes[0].hosts[0]"},
		{"lower-case method", RouteSpec{Rule: ruleREST, Methods: []string{"get"}}, "routes[0].methods[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewRouter([]RouteSpec{tc.spec}, ruleDefAuth)
			if err == nil || !strings.HasPrefix(err.Error(), "policy: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewRouter error = %v, want one starting with \"policy: \" and containing %q", err, tc.want)
			}
		})
	}
}

func hundredRoutes(t testing.TB) ([]*authz.Rule, *Router) {
	t.Helper()
	var specs []RouteSpec
	var rules []*authz.Rule
	for i := range 100 {
		rule := &authz.Rule{Name: fmt.Sprintf("r%d", i), Action: authz.Action(i % 2)}
		rules = append(rules, rule)
		specs = append(specs, RouteSpec{
			Rule:  rule,
			Hosts: []string{fmt.Sprintf("h%d.example.com", i%3), "*.all.example.com"},
			Paths: []string{fmt.Sprintf("/app%d/**", i), fmt.Sprintf("/x/*/y%d", i)},
		})
	}
	r, err := NewRouter(specs, ruleDefAuth)
	if err != nil {
		t.Fatal(err)
	}
	return rules, r
}

func TestHundredRouteRouter(t *testing.T) {
	t.Parallel()
	rules, r := hundredRoutes(t)
	for i, want := range rules {
		for _, p := range []string{fmt.Sprintf("/app%d/a/b", i), fmt.Sprintf("/x/z/y%d", i)} {
			req := &authz.Request{Method: "GET", Host: fmt.Sprintf("H%d.EXAMPLE.COM:443", i%3), Path: p}
			rule, d := r.Match(req)
			if rule != want || d.Verdict != authz.Continue {
				t.Fatalf("Match(%q) = %q %s, want %q", p, rule.Name, d.Verdict, want.Name)
			}
		}
		req := &authz.Request{Method: "GET", Host: fmt.Sprintf("h%d.example.com", (i+1)%3), Path: fmt.Sprintf("/app%d", i)}
		if rule, _ := r.Match(req); rule != ruleDefAuth {
			t.Fatalf("host h%d: rule %q, want default", (i+1)%3, rule.Name)
		}
	}
}

func BenchmarkRouterMatch(b *testing.B) {
	_, r := hundredRoutes(b)
	req := &authz.Request{Method: "GET", Host: "x.all.example.com", Path: "/app99/rest/api/2/issue/ABC-1"}
	b.ReportAllocs()
	for b.Loop() {
		r.Match(req)
	}
}

func BenchmarkRouterMatchPublic(b *testing.B) {
	r := atlassianRouter(b)
	req := get("/s/d41d8cd9/1.0/_/download/batch/app.css")
	b.ReportAllocs()
	for b.Loop() {
		r.Match(req)
	}
}

// TestStaticRewriteCannotDodgeAnotherRule: /s/<x>/_/<path> is served as
// /<path>; between two authenticating rules the rewrite must not let a
// request escape the stricter one (a group rule on /rest/admin/**).
func TestStaticRewriteCannotDodgeAnotherRule(t *testing.T) {
	t.Parallel()
	admin := &authz.Rule{Name: "admin", Action: authz.ActionAuthenticate}
	static := &authz.Rule{Name: "static", Action: authz.ActionAuthenticate}
	r, err := NewRouter([]RouteSpec{
		{Rule: admin, Paths: []string{"/rest/admin/**"}},
		{Rule: static, Paths: []string{"/s/**"}},
		{Rule: &authz.Rule{Name: "resources", Action: authz.ActionPass}, Paths: []string{"/download/resources/**"}},
	}, &authz.Rule{Name: "default", Action: authz.ActionDeny})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]authz.Reason{
		"/s/x/_/rest/admin/x":            authz.ReasonPathAmbiguous, // served as a group-protected path
		"/s/x/_/secret/report":           authz.ReasonPathAmbiguous, // served as a path the default denies
		"/s/x/_/download/resources/a.js": "",                        // served as a public resource
		"/s/x/_/s/y/z.js":                "",                        // served by the same rule
		"/rest/admin/x":                  "",
	} {
		rule, d := r.Match(&authz.Request{Method: "GET", Host: "jira.example.com", Path: path})
		if want == "" && d.Verdict != authz.Continue || want != "" && d.Reason != want {
			t.Errorf("%s: rule %s, %s/%s", path, rule.Name, d.Verdict, d.Reason)
		}
	}
}

// TestHeadIsJudgedByTheGetRule: HEAD runs the GET handler (Tomcat's
// HttpServlet.doHead, JAX-RS), so a GET-only rule judges HEAD too (seams
// item 4).
func TestHeadIsJudgedByTheGetRule(t *testing.T) {
	t.Parallel()
	deny := &authz.Rule{Name: "no-user-read", Action: authz.ActionDeny}
	r, err := NewRouter([]RouteSpec{
		{Rule: deny, Paths: []string{"/rest/api/2/user"}, Methods: []string{"GET"}},
		{Rule: ruleREST, Paths: []string{"/rest/**"}},
	}, ruleDefPass)
	if err != nil {
		t.Fatal(err)
	}
	for method, want := range map[string]*authz.Rule{"GET": deny, "HEAD": deny, "POST": ruleREST, "head": ruleREST} {
		if got, _ := r.Match(&authz.Request{Method: method, Host: "h", Path: "/rest/api/2/user"}); got != want {
			t.Errorf("%s: rule %s, want %s", method, got.Name, want.Name)
		}
	}
}

// TestRepresentationSuffixIsTheSameResource: Atlassian's REST module serves
// ".../user.json" as ".../user"; a request must not be judged by another
// rule than the resource's (seams item 6).
func TestRepresentationSuffixIsTheSameResource(t *testing.T) {
	t.Parallel()
	deny := &authz.Rule{Name: "no-user", Action: authz.ActionDeny}
	admins := &authz.Rule{Name: "admins", Action: authz.ActionAuthenticate}
	public := &authz.Rule{Name: "public", Action: authz.ActionPass}
	r, err := NewRouter([]RouteSpec{
		{Rule: deny, Paths: []string{"/rest/api/2/user"}},
		{Rule: admins, Paths: []string{"/rest/api/2/group"}},
		{Rule: public, Paths: []string{"/rest/api/2/serverInfo.json", "/robots.txt"}},
		{Rule: ruleREST, Paths: []string{"/rest/**"}},
	}, ruleDefAuth)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		rule *authz.Rule
		bad  bool // 400 path_ambiguous
	}{
		{"/rest/api/2/user.json", ruleREST, true},
		{"/rest/api/2/user.xml", ruleREST, true},
		{"/rest/api/2/user.atom", ruleREST, true},
		{"/rest/api/2/group.html", ruleREST, true},
		{"/rest/api/2/group.htm", ruleREST, true},
		{"/rest/api/2/group.txt", ruleREST, true},
		{"/rest/api/2/group/.json", ruleREST, true},
		{"/s/x/_/rest/api/2/user.json", ruleDefAuth, true},
		{"/rest/api/2/user.JSON", ruleREST, false}, // the filter is case-sensitive
		{"/rest/api/2/user.json/", ruleREST, false},
		{"/rest/api/2/user.yaml", ruleREST, false},
		{"/rest/api/2/myself.json", ruleREST, false},
		// A public rule written with the suffix: its literal path is
		// served as /rest/api/2/serverInfo, which /rest/** protects.
		{"/rest/api/2/serverInfo.json", public, true},
		// Not below /rest: no suffix handling.
		{"/robots.txt", public, false},
	}
	for _, tt := range tests {
		rule, d := r.Match(get(tt.path))
		if rule != tt.rule || (d.Verdict == authz.BadRequest) != tt.bad || tt.bad && d.Reason != authz.ReasonPathAmbiguous {
			t.Errorf("%s: rule %s %s/%s, want rule %s, refused %v", tt.path, rule.Name, d.Verdict, d.Reason, tt.rule.Name, tt.bad)
		}
	}
}
