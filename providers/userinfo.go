package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/restguard/restguard/authz"
)

// UserinfoConfig configures a provider that validates a token by calling
// the identity provider's user endpoint with it (OIDC userinfo, GitHub
// /user, Slack auth.test, miniOrange getuserinfo), optionally after an
// app-binding check.
type UserinfoConfig struct {
	Name string // provider name; required
	// URL is the user endpoint, called with "Authorization: Bearer".
	// Empty when the app-binding answer carries the identity itself
	// (Google tokeninfo, Discord /oauth2/@me).
	URL     string
	Method  string            // GET (default) or POST
	Headers map[string]string // extra request headers
	// SuccessField names a member that must be the JSON literal true for
	// the answer to count (Slack: "ok"; Slack answers 200 with ok:false).
	SuccessField string
	// Issuer is reported as Identity.Issuer (informative).
	Issuer string
	// RequiredClaims: each path must hold (or contain) an accepted value
	// (Slack team_id, Google email_verified, hd); an empty list requires
	// only that it is present and not null. The subject
	// (Mapping.SubjectClaim) is always required.
	RequiredClaims map[string][]string
	// Binding proves the token was issued to our client. Without one,
	// AllowAnyClient must be set: then a token any application obtained
	// from this provider authenticates (security catalogue I1).
	Binding        *AppBinding
	AllowAnyClient bool
	// Mapping: username default {"preferred_username", "sub"}.
	Mapping IdentityMapping
	Shape   TokenShape
	Remote  RemoteOptions
}

// Userinfo validates opaque tokens remotely with a user endpoint. It
// implements authz.Validator and is safe for concurrent use.
type Userinfo struct {
	cfg   UserinfoConfig
	call  *caller
	bcall *caller
	cache *remoteCache
	calls callStats
}

// ErrNoAppBinding is returned by NewUserinfo for a provider with neither
// an app binding nor AllowAnyClient.
var ErrNoAppBinding = errors.New("userinfo: without an app binding any token this provider issued to any application would authenticate; configure app_binding, or set allow_any_client: true to accept that")

// NewUserinfo checks cfg and returns the provider. It does no I/O.
func NewUserinfo(cfg UserinfoConfig) (*Userinfo, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("userinfo: "+format, args...)) }
	if cfg.Name == "" {
		bad("name is required")
	}
	switch cfg.Method {
	case "":
		cfg.Method = http.MethodGet
	case http.MethodGet, http.MethodPost:
	default:
		bad("method %q: GET or POST", cfg.Method)
	}
	if cfg.URL != "" {
		if err := checkURL(cfg.URL); err != nil {
			bad("url: %v", err)
		}
	} else if cfg.Binding == nil {
		bad("url is required")
	}
	for name := range cfg.Headers {
		switch strings.ToLower(name) {
		case "authorization", "host", "content-length", "cookie":
			bad("header %q cannot be set", name)
		}
	}
	if cfg.Binding != nil {
		if err := cfg.Binding.check(); err != nil {
			bad("%v", err)
		}
		if cfg.AllowAnyClient {
			bad("allow_any_client and an app binding contradict each other")
		}
	} else if !cfg.AllowAnyClient {
		errs = append(errs, ErrNoAppBinding)
	}
	if err := cfg.Shape.Check(); err != nil {
		errs = append(errs, err)
	}
	if err := cfg.Remote.prepare("userinfo", idpDefaults); err != nil {
		errs = append(errs, err)
	}
	if err := cfg.Mapping.prepare("preferred_username", "sub"); err != nil {
		errs = append(errs, fmt.Errorf("userinfo: %w", err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	u := &Userinfo{cfg: cfg, cache: newRemoteCache(cfg.Name, cfg.Remote)}
	u.call = newCaller("userinfo", &cfg.Remote, &u.calls)
	if cfg.Binding != nil {
		// The binding's calls share the user endpoint's client and counters.
		u.bcall = &caller{what: "app binding " + cfg.Binding.Type, fetcher: u.call.fetcher, stats: &u.calls}
	}
	return u, nil
}

// Name is the configured provider name.
func (u *Userinfo) Name() string { return u.cfg.Name }

// Validate checks the token with the app binding and the user endpoint
// (or the cache).
func (u *Userinfo) Validate(ctx context.Context, token string) (*authz.Identity, error) {
	if err := u.cfg.Shape.admit(token); err != nil {
		return nil, err
	}
	return u.cache.lookup(ctx, token, u.fetch)
}

func (u *Userinfo) fetch(ctx context.Context, token string) (*authz.Identity, error) {
	var claims map[string]any
	var exp time.Time
	if b := u.cfg.Binding; b != nil {
		// The binding runs first: a token of another app is never used
		// against the user endpoint.
		var err error
		if claims, exp, err = b.bind(ctx, u.bcall, token, u.cfg.Remote.Now()); err != nil {
			return nil, err
		}
	}
	if u.cfg.URL != "" {
		var err error
		if claims, err = u.userinfo(ctx, token); err != nil {
			return nil, err
		}
	}
	if err := checkTimes("userinfo", exp, time.Time{}, u.cfg.Remote.Now(), u.cfg.Remote.Leeway); err != nil {
		return nil, err
	}
	if f := u.cfg.SuccessField; f != "" {
		if ok, _ := claims[f].(bool); !ok {
			reason := authz.ReasonTokenInvalid
			return nil, u.call.invalid(reason, "answer says %s is not true (%s)", f, truncate(scalarString(claims, "error")))
		}
	}
	if err := checkRequired(claims, u.cfg.RequiredClaims, "userinfo"); err != nil {
		return nil, err
	}
	// OIDC Core §5.3.2: sub is always returned; providers whose user
	// endpoint is not OIDC name their own subject attribute (GitHub id,
	// Slack user_id, Discord user.id). An answer without it identifies
	// nobody for sure (seams item 16).
	if scalarString(claims, u.cfg.Mapping.SubjectClaim) == "" {
		return nil, u.call.invalid(authz.ReasonClaimMismatch, "answer has no %s", u.cfg.Mapping.SubjectClaim)
	}
	id, err := u.cfg.Mapping.identity(claims)
	if err != nil {
		return nil, err
	}
	id.Provider, id.Via, id.Issuer, id.Expiry = u.cfg.Name, "userinfo", u.cfg.Issuer, exp
	if u.cfg.Binding != nil {
		id.ClientID = u.cfg.Binding.ClientID
	}
	return id, nil
}

func (u *Userinfo) userinfo(ctx context.Context, token string) (map[string]any, error) {
	req, err := newRequest(u.cfg.Method, u.cfg.URL, nil)
	if err != nil {
		return nil, u.call.unavailable("%v", err)
	}
	for k, v := range u.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	a, err := u.call.do(ctx, req)
	if err != nil {
		return nil, err
	}
	switch {
	case a.status == http.StatusOK:
		return u.call.object(a)
	case rateLimited(a) || a.status >= 500:
		return nil, u.call.unavailable("status %d", a.status)
	case a.status == http.StatusUnauthorized || a.status == http.StatusForbidden:
		// OIDC Core §5.3.3 / RFC 6750: invalid_token or insufficient_scope.
		return nil, u.call.invalid(authz.ReasonTokenInvalid, "token refused (status %d)", a.status)
	default:
		return nil, u.call.unavailable("status %d", a.status)
	}
}

// Describe is a one-line summary for `restguard validate`.
func (u *Userinfo) Describe() string {
	var b strings.Builder
	if u.cfg.URL != "" {
		fmt.Fprintf(&b, "userinfo %s %s", u.cfg.Method, u.cfg.URL)
		if len(u.cfg.Headers) > 0 {
			names := make([]string, 0, len(u.cfg.Headers))
			for k := range u.cfg.Headers {
				names = append(names, k)
			}
			sort.Strings(names)
			fmt.Fprintf(&b, " (headers %s)", strings.Join(names, ","))
		}
	} else {
		b.WriteString("userinfo from the app binding answer")
	}
	if u.cfg.SuccessField != "" {
		fmt.Fprintf(&b, ", success when %s is true", u.cfg.SuccessField)
	}
	if bd := u.cfg.Binding; bd != nil {
		fmt.Fprintf(&b, "; app binding %s %s for client %s", bd.Type, bd.URL, bd.ClientID)
	} else {
		b.WriteString("; NO app binding: tokens of any client of this provider authenticate (allow_any_client)")
	}
	fmt.Fprintf(&b, "; require %s", u.cfg.Mapping.SubjectClaim)
	if len(u.cfg.RequiredClaims) > 0 {
		fmt.Fprintf(&b, ", %s", describeRequired(u.cfg.RequiredClaims))
	}
	fmt.Fprintf(&b, "; %s; tokens: %s; %s", describeMapping(u.cfg.Mapping), u.cfg.Shape, describeCache(u.cfg.Remote))
	return b.String()
}

// Evict implements Evicter.
func (u *Userinfo) Evict(e Eviction) int { return u.cache.evict(e) }
