package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/restguard/restguard/authz"
)

// RouteSpec is one route of a Router: a rule and what requests it applies
// to. A request matches when its host, method and path all match.
type RouteSpec struct {
	// Rule is the compiled rule (required).
	Rule *authz.Rule
	// Hosts are host names ("jira.example.com") or wildcards
	// ("*.example.com": one or more labels in front of example.com, not
	// example.com itself; "*": any host). Compared case-insensitively with
	// the request host as NormalizeHost returns it. Empty: any host.
	Hosts []string
	// Paths are patterns over the normalised path (see NormalizePath):
	// literal segments, "*" for exactly one segment and "**" (at most once)
	// for zero or more segments, each as a whole segment. "/rest/**"
	// matches "/rest", "/rest/" and "/rest/a/b"; "/status" matches "/status"
	// and "/status/" but not "/statusfoo", "/status.json" or "/status/x".
	// Literal segments are compared exactly (case-sensitively, as Tomcat
	// does). Empty: any path.
	Paths []string
	// Methods are upper-case method names, compared exactly: a request
	// method "get" does not match "GET". GET implies HEAD, which servlet
	// containers and JAX-RS serve with the GET handler. Empty: any method.
	Methods []string
}

type route struct {
	rule    *authz.Rule
	exact   []string // lower-case host names
	suffix  []string // ".example.com" for "*.example.com"
	anyHost bool
	paths   []glob // empty: any path
	methods []string
}

// Router implements authz.Router over a list of routes: the first route
// that matches wins, and the default rule applies when none does. It is
// immutable and safe for concurrent use.
//
// A pass rule (authz.ActionPass: a public route or a default pass) is never
// reached through a path trick (security catalogue G1-G6). Match denies
// with 400 path_ambiguous when the chosen rule passes and any of these
// holds:
//
//   - the path was ambiguous (NormalizePath changed it, or it holds encoded
//     slashes, dots, controls, a trailing dot or non-ASCII);
//   - the same request compared case-insensitively (path and method) would
//     have chosen a rule that does not pass;
//   - a view of the path the product serves (see productViews: the
//     "/s/<x>/_/<rest>" forward, a representation suffix such as ".json")
//     would be chosen by a rule that does not pass.
//
// An authenticating rule is refused the same way (400 path_ambiguous) when
// a view of the path would be chosen by another rule that does not pass,
// say a deny rule or one with a group rule for that very resource. On
// any other rule the normalised path is what matched, so such requests are
// simply authenticated.
type Router struct {
	routes []route
	def    *authz.Rule
}

var _ authz.Router = (*Router)(nil)

// NewRouter compiles routes. def is the rule for requests no route
// matches; it must not be nil. Errors name the route and field
// ("policy: routes[2].paths[0]: ...").
func NewRouter(routes []RouteSpec, def *authz.Rule) (*Router, error) {
	if def == nil {
		return nil, errors.New("policy: router needs a default rule")
	}
	r := &Router{def: def, routes: make([]route, 0, len(routes))}
	var errs []error
	for i, spec := range routes {
		rt := route{rule: spec.Rule, anyHost: len(spec.Hosts) == 0}
		if spec.Rule == nil {
			errs = append(errs, fmt.Errorf("policy: routes[%d]: no rule", i))
		}
		for j, h := range spec.Hosts {
			exact, suffix, anyHost, err := compileHost(h)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("policy: routes[%d].hosts[%d]: %w", i, j, err))
			case anyHost:
				rt.anyHost = true
			case suffix != "":
				rt.suffix = append(rt.suffix, suffix)
			default:
				rt.exact = append(rt.exact, exact)
			}
		}
		for j, p := range spec.Paths {
			g, err := compileGlob(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("policy: routes[%d].paths[%d]: %w", i, j, err))
				continue
			}
			rt.paths = append(rt.paths, g)
		}
		for j, m := range spec.Methods {
			if !isUpperToken(m) {
				errs = append(errs, fmt.Errorf("policy: routes[%d].methods[%d]: method %q must be an upper-case token", i, j, m))
				continue
			}
			rt.methods = append(rt.methods, m)
		}
		// Tomcat's HttpServlet.doHead and JAX-RS run the GET handler for a
		// HEAD request: a rule about GET judges HEAD too (seams item 4).
		if slices.Contains(rt.methods, "GET") && !slices.Contains(rt.methods, "HEAD") {
			rt.methods = append(rt.methods, "HEAD")
		}
		r.routes = append(r.routes, rt)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// Match returns the rule for req and Continue, or a denial together with
// the rule it concerns: 400 malformed_request (with the default rule) for a
// path NormalizePath refuses or a host NormalizeHost cannot read, and 400
// path_ambiguous for a path trick toward a rule that does not pass (see
// Router). It never returns a nil rule.
func (r *Router) Match(req *authz.Request) (*authz.Rule, authz.Decision) {
	if req == nil {
		return r.def, authz.Deny(authz.BadRequest, authz.ReasonMalformedRequest, "no request")
	}
	clean, ambiguous, err := NormalizePath(req.Path)
	if err != nil {
		return r.def, authz.Deny(authz.BadRequest, authz.ReasonMalformedRequest, err.Error())
	}
	host := NormalizeHost(req.Host)
	if host == "" && req.Host != "" {
		return r.def, authz.Deny(authz.BadRequest, authz.ReasonMalformedRequest, "policy: invalid host")
	}
	var buf [32]string
	segs := segments(clean, buf[:0])
	rule := r.find(req.Method, host, segs, false)
	trailing := strings.HasSuffix(clean, "/")
	switch rule.Action {
	case authz.ActionAuthenticate:
		// The product may serve this path as another one (a view, see
		// productViews): the request must not be judged by this rule when
		// that other path would be judged by another rule that does not
		// pass (a deny rule, or one with a group rule).
		if productViews(segs, trailing, func(v []string) bool {
			target := r.find(req.Method, host, v, false)
			return target != rule && target.Action != authz.ActionPass
		}) {
			return rule, authz.Deny(authz.BadRequest, authz.ReasonPathAmbiguous, "the product serves this path as one another rule judges")
		}
	case authz.ActionPass:
		if ambiguous {
			return rule, authz.Deny(authz.BadRequest, authz.ReasonPathAmbiguous, "ambiguous path on a pass rule")
		}
		if r.find(req.Method, host, segs, true).Action != authz.ActionPass {
			return rule, authz.Deny(authz.BadRequest, authz.ReasonPathAmbiguous, "case variant of a protected route")
		}
		if productViews(segs, trailing, func(v []string) bool {
			return r.find(req.Method, host, v, false).Action != authz.ActionPass ||
				r.find(req.Method, host, v, true).Action != authz.ActionPass
		}) {
			return rule, authz.Deny(authz.BadRequest, authz.ReasonPathAmbiguous, "the product serves this path as a protected route")
		}
	}
	// A deny rule refuses whatever the product would serve.
	return rule, authz.Pass()
}

// find returns the rule of the first matching route, or the default.
// With fold, the method and literal path segments compare
// case-insensitively.
func (r *Router) find(method, host string, segs []string, fold bool) *authz.Rule {
	for i := range r.routes {
		rt := &r.routes[i]
		if rt.matchMethod(method, fold) && rt.matchPath(segs, fold) && rt.matchHost(host) {
			return rt.rule
		}
	}
	return r.def
}

func (rt *route) matchMethod(method string, fold bool) bool {
	if len(rt.methods) == 0 {
		return true
	}
	for _, m := range rt.methods {
		if m == method || fold && asciiEqualFold(m, method) {
			return true
		}
	}
	return false
}

func (rt *route) matchHost(host string) bool {
	if rt.anyHost {
		return true
	}
	if host == "" {
		return false
	}
	for _, h := range rt.exact {
		if h == host {
			return true
		}
	}
	for _, s := range rt.suffix {
		if len(host) > len(s) && strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

func (rt *route) matchPath(segs []string, fold bool) bool {
	if len(rt.paths) == 0 {
		return true
	}
	for i := range rt.paths {
		if rt.paths[i].match(segs, fold) {
			return true
		}
	}
	return false
}

// NormalizeHost returns the host of an :authority value as routes compare
// it: lower-cased, without the port and without one trailing dot
// ("JIRA.Example.COM.:443" → "jira.example.com"; "[2001:DB8::1]:8443" →
// "[2001:db8::1]"). It returns "" when the value is not a plain host name
// or IP literal, for example when it holds userinfo ("user:pass@host"),
// spaces, an empty label or a non-numeric port.
func NormalizeHost(host string) string {
	if strings.HasPrefix(host, "[") {
		return normalizeIPv6Host(host)
	}
	h := host
	if i := strings.IndexByte(h, ':'); i >= 0 {
		if !isPort(h[i+1:]) {
			return ""
		}
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || h[0] == '.' || strings.Contains(h, "..") || !isHostName(h) {
		return ""
	}
	return strings.ToLower(h)
}

// normalizeIPv6Host is NormalizeHost for a bracketed IPv6 literal with an
// optional port: the lower-cased literal with its brackets, or "".
func normalizeIPv6Host(host string) string {
	end := strings.IndexByte(host, ']')
	if end < 0 {
		return ""
	}
	if rest := host[end+1:]; rest != "" && (rest[0] != ':' || !isPort(rest[1:])) {
		return ""
	}
	h := host[:end+1]
	for i := 1; i < len(h)-1; i++ {
		if c := h[i]; !(isHex(c) || c == ':' || c == '.') {
			return ""
		}
	}
	if len(h) < 3 {
		return ""
	}
	return strings.ToLower(h)
}

// isHostName reports whether h holds only the characters of a host name
// (letters, digits, '-', '.', and '_' which some internal names use).
func isHostName(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// isPort accepts an empty port (RFC 3986 allows "host:") or 1-5 digits.
func isPort(s string) bool {
	if len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compileHost validates a host pattern: "*", "*.example.com" or a host
// name or bracketed IPv6 literal, without port.
func compileHost(p string) (exact, suffix string, anyHost bool, err error) {
	if p == "*" {
		return "", "", true, nil
	}
	name := strings.TrimSuffix(strings.ToLower(p), ".")
	wild := strings.HasPrefix(name, "*.")
	if wild {
		name = name[2:]
	}
	if name == "" || NormalizeHost(name) != name || strings.Contains(name, ":") && !strings.HasPrefix(name, "[") {
		return "", "", false, fmt.Errorf("host %q must be a host name, \"*\" or \"*.domain\", without port", p)
	}
	if wild {
		return "", "." + name, false, nil
	}
	return name, "", false, nil
}

func isUpperToken(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
