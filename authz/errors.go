package authz

import "errors"

// Sentinel errors shared by providers and the Engine. Providers wrap them
// together with a cause, e.g. fmt.Errorf("jwt: %w: %w", authz.ErrInvalidToken, err),
// or return a *ReasonError to give the exact Reason.
var (
	// ErrNotResponsible means the validator does not handle this kind of
	// token; the Engine tries the next validator of the rule.
	ErrNotResponsible = errors.New("not responsible for this token")
	// ErrInvalidToken means the token was checked and refused.
	ErrInvalidToken = errors.New("invalid token")
	// ErrUnavailable means the token could not be checked because a
	// dependency (JWKS, introspection endpoint) failed. Never cache it.
	ErrUnavailable = errors.New("identity provider unavailable")
	// ErrForbidden means the credential is valid but refused by the provider
	// (for example a user it denies).
	ErrForbidden = errors.New("forbidden")
	// ErrPassThrough means the token belongs to the upstream product itself
	// (an Atlassian personal access token) and is configured to be checked
	// there: the Engine allows the request without an identity, keeping the
	// Authorization header. Pre-authentication policies have already run.
	ErrPassThrough = errors.New("token passed through to the product")
)

// ReasonError carries the exact Reason of a failure together with the class
// sentinel (ErrInvalidToken, ErrUnavailable, ErrForbidden) and the cause.
type ReasonError struct {
	Reason Reason
	Class  error
	Err    error
}

func (e *ReasonError) Error() string {
	if e.Err == nil {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + e.Err.Error()
}

// Unwrap exposes both the class sentinel and the cause to errors.Is/As.
func (e *ReasonError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Class}
	}
	return []error{e.Class, e.Err}
}

// InvalidToken returns an ErrInvalidToken error with reason r.
func InvalidToken(r Reason, cause error) error {
	return &ReasonError{Reason: r, Class: ErrInvalidToken, Err: cause}
}

// NotResponsible returns an ErrNotResponsible error with reason r: the
// validator does not handle this token, and says why (for example
// issuer_unknown) in case no other validator does either.
func NotResponsible(r Reason, cause error) error {
	return &ReasonError{Reason: r, Class: ErrNotResponsible, Err: cause}
}

// UnavailableError returns an ErrUnavailable error with reason r.
func UnavailableError(r Reason, cause error) error {
	return &ReasonError{Reason: r, Class: ErrUnavailable, Err: cause}
}

// ForbiddenError returns an ErrForbidden error with reason r.
func ForbiddenError(r Reason, cause error) error {
	return &ReasonError{Reason: r, Class: ErrForbidden, Err: cause}
}
