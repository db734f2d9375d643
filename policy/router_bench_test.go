package policy

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/restguard/restguard/authz"
)

// benchRouter compiles n rules, each for its own path prefix, method list
// and (every fourth) host, the shape of a large multi-product
// configuration. The catch-all default denies.
func benchRouter(b *testing.B, n int) *Router {
	b.Helper()
	specs := make([]RouteSpec, 0, n)
	for i := range n {
		spec := RouteSpec{
			Rule:  &authz.Rule{Name: fmt.Sprint("rule-", i), Action: authz.ActionAuthenticate},
			Paths: []string{fmt.Sprintf("/app%d/rest/api/*/issue/**", i), fmt.Sprintf("/app%d/status", i)},
		}
		if i%4 == 0 {
			spec.Hosts = []string{fmt.Sprintf("app%d.example.com", i), "*.example.org"}
		}
		if i%2 == 0 {
			spec.Methods = []string{"GET", "POST"}
		}
		specs = append(specs, spec)
	}
	r, err := NewRouter(specs, &authz.Rule{Name: "default", Action: authz.ActionDeny})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkRouterMatch100Rules: a request that the last of 100 rules
// matches (every rule is tried), one the first matches, and one no rule
// matches (the default).
func BenchmarkRouterMatch100Rules(b *testing.B) {
	r := benchRouter(b, 100)
	for _, tc := range []struct {
		name, host, path, want string
	}{
		{"last", "app99.example.com", "/app99/rest/api/2/issue/PROJ-1", "rule-99"},
		{"first", "app0.example.com", "/app0/rest/api/2/issue/PROJ-1", "rule-0"},
		{"none", "jira.example.com", "/elsewhere/rest/api/2/issue/PROJ-1", "default"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := &authz.Request{Method: "GET", Host: tc.host, Path: tc.path, Header: http.Header{}}
			if rule, d := r.Match(req); rule == nil || rule.Name != tc.want || d.Verdict != authz.Continue {
				b.Fatalf("matched %v (%s), want %s", rule, d.Verdict, tc.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				r.Match(req)
			}
		})
	}
}
