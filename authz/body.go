package authz

import (
	"encoding/json"
	"strconv"
)

// denyBody is the JSON body of a denial. It carries the stable reason, the
// OAuth error code where one applies, a fixed description and the request
// id, never request or token content.
type denyBody struct {
	Error       string `json:"error"`
	Reason      Reason `json:"reason"`
	Description string `json:"error_description,omitempty"`
	RequestID   string `json:"request_id,omitempty"`
}

// Body renders the client-facing JSON body of a denial (nil on allow).
func (d *Decision) Body(requestID string) []byte {
	if d.Allowed() {
		return nil
	}
	b := denyBody{Error: d.ErrorCode(), Reason: d.Reason, Description: Description(d.Reason), RequestID: requestID}
	out, err := json.Marshal(b)
	if err != nil {
		// Unreachable with string fields; keep a valid body regardless.
		return []byte(`{"error":"server_error","reason":"internal_error"}`)
	}
	return out
}

// ErrorCode is the OAuth-style error word for the body: invalid_token,
// invalid_request, insufficient_scope, access_denied, temporarily_unavailable
// or unauthorized.
func (d *Decision) ErrorCode() string {
	switch d.Verdict {
	case Unauthenticated:
		if d.Credential == CredentialBearer {
			return "invalid_token"
		}
		return "unauthorized"
	case BadRequest:
		return "invalid_request"
	case Unavailable:
		return "temporarily_unavailable"
	default:
		if d.Reason == ReasonGroupMissing {
			return "insufficient_scope"
		}
		return "access_denied"
	}
}

// RetryAfterSeconds renders RetryAfter for the Retry-After header.
func (d *Decision) RetryAfterSeconds() string {
	s := int(d.RetryAfter.Seconds())
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s)
}
