package config

// Which provider keys each kind uses: a key the chosen kind would ignore,
// or a preset parameter the preset does not read, is an error at its line.

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/providers"
)

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
