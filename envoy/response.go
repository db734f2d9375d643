package envoy

import (
	"strings"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/restguard/restguard/authz"
)

// ReasonHeader carries the decision's reason on every denial.
const ReasonHeader = "x-restguard-reason"

// Dynamic metadata keys (namespace envoy.filters.http.ext_authz), for
// access logs: %DYNAMIC_METADATA(envoy.filters.http.ext_authz:reason)%.
const (
	MetaDecisionID = "decision_id"
	MetaReason     = "reason"
	MetaRule       = "rule"
	MetaProvider   = "provider"
	MetaUser       = "user"
	MetaClientID   = "client_id" // the OAuth client the token was issued to, when known
	MetaDryRun     = "dry_run"
)

// maxHeaderValue is Envoy's limit for a HeaderValue (PGV rule).
const maxHeaderValue = 16384

// ToResponse translates a decision into a CheckResponse. Only an Allow
// verdict produces status OK; every other verdict, the zero value and a
// nil decision included, produces a denial with a non-OK status, so the
// response never relies on Envoy reading an absent status as OK. requestID
// goes into the denial body.
func ToResponse(d *authz.Decision, requestID string) *authv3.CheckResponse {
	if d == nil {
		fail := authz.Deny(authz.Forbidden, authz.ReasonInternalError, "no decision")
		return deny(&fail, requestID)
	}
	if d.Allowed() {
		if resp := allow(d); resp != nil {
			return resp
		}
		// An upstream header that cannot be sent as it is: fail closed
		// rather than drop it (the upstream would trust its absence).
		fail := authz.Deny(authz.Forbidden, authz.ReasonInternalError, "unsendable upstream header")
		fail.ID, fail.Rule = d.ID, d.Rule
		return deny(&fail, requestID)
	}
	if d.Reason == "" {
		dd := *d
		dd.Reason = authz.ReasonInternalError
		d = &dd
	}
	return deny(d, requestID)
}

// allow builds the OK response, or nil if a header cannot be sent.
func allow(d *authz.Decision) *authv3.CheckResponse {
	ok := &authv3.OkHttpResponse{Headers: make([]*corev3.HeaderValueOption, 0, len(d.UpstreamHeaders))}
	for _, h := range d.UpstreamHeaders {
		name := strings.ToLower(h.Name)
		if !isToken(name) || !validValue(h.Value) {
			return nil
		}
		ok.Headers = append(ok.Headers, overwrite(name, h.Value))
	}
	// The engine's removal lists are lower-case tokens shared between
	// decisions; they go into the response as they are (marshalling only
	// reads them). Anything else is copied lower-cased.
	shared := true
	for _, name := range d.RemoveHeaders {
		if !isToken(name) {
			return nil
		}
		if strings.ToLower(name) != name {
			shared = false
		}
	}
	if shared {
		ok.HeadersToRemove = d.RemoveHeaders
	} else {
		ok.HeadersToRemove = make([]string, len(d.RemoveHeaders))
		for i, name := range d.RemoveHeaders {
			ok.HeadersToRemove[i] = strings.ToLower(name)
		}
	}
	md := map[string]*structpb.Value{
		MetaDecisionID: str(d.ID),
		MetaReason:     str(string(d.Reason)),
		MetaRule:       str(d.Rule),
		MetaDryRun:     structpb.NewBoolValue(d.DryRun),
	}
	if d.Provider != "" {
		md[MetaProvider] = str(d.Provider)
	}
	if d.Identity != nil {
		md[MetaUser] = str(d.Identity.Username)
		if d.Identity.ClientID != "" {
			md[MetaClientID] = str(d.Identity.ClientID)
		}
	}
	return &authv3.CheckResponse{
		Status:          &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse:    &authv3.CheckResponse_OkResponse{OkResponse: ok},
		DynamicMetadata: &structpb.Struct{Fields: md},
	}
}

// deny builds the denial: a non-OK gRPC code that agrees with the verdict
// and a local reply with the HTTP status, headers and JSON body.
func deny(d *authz.Decision, requestID string) *authv3.CheckResponse {
	reason := clean(string(d.Reason))
	headers := []*corev3.HeaderValueOption{overwrite("content-type", "application/json")}
	if d.Challenge != "" {
		headers = append(headers, overwrite("www-authenticate", clean(d.Challenge)))
	}
	if d.Verdict == authz.Unavailable {
		headers = append(headers, overwrite("retry-after", d.RetryAfterSeconds()))
	}
	headers = append(headers, overwrite(ReasonHeader, reason))

	httpStatus := typev3.StatusCode(d.HTTPStatus())
	if _, known := typev3.StatusCode_name[int32(httpStatus)]; !known || httpStatus == typev3.StatusCode_OK {
		httpStatus = typev3.StatusCode_Forbidden
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(grpcCode(d.Verdict)), Message: reason},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: httpStatus},
			Headers: headers,
			Body:    string(d.Body(requestID)),
		}},
		DynamicMetadata: &structpb.Struct{Fields: map[string]*structpb.Value{
			MetaDecisionID: str(d.ID),
			MetaReason:     str(reason),
			MetaRule:       str(d.Rule),
		}},
	}
}

// grpcCode is the CheckResponse status for a denial. It is never OK.
func grpcCode(v authz.Verdict) codes.Code {
	switch v {
	case authz.Unauthenticated:
		return codes.Unauthenticated
	case authz.BadRequest:
		return codes.InvalidArgument
	case authz.Unavailable:
		return codes.Unavailable
	default:
		return codes.PermissionDenied
	}
}

// overwrite sets a header, replacing any value the client sent. Both the
// deprecated append flag and append_action are set: older Envoys read only
// the former, newer ones default an unset action to append (protocol §2.2).
func overwrite(name, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: name, Value: value},
		Append:       wrapperspb.Bool(false),
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

// validValue reports whether s can be sent as one header value unchanged.
func validValue(s string) bool {
	return s != "" && len(s) <= maxHeaderValue && utf8.ValidString(s) && !strings.ContainsFunc(s, isControl)
}

// clean makes s a valid UTF-8 header value: control characters dropped,
// invalid bytes replaced, length bounded. Decision fields are fixed words
// or built by the engine, so this only guards against a faulty provider.
func clean(s string) string {
	if validValue(s) || s == "" {
		return s
	}
	s = strings.Map(func(r rune) rune {
		if isControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) > 1024 {
		s = strings.ToValidUTF8(s[:1024], "")
	}
	return s
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// str is a metadata string; protobuf strings must be valid UTF-8.
func str(s string) *structpb.Value {
	return structpb.NewStringValue(strings.ToValidUTF8(s, "\uFFFD"))
}
