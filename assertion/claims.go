package assertion

import (
	"errors"
	"time"
)

// Format constants (v1). Verifiers in every language agree on them; see
// docs/identity-assertion.md.
const (
	// HeaderName is the default request header that carries the assertion.
	HeaderName = "X-Restguard-Assertion"
	// Type is the JWS "typ" header value. No other typ is accepted.
	Type = "restguard-assertion+jwt"
	// AlgES256 is ECDSA P-256 with SHA-256 (RFC 7518 §3.4), for EC P-256 keys.
	AlgES256 = "ES256"
	// AlgEdDSA is Ed25519 (RFC 8037), for OKP Ed25519 keys.
	AlgEdDSA = "EdDSA"
	// MaxLifetime bounds exp - iat.
	MaxLifetime = 60 * time.Second
	// DefaultLeeway is the clock skew allowed on iat and exp.
	DefaultLeeway = 5 * time.Second
	// MaxTokenBytes bounds the compact serialisation a verifier accepts.
	MaxTokenBytes = 8 << 10
	// jtiBytes is the number of random bytes in a jti.
	jtiBytes = 16
	// maxSafeInteger is the largest integer every JSON implementation
	// represents exactly (2^53 - 1); iat and exp must not exceed it.
	maxSafeInteger = 1<<53 - 1
)

// Claims is the payload of an assertion. Times are Unix seconds.
type Claims struct {
	Issuer   string   // iss: the restguard deployment's configured name
	Audience string   // aud: the product's base URL, e.g. https://jira.example.com
	Subject  string   // sub: the username, the same as X-Forwarded-User
	Groups   []string // groups: optional; omitted when nil
	Email    string   // email: optional; omitted when empty
	IssuedAt int64    // iat
	Expiry   int64    // exp; exp - iat <= 60
	ID       string   // jti: 16 random bytes, base64url; Sign fills it when empty
	Method   string   // htm: the request method as sent (methods are case-sensitive)
	Target   string   // rth: see Target
}

// Reason is the stable word for why a verifier refused an assertion. The
// Java reference authenticators use the same words.
type Reason string

// Reasons, in the order the verifier checks them.
const (
	ReasonMalformed       Reason = "malformed"         // not three canonical base64url segments, bad JSON, wrong claim types
	ReasonBadHeader       Reason = "bad_header"        // header members or values other than the format's, alg not bound to the key type
	ReasonUnknownKey      Reason = "unknown_key"       // kid not in the key set
	ReasonBadSignature    Reason = "bad_signature"     // signature does not verify
	ReasonWrongIssuer     Reason = "wrong_issuer"      // iss is not the configured issuer
	ReasonWrongAudience   Reason = "wrong_audience"    // aud is not the configured audience
	ReasonNoSubject       Reason = "no_subject"        // sub missing or empty
	ReasonNotYetValid     Reason = "not_yet_valid"     // iat > now + leeway
	ReasonExpired         Reason = "expired"           // exp <= now - leeway
	ReasonLifetimeTooLong Reason = "lifetime_too_long" // exp - iat > 60
	ReasonWrongMethod     Reason = "wrong_method"      // htm is not the request's method
	ReasonWrongTarget     Reason = "wrong_target"      // rth is not the request's target
	ReasonReplayed        Reason = "replayed"          // jti seen before within its lifetime
	// ReasonReplayCacheFull: the replay cache holds its capacity of
	// unexpired jtis, so a new one cannot be remembered; the verifier
	// refuses rather than forget one early (fail closed).
	ReasonReplayCacheFull Reason = "replay_cache_full"
)

// Error is a refused assertion. Its message holds the reason and a short
// detail that never includes the assertion, a claim value or a key.
type Error struct {
	Reason Reason
	detail string
}

func (e *Error) Error() string {
	if e.detail == "" {
		return "assertion: " + string(e.Reason)
	}
	return "assertion: " + string(e.Reason) + ": " + e.detail
}

// Is reports whether target is an *Error with the same Reason, so that
// errors.Is(err, &assertion.Error{Reason: assertion.ReasonExpired}) works.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Reason == e.Reason
}

func refuse(r Reason, detail string) *Error { return &Error{Reason: r, detail: detail} }

// ReasonOf returns the Reason of an *Error in err's chain, or "" if there
// is none.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// ErrNoAssertion is returned by Verifier.VerifyRequest when the request
// carries no assertion header. It is not an *Error: what to do without an
// assertion is the caller's decision.
var ErrNoAssertion = errors.New("assertion: no assertion header")
