package config

import (
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/policy"
	"github.com/restguard/restguard/providers"
)

// Atlassian configures the Atlassian product presets (docs/atlassian.md):
// per product, the protected set and the default exclusions become rules
// placed after the user's rules (so a user rule for the same path wins),
// and every rule gets the product policies (password channels,
// product-native tokens, username mapping, directory groups).
type Atlassian struct {
	Products []Product `yaml:"products"`
	// SessionCookies are removed from bearer-authenticated requests; nil:
	// DefaultSessionCookies, []: none.
	SessionCookies []string `yaml:"session_cookies"`
	// BearerMarker is set to "1" on bearer-authenticated requests so that
	// Envoy can drop Set-Cookie from their responses; nil:
	// DefaultBearerMarker, "": none.
	BearerMarker *string `yaml:"bearer_marker"`
}

// Product is one Atlassian product behind restguard.
type Product struct {
	// Product is jira, confluence, bitbucket or bamboo.
	Product string `yaml:"product"`
	// Name prefixes the preset rule names (default: the product, with
	// "-2", "-3" for repeats).
	Name        string   `yaml:"name"`
	Hosts       []string `yaml:"hosts"`
	ContextPath string   `yaml:"context_path"`
	// URL is the product's internal base URL including the context path,
	// for native_tokens verify and the product directory.
	URL          string   `yaml:"url"`
	Authenticate []string `yaml:"authenticate"`
	// CORSPreflight applies to the protected routes (default true).
	CORSPreflight *bool `yaml:"cors_preflight"`
	// BlockBasic applies to every preset route (default enabled: true).
	BlockBasic *BlockBasic `yaml:"block_basic"`
	// Groups, Users and IP apply to the protected routes.
	Groups Groups `yaml:"groups"`
	Users  Users  `yaml:"users"`
	IP     IPRule `yaml:"ip"`
	// Exclusions switches default exclusions on or off by name.
	Exclusions   map[string]bool   `yaml:"exclusions"`
	SCM          SCM               `yaml:"scm"`
	NativeTokens NativeTokens      `yaml:"native_tokens"`
	Directory    *Directory        `yaml:"directory"`
	Username     UsernameTransform `yaml:"username"`
	// AssertionAudience is the aud of the signed identity assertion of the
	// product's protected routes (default: assertion.audience).
	AssertionAudience string `yaml:"assertion_audience"`
}

// SCM is Bitbucket's git-over-HTTP policy.
type SCM struct {
	// Basic: allow_access_tokens (default when Basic is blocked), block,
	// or pass (default when it is not).
	Basic string `yaml:"basic"`
	// LFSJWT lets "Authorization: JWT" (from git-lfs-authenticate over
	// SSH) through to Bitbucket on Git LFS paths unchecked (default false:
	// 401 unsupported_scheme, like every credential restguard cannot
	// check).
	LFSJWT *bool `yaml:"lfs_jwt"`
}

// NativeTokens says what happens to product-native bearer tokens.
type NativeTokens struct {
	Mode        string   `yaml:"mode"`      // deny (default), pass_through, verify
	Prefixes    []string `yaml:"prefixes"`  // default [BBDC-]
	PATShape    *bool    `yaml:"pat_shape"` // default true
	CacheTTL    Duration `yaml:"cache_ttl"`
	NegativeTTL Duration `yaml:"negative_ttl"`
	CacheSize   int      `yaml:"cache_size"`
	Timeout     Duration `yaml:"timeout"`
}

// Directory reads users' groups from the product or from Crowd.
type Directory struct {
	Source       string   `yaml:"source"` // product (default) or crowd
	URL          string   `yaml:"url"`    // default: the product url; required for crowd
	UserFile     string   `yaml:"user_file"`
	PasswordFile string   `yaml:"password_file"`
	Groups       *bool    `yaml:"groups"` // default true
	RequireUser  bool     `yaml:"require_user"`
	CacheTTL     Duration `yaml:"cache_ttl"`
	NegativeTTL  Duration `yaml:"negative_ttl"`
	CacheSize    int      `yaml:"cache_size"`
	Timeout      Duration `yaml:"timeout"`
}

// UsernameTransform maps IdP usernames to product login names
// (docs/atlassian.md, "Username mapping").
type UsernameTransform struct {
	// StripDomains and StripRealms name the e-mail/UPN domains and the
	// down-level realms whose users are the product's local users.
	StripDomains []string `yaml:"strip_domains"`
	StripRealms  []string `yaml:"strip_realms"`
	// OtherDomains says what happens to a name with a domain or realm
	// that is not listed: refuse (default, 403 username_rejected) or keep
	// (the product gets the whole name).
	OtherDomains string            `yaml:"other_domains"`
	Lowercase    bool              `yaml:"lowercase"`
	Map          map[string]string `yaml:"map"`
	// Pattern is an RE2 expression the whole final name must match, on
	// top of the built-in product check.
	Pattern string `yaml:"pattern"`
	// StripDomain is the removed spelling: it stripped every domain and
	// realm (seams item 10). It is kept only to say what to write instead.
	StripDomain *bool `yaml:"strip_domain"`
}

// Defaults of the atlassian section.
const (
	DefaultBearerMarker = "X-Restguard-Bearer"
	DefaultNativeMode   = providers.NativeDeny
)

// DefaultSessionCookies are the Atlassian cookies that authenticate a
// request on their own (atlassian.md §4.1).
var DefaultSessionCookies = []string{
	"JSESSIONID", "seraph.rememberme.cookie", "seraph.confluence", "BITBUCKETSESSIONID",
	"_atl_bitbucket_remember_me", "crowd.token_key", "studio.crowd.tokenkey",
}

// productParts is what the Atlassian presets add to a build.
type productParts struct {
	// routes are appended after the user's rules (which therefore override
	// them), with one summary each.
	routes    []policy.RouteSpec
	summaries []RuleSummary
	origins   []routeOrigin
	// decorate adds product policies (password channels, native tokens,
	// identity mappers) to every compiled rule, user or preset.
	decorate func(rule *authz.Rule)
	// upstream adjusts the upstream hand-off (session cookies, marker).
	upstream func(*authz.Upstream)
	// caches are the products' native-token and directory caches, by
	// product name, for restguard revoke.
	caches []namedCache
}

// namedCache is a cache restguard revoke can reach, with the name a
// revocation of a user names it by.
type namedCache struct {
	name string
	providers.Evicter
}

// builtProduct is one compiled product.
type builtProduct struct {
	cfg       *Product
	native    authz.Authenticator // the configured mode
	nativeDen authz.Authenticator // deny mode, for rules with group or user rules under pass_through
	gate      authz.Policy        // the native-token decision on pass rules (nil: none)
	mappers   []authz.IdentityMapper
}

// presetRule is what decorate needs to know about a preset rule.
type presetRule struct {
	prod      *builtProduct
	passwords authz.Policy // nil: none
}

func buildProducts(c *Config, o BuildOptions, logger *slog.Logger, provs builtProviders, p *problems) productParts {
	a := c.Atlassian
	var parts productParts
	if len(a.Products) == 0 && a.SessionCookies == nil && a.BearerMarker == nil {
		return parts
	}
	logger = logger.With("component", "atlassian")
	checkHandOff(a, p)

	userNames := map[string]int{}
	for i, r := range c.Rules {
		userNames[r.Name] = i
	}
	presets := map[*authz.Rule]presetRule{}
	var built []*builtProduct
	names := map[string]bool{}
	counts := map[string]int{}
	remote := false
	for i := range a.Products {
		pc := &a.Products[i]
		path := fmt.Sprintf("atlassian.products[%d]", i)
		counts[pc.Product]++
		name := pc.Name
		if name == "" {
			name = pc.Product
			if n := counts[pc.Product]; n > 1 {
				name = fmt.Sprintf("%s-%d", pc.Product, n)
			}
		}
		switch {
		case !nameRE.MatchString(name):
			p.add(path+".name", "invalid name %q (lower-case letters, digits, '-' and '_')", name)
		case names[name]:
			p.add(path+".name", "two products named %q; give one a name", name)
		}
		names[name] = true

		bp, routes, ok := buildProduct(c, pc, name, path, o, logger, p)
		if !checkRoute(p, path, policy.RouteSpec{Rule: &authz.Rule{Name: "probe"}, Hosts: pc.Hosts}) || !ok {
			continue
		}
		built = append(built, bp)
		for _, v := range []any{bp.native.Validator, bp.nativeDen.Validator} {
			if ev, ok := v.(providers.Evicter); ok {
				parts.caches = append(parts.caches, namedCache{name, ev})
			}
		}
		for _, m := range bp.mappers {
			if ev, ok := m.(providers.Evicter); ok {
				parts.caches = append(parts.caches, namedCache{name, ev})
			}
		}
		remote = remote || pc.NativeTokens.Mode == providers.NativeVerify || pc.Directory != nil
		for _, r := range routes {
			ruleName := name + "-" + r.Name
			if _, clash := userNames[ruleName]; clash {
				p.add(path, "preset rule %q has the name of a rule in rules; rename one", ruleName)
			}
			rule, pw, sum := presetRuleFor(pc, bp, ruleName, r, provs)
			if rule.Action == authz.ActionAuthenticate {
				rule.AssertionAudience = assertionAudience(c, pc.AssertionAudience)
			}
			presets[rule] = presetRule{prod: bp, passwords: pw}
			spec := policy.RouteSpec{Rule: rule, Hosts: pc.Hosts, Paths: r.Paths, Methods: r.Methods}
			parts.routes = append(parts.routes, spec)
			parts.summaries = append(parts.summaries, sum)
			parts.origins = append(parts.origins, routeOrigin{rule: -1, product: i, name: name, public: r.Public})
		}
	}
	if remote && c.CheckTimeout.D() < 500*time.Millisecond {
		logger.Warn("native_tokens verify and directory lookups call the product; a check_timeout below 500ms (and Envoy's 200ms default) ends cold lookups with 503 timeout", "check_timeout", durOr(c.CheckTimeout, DefaultCheckTimeout).String())
	}

	parts.decorate = func(rule *authz.Rule) {
		if pr, ok := presets[rule]; ok {
			decorateRule(rule, pr.prod, pr.passwords)
			return
		}
		i, ok := userNames[rule.Name]
		if !ok {
			// The default rule (when Build decorates it): password channels
			// only, there is no product to attach.
			if rule.Name == "default" && c.Default.BlockBasic.Enabled {
				decorateRule(rule, nil, policy.NewPasswordChannels(c.Default.BlockBasic.DryRun))
			}
			return
		}
		ur := c.Rules[i]
		var pw authz.Policy
		if ur.BlockBasic.Enabled {
			pw = policy.NewPasswordChannels(ur.BlockBasic.DryRun)
		}
		decorateRule(rule, productFor(built, ur.Hosts), pw)
	}
	parts.upstream = func(up *authz.Upstream) {
		cookies := DefaultSessionCookies
		if a.SessionCookies != nil {
			cookies = a.SessionCookies
		}
		up.RemoveCookies = append(slices.Clip(cookies), up.RemoveCookies...)
		up.BearerMarker = DefaultBearerMarker
		if a.BearerMarker != nil {
			up.BearerMarker = *a.BearerMarker
		}
	}
	return parts
}

func checkHandOff(a Atlassian, p *problems) {
	for i, name := range a.SessionCookies {
		if !headerRE.MatchString(name) {
			p.add(fmt.Sprintf("atlassian.session_cookies[%d]", i), "invalid cookie name %q", name)
		}
	}
	if m := a.BearerMarker; m != nil && *m != "" && !headerRE.MatchString(*m) {
		p.add("atlassian.bearer_marker", "invalid header name %q", *m)
	}
}

// buildProduct checks one product and compiles its validators and
// mappers; ok is false when the product cannot be built.
func buildProduct(c *Config, pc *Product, name, path string, o BuildOptions, logger *slog.Logger, p *problems) (*builtProduct, []policy.PresetRoute, bool) {
	if !checkProduct(c, pc, path, p) {
		return nil, nil, false
	}
	routes, err := policy.AtlassianPreset(pc.Product, pc.ContextPath, pc.Exclusions)
	if err != nil {
		p.add(path, "%v", err)
		return nil, nil, false
	}
	bp := &builtProduct{cfg: pc}
	if !buildNative(pc, name, path, o, logger, p, bp) {
		return nil, nil, false
	}
	mapper, built := usernameMapper(pc.Username, path+".username", p)
	if !built {
		return nil, nil, false
	}
	bp.mappers = append(bp.mappers, mapper)
	if pc.Directory != nil {
		dir, ok := buildDirectory(pc, name, path, o, logger, p)
		if !ok {
			return nil, nil, false
		}
		bp.mappers = append(bp.mappers, dir)
	}
	return bp, routes, true
}

// checkProduct checks the settings of one product that need no compiling:
// the product and its context path, exclusions, providers, CIDRs, Basic
// blocking and the Bitbucket scm policy. It reports every problem and
// returns whether there was none.
func checkProduct(c *Config, pc *Product, path string, p *problems) bool {
	ok := true
	fail := func(sub, format string, args ...any) {
		p.add(path+sub, format, args...)
		ok = false
	}
	known := policy.AtlassianExclusions(pc.Product)
	if known == nil {
		fail(".product", "unknown product %q (%s)%s", pc.Product, strings.Join(policy.Products, ", "), didYouMean(pc.Product, policy.Products...))
		return false
	}
	if _, err := policy.CleanContextPath(pc.ContextPath); err != nil {
		fail(".context_path", "%v", err)
	}
	for _, name := range sortedKeys(pc.Exclusions) {
		if _, isKnown := known[name]; !isKnown {
			fail(".exclusions."+name, "unknown exclusion %q for %s (%s)%s", name, pc.Product, strings.Join(sortedKeys(known), ", "), didYouMean(name, sortedKeys(known)...))
		}
	}
	if len(pc.Authenticate) == 0 {
		fail("", "product needs at least one provider in authenticate")
	}
	for j, name := range pc.Authenticate {
		if !slices.ContainsFunc(c.Providers, func(pr Provider) bool { return pr.Name == name }) {
			fail(fmt.Sprintf(".authenticate[%d]", j), "unknown provider %q%s", name, didYouMean(name, providerNames(c)...))
		}
	}
	for j, s := range pc.IP.Allow {
		before := len(p.errs)
		checkCIDR(p, fmt.Sprintf("%s.ip.allow[%d]", path, j), s)
		ok = ok && len(p.errs) == before
	}
	if _, err := basicPolicy(basicOf(pc)); err != nil {
		fail(".block_basic", "%v", err)
	}
	switch pc.SCM.Basic {
	case "", "allow_access_tokens", "block", "pass":
		if pc.SCM.Basic != "" && pc.Product != policy.ProductBitbucket {
			fail(".scm.basic", "scm applies to bitbucket only")
		}
	default:
		fail(".scm.basic", "unknown scm basic policy %q (allow_access_tokens, block, pass)%s", pc.SCM.Basic, didYouMean(pc.SCM.Basic, "allow_access_tokens", "block", "pass"))
	}
	return ok
}

// buildNative compiles the product-native token validator in the
// configured mode, its deny-mode twin (for rules with group or user rules
// under pass_through) and the gate of the product's pass routes into bp.
func buildNative(pc *Product, name, path string, o BuildOptions, logger *slog.Logger, p *problems, bp *builtProduct) bool {
	nc := providers.AtlassianTokensConfig{
		Name:     pc.Product + "-native",
		Instance: name,
		Product:  pc.Product,
		Mode:     or(pc.NativeTokens.Mode, DefaultNativeMode),
		Shape:    nativeShape(pc.NativeTokens),
		URL:      pc.URL,
		Remote: providers.RemoteOptions{
			CacheTTL:    pc.NativeTokens.CacheTTL.D(),
			NegativeTTL: pc.NativeTokens.NegativeTTL.D(),
			CacheSize:   pc.NativeTokens.CacheSize,
			Timeout:     pc.NativeTokens.Timeout.D(),
			HTTPClient:  o.HTTPClient,
			Logger:      logger,
			Now:         o.Now,
			Shared:      o.Shared,
			Revocations: o.Revocations,
		},
	}
	if o.Shared != nil {
		nc.Remote.CacheVersion = cacheVersion(pc)
	}
	native, err := providers.NewAtlassianTokens(nc)
	if err != nil {
		failEach(func(sub, format string, args ...any) { p.add(path+sub, format, args...) }, ".native_tokens", "atlassian: ", err)
		return false
	}
	bp.native = authz.Authenticator{Name: nc.Name, Validator: native}
	bp.gate = native.Gate()
	nc.Mode = providers.NativeDeny
	den, _ := providers.NewAtlassianTokens(nc)
	bp.nativeDen = authz.Authenticator{Name: nc.Name, Validator: den}
	return true
}

// buildDirectory compiles the product's group directory (the product's
// own, or Crowd).
func buildDirectory(pc *Product, name, path string, o BuildOptions, logger *slog.Logger, p *problems) (*providers.Directory, bool) {
	ok := true
	fail := func(sub, format string, args ...any) {
		p.add(path+sub, format, args...)
		ok = false
	}
	d := pc.Directory
	dc := providers.DirectoryConfig{
		Name:         name,
		Kind:         pc.Product,
		URL:          or(d.URL, pc.URL),
		UserFile:     o.file(d.UserFile),
		PasswordFile: o.file(d.PasswordFile),
		Groups:       d.Groups == nil || *d.Groups,
		RequireUser:  d.RequireUser,
		Remote: providers.RemoteOptions{
			CacheTTL:    d.CacheTTL.D(),
			NegativeTTL: d.NegativeTTL.D(),
			CacheSize:   d.CacheSize,
			Timeout:     d.Timeout.D(),
			HTTPClient:  o.HTTPClient,
			Logger:      logger,
			Now:         o.Now,
			Shared:      o.Shared,
			Revocations: o.Revocations,
		},
	}
	if o.Shared != nil {
		dc.Remote.CacheVersion = cacheVersion(pc)
	}
	switch d.Source {
	case "", "product":
		if pc.Product == policy.ProductBamboo {
			fail(".directory.source", "bamboo has no group directory here; use source: crowd")
		}
	case "crowd":
		dc.Kind = providers.DirectoryCrowd
		if d.URL == "" {
			fail(".directory.url", "source crowd needs the crowd url")
		}
	default:
		fail(".directory.source", "unknown directory source %q (product, crowd)%s", d.Source, didYouMean(d.Source, "product", "crowd"))
	}
	if !ok {
		return nil, false
	}
	dir, err := providers.NewDirectory(dc)
	if err != nil {
		failEach(fail, ".directory", "directory: ", err)
		return nil, false
	}
	return dir, true
}

// usernameMapper compiles a product's username transform, which always
// includes the built-in product check. Problems are reported at their
// keys.
func usernameMapper(u UsernameTransform, path string, p *problems) (*providers.UsernameMapper, bool) {
	before := len(p.errs)
	if u.StripDomain != nil {
		p.add(path+".strip_domain", "strip_domain was removed: it stripped every domain and realm, so admin@partner.example and EVIL\\admin became the local admin; "+
			"name the ones whose users are local: strip_domains: [corp.example.com] and/or strip_realms: [CORP] (names with other domains or realms are then refused, or kept whole with other_domains: keep)")
	}
	switch u.OtherDomains {
	case "", "refuse", "keep":
		if u.OtherDomains != "" && len(u.StripDomains)+len(u.StripRealms) == 0 {
			p.add(path+".other_domains", "other_domains needs strip_domains or strip_realms")
		}
	default:
		p.add(path+".other_domains", "unknown value %q (refuse or keep)", u.OtherDomains)
	}
	cfg := providers.UsernameMapperConfig{
		StripDomains: u.StripDomains, StripRealms: u.StripRealms, KeepOtherDomains: u.OtherDomains == "keep",
		Lowercase: u.Lowercase, Rename: u.Map, Pattern: u.Pattern, ProductCheck: true,
	}
	if len(p.errs) > before {
		return nil, false
	}
	m, err := providers.NewUsernameMapper(cfg)
	if err != nil {
		for _, e := range leafErrors(err) {
			key, msg, _ := strings.Cut(e.Error(), ": ")
			p.add(path+"."+key, "%s", msg)
		}
		return nil, false
	}
	return m, true
}

// failEach reports each of a joined error's parts on its own line.
func failEach(fail func(sub, format string, args ...any), sub, prefix string, err error) {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		fail(sub, "%s", strings.TrimPrefix(e.Error(), prefix))
	}
}

func basicOf(pc *Product) BlockBasic {
	if pc.BlockBasic == nil {
		return BlockBasic{Enabled: true}
	}
	return *pc.BlockBasic
}

func nativeShape(n NativeTokens) providers.AtlassianTokenShape {
	s := providers.AtlassianTokenShape{Prefixes: n.Prefixes, PAT: n.PATShape == nil || *n.PATShape}
	if n.Prefixes == nil {
		s.Prefixes = []string{providers.DefaultBitbucketTokenPrefix}
	}
	return s
}

// presetRuleFor compiles one preset route into a rule (before decoration)
// and its summary. passwords is the password-channel policy decorate adds.
func presetRuleFor(pc *Product, bp *builtProduct, name string, r policy.PresetRoute, provs builtProviders) (*authz.Rule, authz.Policy, RuleSummary) {
	bb := basicOf(pc)
	rule := &authz.Rule{Name: name, Action: authz.ActionAuthenticate}
	sum := RuleSummary{Name: name, Hosts: pc.Hosts, Paths: r.Paths, Methods: r.Methods, BlockBasic: describeBasic(bb)}
	var passwords authz.Policy
	if bb.Enabled && !r.BasicAllowed {
		passwords = policy.NewPasswordChannels(bb.DryRun)
	}
	if r.Public {
		rule.Action = authz.ActionPass
		// Exclusions are anonymous: a bearer token or a session cookie
		// that travelled with the request is not forwarded (the other
		// schemes an exclusion exists for, OAuth 1.0a, stay).
		rule.StripCredentials = true
		if r.BasicAllowed {
			sum.BlockBasic = "off (" + r.Why + ")"
		} else if b, _ := basicPolicy(bb); b != nil {
			rule.PreAuth = append(rule.PreAuth, b)
		}
		sum.Action = rule.Action.String()
		return rule, passwords, sum
	}

	rule.CORSPreflight = pc.CORSPreflight == nil || *pc.CORSPreflight
	if len(pc.IP.Allow) > 0 {
		rule.PreAuth = append(rule.PreAuth, policy.NewIPAllow(prefixes(pc.IP.Allow), pc.IP.DryRun))
	}
	if r.SCM {
		mode := pc.SCM.Basic
		if mode == "" {
			mode = "pass"
			if bb.Enabled {
				mode = "allow_access_tokens"
			}
		}
		if mode != "pass" {
			shape := nativeShape(pc.NativeTokens)
			scm, err := policy.NewSCMBasic(policy.SCMBasicOptions{
				AllowAccessTokens: mode == "allow_access_tokens", IsAccessToken: shape.Match,
				AllowUsers: bb.AllowUsers, DryRun: bb.DryRun,
			})
			if err == nil {
				rule.PreAuth = append(rule.PreAuth, scm)
			}
		}
		sum.BlockBasic = "scm: " + mode
		if r.LFS && pc.SCM.LFSJWT != nil && *pc.SCM.LFSJWT {
			rule.PassSchemes = map[string]bool{"jwt": true}
			sum.BlockBasic += ", JWT passes"
		}
	} else if b, _ := basicPolicy(bb); b != nil {
		rule.PreAuth = append(rule.PreAuth, b)
	}
	for _, name := range pc.Authenticate {
		if p, ok := provs.byName[name]; ok {
			rule.Authenticators = append(rule.Authenticators, authz.Authenticator{Name: name, Validator: p.Validator})
		}
	}
	if len(pc.Groups.AnyOf)+len(pc.Groups.AllOf) > 0 {
		rule.PostAuth = append(rule.PostAuth, policy.NewGroups(pc.Groups.AnyOf, pc.Groups.AllOf, pc.Groups.DryRun))
	}
	if len(pc.Users.Allow)+len(pc.Users.Deny) > 0 {
		rule.PostAuth = append(rule.PostAuth, policy.NewUsers(pc.Users.Allow, pc.Users.Deny, pc.Users.DryRun))
	}
	sum.Action = rule.Action.String()
	mode := or(pc.NativeTokens.Mode, DefaultNativeMode)
	if mode == providers.NativePassThrough && len(rule.PostAuth) > 0 {
		mode = providers.NativeDeny + " (pass_through skips group and user rules)"
	}
	sum.Providers = append([]string{bp.native.Name + " (" + mode + ")"}, pc.Authenticate...)
	sum.Groups, sum.Users, sum.IPRule = describeGroups(pc.Groups), describeUsers(pc.Users), describeIP(pc.IP)
	return rule, passwords, sum
}

// decorateRule adds the product policies to a compiled rule: the
// password-channel policy (before authentication, on every action); on
// pass rules of a product the native-token gate of deny mode; and on
// authenticating rules of a product the native-token classifier first in
// the authenticators and the identity mappers.
func decorateRule(rule *authz.Rule, bp *builtProduct, passwords authz.Policy) {
	if passwords != nil {
		rule.PreAuth = append(rule.PreAuth, passwords)
	}
	if bp == nil {
		return
	}
	if rule.Action == authz.ActionPass {
		// No authenticator runs on a pass rule: the native-token decision
		// of deny mode is made here instead.
		if bp.gate != nil {
			rule.PreAuth = append(rule.PreAuth, bp.gate)
		}
		return
	}
	if rule.Action != authz.ActionAuthenticate {
		return
	}
	native := bp.native
	if v, ok := native.Validator.(*providers.AtlassianTokens); ok && v.Mode() == providers.NativePassThrough && len(rule.PostAuth) > 0 {
		// A passed-through token has no identity, so it would skip this
		// rule's group and user checks (security catalogue A6).
		native = bp.nativeDen
	}
	rule.Authenticators = append([]authz.Authenticator{native}, rule.Authenticators...)
	rule.Mappers = append(rule.Mappers, bp.mappers...)
}

// productFor is the product a user rule belongs to: the only product whose
// hosts include every host of the rule, or the only product when the rule
// names no host. Otherwise none: the rule gets the password-channel policy
// but no product-native tokens or mappers.
func productFor(built []*builtProduct, hosts []string) *builtProduct {
	if len(hosts) == 0 {
		if len(built) == 1 {
			return built[0]
		}
		return nil
	}
	var found *builtProduct
	for _, bp := range built {
		all := true
		for _, h := range hosts {
			if len(bp.cfg.Hosts) > 0 && !slices.ContainsFunc(bp.cfg.Hosts, func(ph string) bool { return strings.EqualFold(ph, h) }) {
				all = false
				break
			}
		}
		if all {
			if found != nil {
				return nil
			}
			found = bp
		}
	}
	return found
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
