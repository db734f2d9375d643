package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/restguard/restguard/assertion"
	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/policy"
	"github.com/restguard/restguard/providers"
)

// BuildOptions carry what a build needs from the process.
type BuildOptions struct {
	// Logger is the process logger; the decision log goes to it too.
	Logger *slog.Logger
	// HTTPClient, if set, is used by providers for outbound calls (tests
	// inject one trusting a test CA).
	HTTPClient *http.Client
	// Now, if set, replaces time.Now (tests).
	Now func() time.Time
	// OnDecision is passed to the engine (metrics).
	OnDecision func(*authz.Request, *authz.Decision)
	// CallLatency, if set, supplies the histogram of a provider's
	// outbound calls by provider name and kind (metrics.CallLatency).
	CallLatency func(provider, kind string) authz.Observer
	// Pool, if set, reuses unchanged providers across builds (hot reload).
	Pool *Pool
	// Shared, if set, is the cache the replicas share: the remote
	// providers look there after an in-process miss (the redis section).
	Shared providers.SharedCache
	// Revocations, if set, is the process's record of revocations
	// (restguard revoke): answers fetched before one are never cached.
	Revocations *providers.Revocations

	// base is the configuration file's directory: every relative file
	// path in the configuration is relative to it (set by Build).
	base string
}

// file resolves a file path of the configuration: a relative one is
// relative to the configuration file's directory, wherever restguard was
// started (the file and its secrets are usually mounted together).
func (o BuildOptions) file(path string) string {
	if path == "" || filepath.IsAbs(path) || o.base == "" {
		return path
	}
	return filepath.Join(o.base, path)
}

// Runtime is a built configuration: the engine and the providers it uses.
type Runtime struct {
	Config *Config
	Engine *authz.Engine
	// Providers are the built providers, in configuration order.
	Providers []*BuiltProvider
	// Rules is the expanded rule list, for `restguard validate`.
	Rules []RuleSummary
	// Warnings are findings that did not stop the build (a provider no
	// rule uses, a report-only rule, an exposed admin listener).
	Warnings []Warning
	// Assertion holds the identity-assertion keys (nil: off).
	Assertion *AssertionKeys
	// AdminSecret is the SHA-256 of admin.secret_file's secret; HasAdminSecret
	// is false when there is none (POST /revoke then refuses everything).
	AdminSecret    [32]byte
	HasAdminSecret bool
	// Router is the compiled router, for `restguard routes`.
	Router  *policy.Router
	origins []routeOrigin // where each of the router's routes came from

	pool         *Pool
	caches       []namedCache // the products' caches (Evict)
	fingerprints map[*BuiltProvider]string
	keySets      []*providers.KeySet // every key set the providers use, once
}

// RuleSummary describes one compiled rule.
type RuleSummary struct {
	Name, Action                      string
	Hosts, Paths, Methods, Providers  []string
	BlockBasic, Groups, Users, IPRule string
}

// Build compiles a loaded configuration into a Runtime. It does no
// network I/O: providers fetch their keys in Runtime.Start/Refresh. Errors
// carry the file and line of the offending key.
//
// The steps, in order: providers (reused from the pool where unchanged),
// the user's rules, the Atlassian product presets (their routes follow the
// user's rules, and their policies decorate every rule), the default rule,
// then the router and the engine.
func Build(c *Config, o BuildOptions) (*Runtime, error) {
	p := &problems{file: c.file, root: c.root}
	if p.root == nil {
		p.file = "config"
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	rt := &Runtime{Config: c, pool: o.Pool}
	if c.file != "" {
		o.base = filepath.Dir(c.file)
	}

	provs := rt.compileProviders(c, o, logger, p)
	ast, keys := buildAssertion(c, o, p)
	rt.Assertion = keys
	checkRedis(c, p)
	rt.AdminSecret, rt.HasAdminSecret = adminSecret(c, p)
	specs, origins := rt.compileRules(c, provs, p)
	products := buildProducts(c, o, logger, provs, p)
	rt.caches = products.caches
	for i, spec := range products.routes {
		specs = append(specs, spec)
		origins = append(origins, products.origins[i])
		rt.Rules = append(rt.Rules, products.summaries[i])
	}
	def := compileDefault(c, p)
	if products.decorate != nil {
		for _, spec := range specs {
			products.decorate(spec.Rule)
		}
		products.decorate(def)
	}
	rt.Rules = append(rt.Rules, RuleSummary{Name: "default", Action: def.Action.String(), BlockBasic: describeBasic(c.Default.BlockBasic)})

	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	router, err := policy.NewRouter(specs, def)
	if err != nil {
		return nil, &Error{File: p.file, Path: "rules", Err: err}
	}
	lintRoutes(c, router, origins, p)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	rt.Router = router
	rt.origins = origins
	rt.Warnings = lintWarnings(c, provs, p)
	up := compileUpstream(c, ast != nil)
	if products.upstream != nil {
		products.upstream(&up)
	}
	var asr authz.Asserter
	if ast != nil {
		asr = ast
	}
	eng, err := newEngine(c, o, logger, router, up, asr)
	if err != nil {
		return nil, &Error{File: p.file, Err: err}
	}
	rt.Engine = eng
	return rt, nil
}

// compileProviders builds the configured providers, swaps in the pool's
// instances of those that did not change, and records them and the key
// sets they use on rt.
func (rt *Runtime) compileProviders(c *Config, o BuildOptions, logger *slog.Logger, p *problems) builtProviders {
	sets := newKeySets(o.Pool, logger)
	provs := buildProviders(c, o, logger, sets, p)
	rt.keySets = sets.order
	if o.Pool != nil {
		rt.fingerprints = o.Pool.reuse(c, &provs)
	}
	rt.Providers = append(rt.Providers, provs.list...)
	return provs
}

// compileRules compiles the user's rules, in order, into route specs (with
// their origins, for the lint) and records their summaries on rt. A rule whose hosts or paths do not
// compile is reported and left out.
func (rt *Runtime) compileRules(c *Config, provs builtProviders, p *problems) ([]policy.RouteSpec, []routeOrigin) {
	var specs []policy.RouteSpec
	var origins []routeOrigin
	for i, r := range c.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		spec, provNames := compileRule(r, path, provs, p)
		if spec.Rule.Action == authz.ActionAuthenticate {
			spec.Rule.AssertionAudience = assertionAudience(c, r.AssertionAudience)
		}
		if !checkRoute(p, path, spec) {
			continue
		}
		specs = append(specs, spec)
		origins = append(origins, routeOrigin{rule: i, product: -1})
		rt.Rules = append(rt.Rules, RuleSummary{
			Name: r.Name, Action: spec.Rule.Action.String(), Hosts: r.Hosts, Paths: r.Paths, Methods: r.Methods,
			Providers: provNames, BlockBasic: describeBasic(r.BlockBasic), Groups: describeGroups(r.Groups),
			Users: describeUsers(r.Users), IPRule: describeIP(r.IP),
		})
	}
	return specs, origins
}

// compileRule turns one user rule into its route spec: pre-authentication
// policies (IP allow-list, Basic blocking), the authenticators it names,
// and post-authentication policies (groups, users). It also returns the
// names of the providers it authenticates with, for the summary.
func compileRule(r Rule, path string, provs builtProviders, p *problems) (policy.RouteSpec, []string) {
	rule := &authz.Rule{Name: r.Name, Action: action(r.Action, DefaultAction)}
	if rule.Action == authz.ActionAuthenticate {
		rule.CORSPreflight = r.CORSPreflight == nil || *r.CORSPreflight
	}
	if len(r.IP.Allow) > 0 {
		rule.PreAuth = append(rule.PreAuth, policy.NewIPAllow(prefixes(r.IP.Allow), r.IP.DryRun))
	}
	if bp, err := basicPolicy(r.BlockBasic); err != nil {
		p.add(path+".block_basic", "%v", err)
	} else if bp != nil {
		rule.PreAuth = append(rule.PreAuth, bp)
	}
	var provNames []string
	for _, name := range r.Authenticate {
		if bp, ok := provs.byName[name]; ok {
			rule.Authenticators = append(rule.Authenticators, authz.Authenticator{Name: name, Validator: bp.Validator})
			provNames = append(provNames, name)
		}
	}
	if len(r.Groups.AnyOf)+len(r.Groups.AllOf) > 0 {
		rule.PostAuth = append(rule.PostAuth, policy.NewGroups(r.Groups.AnyOf, r.Groups.AllOf, r.Groups.DryRun))
	}
	if len(r.Users.Allow)+len(r.Users.Deny) > 0 {
		rule.PostAuth = append(rule.PostAuth, policy.NewUsers(r.Users.Allow, r.Users.Deny, r.Users.DryRun))
	}
	return policy.RouteSpec{Rule: rule, Hosts: r.Hosts, Paths: r.Paths, Methods: r.Methods}, provNames
}

// compileDefault builds the rule for requests no rule matches: pass or
// deny (with its reason), and Basic blocking if configured.
func compileDefault(c *Config, p *problems) *authz.Rule {
	def := &authz.Rule{Name: "default", Action: action(c.Default.Action, DefaultRuleDefault), Reason: authz.ReasonDefaultDeny}
	if def.Action == authz.ActionPass {
		def.Reason = authz.ReasonDefaultPass
	}
	if bp, err := basicPolicy(c.Default.BlockBasic); err != nil {
		p.add("default.block_basic", "%v", err)
	} else if bp != nil {
		def.PreAuth = append(def.PreAuth, bp)
	}
	return def
}

// compileUpstream fills the upstream hand-off from upstream:, with the
// defaults (user header, stripped Authorization, the identity headers
// always removed).
func compileUpstream(c *Config, asserting bool) authz.Upstream {
	strip := c.Upstream.StripAuthorization == nil || *c.Upstream.StripAuthorization
	up := authz.Upstream{
		UserHeader:         or(c.Upstream.UserHeader, DefaultUserHeader),
		GroupsHeader:       c.Upstream.GroupsHeader,
		EmailHeader:        c.Upstream.EmailHeader,
		StripAuthorization: strip,
		RemoveHeaders:      append(append([]string(nil), DefaultRemoveHeaders...), c.Upstream.RemoveHeaders...),
		RemoveCookies:      c.Upstream.RemoveCookies.Names,
		RemoveAllCookies:   c.Upstream.RemoveCookies.All,
	}
	// A client's assertion header never reaches the product, whether this
	// deployment signs assertions or not.
	up.RemoveHeaders = append(up.RemoveHeaders, assertion.HeaderName)
	if c.Assertion != nil {
		up.RemoveHeaders = append(up.RemoveHeaders, or(c.Assertion.Header, assertion.HeaderName))
		if asserting {
			up.AssertionHeader = or(c.Assertion.Header, assertion.HeaderName)
		}
	}
	return up
}

// newEngine assembles the engine from the compiled router and upstream
// and the top-level settings (client IP, realm, timeouts, decision log).
func newEngine(c *Config, o BuildOptions, logger *slog.Logger, router *policy.Router, up authz.Upstream, asr authz.Asserter) (*authz.Engine, error) {
	return authz.NewEngine(authz.Options{
		Asserter:     asr,
		Router:       router,
		ClientIP:     policy.NewClientIP(prefixes(c.ClientIP.TrustedProxies), c.ClientIP.TrustedHops),
		Upstream:     up,
		Realm:        or(c.Realm, DefaultRealm),
		CheckTimeout: durOr(c.CheckTimeout, DefaultCheckTimeout),
		RetryAfter:   durOr(c.RetryAfter, DefaultRetryAfter),
		Logger:       logger.With("component", "decision"),
		LogAllowed:   allowedSample(c.Log.AllowedSample),
		OnDecision:   o.OnDecision,
		Now:          o.Now,
	})
}

// Start runs the providers' background work (key refresh, discovery)
// until ctx ends. With a pool, key sets run under the pool's context
// instead, once, and survive the reloads that keep using them.
func (rt *Runtime) Start(ctx context.Context) {
	if rt.pool != nil {
		rt.pool.start(rt)
	} else {
		for _, ks := range rt.keySets {
			ks.Start(ctx)
		}
	}
	for _, bp := range rt.Providers {
		if bp.Life != nil {
			bp.Life.Start(ctx)
		}
	}
}

// Refresh warms every provider once: each key set that is not loaded yet
// is fetched once, however many providers share it, then each other
// lifecycle (discovery) that is not ready. It returns the joined errors,
// per provider, of those that failed (they keep retrying in the
// background).
func (rt *Runtime) Refresh(ctx context.Context) error {
	failed := map[*providers.KeySet]error{}
	for _, ks := range rt.keySets {
		if ks.Ready() {
			continue // warm (shared with the running configuration)
		}
		if err := ks.Refresh(ctx); err != nil {
			failed[ks] = err
		}
	}
	var errs []error
	for _, bp := range rt.Providers {
		var perr []error
		for _, ks := range bp.keySets {
			perr = append(perr, failed[ks])
		}
		if bp.Life != nil && !bp.Life.Ready() {
			perr = append(perr, bp.Life.Refresh(ctx))
		}
		if err := errors.Join(perr...); err != nil {
			errs = append(errs, fmt.Errorf("provider %s: %w", bp.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Ready reports whether every provider that needs warming is warm, except
// those allowed to start degraded.
func (rt *Runtime) Ready() bool {
	for _, bp := range rt.Providers {
		if bp.Degraded || bp.Unused {
			continue
		}
		for _, ks := range bp.keySets {
			if !ks.Ready() {
				return false
			}
		}
		if bp.Life != nil && !bp.Life.Ready() {
			return false
		}
	}
	return true
}

var policyPrefix = regexp.MustCompile(`^policy: routes\[\d+\]\.\w+\[\d+\]: `)

// checkRoute compiles each host and path of a rule on its own, so that an
// error points at the exact list element.
func checkRoute(p *problems, path string, spec policy.RouteSpec) bool {
	ok := true
	probe := &authz.Rule{Name: "probe", Action: authz.ActionDeny}
	for _, f := range []struct {
		key  string
		vals []string
		mk   func(string) policy.RouteSpec
	}{
		{"hosts", spec.Hosts, func(v string) policy.RouteSpec { return policy.RouteSpec{Rule: probe, Hosts: []string{v}} }},
		{"paths", spec.Paths, func(v string) policy.RouteSpec { return policy.RouteSpec{Rule: probe, Paths: []string{v}} }},
	} {
		for j, v := range f.vals {
			if _, err := policy.NewRouter([]policy.RouteSpec{f.mk(v)}, probe); err != nil {
				p.add(fmt.Sprintf("%s.%s[%d]", path, f.key, j), "%s", policyPrefix.ReplaceAllString(err.Error(), ""))
				ok = false
			}
		}
	}
	if ok {
		if _, err := policy.NewRouter([]policy.RouteSpec{spec}, probe); err != nil {
			p.add(path, "%v", err)
			ok = false
		}
	}
	return ok
}

// callLatency is the observer of a provider's outbound calls, or nil.
func (o BuildOptions) callLatency(provider, kind string) authz.Observer {
	if o.CallLatency == nil {
		return nil
	}
	return o.CallLatency(provider, kind)
}

func allowedSample(v *float64) float64 {
	switch {
	case v == nil:
		return 1
	case *v == 0:
		return -1 // none
	default:
		return *v
	}
}

func action(s, def string) authz.Action {
	if s == "" {
		s = def
	}
	switch s {
	case "pass":
		return authz.ActionPass
	case "deny":
		return authz.ActionDeny
	default:
		return authz.ActionAuthenticate
	}
}

func basicPolicy(b BlockBasic) (authz.Policy, error) {
	if !b.Enabled {
		if len(b.AllowUsers)+len(b.AllowPaths) > 0 || b.DryRun {
			return nil, errors.New("allow_users, allow_paths and dry_run need enabled: true")
		}
		return nil, nil
	}
	return policy.NewBasicAuth(policy.BasicAuthOptions{AllowUsers: b.AllowUsers, AllowPaths: b.AllowPaths, DryRun: b.DryRun})
}

// prefixes converts validated CIDR strings (validate already refused bad ones).
func prefixes(ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		if p, err := ParseCIDR(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func durOr(d Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d.D()
}

func describeBasic(b BlockBasic) string {
	if !b.Enabled {
		return "off"
	}
	s := "blocked"
	if b.DryRun {
		s += " (dry run)"
	}
	if len(b.AllowUsers) > 0 {
		s += ", allow users " + strings.Join(b.AllowUsers, ",")
	}
	if len(b.AllowPaths) > 0 {
		s += ", allow paths " + strings.Join(b.AllowPaths, ",")
	}
	return s
}

func describeGroups(g Groups) string {
	var parts []string
	if len(g.AnyOf) > 0 {
		parts = append(parts, "any of "+strings.Join(g.AnyOf, ","))
	}
	if len(g.AllOf) > 0 {
		parts = append(parts, "all of "+strings.Join(g.AllOf, ","))
	}
	return dry(strings.Join(parts, "; "), g.DryRun)
}

func describeUsers(u Users) string {
	var parts []string
	if len(u.Allow) > 0 {
		parts = append(parts, "allow "+strings.Join(u.Allow, ","))
	}
	if len(u.Deny) > 0 {
		parts = append(parts, "deny "+strings.Join(u.Deny, ","))
	}
	return dry(strings.Join(parts, "; "), u.DryRun)
}

func describeIP(ip IPRule) string {
	if len(ip.Allow) == 0 {
		return ""
	}
	return dry("allow "+strings.Join(ip.Allow, ","), ip.DryRun)
}

func dry(s string, d bool) string {
	if s != "" && d {
		return s + " (dry run)"
	}
	return s
}
