package config

// The remote provider kinds: introspection, userinfo, discovery, and
// static API keys. providers.go builds the JWT kind and dispatches.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/restguard/restguard/providers"
)

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
