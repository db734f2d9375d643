package providers

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/restguard/restguard/authz"
)

// Defaults for JWTConfig.
const (
	DefaultLeeway             = 30 * time.Second
	MaxLeeway                 = 5 * time.Minute
	DefaultRefreshInterval    = 10 * time.Minute
	DefaultMinRefreshInterval = 30 * time.Second
	DefaultMaxStale           = 24 * time.Hour
	DefaultFetchTimeout       = 5 * time.Second
	DefaultMaxBodyBytes       = 1 << 20
)

// allowedAlgorithms are the signature algorithms a provider may accept.
// "none" and HS* are never allowed: a JWKS publishes no shared secrets.
var allowedAlgorithms = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}

// JWTConfig configures a JWT provider. Zero values take the documented
// defaults.
type JWTConfig struct {
	Name         string   // provider name (Identity.Provider); required
	Issuer       string   // exact iss this provider accepts; required
	DiscoveryURL string   // default Issuer + "/.well-known/openid-configuration"; used only when JWKSURI == ""
	JWKSURI      string   // explicit JWKS URL (skips discovery)
	Algorithms   []string // allowed algs; default {"RS256","ES256"}
	Audiences    []string // aud (string or array) must contain one of these
	// ClientIDClaim names the claim ("client_id") checked against ClientIDs,
	// for IdPs whose access tokens have no aud (Cognito). At least one of
	// Audiences or ClientIDClaim+ClientIDs is required.
	ClientIDClaim string
	ClientIDs     []string
	// StrictTyp requires typ at+jwt or application/at+jwt (RFC 9068). When
	// false, at+jwt, JWT or no typ are accepted; any other typ is refused.
	StrictTyp bool
	// RequiredClaims maps a dotted claim path to the accepted values: the
	// claim must be a string equal to one, or an array containing one. An
	// empty list requires only that the claim is present and not null.
	RequiredClaims map[string][]string
	Leeway         time.Duration // clock skew for exp/nbf/iat; default 30s, at most 5m
	// UsernameClaims are dotted paths tried in order; the first present,
	// non-empty string wins. A present non-string value refuses the token.
	// Default {"preferred_username", "sub"}.
	UsernameClaims    []string
	LowercaseUsername bool
	// UsernamePattern, when set, must match the whole username (RE2,
	// CompileUsernamePattern); a name outside it is 403 username_rejected.
	UsernamePattern string
	// UsernameClients names machine tokens: a token carrying none of the
	// username claims whose client id (client_id, azp, cid or appid, the
	// first present) is a key gets that key's value as its username. A
	// client-credentials grant has no user, hence no username claim; a
	// token with a username claim is never renamed this way.
	UsernameClients map[string]string
	// EmailVerifiedClaim (default "email_verified") must be true for an
	// e-mail claim to be the username, unless AllowUnverifiedEmail.
	EmailVerifiedClaim   string
	AllowUnverifiedEmail bool
	// GroupsClaim is the dotted path of the groups ("groups",
	// "realm_access.roles"): an array of strings or one string.
	GroupsClaim        string
	EmailClaim         string           // default "email"
	CacheSize          int              // verified-token cache entries; 0: default 10000, negative: disabled
	RefreshInterval    time.Duration    // background JWKS refresh; default 10m
	MinRefreshInterval time.Duration    // at most one unknown-kid fetch per interval; default 30s
	MaxStale           time.Duration    // serve the last good keys this long after refreshes fail; default 24h
	FetchTimeout       time.Duration    // per HTTP fetch; default 5s
	MaxBodyBytes       int64            // JWKS/discovery body limit; default 1 MiB
	HTTPClient         *http.Client     // its transport (TLS roots) is used; redirects are never followed (newClient)
	Logger             *slog.Logger     // default: discard
	Now                func() time.Time // default time.Now
	// KeySet, if set, is a key set shared with other providers (NewKeySet);
	// its Config must equal this configuration's KeySetConfig. Nil: the
	// provider fetches its own.
	KeySet *KeySet
}

// JWT validates JWT access tokens locally against the issuer's JWKS. It
// implements authz.Validator and is safe for concurrent use.
type JWT struct {
	cfg   JWTConfig
	keys  *KeySet
	now   func() time.Time
	cache *tokenCache
	user  usernameRule

	verifications atomic.Int64 // signature checks run (for tests and metrics)
}

// Kind is "jwt".
func (j *JWT) Kind() string { return "jwt" }

// Stats reports the provider's counters for metrics. Providers that share
// a key set report its fetches each.
func (j *JWT) Stats() authz.ProviderStats {
	st := authz.ProviderStats{
		KeyRefreshes: map[string]uint64{"ok": j.keys.refreshOK.Load(), "error": j.keys.refreshErrors.Load()},
		Keys:         j.KeyCount(),
	}
	j.cache.stats(&st)
	return st
}

// NewJWT validates cfg, applies the defaults and returns the provider. It
// does no network I/O: call Refresh before reporting ready, and Start for
// background refreshes.
func NewJWT(cfg JWTConfig) (*JWT, error) {
	if err := prepare(&cfg); err != nil {
		return nil, err
	}
	j := &JWT{cfg: cfg, keys: cfg.KeySet, now: cfg.Now}
	if j.keys == nil {
		ks, err := NewKeySet(cfg)
		if err != nil {
			return nil, err
		}
		j.keys = ks
	} else if j.keys.Config() != cfg.KeySetConfig() {
		return nil, errors.New("jwt: the shared key set has other settings than this provider")
	}
	if j.now == nil {
		j.now = time.Now
	}
	j.cache = newTokenCache(cfg.CacheSize)
	j.user.pattern, _ = CompileUsernamePattern(cfg.UsernamePattern) // checked by prepare
	j.user.paths, j.user.lowercase = cfg.UsernameClaims, cfg.LowercaseUsername
	j.user.emailClaim, j.user.verifiedClaim, j.user.allowUnverified = cfg.EmailClaim, cfg.EmailVerifiedClaim, cfg.AllowUnverifiedEmail
	j.user.clients = cfg.UsernameClients
	return j, nil
}

// KeySet is the provider's key set (shared or its own).
func (j *JWT) KeySet() *KeySet { return j.keys }

// Start runs the key set's background refresh (see KeySet.Start).
func (j *JWT) Start(ctx context.Context) { j.keys.Start(ctx) }

// Refresh fetches the key set now (see KeySet.Refresh).
func (j *JWT) Refresh(ctx context.Context) error { return j.keys.Refresh(ctx) }

// Ready reports whether a usable, non-stale key set is loaded.
func (j *JWT) Ready() bool { return j.keys.Ready() }

// KeyCount is the number of usable keys in the current set.
func (j *JWT) KeyCount() int { return j.keys.KeyCount() }

func (j *JWT) current(now time.Time) *keySet { return j.keys.current(now) }

// prepare checks cfg and fills in defaults. It reports every problem:
// each part of the configuration is checked by its own function, in the
// order of the validation (keys, algorithms, audience, claims, identity).
func prepare(c *JWTConfig) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("jwt: "+format, args...)) }
	if c.Name == "" {
		bad("name is required")
	}
	if c.Issuer == "" {
		bad("issuer is required")
	}
	prepareKeySet(c, bad)
	prepareAlgorithms(c, bad)
	prepareAudience(c, bad)
	prepareClaims(c, bad)
	prepareIdentity(c, bad)
	return errors.Join(errs...)
}

// prepareAlgorithms defaults the allowed algorithms to RS256 and ES256 and
// refuses none, HS* (a JWKS publishes no shared secrets, RFC 8725 §3.1) and
// unknown names.
func prepareAlgorithms(c *JWTConfig, bad func(format string, args ...any)) {
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{"RS256", "ES256"}
	}
	for _, a := range c.Algorithms {
		switch {
		case strings.EqualFold(a, "none"):
			bad("algorithm %q is never allowed", a)
		case strings.HasPrefix(strings.ToUpper(a), "HS"):
			bad("algorithm %q is not allowed: a jwks provides no shared secrets", a)
		case !allowedAlgorithms[a]:
			bad("unknown algorithm %q", a)
		}
	}
}

// prepareAudience requires a binding to this relying party: audiences, or
// a client-id claim with its accepted client ids (IdPs whose access
// tokens carry no aud).
func prepareAudience(c *JWTConfig, bad func(format string, args ...any)) {
	if len(c.Audiences) == 0 && (c.ClientIDClaim == "" || len(c.ClientIDs) == 0) {
		bad("audiences or client id claim with client ids are required")
	}
	if c.ClientIDClaim != "" && len(c.ClientIDs) == 0 {
		bad("client id claim %q needs client ids", c.ClientIDClaim)
	}
}

// prepareClaims checks the required claims and the clock leeway (default
// DefaultLeeway, at most MaxLeeway).
func prepareClaims(c *JWTConfig, bad func(format string, args ...any)) {
	for path := range c.RequiredClaims {
		if path == "" {
			bad("a required claim needs a path")
		}
	}
	switch {
	case c.Leeway < 0 || c.Leeway > MaxLeeway:
		bad("leeway %s outside 0..%s", c.Leeway, MaxLeeway)
	case c.Leeway == 0:
		c.Leeway = DefaultLeeway
	}
}

// prepareIdentity fills in the identity mapping's defaults (username
// claims, e-mail claims) and checks the username pattern.
func prepareIdentity(c *JWTConfig, bad func(format string, args ...any)) {
	if len(c.UsernameClaims) == 0 {
		c.UsernameClaims = []string{"preferred_username", "sub"}
	}
	if _, err := CompileUsernamePattern(c.UsernamePattern); err != nil {
		bad("%v", err)
	}
	if c.EmailClaim == "" {
		c.EmailClaim = "email"
	}
	if c.EmailVerifiedClaim == "" {
		c.EmailVerifiedClaim = DefaultEmailVerifiedClaim
	}
}

// prepareKeySet checks the key-set settings of c and fills in their
// defaults; bad reports a problem.
func prepareKeySet(c *JWTConfig, bad func(format string, args ...any)) {
	if c.JWKSURI != "" {
		if err := checkURL(c.JWKSURI); err != nil {
			bad("jwks uri: %v", err)
		}
	} else if c.Issuer != "" {
		if c.DiscoveryURL == "" {
			c.DiscoveryURL = strings.TrimSuffix(c.Issuer, "/") + "/.well-known/openid-configuration"
		}
		if err := checkURL(c.DiscoveryURL); err != nil {
			bad("discovery url: %v", err)
		}
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"refresh interval", &c.RefreshInterval, DefaultRefreshInterval},
		{"min refresh interval", &c.MinRefreshInterval, DefaultMinRefreshInterval},
		{"max stale", &c.MaxStale, DefaultMaxStale},
		{"fetch timeout", &c.FetchTimeout, DefaultFetchTimeout},
	}
	for _, d := range durations {
		switch {
		case *d.v < 0:
			bad("%s must not be negative", d.name)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	switch {
	case c.MaxBodyBytes < 0:
		bad("max body bytes must not be negative")
	case c.MaxBodyBytes == 0:
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
}

// checkURL accepts https URLs, and http only for loopback hosts.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a valid url")
	}
	if u.Host == "" || u.User != nil {
		return errors.New("url needs a host and no user info")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("http is only allowed for loopback hosts; use https")
	default:
		return fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// Name is the configured provider name.
func (j *JWT) Name() string { return j.cfg.Name }

// Issuer is the issuer this provider accepts.
func (j *JWT) Issuer() string { return j.cfg.Issuer }

// Validate checks a compact JWS access token and returns its identity. See
// the package documentation for the order of checks. Errors never contain
// the token.
func (j *JWT) Validate(ctx context.Context, token string) (*authz.Identity, error) {
	if strings.Count(token, ".") != 2 {
		return nil, authz.NotResponsible(authz.ReasonTokenMalformed, errors.New("not a compact jws"))
	}
	// A cached entry holds exactly this string after it passed every check
	// below, so a hit skips decoding as well as the signature.
	now := j.now()
	key := cacheKey(token)
	if id, ok := j.cache.get(key, j.current(now), now); ok {
		return id, nil
	}
	segs, err := splitCompact(token)
	if err != nil {
		return nil, err
	}

	header, err := decodeStrict(segs[0])
	if err != nil {
		return nil, authz.InvalidToken(authz.ReasonTokenMalformed, fmt.Errorf("header: %w", err))
	}
	claims, err := decodeStrict(segs[1])
	if err != nil {
		return nil, authz.InvalidToken(authz.ReasonTokenMalformed, fmt.Errorf("claims: %w", err))
	}
	// The unverified iss only selects the provider. Nothing is fetched
	// because of anything in the token (security catalogue C10).
	if iss, _ := claims["iss"].(string); iss != j.cfg.Issuer {
		return nil, authz.NotResponsible(authz.ReasonIssuerUnknown, fmt.Errorf("token iss %q, this provider's issuer %q", truncate(iss), j.cfg.Issuer))
	}
	alg, kid, err := j.checkHeader(header)
	if err != nil {
		return nil, err
	}
	pk, err := j.verify(ctx, token, alg, kid, segs[2])
	if err != nil {
		return nil, err
	}
	id, exp, err := j.identity(claims, now)
	if err != nil {
		return nil, err
	}
	id.KeyID = pk.key.kid
	j.cache.add(key, &cacheEntry{id: id, until: exp.Add(j.cfg.Leeway), kid: pk.key.kid, pub: pk.key.pub, gen: pk.gen})
	cp := *id
	return &cp, nil
}

// splitCompact checks the compact serialisation before any decoding:
// three non-empty canonical base64url segments (security catalogue B1-B3).
func splitCompact(token string) ([3][]byte, error) {
	var out [3][]byte
	if strings.Count(token, ".") != 2 {
		return out, authz.NotResponsible(authz.ReasonTokenMalformed, errors.New("not a compact jws"))
	}
	if len(token) > authz.MaxTokenBytes {
		return out, authz.InvalidToken(authz.ReasonTokenMalformed, errors.New("token too long"))
	}
	enc := base64.RawURLEncoding.Strict()
	for i, s := range strings.SplitN(token, ".", 3) {
		if s == "" || !isBase64URL(s) {
			return out, authz.InvalidToken(authz.ReasonTokenMalformed, fmt.Errorf("segment %d is not base64url", i+1))
		}
		b, err := enc.DecodeString(s)
		if err != nil {
			return out, authz.InvalidToken(authz.ReasonTokenMalformed, fmt.Errorf("segment %d is not canonical base64url", i+1))
		}
		out[i] = b
	}
	return out, nil
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		if !base64URLChars[s[i]] {
			return false
		}
	}
	return true
}

// base64URLChars marks the base64url alphabet (a table: every new token's
// segments are scanned byte by byte).
var base64URLChars = [256]bool{
	'-': true, '_': true,
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true,
	'A': true, 'B': true, 'C': true, 'D': true, 'E': true, 'F': true, 'G': true, 'H': true, 'I': true, 'J': true,
	'K': true, 'L': true, 'M': true, 'N': true, 'O': true, 'P': true, 'Q': true, 'R': true, 'S': true, 'T': true,
	'U': true, 'V': true, 'W': true, 'X': true, 'Y': true, 'Z': true,
	'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true, 'g': true, 'h': true, 'i': true, 'j': true,
	'k': true, 'l': true, 'm': true, 'n': true, 'o': true, 'p': true, 'q': true, 'r': true, 's': true, 't': true,
	'u': true, 'v': true, 'w': true, 'x': true, 'y': true, 'z': true,
}

// checkHeader applies the JOSE header rules and returns alg and kid.
func (j *JWT) checkHeader(h map[string]any) (alg, kid string, err error) {
	alg, ok := h["alg"].(string)
	if !ok || !j.algAllowed(alg) {
		return "", "", authz.InvalidToken(authz.ReasonAlgorithmRejected, fmt.Errorf("alg %q not allowed", truncate(alg)))
	}
	// We implement no JWS extension, so any crit makes the token invalid
	// (RFC 7515 §4.1.11); b64, zip, enc and cty (nested JWT) are refused.
	for _, p := range []string{"crit", "b64", "zip", "enc", "cty"} {
		if _, present := h[p]; present {
			return "", "", authz.InvalidToken(authz.ReasonTokenInvalid, fmt.Errorf("header parameter %q not supported", p))
		}
	}
	// jku, x5u, jwk and x5c are ignored: only the configured JWKS verifies.
	if v, present := h["kid"]; present {
		if kid, ok = v.(string); !ok || kid == "" {
			return "", "", authz.InvalidToken(authz.ReasonTokenMalformed, errors.New("kid is not a non-empty string"))
		}
	}
	if v, present := h["typ"]; present {
		typ, ok := v.(string)
		if !ok || !j.typAllowed(typ) {
			return "", "", authz.InvalidToken(authz.ReasonTokenTypeInvalid, fmt.Errorf("typ %q not accepted", truncate(typ)))
		}
	} else if j.cfg.StrictTyp {
		return "", "", authz.InvalidToken(authz.ReasonTokenTypeInvalid, errors.New("typ missing"))
	}
	return alg, kid, nil
}

func (j *JWT) algAllowed(alg string) bool {
	for _, a := range j.cfg.Algorithms {
		if a == alg {
			return true
		}
	}
	return false
}

// typAllowed applies RFC 9068 §4 typing. Media types compare
// case-insensitively and "application/" may be omitted (RFC 7515 §4.1.9).
func (j *JWT) typAllowed(typ string) bool {
	t := strings.TrimPrefix(strings.ToLower(typ), "application/")
	if t == "at+jwt" {
		return true
	}
	return !j.cfg.StrictTyp && t == "jwt"
}

type verified struct {
	key *publicKey
	gen uint64
}

// verify selects the key for kid and checks the signature. An unknown kid
// or a missing key set triggers one rate-limited refetch.
func (j *JWT) verify(ctx context.Context, token, alg, kid string, sig []byte) (verified, error) {
	signingInput := token[:strings.LastIndexByte(token, '.')]
	ks := j.current(j.now())
	cands := j.candidates(ks, alg, kid)
	if len(cands) == 0 {
		j.keys.refreshOnMiss(ctx)
		ks = j.current(j.now())
		cands = j.candidates(ks, alg, kid)
	}
	if ks == nil {
		if err := ctx.Err(); err != nil {
			return verified{}, err
		}
		return verified{}, authz.UnavailableError(authz.ReasonIdPUnavailable, fmt.Errorf("no usable jwks for %q", j.cfg.Name))
	}
	if len(cands) == 0 {
		if kid != "" && len(ks.lookup(kid)) > 0 {
			return verified{}, authz.InvalidToken(authz.ReasonAlgorithmRejected, fmt.Errorf("key %q does not fit alg %s", truncate(kid), alg))
		}
		return verified{}, authz.InvalidToken(authz.ReasonKeyUnknown, fmt.Errorf("no key %q in the jwks", truncate(kid)))
	}
	for _, k := range cands {
		j.verifications.Add(1)
		if err := verifySignature(alg, k.pub, signingInput, sig); err == nil {
			return verified{key: k, gen: ks.gen}, nil
		}
	}
	return verified{}, authz.InvalidToken(authz.ReasonTokenInvalid, errors.New("signature does not verify"))
}

// candidates are the keys of ks that may verify a token with alg and kid.
// A token without kid may use the set's only key.
func (j *JWT) candidates(ks *keySet, alg, kid string) []*publicKey {
	if ks == nil {
		return nil
	}
	pool := ks.lookup(kid)
	if kid == "" {
		if len(ks.keys) != 1 {
			return nil
		}
		pool = ks.keys
	}
	var out []*publicKey
	for _, k := range pool {
		if fits(alg, k.pub) && (k.alg == "" || k.alg == alg) {
			out = append(out, k)
		}
	}
	return out
}
