package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/restguard/restguard/authz"
)

// Client authentication methods for introspection (RFC 7662 §2.1 with
// RFC 6749 §2.3.1).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	// AuthNone sends no client credentials, for an introspection endpoint
	// reachable only from restguard (Ory Hydra's admin port).
	AuthNone = "none"
)

// IntrospectionConfig configures an RFC 7662 introspection provider.
type IntrospectionConfig struct {
	Name     string // provider name (Identity.Provider); required
	Endpoint string // introspection endpoint; https (http only on loopback)
	// AuthMethod is client_secret_basic (default), client_secret_post or
	// none; ClientID and ClientSecret are restguard's own credentials.
	AuthMethod   string
	ClientID     string
	ClientSecret string
	// TokenTypeHint is sent as token_type_hint; "" sends none.
	TokenTypeHint string
	// Issuer, when set, must equal the answer's iss (which must be present).
	Issuer string
	// Audiences, when set: aud (string or array) must contain one.
	Audiences []string
	// ClientIDs, when set: client_id must be one of them, so tokens issued
	// to other clients are refused.
	ClientIDs []string
	// AllowAnyClient must be set when neither Audiences nor ClientIDs are:
	// then a token the authorization server issued to any of its clients
	// authenticates (another application, Keycloak's account-console).
	AllowAnyClient bool
	// TokenTypes, when set: token_type must be present and one of them
	// (case-insensitive). Refresh tokens are always refused: token_type,
	// Keycloak's typ and Hydra's token_use naming a refresh token (or, for
	// token_use, anything but an access token) refuse the token.
	TokenTypes []string
	// RequireExp refuses answers without exp.
	RequireExp bool
	// RequiredClaims: each path must hold (or contain) an accepted value;
	// an empty list requires only that it is present and not null.
	RequiredClaims map[string][]string
	// Mapping: username default {"username", "sub"}.
	Mapping IdentityMapping
	Shape   TokenShape
	Remote  RemoteOptions
}

// Introspection validates tokens with the provider's RFC 7662 endpoint. It
// implements authz.Validator and is safe for concurrent use.
type Introspection struct {
	cfg   IntrospectionConfig
	call  *caller
	cache *remoteCache
	calls callStats
}

// ErrNoClientBinding is returned by NewIntrospection for a provider with
// neither Audiences, ClientIDs nor AllowAnyClient: an authorization server
// reports active every token it issued, to any of its clients.
var ErrNoClientBinding = errors.New("introspection: without client_ids or audiences, every token the authorization server issued to any of its clients (another application, Keycloak's account-console) authenticates; list your clients (client_ids: [jira-cli]) or audiences, or set allow_any_client: true to accept that")

// NewIntrospection checks cfg and returns the provider. It does no I/O.
func NewIntrospection(cfg IntrospectionConfig) (*Introspection, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("introspection: "+format, args...)) }
	if cfg.Name == "" {
		bad("name is required")
	}
	if cfg.Endpoint == "" {
		bad("endpoint is required")
	} else if err := checkURL(cfg.Endpoint); err != nil {
		bad("endpoint: %v", err)
	}
	switch cfg.AuthMethod {
	case "":
		cfg.AuthMethod = AuthClientSecretBasic
		fallthrough
	case AuthClientSecretBasic, AuthClientSecretPost:
		if cfg.ClientID == "" || cfg.ClientSecret == "" {
			bad("%s needs a client id and a client secret", cfg.AuthMethod)
		}
	case AuthNone:
		if cfg.ClientSecret != "" {
			bad("auth method none sends no client secret; remove it or choose client_secret_basic")
		}
	default:
		bad("unknown auth method %q (client_secret_basic, client_secret_post, none)", cfg.AuthMethod)
	}
	switch bound := len(cfg.Audiences)+len(cfg.ClientIDs) > 0; {
	case bound && cfg.AllowAnyClient:
		bad("allow_any_client and audiences or client_ids contradict each other")
	case !bound && !cfg.AllowAnyClient:
		errs = append(errs, ErrNoClientBinding)
	}
	if err := cfg.Shape.Check(); err != nil {
		errs = append(errs, err)
	}
	if err := cfg.Remote.prepare("introspection", idpDefaults); err != nil {
		errs = append(errs, err)
	}
	if err := cfg.Mapping.prepare("username", "sub"); err != nil {
		errs = append(errs, fmt.Errorf("introspection: %w", err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	p := &Introspection{cfg: cfg, cache: newRemoteCache(cfg.Name, cfg.Remote)}
	p.call = newCaller("introspect", &cfg.Remote, &p.calls)
	return p, nil
}

// Name is the configured provider name.
func (p *Introspection) Name() string { return p.cfg.Name }

// Validate asks the introspection endpoint about token (or the cache).
func (p *Introspection) Validate(ctx context.Context, token string) (*authz.Identity, error) {
	if err := p.cfg.Shape.admit(token); err != nil {
		return nil, err
	}
	return p.cache.lookup(ctx, token, p.introspect)
}

func (p *Introspection) introspect(ctx context.Context, token string) (*authz.Identity, error) {
	form := url.Values{"token": {token}}
	if p.cfg.TokenTypeHint != "" {
		form.Set("token_type_hint", p.cfg.TokenTypeHint)
	}
	if p.cfg.AuthMethod == AuthClientSecretPost {
		form.Set("client_id", p.cfg.ClientID)
		form.Set("client_secret", p.cfg.ClientSecret)
	}
	req, err := newRequest(http.MethodPost, p.cfg.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, p.call.unavailable("%v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p.cfg.AuthMethod == AuthClientSecretBasic {
		// RFC 6749 §2.3.1: form-encode both before Basic.
		req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
	}
	a, err := p.call.do(ctx, req)
	if err != nil {
		return nil, err
	}
	if a.status != http.StatusOK {
		// 401/403 mean our own credentials are wrong: a configuration
		// problem, never a verdict on the token (catalogue H2).
		hint := ""
		switch a.status {
		case http.StatusUnauthorized, http.StatusForbidden:
			p.cfg.Remote.Logger.Error("introspection endpoint refused restguard's client credentials", "provider", p.cfg.Name, "status", a.status)
			hint = ": the endpoint refused restguard's own client credentials (client_id, client_secret, auth_method); if this URL is a userinfo endpoint, which takes the user's token instead, use kind: userinfo"
		case http.StatusMethodNotAllowed:
			hint = ": an introspection endpoint (RFC 7662) takes a POST; if this URL is a userinfo endpoint, use kind: userinfo"
		case http.StatusNotFound:
			hint = ": no endpoint at this URL; the discovery document's introspection_endpoint names the right one"
		}
		return nil, p.call.unavailable("status %d%s", a.status, hint)
	}
	c, err := p.call.object(a)
	if err != nil {
		return nil, err
	}
	return p.identity(c)
}

// identity applies RFC 7662 §2.2 and the configured checks to an answer.
func (p *Introspection) identity(c map[string]any) (*authz.Identity, error) {
	// Only the JSON literal true is active: "true", 1, null, a missing
	// member or "ACTIVE" are not (catalogue H3).
	if active, ok := c["active"].(bool); !ok || !active {
		return nil, p.call.invalid(authz.ReasonTokenInactive, "token not active")
	}
	if err := refuseNonAccess(c); err != nil {
		return nil, err
	}
	if len(p.cfg.TokenTypes) > 0 {
		tt, _ := c["token_type"].(string)
		ok := false
		for _, want := range p.cfg.TokenTypes {
			ok = ok || strings.EqualFold(tt, want)
		}
		if !ok {
			return nil, p.call.invalid(authz.ReasonTokenTypeInvalid, "token_type %q not accepted", truncate(tt))
		}
	}
	now := p.cfg.Remote.Now()
	exp, hasExp, err := timeClaim(c, "exp")
	if err != nil {
		return nil, p.call.invalid(authz.ReasonTokenInvalid, "%v", err)
	}
	if !hasExp && p.cfg.RequireExp {
		return nil, p.call.invalid(authz.ReasonTokenExpired, "answer has no exp")
	}
	nbf, _, err := timeClaim(c, "nbf")
	if err != nil {
		return nil, p.call.invalid(authz.ReasonTokenInvalid, "%v", err)
	}
	if err := checkTimes("introspect", exp, nbf, now, p.cfg.Remote.Leeway); err != nil {
		return nil, err
	}
	iss, _ := c["iss"].(string)
	if p.cfg.Issuer != "" && iss != p.cfg.Issuer {
		return nil, p.call.invalid(authz.ReasonIssuerUnknown, "iss %q is not the configured issuer", truncate(iss))
	}
	if len(p.cfg.Audiences) > 0 {
		aud, ok := stringOrArray(c["aud"])
		if !ok || !containsAny(aud, p.cfg.Audiences) {
			return nil, p.call.invalid(authz.ReasonAudienceMismatch, "aud not accepted")
		}
	}
	clientID, _ := c["client_id"].(string)
	if len(p.cfg.ClientIDs) > 0 && !containsAny([]string{clientID}, p.cfg.ClientIDs) {
		return nil, p.call.invalid(authz.ReasonAudienceMismatch, "client_id %q not accepted", truncate(clientID))
	}
	if err := checkRequired(c, p.cfg.RequiredClaims, "introspect"); err != nil {
		return nil, err
	}
	id, err := p.cfg.Mapping.identity(c)
	if err != nil {
		return nil, err
	}
	id.Provider, id.Via, id.ClientID, id.Expiry = p.cfg.Name, "introspection", clientID, exp
	id.Issuer = iss
	if id.Issuer == "" {
		id.Issuer = p.cfg.Issuer
	}
	return id, nil
}

// refuseNonAccess refuses refresh tokens and other non-access tokens that
// an authorization server reports as active (catalogue H4).
func refuseNonAccess(c map[string]any) error {
	for _, name := range []string{"token_type", "typ"} {
		if s, _ := c[name].(string); strings.Contains(strings.ToLower(s), "refresh") {
			return authz.InvalidToken(authz.ReasonTokenTypeInvalid, fmt.Errorf("introspect: %s %q is not an access token", name, truncate(s)))
		}
	}
	if v, present := c["token_use"]; present {
		s, _ := v.(string)
		if s != "access_token" && s != "access" {
			return authz.InvalidToken(authz.ReasonTokenTypeInvalid, fmt.Errorf("introspect: token_use %q is not an access token", truncate(s)))
		}
	}
	return nil
}

// Describe is a one-line summary for `restguard validate`.
func (p *Introspection) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "introspection %s (%s", p.cfg.Endpoint, p.cfg.AuthMethod)
	if p.cfg.AuthMethod != AuthNone {
		fmt.Fprintf(&b, " as %s", p.cfg.ClientID)
	}
	if p.cfg.TokenTypeHint != "" {
		fmt.Fprintf(&b, ", hint %s", p.cfg.TokenTypeHint)
	}
	b.WriteString(")")
	if p.cfg.Issuer != "" {
		fmt.Fprintf(&b, ", iss %s", p.cfg.Issuer)
	}
	if len(p.cfg.Audiences) > 0 {
		fmt.Fprintf(&b, ", aud %s", strings.Join(p.cfg.Audiences, "|"))
	}
	if len(p.cfg.ClientIDs) > 0 {
		fmt.Fprintf(&b, ", client_id %s", strings.Join(p.cfg.ClientIDs, "|"))
	}
	if p.cfg.AllowAnyClient {
		b.WriteString(", any client (allow_any_client)")
	}
	if len(p.cfg.RequiredClaims) > 0 {
		fmt.Fprintf(&b, ", require %s", describeRequired(p.cfg.RequiredClaims))
	}
	fmt.Fprintf(&b, "; %s", describeMapping(p.cfg.Mapping))
	fmt.Fprintf(&b, "; tokens: %s; %s", p.cfg.Shape, describeCache(p.cfg.Remote))
	return b.String()
}

func describeMapping(m IdentityMapping) string {
	s := "username " + strings.Join(m.UsernameClaims, ",")
	if m.Lowercase {
		s += " (lower-cased)"
	}
	if m.UsernamePattern != "" {
		s += " matching " + m.UsernamePattern
	}
	if m.GroupsClaim != "" {
		s += ", groups " + m.GroupsClaim
	}
	return s
}

func describeCache(o RemoteOptions) string {
	if o.CacheSize < 0 {
		return fmt.Sprintf("timeout %s, no cache", o.Timeout)
	}
	s := fmt.Sprintf("timeout %s, cache ttl %s, negative %s", o.Timeout, o.CacheTTL, o.NegativeTTL)
	if o.Grace > 0 {
		s += fmt.Sprintf(", grace %s", o.Grace)
	}
	return s
}

// Evict implements Evicter.
func (p *Introspection) Evict(e Eviction) int { return p.cache.evict(e) }
