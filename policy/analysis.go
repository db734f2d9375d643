package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/restguard/restguard/authz"
)

// This file answers questions about a compiled Router without a request:
// which routes can never match (Shadowed) and which concrete requests
// stand for a route (Witnesses). `restguard validate` and `restguard
// routes` use them to show an administrator what the rules really do.
//
// A witness replaces every "*" of a path pattern with a fresh segment that
// no pattern of the router names, and "**" with zero up to (longest
// pattern + 1) fresh segments; a host-less route gets a fresh host besides
// every host the router names, an any-method route a fresh method besides
// every method the router names. A route pattern can only tell requests
// apart by the literal segments, hosts and methods it names, so a fresh
// value stands for every value no route names: if no witness of a route
// reaches it, no request does.

// Witness is one concrete request that a route matches.
type Witness struct {
	Method, Host, Path string
}

// Shadowed returns the indexes of the routes that can never match because
// routes before them match every request they would.
func (r *Router) Shadowed() []int {
	var out []int
	for i := range r.routes {
		if !slices.ContainsFunc(r.Witnesses(i), func(w Witness) bool { return r.routeOf(w) == i }) {
			out = append(out, i)
		}
	}
	return out
}

// Fresh returns a host and a path segment that no route names: a request
// with them is decided like any host or segment the routes do not name.
func (r *Router) Fresh() (host, segment string) {
	f := r.freshNames()
	return f.host, f.seg
}

// Decides returns the index of the route that decides w (-1: the default
// rule), comparing the path as routes do (w.Path must be clean).
func (r *Router) Decides(w Witness) int { return r.routeOf(w) }

// Rule returns the rule of route i (the default rule for -1).
func (r *Router) Rule(i int) *authz.Rule {
	if i < 0 || i >= len(r.routes) {
		return r.def
	}
	return r.routes[i].rule
}

func (r *Router) routeOf(w Witness) int {
	var buf [32]string
	segs := segments(w.Path, buf[:0])
	host := NormalizeHost(w.Host)
	for i := range r.routes {
		rt := &r.routes[i]
		if rt.matchMethod(w.Method, false) && rt.matchPath(segs, false) && rt.matchHost(host) {
			return i
		}
	}
	return -1
}

// Witnesses returns requests that route i matches, standing for all it
// matches (see the comment at the top of this file). It returns nil for
// an index out of range.
func (r *Router) Witnesses(i int) []Witness {
	if i < 0 || i >= len(r.routes) {
		return nil
	}
	rt := &r.routes[i]
	fresh := r.freshNames()
	var hosts []string
	switch {
	case rt.anyHost:
		hosts = append([]string{fresh.host}, r.namedHosts()...)
	default:
		hosts = append(hosts, rt.exact...)
		for _, s := range rt.suffix {
			hosts = append(hosts, fresh.label+s)
			for _, h := range r.namedHosts() {
				if len(h) > len(s) && strings.HasSuffix(h, s) {
					hosts = append(hosts, h)
				}
			}
		}
	}
	methods := rt.methods
	if len(methods) == 0 {
		methods = append([]string{fresh.method}, r.namedMethods()...)
	}
	var paths []string
	if len(rt.paths) == 0 {
		paths = append(paths, "/", "/"+fresh.seg)
	}
	for _, g := range rt.paths {
		paths = append(paths, g.witnesses(fresh.seg, r.longestPattern()+1)...)
	}
	var out []Witness
	for _, h := range dedupe(hosts) {
		for _, m := range dedupe(methods) {
			for _, p := range dedupe(paths) {
				out = append(out, Witness{Method: m, Host: h, Path: p})
			}
		}
	}
	return out
}

// witnesses expands a glob: "*" into the fresh segment, "**" into 0..max
// fresh segments.
func (g *glob) witnesses(fresh string, max int) []string {
	join := func(segs []string) string { return "/" + strings.Join(segs, "/") }
	fill := func(segs []string) []string {
		out := make([]string, len(segs))
		for i, s := range segs {
			if s == "*" {
				s = fresh
			}
			out[i] = s
		}
		return out
	}
	if g.dbl < 0 {
		return []string{join(fill(g.segs))}
	}
	pre, suf := fill(g.segs[:g.dbl]), fill(g.segs[g.dbl+1:])
	var out []string
	for n := 0; n <= max; n++ {
		segs := append(slices.Clone(pre), slices.Repeat([]string{fresh}, n)...)
		out = append(out, join(append(segs, suf...)))
	}
	return out
}

type freshNames struct{ host, label, method, seg string }

// freshNames picks a host, a host label, a method and a path segment that
// no route names.
func (r *Router) freshNames() freshNames {
	taken := map[string]bool{}
	for _, rt := range r.routes {
		for _, g := range rt.paths {
			for _, s := range g.segs {
				taken[s] = true
			}
		}
		for _, h := range append(slices.Clone(rt.exact), rt.suffix...) {
			for _, l := range strings.Split(strings.TrimPrefix(h, "."), ".") {
				taken[l] = true
			}
		}
		for _, m := range rt.methods {
			taken[m] = true
		}
	}
	pick := func(base string) string {
		for i := 0; ; i++ {
			if s := base + strconv.Itoa(i); !taken[s] {
				return s
			}
		}
	}
	label := pick("unlisted")
	return freshNames{host: label + ".invalid", label: label, method: pick("OTHER"), seg: pick("x")}
}

func (r *Router) namedHosts() []string {
	var out []string
	for _, rt := range r.routes {
		out = append(out, rt.exact...)
	}
	return dedupe(out)
}

func (r *Router) namedMethods() []string {
	var out []string
	for _, rt := range r.routes {
		out = append(out, rt.methods...)
	}
	return dedupe(out)
}

func (r *Router) longestPattern() int {
	n := 0
	for _, rt := range r.routes {
		for _, g := range rt.paths {
			n = max(n, len(g.segs))
		}
	}
	return n
}

func dedupe(list []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Near implements authz.NearMatcher: the first route that matches the
// request in all but one of host, path and method, described for an
// operator ("rule "rest-api" matches the path and the method, not the host
// jira.example.org (it names jira.example.com)").
func (r *Router) Near(req *authz.Request) string {
	if req == nil {
		return ""
	}
	clean, _, err := NormalizePath(req.Path)
	if err != nil {
		return ""
	}
	host := NormalizeHost(req.Host)
	var buf [32]string
	segs := segments(clean, buf[:0])
	for i := range r.routes {
		rt := &r.routes[i]
		h, p, m := rt.matchHost(host), rt.matchPath(segs, false), rt.matchMethod(req.Method, false)
		switch {
		case !h && p && m:
			return fmt.Sprintf("nearly rule %q: path and method match, the host %s does not (it names %s)", rt.rule.Name, host, strings.Join(append(slices.Clone(rt.exact), prefixAll("*", rt.suffix)...), ", "))
		case h && !p && m && rt.matchPath(segs, true):
			return fmt.Sprintf("nearly rule %q: its path matches in another case (paths are case-sensitive; it names %s)", rt.rule.Name, strings.Join(rt.patterns(), ", "))
		case h && !p && m && len(rt.paths) > 0 && belowContext(rt, segs):
			return fmt.Sprintf("nearly rule %q: its path matches below a context path (it names %s; a product below /%s needs context_path)", rt.rule.Name, strings.Join(rt.patterns(), ", "), segs[0])
		case h && p && !m:
			return fmt.Sprintf("nearly rule %q: host and path match, the method %s does not (it names %s)", rt.rule.Name, req.Method, strings.Join(rt.methods, ", "))
		}
	}
	return ""
}

// belowContext reports whether the path matches the route once its first
// one or two segments (a context path) are dropped.
func belowContext(rt *route, segs []string) bool {
	for k := 1; k <= 2 && k < len(segs); k++ {
		if rt.matchPath(segs[k:], false) {
			return true
		}
	}
	return false
}

func prefixAll(p string, list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = p + s
	}
	return out
}

// patterns writes a route's compiled paths back as patterns.
func (rt *route) patterns() []string {
	out := make([]string, len(rt.paths))
	for i, g := range rt.paths {
		out[i] = "/" + strings.Join(g.segs, "/")
	}
	return out
}
