package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/restguard/restguard/authz"
)

// maxGroups bounds the groups a token may carry (B5).
const maxGroups = 1000

// maxUnixSeconds is 9999-12-31T23:59:59Z; a NumericDate beyond it cannot be
// a real expiry and would overflow time.Time arithmetic.
const maxUnixSeconds = 253402300799

// claim returns the value at a configured claim path. A top-level member
// whose name is exactly path wins (namespaced claims such as
// "https://example.com/roles" contain dots); otherwise the path is split at
// dots and walked through nested objects ("realm_access.roles"). A JSON
// null counts as absent.
func claim(claims map[string]any, path string) (any, bool) {
	if v, ok := claims[path]; ok {
		return v, v != nil
	}
	if !strings.Contains(path, ".") {
		return nil, false
	}
	var cur any = claims
	for _, part := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, cur != nil
}

// numericDate reads an RFC 7519 NumericDate: a JSON number (never a string),
// finite and within year 9999. It returns seconds since the epoch.
func numericDate(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > maxUnixSeconds || f < -maxUnixSeconds {
		return 0, false
	}
	return f, true
}

// unixTime converts NumericDate seconds to a time.
func unixTime(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// seconds converts a time to fractional Unix seconds for comparisons with
// NumericDates.
func seconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}

// stringOrArray reads a claim that is a string or an array of strings (aud,
// scp, groups, required claims). A bare string is a one-element list. ok is
// false for any other type or for a non-string element.
func stringOrArray(v any) (list []string, ok bool) {
	switch x := v.(type) {
	case string:
		return []string{x}, true
	case []any:
		list = make([]string, 0, len(x))
		for _, e := range x {
			s, isStr := e.(string)
			if !isStr {
				return nil, false
			}
			list = append(list, s)
		}
		return list, true
	default:
		return nil, false
	}
}

// containsAny reports whether have and want share an element.
func containsAny(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}

// truncate shortens an attacker-controlled value before it goes into an
// error text; callers quote it with %q.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// identity checks the verified claims and maps them to an Identity. It
// returns the token's expiry for the cache.
func (j *JWT) identity(c map[string]any, now time.Time) (*authz.Identity, time.Time, error) {
	leeway := j.cfg.Leeway.Seconds()
	nowS := seconds(now)

	// exp is required, a number, positive, and not passed (RFC 9068 §2.2).
	// jwx v2 treats exp:0 as absent: it is checked here.
	exp, ok := numericDate(c["exp"])
	if !ok || exp <= 0 {
		return nil, time.Time{}, authz.InvalidToken(authz.ReasonTokenExpired, errors.New("exp missing or not a valid numeric date"))
	}
	if nowS >= exp+leeway {
		return nil, time.Time{}, authz.InvalidToken(authz.ReasonTokenExpired, errors.New("token expired"))
	}
	for _, name := range []string{"nbf", "iat"} {
		v, present := c[name]
		if !present {
			continue
		}
		t, ok := numericDate(v)
		if !ok {
			return nil, time.Time{}, authz.InvalidToken(authz.ReasonTokenInvalid, fmt.Errorf("%s is not a numeric date", name))
		}
		if t > nowS+leeway {
			return nil, time.Time{}, authz.InvalidToken(authz.ReasonTokenNotYetValid, fmt.Errorf("%s is in the future", name))
		}
	}

	if err := j.checkAudience(c); err != nil {
		return nil, time.Time{}, err
	}
	// A sender-constrained token (DPoP, mTLS) presented as a plain bearer
	// token: the binding cannot be checked here (RFC 9449 §7, RFC 8705).
	if _, present := c["cnf"]; present {
		return nil, time.Time{}, authz.InvalidToken(authz.ReasonTokenInvalid, errors.New("sender-constrained token (cnf) presented as bearer"))
	}
	for path, accepted := range j.cfg.RequiredClaims {
		v, present := claim(c, path)
		if len(accepted) == 0 {
			// An empty list requires presence only (seams item 16).
			if !present {
				return nil, time.Time{}, authz.InvalidToken(authz.ReasonClaimMismatch, fmt.Errorf("claim %q missing", path))
			}
			continue
		}
		if have, ok := stringOrArray(v); !ok || !containsAny(have, accepted) {
			return nil, time.Time{}, authz.InvalidToken(authz.ReasonClaimMismatch, fmt.Errorf("claim %q missing or not accepted", path))
		}
	}

	id := &authz.Identity{
		Issuer:   j.cfg.Issuer,
		Provider: j.cfg.Name,
		Via:      "jwks",
		Expiry:   unixTime(exp),
	}
	var err error
	if id.Username, err = j.username(c); err != nil {
		return nil, time.Time{}, err
	}
	if v, present := c["sub"]; present {
		if id.Subject, ok = v.(string); !ok {
			return nil, time.Time{}, authz.InvalidToken(authz.ReasonTokenInvalid, errors.New("sub is not a string"))
		}
	}
	if id.Groups, err = groups(c, j.cfg.GroupsClaim); err != nil {
		return nil, time.Time{}, err
	}
	if id.Scopes, err = scopes(c); err != nil {
		return nil, time.Time{}, err
	}
	if v, present := claim(c, j.cfg.EmailClaim); present {
		if id.Email, ok = v.(string); !ok {
			return nil, time.Time{}, authz.InvalidToken(authz.ReasonClaimMismatch, fmt.Errorf("claim %q is not a string", j.cfg.EmailClaim))
		}
	}
	for _, path := range []string{j.cfg.ClientIDClaim, "client_id", "azp"} {
		if path == "" {
			continue
		}
		if v, _ := claim(c, path); v != nil {
			s, _ := v.(string)
			id.ClientID = s
			break
		}
	}
	return id, id.Expiry, nil
}

// checkAudience applies Audiences and ClientIDClaim/ClientIDs; each one that
// is configured must match (RFC 9068 §4, security catalogue D4, D7).
func (j *JWT) checkAudience(c map[string]any) error {
	if len(j.cfg.Audiences) > 0 {
		aud, ok := stringOrArray(c["aud"])
		if !ok || !containsAny(aud, j.cfg.Audiences) {
			return authz.InvalidToken(authz.ReasonAudienceMismatch, errors.New("aud not accepted"))
		}
	}
	if j.cfg.ClientIDClaim != "" {
		v, _ := claim(c, j.cfg.ClientIDClaim)
		s, ok := v.(string)
		if !ok || !containsAny([]string{s}, j.cfg.ClientIDs) {
			return authz.InvalidToken(authz.ReasonAudienceMismatch, fmt.Errorf("claim %q not an accepted client id", j.cfg.ClientIDClaim))
		}
	}
	return nil
}

// username returns the first configured claim that is a non-empty string.
// A configured claim that is present with another type refuses the token:
// no silent fallback to a later claim.
func (j *JWT) username(c map[string]any) (string, error) {
	return j.user.username(c)
}

// usernameRule is how every provider kind reads the username from claims
// or an answer.
type usernameRule struct {
	paths     []string
	lowercase bool
	// pattern, when set, must match the whole (lower-cased) name.
	pattern *regexp.Regexp
	// An e-mail address is a username only when verifiedClaim says it
	// was verified, or with allowUnverified (seams item 12, catalogue E1).
	// A path is an e-mail when it is emailClaim or its last segment is
	// "email".
	emailClaim, verifiedClaim string
	allowUnverified           bool
	// integers accepts an integer JSON number as its decimal text (remote
	// answers: GitHub's numeric user id). JWT claims stay strings.
	integers bool
	// clients maps the client id of a token without any username claim
	// (a client-credentials grant) to its username.
	clients map[string]string
}

// clientIDClaims are where a machine token names its client: OAuth 2.0
// Token Exchange and RFC 9068 (client_id), OIDC (azp), Okta (cid), Entra
// ID v1 (appid).
var clientIDClaims = []string{"client_id", "azp", "cid", "appid"}

// DefaultEmailVerifiedClaim is where an e-mail's verification is read
// (OIDC Core §5.1).
const DefaultEmailVerifiedClaim = "email_verified"

// maxIntegerID bounds the digits of a numeric id taken as a username.
const maxIntegerID = 20

// CompileUsernamePattern compiles a username.pattern: RE2 syntax, always
// matched against the whole name ("^(?:pattern)$"). "" compiles to nil.
func CompileUsernamePattern(pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		return nil, nil
	}
	// Compiled alone first, so that an error quotes what was written.
	if _, err := regexp.Compile(pattern); err != nil {
		return nil, fmt.Errorf("username pattern: %v", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	return regexp.Compile("^(?:" + pattern + ")$")
}

// username applies the rule to claims c.
func (r *usernameRule) username(c map[string]any) (string, error) {
	for _, path := range r.paths {
		v, present := claim(c, path)
		if !present {
			continue
		}
		s, ok := v.(string)
		if n, isNum := v.(json.Number); isNum && r.integers && isDigits(string(n)) {
			s, ok = string(n), true
		}
		if !ok {
			return "", authz.InvalidToken(authz.ReasonUsernameMissing, fmt.Errorf("claim %q is not a string", path))
		}
		if s == "" {
			continue
		}
		if r.isEmail(path) && !r.allowUnverified && !emailVerified(c, r.verifiedClaim) {
			// A self-service address nobody verified is not an identity
			// (nOAuth). No fallback to a later claim either.
			return "", authz.InvalidToken(authz.ReasonUsernameMissing, fmt.Errorf("claim %q is an e-mail address and %q is not true", path, r.verifiedClaim))
		}
		if r.lowercase {
			lower, ok := authz.LowerName(s)
			if !ok {
				// Folding it would give the product another user than
				// the one judged here (seams item 11).
				return "", authz.ForbiddenError(authz.ReasonUsernameRejected, fmt.Errorf("claim %q: a non-ASCII letter that lower-casing would change", path))
			}
			s = lower
		}
		if r.pattern != nil && !r.pattern.MatchString(s) {
			return "", authz.ForbiddenError(authz.ReasonUsernameRejected, fmt.Errorf("claim %q does not match the username pattern", path))
		}
		return s, nil
	}
	if name, ok := r.clientName(c); ok {
		return name, nil
	}
	return "", authz.InvalidToken(authz.ReasonUsernameMissing, errors.New("no username claim present"))
}

// clientName names a machine token by its client id (usernameRule.clients):
// the first client-id claim present decides, so a token cannot pick the
// claim that suits it.
func (r *usernameRule) clientName(c map[string]any) (string, bool) {
	if len(r.clients) == 0 {
		return "", false
	}
	for _, path := range clientIDClaims {
		v, present := c[path]
		if !present {
			continue
		}
		id, _ := v.(string)
		name, ok := r.clients[id]
		return name, ok && id != ""
	}
	return "", false
}

func (r *usernameRule) isEmail(path string) bool {
	return path == r.emailClaim || path == "email" || strings.HasSuffix(path, ".email")
}

// emailVerified reads an e-mail verification flag: the JSON literal true, or
// the string "true" (Google tokeninfo sends strings).
func emailVerified(c map[string]any, path string) bool {
	if path == "" {
		path = DefaultEmailVerifiedClaim
	}
	v, _ := claim(c, path)
	return v == true || v == "true"
}

func isDigits(s string) bool {
	if s == "" || len(s) > maxIntegerID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// groups reads the groups claim: an array of strings, or one string as a
// single group. Any other type or element type refuses the token.
func groups(c map[string]any, path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	v, present := claim(c, path)
	if !present {
		return nil, nil
	}
	list, ok := stringOrArray(v)
	if !ok {
		return nil, authz.InvalidToken(authz.ReasonClaimMismatch, fmt.Errorf("groups claim %q is not a string array", path))
	}
	if len(list) > maxGroups {
		return nil, authz.InvalidToken(authz.ReasonClaimMismatch, fmt.Errorf("more than %d groups", maxGroups))
	}
	return list, nil
}

// scopes reads "scope" (space-separated string, RFC 9068 §2.2.3) or, when
// absent, "scp" (array or string, Entra ID and Okta).
func scopes(c map[string]any) ([]string, error) {
	if v, present := c["scope"]; present && v != nil {
		s, ok := v.(string)
		if !ok {
			return nil, authz.InvalidToken(authz.ReasonClaimMismatch, errors.New("scope is not a string"))
		}
		return strings.Fields(s), nil
	}
	if v, present := c["scp"]; present && v != nil {
		list, ok := stringOrArray(v)
		if !ok {
			return nil, authz.InvalidToken(authz.ReasonClaimMismatch, errors.New("scp is not a string array"))
		}
		if len(list) == 1 {
			return strings.Fields(list[0]), nil
		}
		return list, nil
	}
	return nil, nil
}
