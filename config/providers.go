package config

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

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

// checkParams refuses params the preset does not use, so a misplaced
// parameter is not silently ignored.
func checkParams(pc Provider) error {
	used, ok := providers.PresetParamNames(pc.Preset)
	if !ok {
		return at("preset", fmt.Errorf("unknown preset %q (one of: %s)%s", pc.Preset, strings.Join(providers.PresetNames(), ", "), didYouMean(pc.Preset, providers.PresetNames()...)))
	}
	set := map[string]bool{
		"tenant": pc.Params.Tenant != "", "token_version": pc.Params.TokenVersion != "", "realm": pc.Params.Realm != "",
		"domain": pc.Params.Domain != "", "auth_server_id": pc.Params.AuthServerID != "", "region": pc.Params.Region != "",
		"user_pool_id": pc.Params.UserPoolID != "", "base_url": pc.Params.BaseURL != "", "api_version": pc.Params.APIVersion != "",
		"team_ids": len(pc.Params.TeamIDs) > 0,
	}
	var errs []error
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if set[n] && !contains(used, n) {
			what := "no params"
			if len(used) > 0 {
				what = "params " + strings.Join(used, ", ")
			}
			errs = append(errs, at("params."+n, fmt.Errorf("preset %s does not use %s (it takes %s)", pc.Preset, n, what)))
		}
	}
	return errors.Join(errs...)
}

// checkKindKeys refuses keys that the chosen kind would ignore, in the
// order of kindKeys.
func checkKindKeys(pc Provider, kind string) error {
	var errs []error
	for _, k := range kindKeys {
		if k.ignoredBy(kind) && k.set(pc) {
			errs = append(errs, at(k.key, fmt.Errorf("not used by kind %s (only by %s)", kind, k.usedBy)))
		}
	}
	return errors.Join(errs...)
}

// kindKey is a provider key that only some kinds use.
type kindKey struct {
	key       string
	usedBy    string                 // the kinds that use it, for the message
	ignoredBy func(kind string) bool // whether kind ignores it
	set       func(pc Provider) bool
}

// except is a kindKey.ignoredBy: every kind but these ignores the key.
func except(kinds ...string) func(string) bool {
	return func(kind string) bool { return !slices.Contains(kinds, kind) }
}

// by is a kindKey.ignoredBy: these kinds ignore the key.
func by(kinds ...string) func(string) bool {
	return func(kind string) bool { return slices.Contains(kinds, kind) }
}

const (
	remoteKinds   = "introspection, userinfo, discovery"
	identityKinds = "jwt, introspection, userinfo, discovery"
)

var kindKeys = []kindKey{
	{"jwks_uri", "jwt", except(providers.KindJWT), func(pc Provider) bool { return pc.JWKSURI != "" }},
	{"algorithms", "jwt, discovery", except(providers.KindJWT, providers.KindDiscovery), func(pc Provider) bool { return len(pc.Algorithms) > 0 }},
	{"client_id_claim", "jwt, discovery", except(providers.KindJWT, providers.KindDiscovery), func(pc Provider) bool { return pc.ClientIDClaim != "" }},
	{"strict_typ", "jwt, discovery", except(providers.KindJWT, providers.KindDiscovery), func(pc Provider) bool { return pc.StrictTyp }},
	{"jwks", "jwt, discovery", except(providers.KindJWT, providers.KindDiscovery), func(pc Provider) bool { return pc.JWKS != (JWKS{}) }},
	{"introspection", "introspection, discovery", except(providers.KindIntrospection, providers.KindDiscovery), func(pc Provider) bool { return !emptyIntrospection(pc.Introspection) }},
	{"userinfo", "userinfo", except(providers.KindUserinfo), func(pc Provider) bool {
		u := pc.Userinfo
		return u.URL != "" || u.Method != "" || len(u.Headers) > 0 || u.SuccessField != ""
	}},
	{"app_binding", "userinfo", except(providers.KindUserinfo), func(pc Provider) bool { return pc.AppBinding != (AppBinding{}) }},
	{"allow_any_client", remoteKinds, except(providers.KindUserinfo, providers.KindIntrospection, providers.KindDiscovery), func(pc Provider) bool { return pc.AllowAnyClient }},
	{"keys", "api_key", except(providers.KindAPIKey), func(pc Provider) bool { return len(pc.Keys) > 0 }},
	{"header", "api_key", except(providers.KindAPIKey), func(pc Provider) bool { return pc.Header != "" }},
	{"client_secret", remoteKinds, except(providers.KindIntrospection, providers.KindUserinfo, providers.KindDiscovery), func(pc Provider) bool { return pc.ClientSecret != nil }},
	{"timeout", remoteKinds, except(providers.KindIntrospection, providers.KindUserinfo, providers.KindDiscovery), func(pc Provider) bool { return pc.Timeout != 0 }},
	{"cache.ttl", remoteKinds, except(providers.KindIntrospection, providers.KindUserinfo, providers.KindDiscovery), func(pc Provider) bool { return pc.Cache.TTL != 0 }},
	{"cache.negative_ttl", remoteKinds, except(providers.KindIntrospection, providers.KindUserinfo, providers.KindDiscovery), func(pc Provider) bool { return pc.Cache.NegativeTTL != 0 }},
	{"cache.grace", remoteKinds, except(providers.KindIntrospection, providers.KindUserinfo, providers.KindDiscovery), func(pc Provider) bool { return pc.Cache.Grace != 0 }},
	{"reject_audiences", "jwt", except(providers.KindJWT), func(pc Provider) bool { return len(pc.RejectAudiences) > 0 }},
	{"issuer", identityKinds, by(providers.KindAPIKey), func(pc Provider) bool { return pc.Issuer != "" }},
	{"username", identityKinds, by(providers.KindAPIKey), func(pc Provider) bool { return !reflect.ValueOf(pc.Username).IsZero() }},
	{"groups", identityKinds, by(providers.KindAPIKey), func(pc Provider) bool { return pc.Groups.Claim != "" }},
	{"audiences", "jwt, introspection", by(providers.KindAPIKey), func(pc Provider) bool { return len(pc.Audiences) > 0 }},
	{"client_id", "presets and remote kinds", by(providers.KindAPIKey), func(pc Provider) bool { return pc.ClientID != "" }},
}

func paramsEmpty(p PresetParams) bool {
	teams := p.TeamIDs
	p.TeamIDs = nil
	return len(teams) == 0 && reflect.ValueOf(p).IsZero()
}

func emptyIntrospection(i Introspection) bool {
	return i.Endpoint == "" && i.AuthMethod == "" && i.TokenTypeHint == nil && len(i.TokenTypes) == 0 && !i.RequireExp
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

// checkIdentityKeys checks the identity keys of a provider (the username
// pattern, the required claims), so that their errors carry the key's
// line.
func checkIdentityKeys(pc Provider) error {
	var errs []error
	if _, err := providers.CompileUsernamePattern(pc.Username.Pattern); err != nil {
		errs = append(errs, at("username.pattern", errors.New(strings.TrimPrefix(err.Error(), "username pattern: "))))
	}
	for _, client := range sortedKeys(pc.Username.Clients) {
		if name := pc.Username.Clients[client]; client == "" || !authz.UsableName(name) {
			errs = append(errs, at("username.clients."+client, fmt.Errorf("client %q needs a usable username (no control characters, no leading or trailing space), got %q", client, name)))
		}
	}
	for _, name := range sortedKeys(pc.RequiredClaims) {
		if pc.RequiredClaims[name] == nil {
			// An empty value could be read as "anything goes": the two
			// meanings are written differently.
			errs = append(errs, at("required_claims."+name, fmt.Errorf("no accepted values: list them (%s: [value]), or write %s: [] to require only that the claim is present", name, name)))
		}
	}
	return errors.Join(errs...)
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

func introspectionConfig(pc Provider, pre *providers.Preset, secret string, o BuildOptions, logger *slog.Logger) providers.IntrospectionConfig {
	hint := "access_token"
	if pc.Introspection.TokenTypeHint != nil {
		hint = *pc.Introspection.TokenTypeHint
	}
	iss := pc.Issuer
	if iss == "" && len(pre.Issuers) > 0 {
		iss = pre.Issuers[0]
	}
	return providers.IntrospectionConfig{
		Name:           pc.Name,
		Endpoint:       or(pc.Introspection.Endpoint, pre.IntrospectionURL),
		AuthMethod:     pc.Introspection.AuthMethod,
		ClientID:       pc.ClientID,
		ClientSecret:   secret,
		TokenTypeHint:  hint,
		Issuer:         iss,
		Audiences:      or2(pc.Audiences, pre.Audiences),
		ClientIDs:      or2(pc.ClientIDs, pre.ClientIDs),
		TokenTypes:     pc.Introspection.TokenTypes,
		RequireExp:     pc.Introspection.RequireExp,
		RequiredClaims: mergeClaims(pre.RequiredClaims, pc.RequiredClaims),
		Mapping:        mapping(pc, pre),
		Shape:          shape(pc, pre),
		Remote:         remoteOptions(pc, o, logger),
	}
}

func buildIntrospection(pc Provider, pre *providers.Preset, o BuildOptions, logger *slog.Logger) (*BuiltProvider, error) {
	secret, err := pc.ClientSecret.resolve(o)
	if err != nil {
		return nil, at("client_secret", err)
	}
	ic := introspectionConfig(pc, pre, secret, o, logger)
	// The discovery kind's introspection is bound by the audiences or
	// client ids its JWT side requires; here the opt-in is explicit.
	ic.AllowAnyClient = pc.AllowAnyClient
	ic.Remote.CallLatency = o.callLatency(pc.Name, providers.KindIntrospection)
	if ic.Endpoint == "" {
		return nil, at("introspection", errors.New("needs endpoint (the RFC 7662 introspection endpoint)"))
	}
	v, err := providers.NewIntrospection(ic)
	if err != nil {
		if errors.Is(err, providers.ErrNoClientBinding) {
			return nil, at("client_ids", err)
		}
		return nil, err
	}
	facts := TokenFacts{Kind: providers.KindIntrospection, Issuer: ic.Issuer, Required: requiredValues(ic.RequiredClaims), Shape: ic.Shape}
	if len(ic.Audiences) > 0 {
		facts.Audience = ic.Audiences[0]
	}
	if len(ic.ClientIDs) > 0 {
		facts.ClientID = ic.ClientIDs[0]
	}
	return &BuiltProvider{Summary: v.Describe(), Validator: v, takesAllOpaque: !ic.Shape.Filtered(), remote: true, secret: sha256.Sum256([]byte(secret)), Facts: facts}, nil
}

func userinfoConfig(pc Provider, pre *providers.Preset, secret string, o BuildOptions, logger *slog.Logger) providers.UserinfoConfig {
	headers := map[string]string{}
	for k, v := range pre.UserinfoHeaders {
		headers[k] = v
	}
	for k, v := range pc.Userinfo.Headers {
		headers[k] = v
	}
	uc := providers.UserinfoConfig{
		Name:           pc.Name,
		URL:            or(pc.Userinfo.URL, pre.UserinfoURL),
		Method:         strings.ToUpper(or(pc.Userinfo.Method, pre.UserinfoMethod)),
		Headers:        headers,
		SuccessField:   or(pc.Userinfo.SuccessField, pre.SuccessField),
		Issuer:         pc.Issuer,
		RequiredClaims: mergeClaims(pre.RequiredClaims, pc.RequiredClaims),
		AllowAnyClient: pc.AllowAnyClient,
		Mapping:        mapping(pc, pre),
		Shape:          shape(pc, pre),
		Remote:         remoteOptions(pc, o, logger),
	}
	if uc.Issuer == "" && len(pre.Issuers) > 0 {
		uc.Issuer = pre.Issuers[0]
	}
	btype, burl := pc.AppBinding.Type, pc.AppBinding.URL
	if pre.Binding != nil {
		btype, burl = or(btype, pre.Binding.Type), or(burl, pre.Binding.URL)
	}
	if btype != "" {
		uc.Binding = &providers.AppBinding{Type: btype, URL: burl, ClientID: pc.ClientID, ClientSecret: secret}
	}
	return uc
}

func buildUserinfo(pc Provider, pre *providers.Preset, o BuildOptions, logger *slog.Logger) (*BuiltProvider, error) {
	secret, err := pc.ClientSecret.resolve(o)
	if err != nil {
		return nil, at("client_secret", err)
	}
	uc := userinfoConfig(pc, pre, secret, o, logger)
	uc.Remote.CallLatency = o.callLatency(pc.Name, providers.KindUserinfo)
	if uc.Binding == nil && pre.NeedsAllowAnyClient && !pc.AllowAnyClient {
		return nil, at("allow_any_client", fmt.Errorf("preset %s offers no check that a token was issued to your app, so any token its users got for any app would authenticate; set allow_any_client: true to accept that", pc.Preset))
	}
	v, err := providers.NewUserinfo(uc)
	if err != nil {
		if errors.Is(err, providers.ErrNoAppBinding) {
			return nil, at("app_binding", err)
		}
		return nil, err
	}
	facts := TokenFacts{Kind: providers.KindUserinfo, Issuer: uc.Issuer, Required: requiredValues(uc.RequiredClaims), Shape: uc.Shape, Binding: uc.Binding != nil}
	return &BuiltProvider{Summary: v.Describe(), Validator: v, takesAllOpaque: !uc.Shape.Filtered(), remote: true, secret: sha256.Sum256([]byte(secret)), Facts: facts}, nil
}

func buildAPIKeys(pc Provider, o BuildOptions) (*BuiltProvider, error) {
	if pc.Header != "" && !strings.EqualFold(pc.Header, "Authorization") {
		return nil, at("header", errors.New("only \"Authorization: Bearer <key>\" is supported for now; remove header"))
	}
	cfg := providers.APIKeysConfig{Name: pc.Name, Shape: shape(pc, &providers.Preset{}), Now: o.Now}
	var errs []error
	for i, k := range pc.Keys {
		key := providers.APIKey{Name: k.Name, Hash: k.SHA256, Username: k.Username, Groups: k.Groups}
		if k.Expires != "" {
			t, err := parseExpiry(k.Expires)
			if err != nil {
				errs = append(errs, at(fmt.Sprintf("keys[%d].expires", i), err))
				continue
			}
			key.Expires = t
		}
		if _, err := providers.ParseAPIKeyHash(k.SHA256); err != nil {
			errs = append(errs, at(fmt.Sprintf("keys[%d].sha256", i), errors.New("not a key hash: use the output of restguard hash-key (sha256: and 64 hex digits)")))
			continue
		}
		cfg.Keys = append(cfg.Keys, key)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(pc.Keys) == 0 {
		return nil, at("keys", errors.New("an api_key provider needs at least one key"))
	}
	v, err := providers.NewAPIKeys(cfg)
	if err != nil {
		return nil, at("keys", err)
	}
	return &BuiltProvider{Summary: v.Describe(), Validator: v}, nil
}

func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid expiry %q (2027-01-31 or 2027-01-31T00:00:00Z)", s)
}

func buildDiscovery(pc Provider, pre *providers.Preset, o BuildOptions, logger *slog.Logger, ks *keySets) (*BuiltProvider, error) {
	if pc.Issuer == "" {
		return nil, errors.New("kind discovery needs an issuer")
	}
	secret, err := pc.ClientSecret.resolve(o)
	if err != nil {
		return nil, at("client_secret", err)
	}
	jc := jwtConfig(pc, pre, o, logger)
	jc.Issuer = pc.Issuer
	jc.KeySet = ks.get(jc)
	dc := providers.DiscoveryConfig{JWT: jc}
	if pc.ClientID != "" && (secret != "" || pc.Introspection.AuthMethod == providers.AuthNone) {
		ic := introspectionConfig(pc, pre, secret, o, logger)
		dc.Introspection = &ic
	} else if pc.AllowAnyClient {
		uc := userinfoConfig(pc, pre, secret, o, logger)
		dc.Userinfo = &uc
	}
	d, err := providers.NewDiscovery(dc)
	if err != nil {
		return nil, err
	}
	filtered := true
	if dc.Introspection != nil {
		filtered = dc.Introspection.Shape.Filtered()
	} else if dc.Userinfo != nil {
		filtered = dc.Userinfo.Shape.Filtered()
	}
	// A test issuer mints JWTs for it (its discovery document names the
	// test key set).
	facts := TokenFacts{Kind: providers.KindJWT, Issuer: pc.Issuer, ClientIDClaim: jc.ClientIDClaim,
		Required: requiredValues(jc.RequiredClaims), Algorithms: or2(jc.Algorithms, []string{"RS256", "ES256"})}
	if len(jc.Audiences) > 0 {
		facts.Audience = jc.Audiences[0]
	}
	if len(jc.ClientIDs) > 0 {
		facts.ClientID = jc.ClientIDs[0]
	}
	return &BuiltProvider{Summary: d.Describe(), Validator: d, Life: endpoints{d}, keySets: []*providers.KeySet{d.KeySet()},
		takesAllOpaque: !filtered, remote: dc.Introspection != nil || dc.Userinfo != nil, secret: sha256.Sum256([]byte(secret)), Facts: facts}, nil
}

// endpoints is the lifecycle of a discovery provider beyond its key set,
// which the runtime warms with the other key sets: the discovery of its
// remote endpoints.
type endpoints struct{ d *providers.Discovery }

func (e endpoints) Start(ctx context.Context)         { e.d.Start(ctx) }
func (e endpoints) Refresh(ctx context.Context) error { return e.d.Discover(ctx) }
func (e endpoints) Ready() bool                       { return e.d.Discovered() }

// keySets hands out the key sets of one build: providers whose key-set
// settings are equal (the same issuer with different audiences on
// different hosts) get one, so one fetch at startup, one refresh per
// interval and one refetch per rotation serve them all (seams item 17).
// A key set the running configuration already has is taken from the pool,
// so a reload fetches nothing it already holds.
type keySets struct {
	pool   *Pool
	logger *slog.Logger
	byCfg  map[providers.KeySetConfig]*providers.KeySet
	order  []*providers.KeySet // in order of first use
}

func newKeySets(pool *Pool, logger *slog.Logger) *keySets {
	return &keySets{pool: pool, logger: logger.With("component", "jwks"), byCfg: map[providers.KeySetConfig]*providers.KeySet{}}
}

// get returns the key set for jc's settings, or nil when they are invalid
// (NewJWT then reports them).
func (r *keySets) get(jc providers.JWTConfig) *providers.KeySet {
	c := jc.KeySetConfig()
	if ks := r.byCfg[c]; ks != nil {
		return ks
	}
	ks := r.pool.keySet(c)
	if ks == nil {
		jc.Logger = r.logger
		var err error
		if ks, err = providers.NewKeySet(jc); err != nil {
			return nil
		}
	}
	r.byCfg[c] = ks
	r.order = append(r.order, ks)
	return ks
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
