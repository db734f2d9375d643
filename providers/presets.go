package providers

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/restguard/restguard/authz"
)

// Provider kinds a preset can expand to.
const (
	KindJWT           = "jwt"
	KindIntrospection = "introspection"
	KindUserinfo      = "userinfo"
	KindAPIKey        = "api_key"
	// KindDiscovery: the issuer's discovery document decides at startup
	// (the "custom" preset): JWTs against jwks_uri, opaque tokens against
	// introspection_endpoint when client credentials are configured, else
	// against userinfo_endpoint when any client is allowed.
	KindDiscovery = "discovery"
)

// PresetParams are the few facts a preset needs.
type PresetParams struct {
	Tenant       string   // azure-ad: directory (tenant) id
	TokenVersion string   // azure-ad: v1, v2 or both (default both)
	Realm        string   // keycloak
	Domain       string   // okta, okta-org, miniorange: the org's host name
	AuthServerID string   // okta: custom authorization server (default "default")
	Region       string   // cognito
	UserPoolID   string   // cognito
	BaseURL      string   // replaces the provider's default origin (GitHub Enterprise Server, self-managed GitLab, Keycloak's host, tests)
	APIVersion   string   // facebook Graph API version (default v21.0)
	TeamIDs      []string // slack: the workspaces (team_id) whose users may authenticate
	ClientID     string   // our client id at the provider
	Issuer       string   // custom
}

// Preset is an expanded preset: the provider settings it fills in. The
// configuration layer applies these defaults under whatever the operator
// configured explicitly.
type Preset struct {
	Name  string
	Kind  string   // the default kind
	Kinds []string // the kinds this preset supports

	// JWT: one entry per accepted issuer (Azure AD accepts v1 and v2).
	Issuers   []string
	JWKSURIs  []string // parallel to Issuers; "" means discovery
	Audiences []string
	// ClientIDClaim/ClientIDs check the client for IdPs without aud.
	ClientIDClaim  string
	ClientIDs      []string
	RequiredClaims map[string][]string
	// RejectAudiences refuse tokens for another resource with a helpful
	// reason (Microsoft Graph tokens cannot be validated by anyone but
	// Graph).
	RejectAudiences []string
	RejectHint      string

	IntrospectionURL string

	UserinfoURL     string
	UserinfoMethod  string
	UserinfoHeaders map[string]string
	SuccessField    string
	Binding         *AppBinding // URL and Type; ClientID/Secret are filled by the caller
	// NeedsAllowAnyClient: the provider offers no app-binding check.
	NeedsAllowAnyClient bool

	// Username is the default username attribute, chosen per preset
	// (docs/providers.md, "Identity per preset"): an immutable id or an
	// attribute the organisation's administrators control, never a
	// self-service or mutable one. A configured username.claims replaces
	// it entirely.
	Username     []string
	SubjectClaim string // the user's immutable id; required in userinfo answers
	GroupsClaim  string
	EmailClaim   string
	// EmailVerifiedClaim says whether EmailClaim was verified (default
	// email_verified).
	EmailVerifiedClaim string
	Shape              TokenShape
}

// presetDef describes one preset: the parameters it takes and how it
// expands.
type presetDef struct {
	params []string // accepted parameter names (YAML spelling)
	expand func(p PresetParams) (*Preset, error)
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// hostRE is a DNS host name (with an optional port), as accepted in domain.
var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?$`)

// graphAudiences are the audiences of Microsoft Graph tokens.
var graphAudiences = []string{"https://graph.microsoft.com", "https://graph.microsoft.com/", "00000003-0000-0000-c000-000000000000"}

var presets = map[string]presetDef{
	"azure-ad": {params: []string{"tenant", "token_version", "base_url"}, expand: func(p PresetParams) (*Preset, error) {
		if p.Tenant == "" {
			return nil, errors.New("needs params.tenant (the directory id)")
		}
		if strings.ContainsAny(p.Tenant, "/?#") {
			return nil, fmt.Errorf("tenant %q is not a tenant id or domain", p.Tenant)
		}
		base := or(p.BaseURL, "https://login.microsoftonline.com")
		t := url.PathEscape(p.Tenant)
		v2 := [2]string{base + "/" + t + "/v2.0", base + "/" + t + "/discovery/v2.0/keys"}
		v1 := [2]string{"https://sts.windows.net/" + t + "/", base + "/" + t + "/discovery/keys"}
		pr := &Preset{Kind: KindJWT, Kinds: []string{KindJWT},
			Username: []string{"preferred_username", "upn", "unique_name"}, GroupsClaim: "groups", EmailClaim: "email",
			RejectAudiences: graphAudiences,
			RejectHint:      "this is a Microsoft Graph token, which only Graph can validate: request a token for your API (scope api://<app-id>/.default)",
		}
		switch or(p.TokenVersion, "both") {
		case "v2":
			pr.Issuers, pr.JWKSURIs = []string{v2[0]}, []string{v2[1]}
		case "v1":
			pr.Issuers, pr.JWKSURIs = []string{v1[0]}, []string{v1[1]}
		case "both":
			pr.Issuers, pr.JWKSURIs = []string{v2[0], v1[0]}, []string{v2[1], v1[1]}
		default:
			return nil, fmt.Errorf("token_version %q: v1, v2 or both", p.TokenVersion)
		}
		if p.ClientID != "" {
			pr.Audiences = []string{p.ClientID, "api://" + p.ClientID}
		}
		if guidRE.MatchString(p.Tenant) {
			pr.RequiredClaims = map[string][]string{"tid": {strings.ToLower(p.Tenant)}}
		}
		return pr, nil
	}},
	"keycloak": {params: []string{"base_url", "realm"}, expand: func(p PresetParams) (*Preset, error) {
		if p.BaseURL == "" || p.Realm == "" {
			return nil, errors.New("needs params.base_url (https://sso.example.com, with /auth for Keycloak before 17) and params.realm")
		}
		iss := p.BaseURL + "/realms/" + url.PathEscape(p.Realm)
		return &Preset{Kind: KindJWT, Kinds: []string{KindJWT, KindIntrospection, KindUserinfo},
			Issuers: []string{iss}, JWKSURIs: []string{iss + "/protocol/openid-connect/certs"},
			IntrospectionURL: iss + "/protocol/openid-connect/token/introspect",
			UserinfoURL:      iss + "/protocol/openid-connect/userinfo",
			Username:         []string{"preferred_username"}, GroupsClaim: "groups", EmailClaim: "email",
			// Keycloak's access tokens, lightweight ones included, are JWTs.
			Shape: TokenShape{AcceptJWT: true},
		}, nil
	}},
	"okta": {params: []string{"domain", "auth_server_id"}, expand: func(p PresetParams) (*Preset, error) {
		if err := needHost("domain", p.Domain); err != nil {
			return nil, err
		}
		as := or(p.AuthServerID, "default")
		iss := "https://" + p.Domain + "/oauth2/" + url.PathEscape(as)
		pr := &Preset{Kind: KindJWT, Kinds: []string{KindJWT, KindIntrospection},
			Issuers: []string{iss}, JWKSURIs: []string{iss + "/v1/keys"},
			IntrospectionURL: iss + "/v1/introspect", UserinfoURL: iss + "/v1/userinfo",
			Username: []string{"sub"}, GroupsClaim: "groups", EmailClaim: "email",
			Shape: TokenShape{AcceptJWT: true},
		}
		if as == "default" {
			pr.Audiences = []string{"api://default"}
		}
		return pr, nil
	}},
	"okta-org": {params: []string{"domain"}, expand: func(p PresetParams) (*Preset, error) {
		if err := needHost("domain", p.Domain); err != nil {
			return nil, err
		}
		// The org authorization server's tokens look like JWTs but are
		// for Okta only: validate them by introspection with the
		// credentials of the client they were issued to.
		iss := "https://" + p.Domain
		pr := &Preset{Kind: KindIntrospection, Kinds: []string{KindIntrospection},
			Issuers: []string{iss}, IntrospectionURL: iss + "/oauth2/v1/introspect", UserinfoURL: iss + "/oauth2/v1/userinfo",
			Username: []string{"username", "sub"}, Shape: TokenShape{AcceptJWT: true},
		}
		if p.ClientID != "" {
			pr.ClientIDs = []string{p.ClientID}
		}
		return pr, nil
	}},
	"cognito": {params: []string{"region", "user_pool_id"}, expand: func(p PresetParams) (*Preset, error) {
		if !regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`).MatchString(p.Region) || p.UserPoolID == "" || strings.ContainsAny(p.UserPoolID, "/?#") {
			return nil, errors.New("needs params.region (eu-west-1) and params.user_pool_id (eu-west-1_AbCdEf123)")
		}
		iss := "https://cognito-idp." + p.Region + ".amazonaws.com/" + p.UserPoolID
		pr := &Preset{Kind: KindJWT, Kinds: []string{KindJWT},
			Issuers: []string{iss}, JWKSURIs: []string{iss + "/.well-known/jwks.json"},
			// Cognito access tokens have no aud: the app client is in
			// client_id, and ID tokens are refused by token_use.
			ClientIDClaim: "client_id", RequiredClaims: map[string][]string{"token_use": {"access"}},
			Username: []string{"username"}, GroupsClaim: "cognito:groups",
		}
		if p.ClientID != "" {
			pr.ClientIDs = []string{p.ClientID}
		}
		return pr, nil
	}},
	"google": {params: []string{"base_url"}, expand: func(p PresetParams) (*Preset, error) {
		return &Preset{Kind: KindUserinfo, Kinds: []string{KindUserinfo},
			Issuers: []string{"https://accounts.google.com"},
			Binding: &AppBinding{Type: BindGoogle, URL: or(p.BaseURL, "https://oauth2.googleapis.com") + "/tokeninfo"},
			// tokeninfo carries the identity: no second call.
			Username: []string{"email"}, EmailClaim: "email",
			RequiredClaims: map[string][]string{"email_verified": {"true"}},
			Shape:          TokenShape{Prefixes: []string{"ya29."}},
		}, nil
	}},
	"github": {params: []string{"base_url"}, expand: func(p PresetParams) (*Preset, error) {
		// GitHub Enterprise Server: base_url https://github.example.com/api/v3
		api := or(p.BaseURL, "https://api.github.com")
		return &Preset{Kind: KindUserinfo, Kinds: []string{KindUserinfo},
			Issuers:     []string{api},
			UserinfoURL: api + "/user", UserinfoMethod: "GET",
			UserinfoHeaders: map[string]string{"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
			Binding:         &AppBinding{Type: BindGitHub, URL: api + "/applications/{client_id}/token"},
			// login can be renamed by its owner, and the old one claimed
			// by someone else: the numeric id is the identity.
			Username: []string{"id"}, SubjectClaim: "id", EmailClaim: "email",
			// OAuth app and GitHub App user-to-server tokens; personal
			// access tokens (ghp_, github_pat_) never pass the app check.
			Shape: TokenShape{Prefixes: []string{"gho_", "ghu_"}},
		}, nil
	}},
	"gitlab": {params: []string{"base_url"}, expand: func(p PresetParams) (*Preset, error) {
		base := or(p.BaseURL, "https://gitlab.com")
		return &Preset{Kind: KindUserinfo, Kinds: []string{KindUserinfo},
			Issuers:     []string{base},
			UserinfoURL: base + "/oauth/userinfo", UserinfoMethod: "GET",
			Binding: &AppBinding{Type: BindGitLab, URL: base + "/oauth/token/info"},
			// The GitLab username (preferred_username, nickname) can be
			// changed by its owner: sub, the user id, is the identity.
			Username: []string{"sub"}, GroupsClaim: "groups", EmailClaim: "email",
		}, nil
	}},
	"slack": {params: []string{"team_ids", "base_url"}, expand: func(p PresetParams) (*Preset, error) {
		if len(p.TeamIDs) == 0 {
			return nil, errors.New("needs params.team_ids: Slack cannot tell which app a user token belongs to, so restguard restricts it to your workspaces")
		}
		return &Preset{Kind: KindUserinfo, Kinds: []string{KindUserinfo},
			Issuers:     []string{"https://slack.com"},
			UserinfoURL: or(p.BaseURL, "https://slack.com") + "/api/auth.test", UserinfoMethod: "POST",
			// Slack answers 200 with "ok": false for a bad token.
			SuccessField:        "ok",
			RequiredClaims:      map[string][]string{"team_id": p.TeamIDs},
			NeedsAllowAnyClient: true,
			// user is the display handle; user_id does not change.
			Username: []string{"user_id"}, SubjectClaim: "user_id",
			// User tokens only; bot tokens (xoxb-) are not people.
			Shape: TokenShape{Prefixes: []string{"xoxp-"}},
		}, nil
	}},
	"facebook": {params: []string{"api_version", "base_url"}, expand: func(p PresetParams) (*Preset, error) {
		v := or(p.APIVersion, "v21.0")
		if !regexp.MustCompile(`^v[0-9]+\.[0-9]+$`).MatchString(v) {
			return nil, fmt.Errorf("api_version %q is not like v21.0", v)
		}
		graph := or(p.BaseURL, "https://graph.facebook.com") + "/" + v
		return &Preset{Kind: KindUserinfo, Kinds: []string{KindUserinfo},
			Issuers:     []string{"https://www.facebook.com"},
			UserinfoURL: graph + "/me?fields=id,name,email", UserinfoMethod: "GET",
			Binding: &AppBinding{Type: BindFacebook, URL: graph + "/debug_token"},
			// Facebook sends no verification flag for email: the
			// app-scoped id is the identity.
			Username: []string{"id"}, SubjectClaim: "id", EmailClaim: "email",
		}, nil
	}},
	"discord": {params: []string{"base_url"}, expand: func(p PresetParams) (*Preset, error) {
		api := or(p.BaseURL, "https://discord.com/api/v10")
		return &Preset{Kind: KindUserinfo, Kinds: []string{KindUserinfo},
			Issuers: []string{"https://discord.com"},
			// /oauth2/@me carries application, scopes, expires and user.
			Binding: &AppBinding{Type: BindDiscord, URL: api + "/oauth2/@me"},
			// user.username can be changed and released: the snowflake
			// id is the identity.
			Username: []string{"user.id"}, SubjectClaim: "user.id", EmailClaim: "user.email", EmailVerifiedClaim: "user.verified",
		}, nil
	}},
	"miniorange": {params: []string{"domain", "base_url"}, expand: func(p PresetParams) (*Preset, error) {
		base := p.BaseURL
		if base == "" {
			d := or(p.Domain, "login.xecurify.com")
			if err := needHost("domain", d); err != nil {
				return nil, err
			}
			base = "https://" + d
		}
		return &Preset{Kind: KindUserinfo, Kinds: []string{KindUserinfo},
			Issuers:             []string{base},
			UserinfoURL:         base + "/moas/rest/oauth/getuserinfo",
			NeedsAllowAnyClient: true,
			// The add-on used exactly one "username attribute".
			Username: []string{"username"}, EmailClaim: "email",
		}, nil
	}},
	"custom": {params: nil, expand: func(p PresetParams) (*Preset, error) {
		if p.Issuer == "" {
			return nil, errors.New("needs issuer: its discovery document decides how tokens are validated")
		}
		return &Preset{Kind: KindDiscovery, Kinds: []string{KindDiscovery, KindJWT, KindIntrospection, KindUserinfo},
			Issuers: []string{p.Issuer}, JWKSURIs: []string{""},
			// No fallback to email (self-service, nOAuth) or to sub (the
			// client id of client-credentials tokens at several servers).
			Username: []string{"preferred_username"}, GroupsClaim: "groups", EmailClaim: "email",
		}, nil
	}},
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// PresetParamNames lists the parameters a preset takes (YAML spelling).
func PresetParamNames(name string) ([]string, bool) {
	d, ok := presets[name]
	return d.params, ok
}

// ExpandPreset fills a preset from its parameters.
func ExpandPreset(name string, p PresetParams) (*Preset, error) {
	d, ok := presets[name]
	if !ok {
		return nil, fmt.Errorf("unknown preset %q (one of: %s)", name, strings.Join(PresetNames(), ", "))
	}
	if p.BaseURL != "" {
		p.BaseURL = strings.TrimSuffix(p.BaseURL, "/")
		if err := checkURL(p.BaseURL); err != nil {
			return nil, fmt.Errorf("preset %s: base_url: %v", name, err)
		}
	}
	pr, err := d.expand(p)
	if err != nil {
		return nil, fmt.Errorf("preset %s: %v", name, err)
	}
	pr.Name = name
	return pr, nil
}

func needHost(name, v string) error {
	if v == "" || !hostRE.MatchString(v) {
		return fmt.Errorf("needs params.%s, a host name such as example.okta.com (got %q)", name, v)
	}
	return nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// FirstOf is a validator that tries several validators of one provider in
// order (Azure AD's v1 and v2 issuers): the first that is responsible for
// the token decides. It is safe for concurrent use if they are.
type FirstOf []authz.Validator

// Validate implements authz.Validator.
func (f FirstOf) Validate(ctx context.Context, token string) (*authz.Identity, error) {
	var last error = authz.NotResponsible(authz.ReasonTokenMalformed, errors.New("no validator"))
	for _, v := range f {
		id, err := v.Validate(ctx, token)
		if err == nil || !errors.Is(err, authz.ErrNotResponsible) {
			return id, err
		}
		if last == nil || !isMalformed(err) {
			last = err
		}
	}
	return nil, last
}

func isMalformed(err error) bool {
	var re *authz.ReasonError
	return errors.As(err, &re) && re.Reason == authz.ReasonTokenMalformed
}

// RejectAudiences wraps a JWT validator: a JWT from one of issuers whose
// aud is one of audiences is refused with hint before any key is looked
// up. It only ever refuses on unverified claims, never accepts.
func RejectAudiences(next authz.Validator, issuers, audiences []string, hint string) authz.Validator {
	return &audienceGuard{next: next, issuers: issuers, audiences: audiences, hint: hint}
}

type audienceGuard struct {
	next      authz.Validator
	issuers   []string
	audiences []string
	hint      string
}

func (g *audienceGuard) Validate(ctx context.Context, token string) (*authz.Identity, error) {
	if LooksLikeJWT(token) {
		segs := strings.SplitN(token, ".", 3)
		if raw, err := base64.RawURLEncoding.DecodeString(segs[1]); err == nil {
			if c, err := decodeStrict(raw); err == nil {
				iss, _ := c["iss"].(string)
				aud, _ := stringOrArray(c["aud"])
				if containsAny([]string{iss}, g.issuers) && containsAny(aud, g.audiences) {
					return nil, authz.InvalidToken(authz.ReasonAudienceMismatch, errors.New(g.hint))
				}
			}
		}
	}
	return g.next.Validate(ctx, token)
}
