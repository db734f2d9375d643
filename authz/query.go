package authz

import "strings"

// QueryUnescape decodes a query-string component the way a servlet
// container reads parameter names and values ('+' is a space, %XX a byte),
// but leniently: an invalid escape is kept as it is, so that a malformed
// name can never hide a decodable one from a check.
func QueryUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]):
			b.WriteByte(hexValue(s[i+1])<<4 | hexValue(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// QueryValues returns the decoded values of every parameter of a raw query
// whose decoded name is exactly name, in order. Parameters are separated
// by '&' only, as servlet containers read them.
func QueryValues(rawQuery, name string) []string {
	if rawQuery == "" {
		return nil
	}
	var out []string
	for part := range strings.SplitSeq(rawQuery, "&") {
		n, v, _ := strings.Cut(part, "=")
		if QueryUnescape(n) == name {
			out = append(out, QueryUnescape(v))
		}
	}
	return out
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexValue(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
