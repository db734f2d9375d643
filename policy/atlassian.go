package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Atlassian Data Center products with a preset.
const (
	ProductJira       = "jira"
	ProductConfluence = "confluence"
	ProductBitbucket  = "bitbucket"
	ProductBamboo     = "bamboo"
)

// Products lists the products with a preset, in documentation order.
var Products = []string{ProductJira, ProductConfluence, ProductBitbucket, ProductBamboo}

// Exclusions of the product presets (atlassian.md §2.4). Each one is a
// route that passes without a bearer token; each can be switched on or off
// per product.
const (
	// ExcludeStatus: load-balancer health (/status; Bamboo's
	// /rest/api/latest/status and /rest/api/latest/server), GET and HEAD.
	ExcludeStatus = "status"
	// ExcludeStatic: web resources (/s/**, /download/resources/**,
	// /download/batch/**, /download/contextbatch/**, /images/**,
	// /favicon.ico, /robots.txt), GET and HEAD. The router refuses
	// /s/<x>/_/<rest> when <rest> is protected.
	ExcludeStatic = "static"
	// ExcludeOAuth1: the OAuth 1.0a provider endpoints
	// (/plugins/servlet/oauth/**); Authorization: OAuth passes there.
	ExcludeOAuth1 = "oauth1"
	// ExcludeApplinks: application-link traffic (/rest/applinks/**,
	// /plugins/servlet/applinks/**).
	ExcludeApplinks = "applinks"
	// ExcludeOAuth2Provider: the product's own OAuth 2.0 provider
	// (/rest/oauth2/latest/**), which lives under /rest.
	ExcludeOAuth2Provider = "oauth2_provider"
	// ExcludeSynchrony: Confluence collaborative editing (/synchrony/**,
	// /synchrony-proxy/**; WebSocket upgrades, Synchrony's own JWTs).
	ExcludeSynchrony = "synchrony"
	// ExcludeCrowdServer: Jira acting as a Crowd server for the other
	// products (/rest/usermanagement/1/**, application credentials in
	// Basic, which therefore passes). Off by default.
	ExcludeCrowdServer = "crowd_server"
)

// PresetRoute is one route of a product preset, before it is compiled into
// a rule: the config package turns it into a policy.RouteSpec with the product's
// providers and policies.
type PresetRoute struct {
	// Name is the route's part of the rule name ("rest", "status").
	Name string
	// Exclusion is the exclusion key of a public route; "" for a
	// protected one.
	Exclusion string
	// Paths are route patterns, already below the context path.
	Paths []string
	// Methods restricts the route (empty: any method).
	Methods []string
	// Public routes pass without authentication (Basic blocking, IP rules
	// and the password-channel policy still apply, unless BasicAllowed).
	Public bool
	// SCM marks Bitbucket's git-over-HTTP route, which has its own Basic
	// policy (access tokens as passwords, see SCMBasic).
	SCM bool
	// LFS marks Bitbucket's Git LFS paths, where "Authorization: JWT"
	// (issued by git-lfs-authenticate over SSH) passes to the product.
	LFS bool
	// BasicAllowed routes let Basic through to the product (Jira as a
	// Crowd server: application credentials).
	BasicAllowed bool
	// Why says in a few words what the route is for.
	Why string
}

type presetExclusion struct {
	name     string
	products []string // empty: every product
	def      bool
	paths    []string
	methods  []string
	basic    bool
	why      string
}

var readMethods = []string{"GET", "HEAD"}

// exclusions in route order. Specific paths under /rest come first so they
// win over the protected /rest/**.
var exclusions = []presetExclusion{
	{name: ExcludeStatus, products: []string{ProductJira, ProductConfluence, ProductBitbucket}, def: true,
		paths: []string{"/status"}, methods: readMethods, why: "load-balancer health"},
	{name: ExcludeStatus, products: []string{ProductBamboo}, def: true,
		paths: []string{"/rest/api/latest/status", "/rest/api/latest/server"}, methods: readMethods, why: "load-balancer health"},
	{name: ExcludeStatic, def: true,
		paths:   []string{"/s/**", "/download/resources/**", "/download/batch/**", "/download/contextbatch/**", "/images/**", "/favicon.ico", "/robots.txt"},
		methods: readMethods, why: "static web resources"},
	{name: ExcludeOAuth1, def: true, paths: []string{"/plugins/servlet/oauth/**"}, why: "OAuth 1.0a provider endpoints"},
	{name: ExcludeApplinks, def: true, paths: []string{"/rest/applinks/**", "/plugins/servlet/applinks/**"}, why: "application links"},
	{name: ExcludeOAuth2Provider, def: true, paths: []string{"/rest/oauth2/latest/**"}, why: "the product's own OAuth 2.0 provider"},
	{name: ExcludeSynchrony, products: []string{ProductConfluence}, def: true,
		paths: []string{"/synchrony/**", "/synchrony-proxy/**"}, why: "collaborative editing"},
	{name: ExcludeCrowdServer, products: []string{ProductJira}, def: false,
		paths: []string{"/rest/usermanagement/1/**"}, basic: true, why: "Jira as a Crowd server (application credentials)"},
}

// protected are the protected sets of atlassian.md §2.2.
var protected = map[string][]PresetRoute{
	ProductJira: {
		{Name: "rest", Paths: []string{"/rest/**"}, Why: "REST APIs (api, agile, servicedesk, apps)"},
	},
	ProductConfluence: {
		{Name: "rest", Paths: []string{"/rest/**", "/rpc/**"}, Why: "REST APIs and legacy RPC"},
		{Name: "attachments", Paths: []string{"/download/attachments/**"}, Why: "attachment downloads"},
	},
	ProductBitbucket: {
		{Name: "rest", Paths: []string{"/rest/**"}, Why: "REST APIs"},
		{Name: "lfs", Paths: []string{"/scm/*/*/info/lfs/**"}, SCM: true, LFS: true, Why: "Git LFS (also JWT from git-lfs-authenticate)"},
		{Name: "scm", Paths: []string{"/scm/**"}, SCM: true, Why: "git over HTTP"},
	},
	ProductBamboo: {
		{Name: "rest", Paths: []string{"/rest/**"}, Why: "REST APIs"},
	},
}

// AtlassianExclusions returns the exclusion names product knows, with their
// defaults (true: on). It returns nil for an unknown product.
func AtlassianExclusions(product string) map[string]bool {
	if _, ok := protected[product]; !ok {
		return nil
	}
	out := map[string]bool{}
	for _, e := range exclusions {
		if appliesTo(e.products, product) {
			out[e.name] = e.def
		}
	}
	return out
}

func appliesTo(products []string, p string) bool {
	return len(products) == 0 || slices.Contains(products, p)
}

// AtlassianPreset returns the routes of product below contextPath: the
// enabled exclusions first (so that /rest/oauth2/latest/** wins over
// /rest/**), then the protected set. overrides switches exclusions on or
// off by name; missing names keep their default. An override the product
// does not know, an unknown product or an invalid context path is an error.
func AtlassianPreset(product, contextPath string, overrides map[string]bool) ([]PresetRoute, error) {
	prot, ok := protected[product]
	if !ok {
		return nil, fmt.Errorf("unknown product %q (%s)", product, strings.Join(Products, ", "))
	}
	cp, err := CleanContextPath(contextPath)
	if err != nil {
		return nil, err
	}
	known := AtlassianExclusions(product)
	for name := range overrides {
		if _, ok := known[name]; !ok {
			return nil, fmt.Errorf("exclusion %q does not apply to %s", name, product)
		}
	}
	var out []PresetRoute
	for _, e := range exclusions {
		if !appliesTo(e.products, product) {
			continue
		}
		on := e.def
		if v, ok := overrides[e.name]; ok {
			on = v
		}
		if !on {
			continue
		}
		out = append(out, PresetRoute{
			Name: strings.ReplaceAll(e.name, "_", "-"), Exclusion: e.name, Paths: below(cp, e.paths),
			Methods: e.methods, Public: true, BasicAllowed: e.basic, Why: e.why,
		})
	}
	for _, r := range prot {
		r.Paths = below(cp, r.Paths)
		out = append(out, r)
	}
	return out, nil
}

func below(cp string, paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = cp + p
	}
	return out
}

// CleanContextPath checks a product context path and returns it in the
// form routes are joined with: "" for the root ("", "/"), otherwise
// "/seg[/seg...]" without a trailing '/'. Segments follow the route pattern
// rules (no '*', '%', ';', '\', "." or "..").
func CleanContextPath(cp string) (string, error) {
	cp = strings.TrimSuffix(cp, "/")
	if cp == "" {
		return "", nil
	}
	if cp[0] != '/' {
		return "", fmt.Errorf("context path %q must start with '/'", cp)
	}
	if strings.Contains(cp, "*") {
		return "", fmt.Errorf("context path %q must not contain '*'", cp)
	}
	if _, err := compileGlob(cp); err != nil {
		return "", fmt.Errorf("context path: %w", err)
	}
	if len(segments(cp, nil)) >= maxContextDepth {
		return "", fmt.Errorf("context path %q is deeper than %d segments", cp, maxContextDepth-1)
	}
	return cp, nil
}
