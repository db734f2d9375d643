package providers

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/restguard/restguard/authz"
)

// Atlassian product-native tokens (atlassian.md §4.6): personal access
// tokens of Jira, Confluence and Bamboo, Bitbucket HTTP access tokens. They
// arrive as Authorization: Bearer like IdP tokens, and no IdP can validate
// them, so they are classified by shape before any IdP is asked.

// Modes for product-native tokens.
const (
	// NativePassThrough lets the product check the token: the request is
	// allowed without an identity and keeps its Authorization header.
	NativePassThrough = "pass_through"
	// NativeDeny refuses native tokens with 401 native_token_denied.
	NativeDeny = "deny"
	// NativeVerify asks the product who the token belongs to and returns
	// that identity, so group and user rules apply.
	NativeVerify = "verify"
)

// Defaults for AtlassianTokensConfig and DirectoryConfig (their Remote
// options take the rest of RemoteOptions' defaults).
const (
	DefaultAtlassianCacheTTL    = 5 * time.Minute
	DefaultAtlassianNegativeTTL = 30 * time.Second
	DefaultBitbucketTokenPrefix = "BBDC-"
	// PATLength is the length of a Jira/Confluence/Bamboo personal access
	// token: 33 bytes in standard base64.
	PATLength = 44
)

// AtlassianTokenShape says which bearer tokens are product-native. The
// zero value matches nothing.
type AtlassianTokenShape struct {
	// Prefixes mark native tokens ("BBDC-" for Bitbucket HTTP access
	// tokens).
	Prefixes []string
	// PAT matches the observed personal-access-token shape: 44 characters
	// of standard base64 decoding to "<digits>:<random>". Atlassian calls
	// tokens opaque, so this is a hint: a token that is not native after
	// all is refused by the product (pass_through) or by the "who am I"
	// call (verify).
	PAT bool
}

// Match reports whether token is shaped like a product-native token. A JWT
// never is.
func (s AtlassianTokenShape) Match(token string) bool {
	if token == "" || len(token) > authz.MaxTokenBytes || LooksLikeJWT(token) {
		return false
	}
	for _, p := range s.Prefixes {
		if p != "" && strings.HasPrefix(token, p) && len(token) > len(p) {
			return true
		}
	}
	return s.PAT && isPAT(token)
}

func isPAT(token string) bool {
	if len(token) != PATLength {
		return false
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(token)
	if err != nil {
		return false
	}
	digits, _, ok := strings.Cut(string(raw), ":")
	if !ok || digits == "" {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// String describes the shape for `restguard validate`.
func (s AtlassianTokenShape) String() string {
	var parts []string
	for _, p := range s.Prefixes {
		parts = append(parts, p+"…")
	}
	if s.PAT {
		parts = append(parts, "personal access tokens")
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// AtlassianTokensConfig configures an AtlassianTokens validator.
type AtlassianTokensConfig struct {
	// Name is the authenticator name (Identity.Provider).
	Name string
	// Instance names the product instance among those configured (its
	// unique name), for the shared cache: two Jira instances never share
	// entries, and `restguard revoke -provider <instance>` names their
	// users. Default: Name.
	Instance string
	// Product is jira, confluence, bitbucket or bamboo: it chooses the
	// "who am I" call of verify.
	Product string
	// Mode is NativePassThrough, NativeDeny or NativeVerify.
	Mode  string
	Shape AtlassianTokenShape
	// URL is the product's base URL including its context path
	// ("https://jira.internal:8080/jira"), for verify. https, or http on
	// loopback.
	URL string
	// Remote: CacheTTL (default DefaultAtlassianCacheTTL) bounds how long
	// a verified token's user is reused, the window in which a revoked
	// token still works; NegativeTTL (default
	// DefaultAtlassianNegativeTTL) is how long a refused token stays
	// refused without asking again; CacheSize 0 or negative is
	// DefaultCacheSize (the cache spares the product and cannot be turned
	// off). Grace and Leeway are not used.
	Remote RemoteOptions
}

// AtlassianTokens is an authz.Validator for product-native tokens. It must
// come first in a rule's authenticators: a token that is not native is
// NotResponsible and goes on to the identity providers, and a native token
// is never sent to an identity provider. It is safe for concurrent use.
type AtlassianTokens struct {
	cfg    AtlassianTokensConfig
	call   *caller
	cache  resultCache[*authz.Identity]
	flight singleflight.Group
	calls  callStats
}

// whoami is the "who am I" call per product (atlassian.md §2.2, §4.6).
var whoami = map[string]string{
	"jira":       "/rest/api/2/myself",
	"confluence": "/rest/api/user/current",
	"bitbucket":  "/rest/api/1.0/application-properties",
	"bamboo":     "/rest/api/latest/currentUser",
}

// NewAtlassianTokens checks cfg and applies the defaults.
func NewAtlassianTokens(cfg AtlassianTokensConfig) (*AtlassianTokens, error) {
	var errs []error
	switch cfg.Mode {
	case NativePassThrough, NativeDeny:
	case NativeVerify:
		if _, ok := whoami[cfg.Product]; !ok {
			errs = append(errs, fmt.Errorf("atlassian: unknown product %q", cfg.Product))
		}
		var err error
		if cfg.URL, err = productURL("atlassian", cfg.URL, "verify needs the product url"); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("atlassian: unknown mode %q (pass_through, deny, verify)", cfg.Mode))
	}
	if len(cfg.Shape.Prefixes) == 0 && !cfg.Shape.PAT {
		errs = append(errs, errors.New("atlassian: the token shape matches nothing"))
	}
	if err := cfg.Remote.prepare("atlassian", nativeDefaults); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	size := cfg.Remote.CacheSize
	if cfg.Instance == "" {
		cfg.Instance = cfg.Name
	}
	a := &AtlassianTokens{cfg: cfg, cache: newResultCache(size, refusalCacheSize(size), cfg.Instance, identityCodec, &cfg.Remote)}
	a.call = newCaller("atlassian", &cfg.Remote, &a.calls)
	return a, nil
}

// productURL checks the base URL of an Atlassian product or of Crowd
// (checkURL: https, or http on loopback) and returns it without a trailing
// slash, for paths to be appended; missing says what an empty one lacks.
func productURL(what, url, missing string) (string, error) {
	if url == "" {
		return "", fmt.Errorf("%s: %s", what, missing)
	}
	if err := checkURL(url); err != nil {
		return "", fmt.Errorf("%s: url: %w", what, err)
	}
	return strings.TrimSuffix(url, "/"), nil
}

// Mode is the configured mode.
func (a *AtlassianTokens) Mode() string { return a.cfg.Mode }

// Gate returns the pre-authentication policy for the product's pass
// routes (its exclusions and public rules), where no authenticator runs:
// in deny mode a product-native bearer token is refused there too, with
// 401 native_token_denied, so that it cannot reach the application-link or
// OAuth-provider APIs that happen to be public. In the other modes it
// returns nil: the token is the product's to check, and the preset
// exclusions remove bearer tokens anyway (authz.Rule.StripCredentials).
func (a *AtlassianTokens) Gate() authz.Policy {
	if a.cfg.Mode != NativeDeny {
		return nil
	}
	return nativeGate{a}
}

type nativeGate struct{ a *AtlassianTokens }

// Evaluate implements authz.Policy.
func (g nativeGate) Evaluate(ctx context.Context, in *authz.Input) authz.Decision {
	if in == nil || in.Credential.Kind != authz.CredentialBearer || !g.a.cfg.Shape.Match(in.Credential.Token) {
		return authz.Pass()
	}
	return authz.Deny(authz.Unauthenticated, authz.ReasonNativeTokenDenied, "product-native token on a pass route")
}

// Validate implements authz.Validator.
func (a *AtlassianTokens) Validate(ctx context.Context, token string) (*authz.Identity, error) {
	if !a.cfg.Shape.Match(token) {
		return nil, authz.NotResponsible(authz.ReasonTokenMalformed, errors.New("atlassian: not a product-native token"))
	}
	switch a.cfg.Mode {
	case NativePassThrough:
		return nil, fmt.Errorf("atlassian: %w", authz.ErrPassThrough)
	case NativeVerify:
		return a.verify(ctx, token)
	default:
		return nil, authz.InvalidToken(authz.ReasonNativeTokenDenied, errors.New("atlassian: product-native tokens are not accepted here"))
	}
}

// verify returns the token's user from the cache or from the product.
// Concurrent requests with the same token share one call, which runs to its
// own timeout even when the first request gives up, so that its answer is
// cached for the retry. Outages are never cached.
func (a *AtlassianTokens) verify(ctx context.Context, token string) (*authz.Identity, error) {
	// Provider names cannot hold ':', so the scope is none of theirs.
	key := resultKey(a.cfg.Remote.keyScope("native:"+a.cfg.Instance), token)
	now := a.cfg.Remote.Now()
	if r, ok := a.cache.Get(ctx, key, token, now); ok && now.Before(r.fresh) {
		if r.err != nil {
			return nil, r.err
		}
		return hit(r.val), nil
	}
	ch := a.flight.DoChan(string(key[:]), func() (any, error) {
		fctx := context.WithoutCancel(ctx)
		id, err := a.ask(fctx, token)
		now := a.cfg.Remote.Now()
		switch {
		case err == nil:
			until := now.Add(a.cfg.Remote.CacheTTL)
			a.cache.Set(fctx, key, token, &result[*authz.Identity]{val: id, fresh: until, grace: until, fetched: now})
		case errors.Is(err, authz.ErrInvalidToken):
			a.cache.Set(fctx, key, token, &result[*authz.Identity]{err: err, fresh: now.Add(a.cfg.Remote.NegativeTTL), fetched: now})
		}
		return id, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		cp := *r.Val.(*authz.Identity)
		return &cp, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ask calls the product's "who am I" with the token.
func (a *AtlassianTokens) ask(ctx context.Context, token string) (*authz.Identity, error) {
	req, err := newRequest(http.MethodGet, a.cfg.URL+whoami[a.cfg.Product], nil)
	if err != nil {
		return nil, a.call.unavailable("%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	ans, err := a.call.do(ctx, req)
	if err != nil {
		a.cfg.Remote.Logger.Warn("atlassian token check failed", "product", a.cfg.Product, "error", err)
		return nil, err
	}
	switch {
	case ans.status == http.StatusOK:
	case ans.status == http.StatusUnauthorized, ans.status == http.StatusForbidden && !rateLimited(ans):
		return nil, a.call.invalid(authz.ReasonTokenInvalid, "the product refused the token (status %d)", ans.status)
	default:
		a.cfg.Remote.Logger.Warn("atlassian token check failed", "product", a.cfg.Product, "status", ans.status)
		return nil, a.call.unavailable("status %d", ans.status)
	}
	id := &authz.Identity{Provider: a.cfg.Name, Via: "atlassian"}
	if a.cfg.Product == "bitbucket" {
		// Bitbucket has no "myself"; every REST answer names the user.
		id.Username = ans.header.Get("X-AUSERNAME")
		if id.Username == "" || strings.EqualFold(id.Username, "anonymous") {
			return nil, a.call.invalid(authz.ReasonTokenInvalid, "the product answered anonymously")
		}
		return id, nil
	}
	obj, err := a.call.object(ans)
	if err != nil {
		return nil, err
	}
	switch a.cfg.Product {
	case "confluence":
		// Confluence answers 200 {"type":"anonymous"} without a user.
		if t, _ := obj["type"].(string); t != "known" {
			return nil, a.call.invalid(authz.ReasonTokenInvalid, "the product answered anonymously")
		}
		id.Username, _ = obj["username"].(string)
		id.Subject, _ = obj["userKey"].(string)
	case "jira":
		id.Username, _ = obj["name"].(string)
		id.Subject, _ = obj["key"].(string)
		id.Email, _ = obj["emailAddress"].(string)
		if active, ok := obj["active"].(bool); ok && !active {
			return nil, a.call.invalid(authz.ReasonTokenInvalid, "the user is inactive")
		}
	case "bamboo":
		id.Username, _ = obj["name"].(string)
		id.Email, _ = obj["email"].(string)
	}
	if id.Username == "" {
		return nil, a.call.invalid(authz.ReasonUsernameMissing, "no user name in the answer")
	}
	return id, nil
}

// Evict implements Evicter.
func (a *AtlassianTokens) Evict(e Eviction) int { return evictResults(a.cache, e) }
