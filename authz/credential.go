package authz

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// CredentialKind classifies what a request presents.
type CredentialKind uint8

// Credential kinds.
const (
	CredentialNone      CredentialKind = iota // nothing presented
	CredentialBearer                          // Authorization: Bearer <b64token>
	CredentialBasic                           // Authorization or Proxy-Authorization: Basic
	CredentialOther                           // another scheme (Negotiate, OAuth, JWT, Digest, ...)
	CredentialMultiple                        // more than one credential or transport (RFC 6750 §3.1)
	CredentialMalformed                       // broken syntax: empty Bearer, bad b64token, ...
)

var credentialNames = [...]string{"none", "bearer", "basic", "other", "multiple", "malformed"}

func (k CredentialKind) String() string {
	if int(k) < len(credentialNames) {
		return credentialNames[k]
	}
	return "unknown"
}

// MaxTokenBytes bounds the bearer token length accepted for validation.
// Longer tokens are refused before any decoding (security catalogue B5).
const MaxTokenBytes = 16 << 10

// Credential is what ParseCredential found. Token and BasicUser are secrets
// or personal data: never log them.
type Credential struct {
	Kind CredentialKind
	// Scheme is the lower-cased auth scheme ("bearer", "basic", "negotiate").
	Scheme string
	// Token is the bearer token (CredentialBearer only).
	Token string
	// BasicUser is the user name of a decodable Basic credential, for
	// allowlists. Empty when the credential does not decode.
	BasicUser string
	// Detail says what was wrong for CredentialMultiple/CredentialMalformed.
	Detail string
}

// ParseCredential classifies the credentials of a request: the
// Authorization and Proxy-Authorization headers and an access_token query
// parameter (RFC 6750 §2.3). It never decodes a bearer token and never
// fails open: anything it does not understand is Malformed or Multiple.
func ParseCredential(h http.Header, rawQuery string) Credential {
	// Canonical keys indexed directly: Values() canonicalises its
	// argument again on every check.
	authz := h["Authorization"]
	proxy := h["Proxy-Authorization"]
	queryToken := hasQueryToken(rawQuery)

	switch {
	case len(authz)+len(proxy) > 1:
		return Credential{Kind: CredentialMultiple, Detail: "more than one authorization header"}
	case len(authz)+len(proxy) == 1 && queryToken:
		return Credential{Kind: CredentialMultiple, Detail: "authorization header and access_token parameter"}
	case len(authz) == 1:
		return parseAuthorization(authz[0])
	case len(proxy) == 1:
		c := parseAuthorization(proxy[0])
		if c.Kind == CredentialBearer {
			// A bearer token belongs in Authorization; a proxy credential is
			// never accepted as the user's token.
			return Credential{Kind: CredentialOther, Scheme: c.Scheme}
		}
		return c
	default:
		// A token only in the query string is not accepted (RFC 6750 §2.3
		// "SHOULD NOT"; it ends up in access logs): the request is treated
		// as unauthenticated.
		return Credential{Kind: CredentialNone}
	}
}

func hasQueryToken(rawQuery string) bool {
	// Parameter names are percent-decoded by the servlet container
	// (%61ccess_token is access_token), so only a query without the name
	// and without any escape can skip parsing.
	if rawQuery == "" || !strings.Contains(rawQuery, "access_token") && !strings.Contains(rawQuery, "%") {
		return false
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		// An unparsable query that mentions access_token: assume present.
		return true
	}
	_, ok := q["access_token"]
	return ok
}

func parseAuthorization(v string) Credential {
	v = strings.Trim(v, " \t")
	if v == "" {
		return Credential{Kind: CredentialMalformed, Detail: "empty authorization header"}
	}
	scheme, rest, _ := strings.Cut(strings.ReplaceAll(v, "\t", " "), " ")
	if !IsToken(scheme) {
		return Credential{Kind: CredentialMalformed, Detail: "invalid auth scheme"}
	}
	rest = strings.TrimLeft(rest, " ")
	scheme = strings.ToLower(scheme)
	if mergedCredentials(scheme, rest) {
		// Envoy joins repeated header lines with a comma ("Bearer a, Basic
		// b"); Authorization is a singleton (RFC 9110 §11.6.2), and Tomcat
		// would act on the first line while we look at another.
		return Credential{Kind: CredentialMultiple, Detail: "several credentials in one authorization header"}
	}
	switch scheme {
	case "bearer":
		if rest == "" {
			return Credential{Kind: CredentialMalformed, Scheme: scheme, Detail: "empty bearer token"}
		}
		if !IsB64Token(rest) {
			return Credential{Kind: CredentialMalformed, Scheme: scheme, Detail: "bearer token is not a b64token"}
		}
		return Credential{Kind: CredentialBearer, Scheme: scheme, Token: rest}
	case "basic":
		// Blocked on the scheme alone; the user name is decoded only for
		// allowlists and never logged.
		return Credential{Kind: CredentialBasic, Scheme: scheme, BasicUser: basicUser(rest)}
	default:
		// A value with nothing after the "scheme", or a scheme longer than
		// any registered one, is a credential sent without a scheme (a bare
		// token): refuse it as malformed and never keep it, since the
		// scheme is logged.
		if rest == "" || len(scheme) > maxSchemeLen {
			return Credential{Kind: CredentialMalformed, Detail: "authorization value without an auth scheme"}
		}
		return Credential{Kind: CredentialOther, Scheme: scheme}
	}
}

// maxSchemeLen bounds an auth-scheme name; registered ones are short
// ("negotiate", "vapid", "privatetoken").
const maxSchemeLen = 20

// mergedCredentials reports whether an Authorization value holds more than
// one credential. Neither b64token (Bearer) nor token68 (Basic) contains a
// comma, so any comma after those schemes means merged lines. Other schemes
// (OAuth 1.0a, Digest) carry comma-separated auth-params; there a list
// element that starts a Bearer or Basic credential means merged lines.
func mergedCredentials(scheme, rest string) bool {
	if strings.IndexByte(rest, ',') < 0 {
		return false
	}
	if scheme == "bearer" || scheme == "basic" {
		return true
	}
	for _, el := range strings.Split(rest, ",")[1:] {
		el = strings.ToLower(strings.TrimLeft(el, " \t"))
		if strings.HasPrefix(el, "bearer ") || strings.HasPrefix(el, "basic ") || strings.HasPrefix(el, "bearer\t") || strings.HasPrefix(el, "basic\t") || el == "bearer" || el == "basic" {
			return true
		}
	}
	return false
}

// IsB64Token reports whether s matches RFC 6750 §2.1 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
// It runs on every bearer check over the whole token, hence the table.
func IsB64Token(s string) bool {
	i := 0
	for i < len(s) && b64Chars[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// b64Chars marks the bytes of a b64token before its "=" padding.
var b64Chars = [256]bool{
	'-': true, '.': true, '_': true, '~': true, '+': true, '/': true,
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true,
	'A': true, 'B': true, 'C': true, 'D': true, 'E': true, 'F': true, 'G': true, 'H': true, 'I': true, 'J': true,
	'K': true, 'L': true, 'M': true, 'N': true, 'O': true, 'P': true, 'Q': true, 'R': true, 'S': true, 'T': true,
	'U': true, 'V': true, 'W': true, 'X': true, 'Y': true, 'Z': true,
	'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true, 'g': true, 'h': true, 'i': true, 'j': true,
	'k': true, 'l': true, 'm': true, 'n': true, 'o': true, 'p': true, 'q': true, 'r': true, 's': true, 't': true,
	'u': true, 'v': true, 'w': true, 'x': true, 'y': true, 'z': true,
}

// IsToken reports whether s is an RFC 9110 token: the grammar of header
// field names and auth schemes.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChars[s[i]] {
			return false
		}
	}
	return true
}

// tokenChars marks RFC 9110 tchar: ALPHA, DIGIT and !#$%&'*+-.^_`|~. Every
// header name of every check is tested against it.
var tokenChars = [256]bool{
	'!': true, '#': true, '$': true, '%': true, '&': true, '\'': true, '*': true, '+': true,
	'-': true, '.': true, '^': true, '_': true, '`': true, '|': true, '~': true,
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true,
	'A': true, 'B': true, 'C': true, 'D': true, 'E': true, 'F': true, 'G': true, 'H': true, 'I': true, 'J': true,
	'K': true, 'L': true, 'M': true, 'N': true, 'O': true, 'P': true, 'Q': true, 'R': true, 'S': true, 'T': true,
	'U': true, 'V': true, 'W': true, 'X': true, 'Y': true, 'Z': true,
	'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true, 'g': true, 'h': true, 'i': true, 'j': true,
	'k': true, 'l': true, 'm': true, 'n': true, 'o': true, 'p': true, 'q': true, 'r': true, 's': true, 't': true,
	'u': true, 'v': true, 'w': true, 'x': true, 'y': true, 'z': true,
}

func basicUser(b64 string) string {
	if len(b64) > 4096 {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return ""
	}
	user, _, ok := strings.Cut(string(raw), ":")
	if !ok {
		return ""
	}
	return user
}
