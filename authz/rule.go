package authz

// The rule the engine runs and the interfaces it calls: validators,
// policies, the router, the identity mapper, the client-address resolver
// and the asserter. engine.go holds the pipeline that uses them.

import (
	"context"
	"net/netip"
)

// Validator verifies a bearer token and returns the identity it belongs to.
// It must be safe for concurrent use. It returns an error wrapping
// ErrNotResponsible when the token is not of its kind (the Engine then
// tries the next validator), ErrInvalidToken when the token is refused,
// ErrUnavailable when a dependency failed, ErrForbidden when the identity
// is valid but refused. A *ReasonError gives the exact Reason. The
// returned Identity must not be modified by the caller.
type Validator interface {
	Validate(ctx context.Context, token string) (*Identity, error)
}

// Authenticator is a named validator, as configured in a rule.
type Authenticator struct {
	Name      string
	Validator Validator
}

// Input is what a Policy sees. Identity is nil before authentication.
type Input struct {
	Request    *Request
	ClientIP   netip.Addr // zero when it could not be determined
	Credential Credential
	Identity   *Identity

	trace *Trace // explain's, or nil; looked up once per check
}

// Policy checks one aspect of a request. It returns Pass() when it does
// not object, or a denial (Forbidden, Unauthenticated, BadRequest). A
// denial with DryRun set is recorded and ignored. A policy never allows:
// an Allow from a policy is treated as a fault and denied. Policies must be
// safe for concurrent use.
type Policy interface {
	Evaluate(ctx context.Context, in *Input) Decision
}

// Action is what a rule does with the requests it matches.
type Action uint8

// Rule actions.
const (
	// ActionAuthenticate requires a valid bearer token (the default).
	ActionAuthenticate Action = iota
	// ActionPass lets requests through without authentication; pre-auth
	// policies (Basic blocking, IP rules) still apply and client identity
	// headers are still removed.
	ActionPass
	// ActionDeny refuses every request with 403.
	ActionDeny
)

var actionNames = [...]string{"authenticate", "pass", "deny"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// Rule is a compiled rule. Rules are immutable once built.
type Rule struct {
	Name   string
	Action Action
	// Reason is the decision reason for ActionPass and ActionDeny
	// (default public_route and route_denied; the default rule uses
	// default_pass and default_deny).
	Reason Reason
	// CORSPreflight lets OPTIONS preflight requests without credentials
	// through on an authenticating rule.
	CORSPreflight bool
	// PassSchemes are lower-case auth schemes other than Bearer and Basic
	// that this rule lets through to the product unchecked (Bitbucket's
	// "JWT" on Git LFS paths). Pre-auth policies still apply.
	PassSchemes map[string]bool
	// StripCredentials makes a pass decision (ActionPass) remove a bearer
	// Authorization header and the session cookies (Upstream.RemoveCookies),
	// so that a route nobody authenticates never forwards a credential
	// restguard did not check (the Atlassian presets set it on their
	// exclusions). Other schemes (OAuth 1.0a, Basic where it is allowed)
	// stay: the product checks them.
	StripCredentials bool
	// PreAuth policies run before authentication (IP rules, Basic blocking).
	PreAuth []Policy
	// Authenticators validate the bearer token, tried in order.
	Authenticators []Authenticator
	// AssertionAudience, when set and the engine has an Asserter, is the
	// aud of the signed identity assertion an authenticated allow carries
	// to the upstream (the product's base URL); "" sends none.
	AssertionAudience string
	// Mappers refine the identity after authentication (username
	// transforms, directory groups), in order.
	Mappers []IdentityMapper
	// PostAuth policies run once the identity is known (groups, users).
	PostAuth []Policy
}

// IdentityMapper refines an authenticated identity: it returns a new
// Identity (never modifying its argument, which may be cached and shared)
// or an error classified like a Validator's (ErrUnavailable for a directory
// outage, ErrForbidden for an unknown user). Mappers must be safe for
// concurrent use.
type IdentityMapper interface {
	Map(ctx context.Context, id *Identity) (*Identity, error)
}

// Router matches a request to its rule. Match never returns a nil rule
// with a Continue decision: when no rule matches it returns the default
// rule. A non-Continue decision denies the request (for example an
// ambiguous path that would bypass a protected rule).
type Router interface {
	Match(req *Request) (*Rule, Decision)
}

// NearMatcher is implemented by routers that can say, for `restguard
// explain`, which rule a request that fell to the default rule nearly
// matched (the right path on another host, say). Near returns "" when no
// rule comes close.
type NearMatcher interface {
	Near(req *Request) string
}

// ClientIPResolver chooses the client address the IP rules apply to and
// says where it came from ("peer", "x-forwarded-for"). It returns the zero
// Addr when the address cannot be determined; IP rules then deny.
type ClientIPResolver interface {
	ClientIP(req *Request) (netip.Addr, string)
}

// Upstream says how an allowed request is handed to the upstream.
type Upstream struct {
	// UserHeader carries the username (required).
	UserHeader string
	// GroupsHeader carries the comma-joined groups (optional).
	GroupsHeader string
	// EmailHeader carries the e-mail address (optional).
	EmailHeader string
	// StripAuthorization removes the Authorization header from
	// bearer-authenticated requests.
	StripAuthorization bool
	// RemoveHeaders are further header names a client must never set
	// (for example remote-user); they are removed on every allow.
	RemoveHeaders []string
	// RemoveCookies are cookie names (session cookies of the product) that
	// are removed from bearer-authenticated requests, so that the upstream
	// cannot act on someone else's session instead of the token's user.
	// They are compared case-insensitively. The same names, and
	// "jsessionid", are the path parameters that carry a session
	// (";jsessionid=..."): a bearer request with one is refused.
	RemoveCookies []string
	// RemoveAllCookies removes the Cookie header altogether from
	// bearer-authenticated requests.
	RemoveAllCookies bool
	// BearerMarker, if set, is a header set to "1" on bearer-authenticated
	// requests, so that the proxy can drop Set-Cookie from their responses.
	BearerMarker string
	// AssertionHeader carries the signed identity assertion of an
	// authenticated allow (see Asserter). It is an identity header: a
	// client's copy is removed from every allowed request.
	AssertionHeader string
}

// Asserter signs a short-lived identity assertion for an authenticated
// allow, bound to the request's method and target, so that the upstream can
// verify who the user is instead of trusting a header (package assertion).
// It returns the header value and the assertion's id (for the decision
// log). It must be safe for concurrent use; an error denies the request.
type Asserter interface {
	Assert(in AssertInput) (value, id string, err error)
}

// AssertInput is what one assertion states and binds.
type AssertInput struct {
	Audience            string
	Identity            *Identity
	Method, Path, Query string // the request as received: raw path and query
}
