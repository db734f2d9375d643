package authz

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	mrand "math/rand/v2"
	"slices"
	"strings"
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
		if id == nil || d.Reason != ReasonAuthenticated {
			d.RemoveHeaders = e.removeAnon
			break
		}
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
		// The removal lists are precomputed per combination of headers set
		// and shared read-only between decisions.
		d.RemoveHeaders = e.removeAuth[variant]
		if req != nil && len(e.removeCookies) > 0 {
			if kept, changed := filterCookies(req.Header.Values("Cookie"), e.removeCookies); changed {
				if kept == "" {
					d.RemoveHeaders = append(slices.Clip(d.RemoveHeaders), "cookie")
				} else {
					d.UpstreamHeaders = append(d.UpstreamHeaders, Header{"Cookie", kept})
				}
			}
		}
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

// filterCookies drops the named cookies from Cookie header values (several
// lines or one "; "-joined value). It reports whether anything changed and
// returns the remaining cookies joined with "; ".
func filterCookies(values []string, drop map[string]bool) (string, bool) {
	var kept []string
	changed := len(values) > 1
	for _, v := range values {
		for _, part := range strings.Split(v, ";") {
			part = strings.TrimSpace(part)
			if part == "" {
				changed = true
				continue
			}
			name, _, _ := strings.Cut(part, "=")
			if drop[strings.TrimSpace(name)] {
				changed = true
				continue
			}
			kept = append(kept, part)
		}
	}
	return strings.Join(kept, "; "), changed
}

// Fingerprint is a short, non-reversible id of a token for logs: the first
// 8 bytes of its SHA-256, hex. It identifies a token across log lines
// without revealing it.
func Fingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:8])
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
		if h := e.upstream.BearerMarker; h != "" {
			set[strings.ToLower(h)] = true
		}
		e.removeAuth[variant] = build(set, true)
	}
}
