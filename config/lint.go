package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/policy"
)

// The route lint: Build refuses a configuration whose routes do not
// protect what the administrator meant, and warns about what is probably a
// mistake (issue 12 §1). It asks the compiled router about witness
// requests (policy.Router.Witnesses): a concrete request for each thing a
// route pattern can tell apart, so the answers hold for every request.

// routeOrigin says where a compiled route came from.
type routeOrigin struct {
	rule    int    // index in rules, or -1
	product int    // index in atlassian.products, or -1
	name    string // the product's name (presets)
	public  bool   // a preset exclusion
}

func (o routeOrigin) path() string {
	if o.rule >= 0 {
		return fmt.Sprintf("rules[%d]", o.rule)
	}
	return fmt.Sprintf("atlassian.products[%d]", o.product)
}

// Warning is a finding that does not stop a configuration from loading.
type Warning struct {
	File string
	Line int
	Path string
	Msg  string
}

func (w Warning) String() string {
	e := Error{File: w.File, Line: w.Line, Path: w.Path, Err: fmt.Errorf("warning: %s", w.Msg)}
	return e.Error()
}

// lintRoutes reports the route errors of a built router.
func lintRoutes(c *Config, router *policy.Router, origins []routeOrigin, p *problems) {
	shadowedRules(router, origins, p)
	openProductAPIs(c, router, origins, p)
}

// shadowedRules reports rules that can never match because earlier rules
// match every request they would. A preset route shadowed by a user rule is
// the documented way to override a preset and is not reported; one
// shadowed by another product's routes means two products on one host.
func shadowedRules(router *policy.Router, origins []routeOrigin, p *problems) {
	reported := map[int]bool{}
	for _, i := range router.Shadowed() {
		o := origins[i]
		by := shadowers(router, i)
		switch {
		case o.rule >= 0:
			them := ruleList(router, by)
			p.add(o.path(), "rule %q can never match: %s before it %s every request it would; move it above %s, or narrow %s",
				router.Rule(i).Name, them, matchVerb(by), them, them)
		case reported[o.product]:
		default:
			other := -1
			for _, j := range by {
				if origins[j].product >= 0 && origins[j].product != o.product {
					other = origins[j].product
				}
			}
			if other < 0 {
				continue // overridden by the user's own rules
			}
			reported[o.product] = true
			var names []string
			for _, k := range router.Shadowed() {
				if origins[k].product == o.product {
					names = append(names, router.Rule(k).Name)
				}
			}
			p.add(o.path(), "product %q shares its hosts and context path with atlassian.products[%d] (%s), whose routes come first: %s can never match; give the products different hosts or context paths",
				o.name, other, origins[indexOfProduct(origins, other)].name, strings.Join(names, ", "))
		}
	}
}

// shadowers returns the routes that decide the witnesses of route i.
func shadowers(router *policy.Router, i int) []int {
	var out []int
	for _, w := range router.Witnesses(i) {
		if j := router.Decides(w); j >= 0 && j != i && !slices.Contains(out, j) {
			out = append(out, j)
		}
	}
	return out
}

// openProductAPIs reports a product's protected API families (its REST
// API, Bitbucket's /scm, Confluence attachments) that a pass rule or
// default: pass decides on one of the product's hosts, and REST paths below
// another context path that are left to a pass (a forgotten
// context_path).
func openProductAPIs(c *Config, router *policy.Router, origins []routeOrigin, p *problems) {
	reported := map[int]bool{}
	for i, o := range origins {
		if o.product < 0 || o.public || reported[o.product] {
			continue
		}
		for _, w := range preferred(router, router.Witnesses(i)) {
			if j := router.Decides(w); j != i && passes(router, origins, j, o.product) {
				reported[o.product] = true
				fix := "make that rule deny, or give it hosts or paths that leave out the product's API (your rules come before the presets)"
				if j < 0 {
					fix = "set default: {action: deny} on an API host"
				}
				p.add(o.path(), "product %q: %s on host %s is decided by %s, which lets it through without a token; %s",
					o.name, show(router, w), hostName(w.Host), deciderName(router, j), fix)
				break
			}
		}
	}
	for pi := range c.Atlassian.Products {
		if reported[pi] {
			continue
		}
		for _, w := range preferred(router, contextWitnesses(router, origins, pi)) {
			if j := router.Decides(w); passes(router, origins, j, pi) {
				p.add(fmt.Sprintf("atlassian.products[%d].context_path", pi), "%s on host %s is decided by %s, which lets it through without a token: if the product runs below a context path (/jira, /confluence), set context_path to it; and refuse other paths on an API host (default: {action: deny})",
					show(router, w), hostName(w.Host), deciderName(router, j))
				break
			}
		}
	}
}

// passes reports whether route j (-1: the default rule) lets requests
// through without authentication, other than an exclusion of product pi
// itself.
func passes(router *policy.Router, origins []routeOrigin, j, pi int) bool {
	if router.Rule(j).Action != authz.ActionPass {
		return false
	}
	return j < 0 || !(origins[j].public && origins[j].product == pi)
}

// contextWitnesses are REST requests below a context path other than the
// product's, on the product's hosts: /<x>/rest/<y> for a product at the
// root, /rest/<y> for one below a context path. They stand for the
// requests of a product whose context_path was forgotten or mistyped.
func contextWitnesses(router *policy.Router, origins []routeOrigin, pi int) []policy.Witness {
	_, seg := router.Fresh()
	for i, o := range origins {
		if o.product != pi || o.public {
			continue
		}
		// The first protected route of a preset is its REST API.
		var out []policy.Witness
		for _, w := range router.Witnesses(i) {
			segs := strings.Split(strings.TrimPrefix(w.Path, "/"), "/")
			switch r := slices.Index(segs, "rest"); {
			case r < 0:
				continue
			case r == 0:
				w.Path = "/" + seg + w.Path
			default:
				w.Path = "/" + strings.Join(segs[r:], "/")
			}
			out = append(out, w)
		}
		return out
	}
	return nil
}

// lintWarnings are findings that do not stop a load.
func lintWarnings(c *Config, provs builtProviders, p *problems) []Warning {
	var out []Warning
	warn := func(path, format string, args ...any) {
		out = append(out, Warning{File: p.file, Line: locate(p.root, path), Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	used := map[string]bool{}
	for _, r := range c.Rules {
		for _, n := range r.Authenticate {
			used[n] = true
		}
	}
	for _, pr := range c.Atlassian.Products {
		for _, n := range pr.Authenticate {
			used[n] = true
		}
	}
	for i, pc := range c.Providers {
		if !used[pc.Name] {
			warn(fmt.Sprintf("providers[%d]", i), "provider %q is used by no rule (it does not hold readiness back); add it to a rule's authenticate or remove it", pc.Name)
			if bp := provs.byName[pc.Name]; bp != nil {
				bp.Unused = true
			}
		}
	}
	if a := or(c.Listen.Admin, DefaultAdminListen); !loopbackListen(a) {
		warn("listen.admin", "the admin listener %s is not on loopback: /metrics and the health endpoints need no credentials, so let only probes and Prometheus reach it (a NetworkPolicy, see examples/kubernetes)", a)
	}
	for i, r := range c.Rules {
		if r.BlockBasic.Enabled || action(r.Action, DefaultAction) == authz.ActionDeny {
			continue
		}
		if pi := productOf(c, r.Hosts); pi >= 0 && basicBlocked(c.Atlassian.Products[pi]) {
			warn(fmt.Sprintf("rules[%d]", i), "rule %q covers requests of product %q, which blocks Basic, but does not block it itself: Basic (a password) reaches the product through this rule; add block_basic: {enabled: true}", r.Name, c.Atlassian.Products[pi].Product)
		}
	}
	assertionWarnings(c, warn)
	dry := func(path string, on bool, what string) {
		if on {
			warn(path, "report-only: %s are let through and only logged; remove dry_run when the roll-out is done", what)
		}
	}
	for i, r := range c.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		dry(path+".block_basic.dry_run", r.BlockBasic.DryRun, "Basic requests this rule would refuse")
		dry(path+".groups.dry_run", r.Groups.DryRun, "users outside its groups")
		dry(path+".users.dry_run", r.Users.DryRun, "users its user lists refuse")
		dry(path+".ip.dry_run", r.IP.DryRun, "clients outside its addresses")
	}
	dry("default.block_basic.dry_run", c.Default.BlockBasic.DryRun, "Basic requests the default rule would refuse")
	for i, pr := range c.Atlassian.Products {
		path := fmt.Sprintf("atlassian.products[%d]", i)
		if pr.BlockBasic != nil {
			dry(path+".block_basic.dry_run", pr.BlockBasic.DryRun, "Basic requests and password channels the product's rules would refuse")
		}
		dry(path+".groups.dry_run", pr.Groups.DryRun, "users outside its groups")
		dry(path+".users.dry_run", pr.Users.DryRun, "users its user lists refuse")
		dry(path+".ip.dry_run", pr.IP.DryRun, "clients outside its addresses")
	}
	return out
}

// productOf returns the product a rule with these hosts belongs to (as
// config's decoration does: every host is a host of one product, or a
// host-less rule with exactly one product), or -1.
func productOf(c *Config, hosts []string) int {
	ps := c.Atlassian.Products
	if len(hosts) == 0 {
		if len(ps) == 1 {
			return 0
		}
		return -1
	}
	found := -1
	for pi, pc := range ps {
		all := true
		for _, h := range hosts {
			if len(pc.Hosts) > 0 && !slices.ContainsFunc(pc.Hosts, func(ph string) bool { return strings.EqualFold(ph, h) }) {
				all = false
				break
			}
		}
		if all {
			if found >= 0 {
				return -1
			}
			found = pi
		}
	}
	return found
}

func basicBlocked(pc Product) bool { return pc.BlockBasic == nil || pc.BlockBasic.Enabled }

// preferred orders witnesses for messages, so that the example an
// administrator reads looks like a real request: GET first, then paths that
// go below a literal prefix ("/rest/<any>" before "/rest"), then shorter.
func preferred(router *policy.Router, ws []policy.Witness) []policy.Witness {
	ws = slices.Clone(ws)
	_, fresh := router.Fresh()
	score := func(w policy.Witness) int {
		n := strings.Count(w.Path, "/")
		if w.Method != "GET" {
			n += 100
		}
		if !strings.HasSuffix(w.Path, "/"+fresh) {
			n += 50
		}
		return n
	}
	slices.SortStableFunc(ws, func(a, b policy.Witness) int { return score(a) - score(b) })
	return ws
}

// show writes a witness as a request line, with the fresh values as
// placeholders ("GET /<any>/rest/<any>").
func show(router *policy.Router, w policy.Witness) string {
	_, seg := router.Fresh()
	segs := strings.Split(w.Path, "/")
	for k, s := range segs {
		if s == seg {
			segs[k] = "<any>"
		}
	}
	method := w.Method
	if strings.HasPrefix(method, "OTHER") {
		method = "<any method>"
	}
	return method + " " + strings.Join(segs, "/")
}

func ruleList(router *policy.Router, idx []int) string {
	names := make([]string, len(idx))
	for k, j := range idx {
		names[k] = fmt.Sprintf("%q", router.Rule(j).Name)
	}
	if len(names) == 1 {
		return "rule " + names[0]
	}
	return "rules " + strings.Join(names, ", ")
}

func matchVerb(idx []int) string {
	if len(idx) == 1 {
		return "matches"
	}
	return "match"
}

func deciderName(router *policy.Router, j int) string {
	if j < 0 {
		return "default: pass"
	}
	return fmt.Sprintf("rule %q (pass)", router.Rule(j).Name)
}

func hostName(h string) string {
	if strings.HasSuffix(h, ".invalid") {
		return "(any host)"
	}
	return h
}

func indexOfProduct(origins []routeOrigin, product int) int {
	for i, o := range origins {
		if o.product == product {
			return i
		}
	}
	return 0
}
