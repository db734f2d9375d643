package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/providers"
)

// Lifecycle is the background work of a provider that needs warming
// beyond its key sets (the discovery document of kind discovery).
type Lifecycle interface {
	Start(ctx context.Context)
	Refresh(ctx context.Context) error
	Ready() bool
}

// BuiltProvider is one compiled provider.
type BuiltProvider struct {
	Name      string
	Kind      string // jwt, introspection, userinfo, api_key, discovery
	Preset    string // "" without a preset
	Summary   string // one line for `restguard validate`: the expanded provider
	Validator authz.Validator
	Life      Lifecycle // nil when the provider needs no warming beyond its key sets
	// Degraded: readiness does not wait for this provider (degraded_start).
	Degraded bool
	// Unused: no rule authenticates with this provider, so readiness does
	// not wait for it either (validate warns about it).
	Unused bool
	// Facts is what `restguard test` needs to mint a token this provider
	// accepts.
	Facts TokenFacts

	// keySets are the JWKS the provider verifies with, shared with the
	// other providers of the build that have the same key-set settings.
	keySets []*providers.KeySet
	// secret is the SHA-256 of the client secret the provider read (from
	// its file or environment variable), for the pool's fingerprint: a
	// reload must not reuse a provider whose secret changed. The secret
	// itself is never kept here.
	secret [32]byte

	// takesAllOpaque: opaque tokens reach this provider unfiltered and it
	// decides them (so providers after it in a rule never see one).
	takesAllOpaque bool
	remote         bool // sends tokens to the identity provider
}

type builtProviders struct {
	list   []*BuiltProvider
	byName map[string]*BuiltProvider
}

// TokenFacts describe the tokens a provider accepts, as far as a test
// issuer needs them: the first accepted value of each check.
type TokenFacts struct {
	Kind          string // jwt, introspection, userinfo
	Issuer        string
	Audience      string
	ClientIDClaim string // "" when the provider checks aud only
	ClientID      string
	Required      map[string]any // one accepted value per required claim
	Algorithms    []string
	Shape         providers.TokenShape // opaque tokens (remote kinds)
	Binding       bool                 // a userinfo app-binding check a test issuer cannot answer
}

func requiredValues(req map[string][]string) map[string]any {
	out := map[string]any{}
	for k, vs := range req {
		if len(vs) > 0 {
			out[k] = vs[0]
		} else {
			out[k] = "present"
		}
	}
	return out
}

// fieldError is a provider error at a key below providers[i].
type fieldError struct {
	path string
	err  error
}

func (e *fieldError) Error() string { return e.path + ": " + e.err.Error() }

func at(path string, err error) error {
	if err == nil {
		return nil
	}
	return &fieldError{path: path, err: err}
}

// buildProviders compiles every provider; errors go to p with positions.
// Key sets come from ks, so providers with equal key-set settings share
// one.
func buildProviders(c *Config, o BuildOptions, logger *slog.Logger, ks *keySets, p *problems) builtProviders {
	out := builtProviders{byName: map[string]*BuiltProvider{}}
	for i, pc := range c.Providers {
		bp, err := buildProvider(pc, o, logger.With("component", "provider", "provider", pc.Name), ks)
		if err != nil {
			for _, e := range leafErrors(err) {
				var fe *fieldError
				if errors.As(e, &fe) {
					p.add(fmt.Sprintf("providers[%d].%s", i, fe.path), "%v", fe.err)
				} else {
					p.add(fmt.Sprintf("providers[%d]", i), "%v", e)
				}
			}
			continue
		}
		bp.Degraded = pc.DegradedStart
		out.list = append(out.list, bp)
		out.byName[pc.Name] = bp
	}
	checkOpaqueRouting(c, out, p)
	return out
}

// checkOpaqueRouting refuses a rule in which a remote provider can never
// see an opaque token because an earlier provider takes every one: the
// operator meant something else, and the order is the routing rule.
func checkOpaqueRouting(c *Config, bps builtProviders, p *problems) {
	for i, r := range c.Rules {
		first := ""
		for j, name := range r.Authenticate {
			bp := bps.byName[name]
			if bp == nil {
				continue
			}
			if first != "" && bp.remote {
				p.add(fmt.Sprintf("rules[%d].authenticate[%d]", i, j),
					"provider %q never sees an opaque token: %q before it takes every opaque token; give %q a token_shape (prefixes, length, charset)", name, first, first)
			}
			if first == "" && bp.takesAllOpaque {
				first = name
			}
		}
	}
}

func leafErrors(err error) []error {
	var multi interface{ Unwrap() []error }
	if errors.As(err, &multi) && multi.(error) == err {
		var out []error
		for _, e := range multi.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// buildProvider compiles one provider. Errors are *fieldError where a key
// is to blame, so that they carry its line.
func buildProvider(pc Provider, o BuildOptions, logger *slog.Logger, ks *keySets) (*BuiltProvider, error) {
	var pre *providers.Preset
	kind := pc.Kind
	if pc.Preset != "" {
		if err := checkParams(pc); err != nil {
			return nil, err
		}
		var err error
		pre, err = providers.ExpandPreset(pc.Preset, providers.PresetParams{
			Tenant: pc.Params.Tenant, TokenVersion: pc.Params.TokenVersion, Realm: pc.Params.Realm,
			Domain: pc.Params.Domain, AuthServerID: pc.Params.AuthServerID, Region: pc.Params.Region,
			UserPoolID: pc.Params.UserPoolID, BaseURL: pc.Params.BaseURL, APIVersion: pc.Params.APIVersion,
			TeamIDs: pc.Params.TeamIDs, ClientID: pc.ClientID, Issuer: pc.Issuer,
		})
		if err != nil {
			return nil, at("preset", err)
		}
		if kind == "" {
			kind = pre.Kind
		}
		if !contains(pre.Kinds, kind) {
			return nil, at("kind", fmt.Errorf("preset %s supports kind %s, not %q", pc.Preset, strings.Join(pre.Kinds, " or "), kind))
		}
	} else {
		pre = &providers.Preset{}
		if kind == "" {
			kind = DefaultProviderKind
		}
		if !paramsEmpty(pc.Params) {
			return nil, at("params", errors.New("params are only used with a preset"))
		}
	}
	keysErr := checkKindKeys(pc, kind)
	if err := checkIdentityKeys(pc); err != nil {
		return nil, errors.Join(keysErr, err)
	}
	var bp *BuiltProvider
	var err error
	switch kind {
	case providers.KindJWT:
		bp, err = buildJWT(pc, pre, o, logger, ks)
	case providers.KindIntrospection:
		bp, err = buildIntrospection(pc, pre, o, logger)
	case providers.KindUserinfo:
		bp, err = buildUserinfo(pc, pre, o, logger)
	case providers.KindAPIKey:
		bp, err = buildAPIKeys(pc, o)
	case providers.KindDiscovery:
		bp, err = buildDiscovery(pc, pre, o, logger, ks)
	default:
		err = at("kind", fmt.Errorf("unknown provider kind %q", kind))
	}
	if err != nil || keysErr != nil {
		return nil, errors.Join(keysErr, err)
	}
	bp.Name, bp.Kind, bp.Preset = pc.Name, kind, pc.Preset
	if pc.Preset != "" {
		bp.Summary = "preset " + pc.Preset + ": " + bp.Summary
	}
	return bp, nil
}

func buildJWT(pc Provider, pre *providers.Preset, o BuildOptions, logger *slog.Logger, ks *keySets) (*BuiltProvider, error) {
	issuers, jwks := pre.Issuers, pre.JWKSURIs
	if pc.Issuer != "" {
		issuers, jwks = []string{pc.Issuer}, []string{""}
	}
	if pc.JWKSURI != "" {
		if len(issuers) > 1 {
			return nil, at("jwks_uri", fmt.Errorf("preset %s accepts %d issuers: set issuer too, or params.token_version", pc.Preset, len(issuers)))
		}
		jwks = []string{pc.JWKSURI}
	}
	if pc.DiscoveryURL != "" && len(issuers) > 1 {
		return nil, at("discovery_url", fmt.Errorf("preset %s accepts %d issuers: set issuer too", pc.Preset, len(issuers)))
	}
	var vals []authz.Validator
	var sets []*providers.KeySet
	var descs []string
	for i, iss := range issuers {
		jc := jwtConfig(pc, pre, o, logger)
		jc.Issuer, jc.JWKSURI = iss, jwks[i]
		jc.KeySet = ks.get(jc)
		j, err := providers.NewJWT(jc)
		if err != nil {
			return nil, err
		}
		vals = append(vals, j)
		sets = append(sets, j.KeySet())
		src := "discovery " + or(pc.DiscoveryURL, strings.TrimSuffix(iss, "/")+"/.well-known/openid-configuration")
		if jc.JWKSURI != "" {
			src = "jwks " + jc.JWKSURI
		}
		descs = append(descs, "issuer "+iss+" ("+src+")")
	}
	if len(vals) == 0 {
		return nil, errors.New("jwt provider needs an issuer")
	}
	var v authz.Validator = vals[0]
	if len(vals) > 1 {
		v = providers.FirstOf(vals)
	}
	reject := pc.RejectAudiences
	hint := "token audience is refused by this provider"
	if len(reject) == 0 {
		reject, hint = pre.RejectAudiences, pre.RejectHint
	}
	if len(reject) > 0 {
		v = providers.RejectAudiences(v, issuers, reject, hint)
	}
	jc := jwtConfig(pc, pre, o, logger)
	facts := TokenFacts{Kind: providers.KindJWT, Issuer: issuers[0], ClientIDClaim: jc.ClientIDClaim,
		Required: requiredValues(jc.RequiredClaims), Algorithms: or2(jc.Algorithms, []string{"RS256", "ES256"})}
	if len(jc.Audiences) > 0 {
		facts.Audience = jc.Audiences[0]
	}
	if len(jc.ClientIDs) > 0 {
		facts.ClientID = jc.ClientIDs[0]
	}
	sum := "jwt  " + strings.Join(descs, "; ")
	if len(jc.Audiences) > 0 {
		sum += "; aud " + strings.Join(jc.Audiences, "|")
	}
	if jc.ClientIDClaim != "" {
		sum += "; " + jc.ClientIDClaim + " " + strings.Join(jc.ClientIDs, "|")
	}
	if len(reject) > 0 {
		sum += "; refuses aud " + strings.Join(reject, "|")
	}
	sum += "; username " + strings.Join(or2(jc.UsernameClaims, []string{"preferred_username", "sub"}), ",")
	if jc.UsernamePattern != "" {
		sum += " matching " + jc.UsernamePattern
	}
	if n := len(jc.UsernameClients); n > 0 {
		sum += fmt.Sprintf(" (or %d named machine client(s))", n)
	}
	if jc.GroupsClaim != "" {
		sum += ", groups " + jc.GroupsClaim
	}
	return &BuiltProvider{Summary: sum, Validator: v, keySets: sets, Facts: facts}, nil
}

func jwtConfig(pc Provider, pre *providers.Preset, o BuildOptions, logger *slog.Logger) providers.JWTConfig {
	jc := providers.JWTConfig{
		Name:                 pc.Name,
		DiscoveryURL:         pc.DiscoveryURL,
		Algorithms:           pc.Algorithms,
		Audiences:            or2(pc.Audiences, pre.Audiences),
		ClientIDClaim:        or(pc.ClientIDClaim, pre.ClientIDClaim),
		ClientIDs:            or2(pc.ClientIDs, pre.ClientIDs),
		StrictTyp:            pc.StrictTyp,
		RequiredClaims:       mergeClaims(pre.RequiredClaims, pc.RequiredClaims),
		Leeway:               pc.Leeway.D(),
		UsernameClaims:       or2(pc.Username.Claims, pre.Username),
		LowercaseUsername:    pc.Username.Lowercase,
		UsernamePattern:      pc.Username.Pattern,
		UsernameClients:      pc.Username.Clients,
		EmailVerifiedClaim:   pre.EmailVerifiedClaim,
		AllowUnverifiedEmail: pc.Username.AllowUnverifiedEmail,
		GroupsClaim:          or(pc.Groups.Claim, pre.GroupsClaim),
		EmailClaim:           or(pc.Email.Claim, pre.EmailClaim),
		RefreshInterval:      pc.JWKS.RefreshInterval.D(),
		MinRefreshInterval:   pc.JWKS.MinRefreshInterval.D(),
		MaxStale:             pc.JWKS.MaxStale.D(),
		FetchTimeout:         pc.JWKS.FetchTimeout.D(),
		HTTPClient:           o.HTTPClient,
		Logger:               logger,
		Now:                  o.Now,
	}
	if pc.Cache.Size != nil {
		jc.CacheSize = *pc.Cache.Size
		if jc.CacheSize == 0 {
			jc.CacheSize = -1 // an explicit 0 disables the cache
		}
	}
	return jc
}

func remoteOptions(pc Provider, o BuildOptions, logger *slog.Logger) providers.RemoteOptions {
	ro := providers.RemoteOptions{
		Timeout:     pc.Timeout.D(),
		CacheTTL:    pc.Cache.TTL.D(),
		NegativeTTL: pc.Cache.NegativeTTL.D(),
		Grace:       pc.Cache.Grace.D(),
		Leeway:      pc.Leeway.D(),
		HTTPClient:  o.HTTPClient,
		Logger:      logger,
		Now:         o.Now,
		Shared:      o.Shared,
		Revocations: o.Revocations,
	}
	if o.Shared != nil {
		ro.CacheVersion = cacheVersion(pc)
	}
	if pc.Cache.Size != nil {
		ro.CacheSize = *pc.Cache.Size
		if ro.CacheSize == 0 {
			ro.CacheSize = -1
		}
	}
	return ro
}

func mapping(pc Provider, pre *providers.Preset) providers.IdentityMapping {
	return providers.IdentityMapping{
		UsernameClaims:       or2(pc.Username.Claims, pre.Username),
		Lowercase:            pc.Username.Lowercase,
		UsernamePattern:      pc.Username.Pattern,
		UsernameClients:      pc.Username.Clients,
		GroupsClaim:          or(pc.Groups.Claim, pre.GroupsClaim),
		EmailClaim:           or(pc.Email.Claim, pre.EmailClaim),
		EmailVerifiedClaim:   pre.EmailVerifiedClaim,
		AllowUnverifiedEmail: pc.Username.AllowUnverifiedEmail,
		SubjectClaim:         pre.SubjectClaim,
	}
}

func shape(pc Provider, pre *providers.Preset) providers.TokenShape {
	s := pre.Shape
	ts := pc.TokenShape
	if len(ts.Prefixes) > 0 {
		s.Prefixes = ts.Prefixes
	}
	if ts.MinLength != 0 {
		s.MinLength = ts.MinLength
	}
	if ts.MaxLength != 0 {
		s.MaxLength = ts.MaxLength
	}
	if ts.Charset != "" {
		s.Charset = ts.Charset
	}
	if ts.AcceptJWT != nil {
		s.AcceptJWT = *ts.AcceptJWT
	}
	return s
}

func or2(a, def []string) []string {
	if len(a) > 0 {
		return a
	}
	return def
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// mergeClaims returns base with over's entries replacing base's.
func mergeClaims(base, over map[string][]string) map[string][]string {
	if len(base) == 0 {
		return over
	}
	out := map[string][]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}
