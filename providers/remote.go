package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/restguard/restguard/authz"
)

// Defaults for RemoteOptions: the shared settings of everything that asks
// a remote service about a token or a user (introspection, userinfo and
// app binding; Atlassian product-native tokens and directories, whose
// cache lifetimes differ: remoteDefaults).
const (
	// DefaultRemoteTimeout bounds one outbound call. The request's own
	// deadline (Envoy's 200 ms, restguard's check_timeout) is always
	// applied too, whichever ends first.
	DefaultRemoteTimeout = 2 * time.Second
	// DefaultRemoteMaxBody bounds an introspection or userinfo answer
	// (security catalogue H3).
	DefaultRemoteMaxBody = 64 << 10
	// DefaultRemoteTTL is how long a positive answer is reused, at most
	// until the token's exp. It is the window in which a revoked token
	// still works (catalogue H6).
	DefaultRemoteTTL = time.Minute
	// DefaultNegativeTTL is how long a definitive refusal (inactive,
	// unknown token) is reused, so that a replayed bad token does not
	// reach the provider on every request (catalogue H7).
	DefaultNegativeTTL = 5 * time.Second
)

// RemoteOptions are the settings every remote provider shares: the
// introspection and userinfo validators, AtlassianTokens and Directory.
// Zero values take the defaults above, or the provider kind's
// (remoteDefaults).
type RemoteOptions struct {
	// Timeout bounds each outbound call; the request deadline applies too.
	Timeout time.Duration
	// MaxBodyBytes bounds each answer read; a larger answer is an outage.
	MaxBodyBytes int64
	// CacheSize is the number of positive entries (negative entries get a
	// quarter as many, at least 1000); 0 is DefaultCacheSize, negative
	// disables caching (every request asks the provider) where the kind
	// allows it.
	CacheSize int
	// CacheTTL bounds how long a positive answer is reused; never beyond
	// the token's exp.
	CacheTTL time.Duration
	// NegativeTTL is how long a definitive refusal is reused; negative
	// disables negative caching. Outages are never cached.
	NegativeTTL time.Duration
	// Grace lets a positive entry whose CacheTTL has passed (but not the
	// token's exp) be served while the provider is unavailable, for at
	// most this long after CacheTTL. 0 disables it.
	Grace time.Duration
	// Leeway is the clock skew allowed on exp and nbf; default 30s.
	Leeway time.Duration
	// HTTPClient is used for every call; redirects are never followed
	// (a copy of the client is made with that policy). Default: no proxy.
	HTTPClient *http.Client
	// CallLatency, if set, observes the duration of each outbound call
	// in seconds (the metrics code passes a Prometheus histogram).
	CallLatency authz.Observer
	// Shared, if set, is the cache the replicas share: answers are looked
	// up there after an in-process miss and stored there too.
	Shared SharedCache
	// CacheVersion names the provider's configuration (a hash of it) in
	// its cache keys. A reload that changes the configuration (a client
	// list, a username claim) gives the provider fresh keys, so that it
	// never serves from the shared cache what the old configuration
	// accepted; replicas with the same configuration share entries.
	CacheVersion string
	// Revocations, if set, is the process's record of revocations: an
	// answer fetched before one is never cached after it.
	Revocations *Revocations
	Logger      *slog.Logger
	Now         func() time.Time
}

// remoteDefaults are what differs between kinds of remote provider: how
// long an answer and a refusal are reused. An identity provider's answer
// is reused briefly (it is the window in which a revoked token still
// works); a product's answer about its own token or user, longer (the
// product is the application being protected, and asking it costs it).
type remoteDefaults struct {
	ttl, negativeTTL time.Duration
	// alwaysCache: a negative CacheSize is the default too. A product's
	// cache spares the product and cannot be turned off.
	alwaysCache bool
}

var (
	idpDefaults       = remoteDefaults{ttl: DefaultRemoteTTL, negativeTTL: DefaultNegativeTTL}
	nativeDefaults    = remoteDefaults{ttl: DefaultAtlassianCacheTTL, negativeTTL: DefaultAtlassianNegativeTTL, alwaysCache: true}
	directoryDefaults = remoteDefaults{ttl: DefaultAtlassianCacheTTL, negativeTTL: DefaultDirectoryNegativeTTL, alwaysCache: true}
)

// prepare checks o and fills in the defaults, d for the cache lifetimes;
// what names the provider kind for error texts.
func (o *RemoteOptions) prepare(what string, d remoteDefaults) error {
	var errs []error
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"timeout", &o.Timeout, DefaultRemoteTimeout},
		{"cache ttl", &o.CacheTTL, d.ttl},
		{"leeway", &o.Leeway, DefaultLeeway},
	} {
		switch {
		case *d.v < 0:
			errs = append(errs, fmt.Errorf("%s: %s must not be negative", what, d.name))
		case *d.v == 0:
			*d.v = d.def
		}
	}
	if o.Leeway > MaxLeeway {
		errs = append(errs, fmt.Errorf("%s: leeway %s is more than %s", what, o.Leeway, MaxLeeway))
	}
	if o.NegativeTTL == 0 {
		o.NegativeTTL = d.negativeTTL
	}
	if o.CacheSize == 0 || o.CacheSize < 0 && d.alwaysCache {
		o.CacheSize = DefaultCacheSize
	}
	if o.Grace < 0 {
		errs = append(errs, fmt.Errorf("%s: grace must not be negative", what))
	}
	switch {
	case o.MaxBodyBytes < 0:
		errs = append(errs, fmt.Errorf("%s: max body bytes must not be negative", what))
	case o.MaxBodyBytes == 0:
		o.MaxBodyBytes = DefaultRemoteMaxBody
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return errors.Join(errs...)
}

// caller performs one remote provider's outbound calls: a fetcher whose
// failures are outages (ErrUnavailable) in the provider's name, and whose
// calls are counted.
type caller struct {
	what string // "introspect", "userinfo", "github", ... for error texts
	fetcher
	stats *callStats // the provider's call counters (may be nil)
}

// newCaller returns the caller of a remote provider configured with o
// (prepared). stats, if set, counts its calls and gets o's CallLatency.
func newCaller(what string, o *RemoteOptions, stats *callStats) *caller {
	if stats != nil {
		stats.latency = o.CallLatency
	}
	return &caller{what: what, fetcher: fetcher{client: newClient(o.HTTPClient), timeout: o.Timeout, maxBody: o.MaxBodyBytes}, stats: stats}
}

// do sends req with the call deadline and reads the bounded answer (see
// fetcher.fetch). Any failure to get a complete answer is an outage
// (ErrUnavailable).
func (c *caller) do(ctx context.Context, req *http.Request) (*answer, error) {
	start := time.Now()
	a, err := c.fetch(ctx, req)
	status := 0
	if a != nil {
		status = a.status
	}
	c.stats.record(status, err, time.Since(start))
	if err != nil {
		return nil, c.unavailable("%v", err)
	}
	return a, nil
}

func (c *caller) unavailable(format string, args ...any) error {
	return authz.UnavailableError(authz.ReasonIdPUnavailable, fmt.Errorf(c.what+": "+format, args...))
}

func (c *caller) invalid(r authz.Reason, format string, args ...any) error {
	return authz.InvalidToken(r, fmt.Errorf(c.what+": "+format, args...))
}

// object decodes a 200 answer strictly (answer.object): a body with a
// duplicate member name is an ambiguous answer and refuses the token; any
// other unparsable body (HTML, truncated JSON, not an object) is an outage.
func (c *caller) object(a *answer) (map[string]any, error) {
	obj, err := a.object()
	switch {
	case err == nil:
		return obj, nil
	case errors.Is(err, errDuplicateMember):
		return nil, c.invalid(authz.ReasonTokenInvalid, "%v", err)
	default:
		return nil, c.unavailable("%v", err)
	}
}

// rateLimited reports whether a 403 or 429 answer is a rate limit rather
// than a verdict on the token (GitHub answers 403 with
// X-RateLimit-Remaining: 0).
func rateLimited(a *answer) bool {
	if a.status == http.StatusTooManyRequests {
		return true
	}
	return a.header.Get("Retry-After") != "" || a.header.Get("X-RateLimit-Remaining") == "0"
}

// newRequest builds an outbound request; the URL was validated at build.
func newRequest(method, rawURL string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		return nil, errors.New("invalid request url")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "restguard")
	return req, nil
}

// IdentityMapping says where a remote answer keeps the identity. Paths are
// dotted, as for JWT claims ("ext.username", "user.login").
type IdentityMapping struct {
	// UsernameClaims are tried in order; the first present, non-empty
	// string wins. A present value of another type refuses the token.
	UsernameClaims []string
	Lowercase      bool
	// UsernamePattern, when set, must match the whole username (RE2,
	// CompileUsernamePattern); a name outside it is 403 username_rejected.
	UsernamePattern string
	// UsernameClients names machine tokens (see JWTConfig.UsernameClients).
	UsernameClients map[string]string
	GroupsClaim     string // array of strings or one string
	EmailClaim      string
	// EmailVerifiedClaim (default "email_verified") must be true for an
	// e-mail address to be the username, unless AllowUnverifiedEmail.
	EmailVerifiedClaim   string
	AllowUnverifiedEmail bool
	SubjectClaim         string // default "sub"

	user usernameRule // compiled by prepare
}

// prepare applies the defaults and compiles the username rule.
func (m *IdentityMapping) prepare(username ...string) error {
	if len(m.UsernameClaims) == 0 {
		m.UsernameClaims = username
	}
	if m.SubjectClaim == "" {
		m.SubjectClaim = "sub"
	}
	if m.EmailClaim == "" {
		m.EmailClaim = "email"
	}
	re, err := CompileUsernamePattern(m.UsernamePattern)
	if err != nil {
		return err
	}
	if m.EmailVerifiedClaim == "" {
		m.EmailVerifiedClaim = DefaultEmailVerifiedClaim
	}
	m.user = usernameRule{paths: m.UsernameClaims, lowercase: m.Lowercase, pattern: re, clients: m.UsernameClients,
		emailClaim: m.EmailClaim, verifiedClaim: m.EmailVerifiedClaim, allowUnverified: m.AllowUnverifiedEmail, integers: true}
	return nil
}

// identity maps answer claims to an Identity (Provider, Via, Expiry are
// set by the caller).
func (m *IdentityMapping) identity(c map[string]any) (*authz.Identity, error) {
	id := &authz.Identity{}
	var err error
	if id.Username, err = m.user.username(c); err != nil {
		return nil, err
	}
	if id.Groups, err = groups(c, m.GroupsClaim); err != nil {
		return nil, err
	}
	id.Subject = scalarString(c, m.SubjectClaim)
	if v, ok := claim(c, m.EmailClaim); ok {
		id.Email, _ = v.(string)
	}
	id.Scopes = remoteScopes(c)
	return id, nil
}

// scalarString reads a string or a number (GitHub and GitLab ids are
// numbers) as a string; anything else is "".
func scalarString(c map[string]any, path string) string {
	if path == "" {
		return ""
	}
	v, _ := claim(c, path)
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

// remoteScopes reads scope (space-separated string or array), scp or
// scopes, leniently: scopes are informative here, never a gate.
func remoteScopes(c map[string]any) []string {
	for _, name := range []string{"scope", "scp", "scopes"} {
		v, ok := c[name]
		if !ok || v == nil {
			continue
		}
		if s, isStr := v.(string); isStr {
			return strings.Fields(s)
		}
		if list, ok := stringOrArray(v); ok {
			return list
		}
	}
	return nil
}

// claimValues reads a claim as a list of strings for required-claim
// checks: strings, booleans and numbers compare by their JSON text.
func claimValues(c map[string]any, path string) []string {
	v, ok := claim(c, path)
	if !ok {
		return nil
	}
	one := func(x any) (string, bool) {
		switch y := x.(type) {
		case string:
			return y, true
		case bool:
			return strconv.FormatBool(y), true
		case json.Number:
			return y.String(), true
		}
		return "", false
	}
	if s, ok := one(v); ok {
		return []string{s}
	}
	arr, _ := v.([]any)
	var out []string
	for _, e := range arr {
		if s, ok := one(e); ok {
			out = append(out, s)
		}
	}
	return out
}

// checkRequired applies required claims: each path must hold (or contain)
// one of its accepted values; an empty list requires only that the path
// is present and not null (seams item 16).
func checkRequired(c map[string]any, required map[string][]string, what string) error {
	for path, accepted := range required {
		if len(accepted) == 0 {
			if _, present := claim(c, path); !present {
				return authz.InvalidToken(authz.ReasonClaimMismatch, fmt.Errorf("%s: %q missing", what, path))
			}
			continue
		}
		if !containsAny(claimValues(c, path), accepted) {
			return authz.InvalidToken(authz.ReasonClaimMismatch, fmt.Errorf("%s: %q missing or not accepted", what, path))
		}
	}
	return nil
}

// describeRequired is the one-line form of required claims for Describe.
func describeRequired(required map[string][]string) string {
	keys := make([]string, 0, len(required))
	for k, v := range required {
		if len(v) == 0 {
			keys = append(keys, k+" present")
		} else {
			keys = append(keys, k+"="+strings.Join(v, "|"))
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

// timeClaim reads an expiry given as a NumericDate, a decimal string of
// seconds (Google tokeninfo) or an RFC 3339 string (GitHub, Discord). ok is
// false when absent; a present value of another shape is an error.
func timeClaim(c map[string]any, path string) (t time.Time, ok bool, err error) {
	v, present := claim(c, path)
	if !present {
		return time.Time{}, false, nil
	}
	if f, isNum := numericDate(v); isNum {
		return unixTime(f), true, nil
	}
	if s, isStr := v.(string); isStr {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			if f, ok := numericDate(json.Number(strconv.FormatFloat(f, 'f', -1, 64))); ok {
				return unixTime(f), true, nil
			}
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC(), true, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("%q is not a time", path)
}

// checkTimes applies exp and nbf with leeway. A zero exp means unknown.
func checkTimes(what string, exp, nbf time.Time, now time.Time, leeway time.Duration) error {
	if !exp.IsZero() && !now.Before(exp.Add(leeway)) {
		return authz.InvalidToken(authz.ReasonTokenExpired, fmt.Errorf("%s: token expired", what))
	}
	if !nbf.IsZero() && nbf.After(now.Add(leeway)) {
		return authz.InvalidToken(authz.ReasonTokenNotYetValid, fmt.Errorf("%s: token not yet valid", what))
	}
	return nil
}

// keyScope is the scope of a provider's cache keys: its name (or product
// scope) and its configuration's version.
func (o *RemoteOptions) keyScope(scope string) string {
	if o.CacheVersion == "" {
		return scope
	}
	return scope + "\x00" + o.CacheVersion
}
