package authz

import (
	"net/http"
	"net/netip"
	"time"
)

// Verdict is the outcome class of a decision.
type Verdict uint8

// Verdicts. The zero value is VerdictUnknown, which every consumer treats
// as a denial: a forgotten assignment can never allow a request.
const (
	VerdictUnknown Verdict = iota
	// Continue is returned by policies that do not object. It never leaves
	// the Engine.
	Continue
	Allow
	Unauthenticated // 401
	Forbidden       // 403
	BadRequest      // 400
	Unavailable     // 503
)

var verdictNames = [...]string{"unknown", "continue", "allow", "unauthenticated", "forbidden", "bad_request", "unavailable"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "unknown"
}

// HTTPStatus is the status a client receives for the verdict. Anything
// that is not Allow maps to a denial status; unknown verdicts map to 403.
func (v Verdict) HTTPStatus() int {
	switch v {
	case Allow:
		return http.StatusOK
	case Unauthenticated:
		return http.StatusUnauthorized
	case BadRequest:
		return http.StatusBadRequest
	case Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusForbidden
	}
}

// Reason is the stable, machine-readable cause of a decision. The same word
// is the log field, the metric label and the body's "reason".
type Reason string

// Reasons. Add new ones here, in one block, and document them in
// docs/reasons.md.
const (
	// Allow reasons.
	ReasonAuthenticated          Reason = "authenticated"             // bearer token valid, every policy passed
	ReasonPublicRoute            Reason = "public_route"              // rule action pass (excluded path)
	ReasonDefaultPass            Reason = "default_pass"              // no rule matched, default: pass
	ReasonCORSPreflight          Reason = "cors_preflight"            // OPTIONS preflight without credentials
	ReasonBasicPassThrough       Reason = "basic_pass_through"        // Basic not blocked on this route: the product checks it
	ReasonNativeTokenPassThrough Reason = "native_token_pass_through" // an Atlassian personal access token, checked by the product
	ReasonSchemePassThrough      Reason = "scheme_pass_through"       // a scheme the rule passes to the product (Bitbucket LFS "JWT")

	// Request shape.
	ReasonMalformedRequest    Reason = "malformed_request"    // contradictory or incomplete request
	ReasonPathAmbiguous       Reason = "path_ambiguous"       // encoded or dotted path that would reach a protected route through a public one
	ReasonMethodOverride      Reason = "method_override"      // a method-override header would route the request to another rule
	ReasonMultipleCredentials Reason = "multiple_credentials" // more than one credential or transport
	ReasonMalformedCredential Reason = "malformed_credential" // credential syntax broken (empty Bearer, bad grammar)

	// Authentication.
	ReasonCredentialsMissing Reason = "credentials_missing" // no credentials on a protected route
	ReasonUnsupportedScheme  Reason = "unsupported_scheme"  // a scheme other than Bearer (Negotiate, OAuth, ...)
	ReasonBasicAuthBlocked   Reason = "basic_auth_blocked"  // HTTP Basic on a route that blocks it
	ReasonTokenMalformed     Reason = "token_malformed"     // not a well-formed token of any configured kind
	ReasonTokenInvalid       Reason = "token_invalid"       // signature or structure check failed
	ReasonTokenExpired       Reason = "token_expired"       // exp in the past (or missing/zero)
	ReasonTokenNotYetValid   Reason = "token_not_yet_valid" // nbf or iat in the future
	ReasonIssuerUnknown      Reason = "issuer_unknown"      // iss not configured for this route
	ReasonAudienceMismatch   Reason = "audience_mismatch"   // aud (or client id claim) not accepted
	ReasonTokenTypeInvalid   Reason = "token_type_invalid"  // typ header or token_use not an access token
	ReasonClaimMismatch      Reason = "claim_mismatch"      // a required claim missing or with the wrong value
	ReasonKeyUnknown         Reason = "key_unknown"         // kid not in the issuer's key set, even after a refetch
	ReasonAlgorithmRejected  Reason = "algorithm_rejected"  // alg not allowed, or not bound to the key type
	ReasonUsernameMissing    Reason = "username_missing"    // no configured username claim present or valid
	ReasonTokenInactive      Reason = "token_inactive"      // the provider says the token is not active

	// Authorization.
	ReasonIPDenied          Reason = "ip_denied"                // client IP outside the rule's CIDRs, or unknown
	ReasonGroupMissing      Reason = "group_missing"            // group rule not satisfied
	ReasonUserDenied        Reason = "user_denied"              // user on the deny list or not on the allow list
	ReasonUserUnknown       Reason = "user_unknown"             // the mapped user does not exist in the product directory
	ReasonUsernameRejected  Reason = "username_rejected"        // a valid token whose username is not acceptable: an unnamed domain or realm, a name folding would change, a name outside the pattern
	ReasonPasswordChannel   Reason = "password_channel_blocked" // os_username/os_password, session login, os_authType=basic
	ReasonNativeTokenDenied Reason = "native_token_denied"      // a product-native token where they are not accepted
	ReasonDefaultDeny       Reason = "default_deny"             // no rule matched, default: deny
	ReasonRouteDenied       Reason = "route_denied"             // the matched rule denies every request

	// Dependencies and internal faults.
	ReasonIdPUnavailable Reason = "idp_unavailable" // JWKS or provider unreachable; retry later
	ReasonTimeout        Reason = "timeout"         // the check's deadline ended first
	ReasonInternalError  Reason = "internal_error"  // a bug; fails closed
	ReasonNotReady       Reason = "not_ready"       // no engine loaded yet
)

// Header is one header name and value.
type Header struct {
	Name, Value string
}

// Decision is the outcome of one check. It is a value: transports translate
// it and never change it.
type Decision struct {
	// ID is the decision id (random, for logs and metadata).
	ID string
	// Verdict and Reason say what was decided and why.
	Verdict Verdict
	Reason  Reason
	// Rule is the name of the rule that decided ("" before routing).
	Rule string
	// Provider is the provider that validated the token, if any.
	Provider string
	// DryRun is true when a report-only policy would have denied this
	// request; DryRunReason says which reason it would have given.
	DryRun       bool
	DryRunReason Reason
	// Identity is the authenticated identity on allow, and on a denial
	// after authentication (a group or user rule refused it) for the
	// decision log; nil otherwise. Transports act on it only on allow.
	Identity *Identity

	// UpstreamHeaders are set on the upstream request on allow, with
	// overwrite semantics.
	UpstreamHeaders []Header
	// RemoveHeaders are removed from the upstream request on allow
	// (lower-case names). Never contains a name in UpstreamHeaders, because
	// Envoy applies removals after sets. The slice may be shared between
	// decisions: read it, never modify it.
	RemoveHeaders []string

	// Challenge is the WWW-Authenticate value on 401 (and on 400/403 where
	// RFC 6750 asks for one).
	Challenge string
	// RetryAfter is sent with Unavailable.
	RetryAfter time.Duration

	// Facts for logs, metrics and explain.
	ClientIP       netip.Addr
	ClientIPSource string // "peer", "x-forwarded-for", "unknown"
	Credential     CredentialKind
	TokenID        string // short fingerprint of the token, never the token
	Duration       time.Duration
	// Detail is a short internal explanation for logs and explain. It never
	// contains credentials and is never sent to the client.
	Detail string

	// AssertionID is the id (jti) of the identity assertion sent upstream,
	// for the decision log; "" when none was sent.
	AssertionID string

	// stripCredentials: a pass rule with Rule.StripCredentials decided;
	// finish removes the credentials it did not check.
	stripCredentials bool
	// assertion is the signed identity assertion finish sets upstream.
	assertion string
}

// Allowed reports whether the decision lets the request through. Only the
// Allow verdict does; every other value, including the zero value, denies.
func (d *Decision) Allowed() bool { return d.Verdict == Allow }

// HTTPStatus is the status the client sees.
func (d *Decision) HTTPStatus() int { return d.Verdict.HTTPStatus() }

// Deny builds a policy or engine denial.
func Deny(v Verdict, r Reason, detail string) Decision {
	return Decision{Verdict: v, Reason: r, Detail: detail}
}

// Pass is what a policy returns when it does not object.
func Pass() Decision { return Decision{Verdict: Continue} }
