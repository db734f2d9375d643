package assertion

import (
	"crypto/sha256"
	"errors"

	"github.com/restguard/restguard/policy"
)

var (
	errBadMethod = errors.New("assertion: request method is not an HTTP token")
	errBadPath   = errors.New("assertion: request path cannot be normalised")
)

// Target computes the request binding carried in rth: base64url (no
// padding) of SHA-256 over the request target, where the target is the
// path normalised with policy.NormalizePath (Tomcat's rules: ";params"
// stripped, unreserved escapes decoded, "." and ".." resolved, "//"
// merged) followed by '?' and the raw query when the query is not empty.
// The query is hashed exactly as received, never decoded or reordered.
//
// method is not part of the hash (it travels in htm), but it is checked
// to be an HTTP token (RFC 9110 §5.6.2) so that a caller that passes a
// wrong argument fails here instead of minting an assertion no product
// accepts. An ambiguous path is fine (the product resolves it the same
// way); a path NormalizePath rejects is an error.
//
// restguard calls it with the path and query Envoy saw; a verifier calls
// it with the request line the product received (Tomcat's
// getRequestURI() and getQueryString()). Both include any context path.
func Target(method, rawPath, rawQuery string) (string, error) {
	if !isToken(method) {
		return "", errBadMethod
	}
	clean, _, err := policy.NormalizePath(rawPath)
	if err != nil {
		return "", errBadPath
	}
	return hashTarget(clean, rawQuery), nil
}

func hashTarget(clean, rawQuery string) string {
	var stack [512]byte
	b := append(stack[:0], clean...)
	if rawQuery != "" {
		b = append(b, '?')
		b = append(b, rawQuery...)
	}
	sum := sha256.Sum256(b)
	var out [43]byte // base64url of 32 bytes, unpadded
	b64.Encode(out[:], sum[:])
	return string(out[:])
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '*' ||
			c == '+' || c == '-' || c == '.' || c == '^' || c == '_' || c == '`' || c == '|' || c == '~':
		default:
			return false
		}
	}
	return true
}
