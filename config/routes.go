package config

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/policy"
)

// HostRoutes is the review of one host: for each route pattern that
// applies to it, in the order the router tries them, the rule that really
// decides a request of that pattern (`restguard routes`, issue 12 §2).
type HostRoutes struct {
	// Host is a configured host name, or "" for any other host.
	Host   string
	Routes []RouteReview
}

// RouteReview is one row of the review.
type RouteReview struct {
	// Pattern and Methods are the route's own; Rule is the rule that
	// decides its example request (the route's, unless an earlier route
	// takes that request on this host).
	Pattern, Methods string
	Rule             RuleSummary
	// Request is a concrete request of the pattern, ready for the engine
	// (no credentials); its Source is inside the rule's IP allow-list when
	// it has one, so that the answers show the credential's effect.
	Request authz.Request
	// StripsCredentials: a pass rule that removes bearer tokens and
	// session cookies (the Atlassian exclusions).
	StripsCredentials bool
}

// Review lists, per configured host and for any other host, which rule
// decides each route pattern.
func (rt *Runtime) Review() []HostRoutes {
	r := rt.Router
	if r == nil {
		return nil
	}
	anyHost, fresh := r.Fresh()
	var hosts []string
	for _, s := range rt.Rules {
		for _, h := range s.Hosts {
			if h = strings.ToLower(h); !strings.Contains(h, "*") && !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	hosts = append(hosts, anyHost)
	var out []HostRoutes
	for _, h := range hosts {
		hr := HostRoutes{Host: h}
		if h == anyHost {
			hr.Host = ""
		}
		for i := range rt.origins {
			w, ok := rt.example(i, h)
			if !ok {
				continue
			}
			d := r.Decides(w)
			sum := rt.summaryOf(d)
			req := authz.Request{ID: "routes", Method: w.Method, Host: w.Host, Path: w.Path, Header: map[string][]string{}, Source: rt.sourceFor(d)}
			// One row per route: its first pattern names it.
			pat := "/**"
			if ps := rt.Rules[i].Paths; len(ps) > 0 {
				pat = ps[0]
			}
			hr.Routes = append(hr.Routes, RouteReview{
				Pattern: pat, Methods: list(rt.Rules[i].Methods), Rule: sum, Request: req,
				StripsCredentials: r.Rule(d).StripCredentials,
			})
		}
		// Everything no route takes.
		w := policy.Witness{Method: "GET", Host: h, Path: "/" + fresh + "/" + fresh}
		if d := r.Decides(w); d < 0 {
			hr.Routes = append(hr.Routes, RouteReview{Pattern: "(anything else)", Methods: "*", Rule: rt.summaryOf(-1),
				Request: authz.Request{ID: "routes", Method: "GET", Host: h, Path: w.Path, Header: map[string][]string{}, Source: rt.sourceFor(-1)}})
		}
		if len(hr.Routes) > 0 {
			out = append(out, hr)
		}
	}
	return out
}

// example returns a witness of route i on host h that route i decides
// itself, preferring GET and the shortest path; false when every request
// of the route on that host goes to an earlier route, or the route does
// not apply to the host.
func (rt *Runtime) example(i int, h string) (policy.Witness, bool) {
	var best policy.Witness
	found := false
	for _, w := range rt.Router.Witnesses(i) {
		if w.Host != h || rt.Router.Decides(w) != i {
			continue
		}
		if !found || w.Method == "GET" && best.Method != "GET" || w.Method == best.Method && len(w.Path) < len(best.Path) {
			best, found = w, true
		}
	}
	return best, found
}

// summaryOf returns the summary of route j (-1: the default rule).
func (rt *Runtime) summaryOf(j int) RuleSummary {
	if j < 0 || j >= len(rt.Rules)-1 {
		return rt.Rules[len(rt.Rules)-1]
	}
	return rt.Rules[j]
}

// sourceFor is a client address inside route j's IP allow-list, or
// 127.0.0.1 when it has none.
func (rt *Runtime) sourceFor(j int) netip.Addr {
	var allow []string
	if j >= 0 && j < len(rt.origins) {
		switch o := rt.origins[j]; {
		case o.rule >= 0:
			allow = rt.Config.Rules[o.rule].IP.Allow
		case !o.public:
			allow = rt.Config.Atlassian.Products[o.product].IP.Allow
		}
	}
	for _, a := range allow {
		if p, err := ParseCIDR(a); err == nil {
			return p.Addr()
		}
	}
	return netip.MustParseAddr("127.0.0.1")
}

func list(ss []string) string {
	if len(ss) == 0 {
		return "*"
	}
	return strings.Join(ss, ",")
}
