package authz

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"unsafe"
)

// shouldLog samples allowed decisions; every denial and every report-only
// denial is logged.
func (e *Engine) shouldLog(d *Decision) bool {
	if d.Verdict != Allow || d.DryRun || e.logAllowed >= 1 {
		return true
	}
	return e.logAllowed > 0 && mrand.Float64() < e.logAllowed
}

// finish fills in what the transports send: identity headers, removals and
// the challenge. It runs for every decision, so client-supplied identity
// headers are removed on every allowed route.
func (e *Engine) finish(req *Request, d *Decision) {
	switch d.Verdict {
	case Allow:
		id := d.Identity
		authenticated := id != nil && d.Reason == ReasonAuthenticated
		if authenticated {
			d.UpstreamHeaders = make([]Header, 1, 4)
			d.UpstreamHeaders[0] = Header{e.upstream.UserHeader, id.Username}
			variant := 0
			if h := e.upstream.GroupsHeader; h != "" {
				if v := joinGroups(id.Groups); v != "" {
					d.UpstreamHeaders = append(d.UpstreamHeaders, Header{h, v})
					variant |= removeGroupsSet
				}
			}
			if h := e.upstream.EmailHeader; h != "" && id.Email != "" && safeHeaderValue(id.Email) {
				d.UpstreamHeaders = append(d.UpstreamHeaders, Header{h, id.Email})
				variant |= removeEmailSet
			}
			if h := e.upstream.BearerMarker; h != "" {
				d.UpstreamHeaders = append(d.UpstreamHeaders, Header{h, "1"})
			}
			if d.assertion != "" {
				d.UpstreamHeaders = append(d.UpstreamHeaders, Header{e.upstream.AssertionHeader, d.assertion})
				variant |= removeAssertionSet
			}
			// The removal lists are precomputed per combination of headers
			// set and shared read-only between decisions; anything added
			// below copies (they are clipped).
			d.RemoveHeaders = e.removeAuth[variant]
		} else {
			d.RemoveHeaders = e.removeAnon
		}
		if req == nil {
			break
		}
		if d.stripCredentials && d.Credential == CredentialBearer {
			d.RemoveHeaders = append(d.RemoveHeaders, "authorization")
		}
		if authenticated || d.stripCredentials {
			e.dropCookies(req, d)
		}
		e.dropSpellings(req, d)
	case Unauthenticated:
		if d.Credential == CredentialBearer {
			d.Challenge = e.challenge("invalid_token", description(d.Reason))
		} else {
			// RFC 6750 §3.1: no error code when no (supported) credentials
			// were presented. Never a Basic challenge.
			d.Challenge = e.challenge("", "")
		}
	case BadRequest:
		if d.Reason == ReasonMultipleCredentials || d.Reason == ReasonMalformedCredential {
			d.Challenge = e.challenge("invalid_request", description(d.Reason))
		}
	case Forbidden:
		if d.Reason == ReasonGroupMissing {
			d.Challenge = e.challenge("insufficient_scope", "")
		}
	case Unavailable:
		d.RetryAfter = e.retryAfter
	}
}

func (e *Engine) challenge(errCode, desc string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(quote(e.realm))
	b.WriteByte('"')
	if errCode != "" {
		b.WriteString(`, error="`)
		b.WriteString(errCode)
		b.WriteByte('"')
	}
	if desc != "" {
		b.WriteString(`, error_description="`)
		b.WriteString(desc)
		b.WriteByte('"')
	}
	return b.String()
}

// quote escapes a value for an RFC 9110 quoted-string and drops controls.
func quote(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// descriptions are the fixed error_description texts. They never echo
// request or token content (security catalogue M1).
var descriptions = map[Reason]string{
	ReasonTokenExpired:        "token expired",
	ReasonTokenNotYetValid:    "token not yet valid",
	ReasonTokenMalformed:      "token malformed",
	ReasonTokenInvalid:        "token invalid",
	ReasonIssuerUnknown:       "issuer not accepted",
	ReasonAudienceMismatch:    "audience not accepted",
	ReasonTokenTypeInvalid:    "not an access token",
	ReasonClaimMismatch:       "required claim missing or wrong",
	ReasonKeyUnknown:          "signing key unknown",
	ReasonAlgorithmRejected:   "algorithm not accepted",
	ReasonUsernameMissing:     "no username in token",
	ReasonTokenInactive:       "token inactive",
	ReasonMultipleCredentials: "more than one credential",
	ReasonMalformedCredential: "malformed credential",
}

func description(r Reason) string { return descriptions[r] }

// Description is the fixed, client-safe text for a reason ("" if none).
func Description(r Reason) string { return descriptions[r] }

func joinGroups(groups []string) string {
	if len(groups) == 1 && groups[0] != "" && strings.IndexByte(groups[0], ',') < 0 && safeHeaderValue(groups[0]) {
		return groups[0]
	}
	var b strings.Builder
	n := 0
	for _, g := range groups {
		n += len(g) + 1
	}
	b.Grow(n)
	for _, g := range groups {
		// A separator or control character inside a group name would let it
		// pose as several groups upstream (security catalogue E4).
		if g == "" || strings.IndexByte(g, ',') >= 0 || !safeHeaderValue(g) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(g)
	}
	return b.String()
}

// safeHeaderValue rejects values that cannot be sent as one header value:
// control characters (CR, LF, NUL, ESC, ...), leading or trailing space,
// invalid UTF-8 and more than 1 KiB.
func safeHeaderValue(s string) bool {
	if s == "" || len(s) > 1024 || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

// dropCookies applies the cookie policy (Upstream.RemoveCookies,
// RemoveAllCookies) to an allowed request: the Cookie header is removed or
// replaced by what is left of it.
func (e *Engine) dropCookies(req *Request, d *Decision) {
	values := req.Header["Cookie"] // a canonical key: no Values(), which canonicalises it again
	if len(values) == 0 || len(e.removeCookies) == 0 && !e.removeAllCookies {
		return
	}
	kept, changed := "", true
	if !e.removeAllCookies {
		kept, changed = filterCookies(values, e.removeCookies)
	}
	switch {
	case !changed:
	case kept == "":
		d.RemoveHeaders = append(d.RemoveHeaders, "cookie")
	default:
		d.UpstreamHeaders = append(d.UpstreamHeaders, Header{"Cookie", kept})
	}
}

// dropSpellings removes every request header that is an identity header in
// another spelling: a name that equals one after mapping '_' to '-',
// case-insensitively ("x-forwarded_user"). The all-hyphen and
// all-underscore spellings are in the precomputed lists already; only
// names with an underscore can be another spelling, so most requests cost
// one scan of their header names.
func (e *Engine) dropSpellings(req *Request, d *Decision) {
	for name := range req.Header {
		if strings.IndexByte(name, '_') < 0 {
			continue
		}
		lower := strings.ToLower(name)
		if !e.spellings[strings.ReplaceAll(lower, "_", "-")] || slices.Contains(d.RemoveHeaders, lower) ||
			slices.ContainsFunc(d.UpstreamHeaders, func(h Header) bool { return strings.EqualFold(h.Name, lower) }) {
			continue
		}
		d.RemoveHeaders = append(d.RemoveHeaders, lower)
	}
}

// filterCookies drops the named cookies (lower-case names, compared
// case-insensitively) from Cookie header values. Pairs are separated by
// ';' and, where Envoy joined several Cookie lines into one value of its
// headers map, by ','; a ',' that is not followed by a name=value pair
// stays inside the value before it. It reports whether anything changed
// and returns the remaining pairs joined with "; ".
func filterCookies(values []string, drop map[string]bool) (string, bool) {
	var kept []string
	changed := len(values) > 1
	for _, v := range values {
		for _, part := range strings.Split(v, ";") {
			pairs := cookiePairs(part)
			if len(pairs) > 1 {
				changed = true
			}
			for _, pair := range pairs {
				if pair == "" {
					changed = true
					continue
				}
				name, _, _ := strings.Cut(pair, "=")
				if drop[strings.ToLower(strings.TrimSpace(name))] {
					changed = true
					continue
				}
				kept = append(kept, pair)
			}
		}
	}
	return strings.Join(kept, "; "), changed
}

// cookiePairs splits one ';'-separated part of a Cookie value at the commas
// that start another name=value pair, trimmed.
func cookiePairs(part string) []string {
	if strings.IndexByte(part, ',') < 0 {
		return []string{strings.TrimSpace(part)}
	}
	var out []string
	for i, el := range strings.Split(part, ",") {
		name, _, hasValue := strings.Cut(el, "=")
		if i > 0 && !(hasValue && IsToken(strings.TrimSpace(name))) {
			out[len(out)-1] += "," + el
			continue
		}
		out = append(out, el)
	}
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// Fingerprint is a short, non-reversible id of a token for logs: the first
// 8 bytes of its SHA-256, hex. It identifies a token across log lines
// without revealing it.
func Fingerprint(token string) string {
	// Sum256 only reads: the token's bytes are hashed where they are
	// rather than copied (a kilobyte per logged bearer decision).
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
	var out [16]byte
	hex.Encode(out[:], sum[:8])
	return string(out[:])
}

// NewDecisionID returns a random id for a decision (24 hex digits). It
// correlates log lines and Envoy metadata and need not be unpredictable, so
// it comes from the runtime's per-thread generator, not crypto/rand.
func NewDecisionID() string {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], mrand.Uint64())
	binary.LittleEndian.PutUint32(b[8:], mrand.Uint32())
	var out [24]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// Combinations of identity headers an authenticated allow sets, indexing
// Engine.removeAuth.
const (
	removeGroupsSet = 1 << iota
	removeEmailSet
	removeAssertionSet
)

// removalLists precomputes what an allow removes upstream: every identity
// header (and its underscore spelling) the decision does not set, and
// Proxy-Authorization; authenticated allows also remove Authorization when
// configured. Envoy applies removals after sets, so a header that is set
// must not be listed.
func (e *Engine) removalLists() {
	build := func(set map[string]bool, authenticated bool) []string {
		var out []string
		if authenticated && e.upstream.StripAuthorization {
			out = append(out, "authorization")
		}
		for _, n := range e.identity {
			if !set[n] {
				out = append(out, n)
			}
		}
		// A proxy credential is hop-by-hop and never reaches the upstream.
		return slices.Clip(append(out, "proxy-authorization"))
	}
	e.removeAnon = build(nil, false)
	for variant := range e.removeAuth {
		set := map[string]bool{strings.ToLower(e.upstream.UserHeader): true}
		if variant&removeGroupsSet != 0 {
			set[strings.ToLower(e.upstream.GroupsHeader)] = true
		}
		if variant&removeEmailSet != 0 {
			set[strings.ToLower(e.upstream.EmailHeader)] = true
		}
		if variant&removeAssertionSet != 0 {
			set[strings.ToLower(e.upstream.AssertionHeader)] = true
		}
		if h := e.upstream.BearerMarker; h != "" {
			set[strings.ToLower(h)] = true
		}
		e.removeAuth[variant] = build(set, true)
	}
}
