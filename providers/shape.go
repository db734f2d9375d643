package providers

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/restguard/restguard/authz"
)

// TokenShape narrows which tokens a remote or API-key provider is sent.
// Opaque tokens go only to the providers a rule lists, in order; the first
// provider whose shape admits the token decides, so a token is never
// sprayed across identity providers (security catalogue H5). The zero
// TokenShape admits every opaque token and no JWT.
type TokenShape struct {
	// Prefixes: the token must start with one of them ("gho_", "glpat-",
	// "xoxp-"). Empty: any prefix.
	Prefixes []string
	// MinLength and MaxLength bound the token length in bytes (0: no bound).
	MinLength, MaxLength int
	// Charset restricts the characters: "" (any token68 character, the
	// Bearer syntax), "base64url", "alnum", "hex".
	Charset string
	// AcceptJWT lets JWT-shaped tokens (three dot-separated base64url
	// segments) through. Off by default: a JWT is validated locally by a
	// jwt provider and must not be handed to another provider's endpoint.
	// Okta's org server and Keycloak's lightweight tokens need it.
	AcceptJWT bool
}

// Charsets a TokenShape accepts.
var charsets = map[string]func(byte) bool{
	"":          isToken68,
	"base64url": func(c byte) bool { return isAlnum(c) || c == '-' || c == '_' },
	"alnum":     isAlnum,
	"hex":       func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' },
}

func isAlnum(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// isToken68 is RFC 6750's b64token alphabet, plus "=" padding.
func isToken68(c byte) bool {
	return isAlnum(c) || strings.IndexByte("-._~+/=", c) >= 0
}

// Check reports a configuration problem.
func (s TokenShape) Check() error {
	var errs []error
	if _, ok := charsets[s.Charset]; !ok {
		errs = append(errs, fmt.Errorf("token shape: unknown charset %q (base64url, alnum, hex)", s.Charset))
	}
	if s.MinLength < 0 || s.MaxLength < 0 || s.MaxLength > 0 && s.MaxLength < s.MinLength {
		errs = append(errs, errors.New("token shape: lengths must be positive and min_length <= max_length"))
	}
	for _, p := range s.Prefixes {
		if p == "" {
			errs = append(errs, errors.New("token shape: empty prefix"))
		}
	}
	return errors.Join(errs...)
}

// Filtered reports whether the shape narrows opaque tokens at all. A
// provider without a filter takes every opaque token, so providers listed
// after it in a rule never see one.
func (s TokenShape) Filtered() bool {
	return len(s.Prefixes) > 0 || s.MinLength > 0 || s.MaxLength > 0 || s.Charset != ""
}

// admit returns nil when the token is for this provider, and a
// NotResponsible error saying why not otherwise: the Engine then tries the
// next provider of the rule and nothing is sent anywhere.
func (s TokenShape) admit(token string) error {
	if LooksLikeJWT(token) {
		if !s.AcceptJWT {
			return authz.NotResponsible(authz.ReasonIssuerUnknown, errors.New("a jwt is not sent to this provider"))
		}
		return nil
	}
	if len(s.Prefixes) > 0 {
		ok := false
		for _, p := range s.Prefixes {
			ok = ok || strings.HasPrefix(token, p)
		}
		if !ok {
			return authz.NotResponsible(authz.ReasonTokenMalformed, errors.New("token prefix not accepted by this provider"))
		}
	}
	if s.MinLength > 0 && len(token) < s.MinLength || s.MaxLength > 0 && len(token) > s.MaxLength {
		return authz.NotResponsible(authz.ReasonTokenMalformed, errors.New("token length not accepted by this provider"))
	}
	in := charsets[s.Charset]
	if in == nil {
		in = isToken68
	}
	for i := 0; i < len(token); i++ {
		if !in(token[i]) {
			return authz.NotResponsible(authz.ReasonTokenMalformed, errors.New("token characters not accepted by this provider"))
		}
	}
	return nil
}

// String describes the shape for `restguard validate`.
func (s TokenShape) String() string {
	var parts []string
	if len(s.Prefixes) > 0 {
		parts = append(parts, "prefix "+strings.Join(s.Prefixes, "|"))
	}
	if s.MinLength > 0 || s.MaxLength > 0 {
		parts = append(parts, fmt.Sprintf("length %d..%d", s.MinLength, s.MaxLength))
	}
	if s.Charset != "" {
		parts = append(parts, s.Charset)
	}
	if len(parts) == 0 {
		parts = append(parts, "any opaque token")
	}
	if s.AcceptJWT {
		parts = append(parts, "and JWTs")
	} else {
		parts = append(parts, "no JWTs")
	}
	return strings.Join(parts, ", ")
}

// LooksLikeJWT reports whether token has the compact JWS shape: three
// non-empty base64url segments, the first decoding to a JSON object. It
// decides routing only; nothing is trusted because of it.
func LooksLikeJWT(token string) bool {
	if strings.Count(token, ".") != 2 {
		return false
	}
	segs := strings.SplitN(token, ".", 3)
	for _, s := range segs {
		if s == "" || !isBase64URL(s) {
			return false
		}
	}
	head := segs[0]
	if len(head) > 16 {
		head = head[:16]
	}
	b, err := base64.RawURLEncoding.DecodeString(head[:len(head)/4*4])
	return err == nil && len(b) > 0 && b[0] == '{'
}
