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
	var a reply
	a.plan(d, requestID)
	return a.proto()
}

// reply is a CheckResponse in plain values: what ToResponse builds as
// protobuf messages and the gRPC server writes straight to the wire
// (appendWire), from one plan.
type reply struct {
	allow bool
	code  codes.Code // the CheckResponse status; OK only when allow
	// message is the status message (a denial's reason).
	message string
	// httpStatus is a denial's HTTP status.
	httpStatus typev3.StatusCode
	// headers are the upstream headers of an allow (names lower-cased when
	// written) or the client headers of a denial, each set with overwrite
	// semantics: the first nh in hs, any more in moreHeaders. (Arrays, not
	// slices into the reply itself, keep a reply on its caller's stack.)
	nh          int
	hs          [6]authz.Header
	moreHeaders []authz.Header
	// remove are the upstream headers an allow removes (lower-case
	// tokens; shared with the engine, read only).
	remove []string
	body   string // a denial's body
	// meta is the dynamic metadata: the first nm fields.
	nm int
	ms [7]meta
}

func (a *reply) addHeader(name, value string) {
	if a.nh < len(a.hs) {
		a.hs[a.nh] = authz.Header{Name: name, Value: value}
		a.nh++
		return
	}
	a.moreHeaders = append(a.moreHeaders, authz.Header{Name: name, Value: value})
}

// headers returns the headers in order.
func (a *reply) headers() []authz.Header {
	if len(a.moreHeaders) == 0 {
		return a.hs[:a.nh]
	}
	return append(a.hs[:a.nh:a.nh], a.moreHeaders...)
}

// addMeta adds a metadata field; a reply has at most len(ms) of them.
func (a *reply) addMeta(m meta) {
	a.ms[a.nm] = m
	a.nm++
}

func (a *reply) meta() []meta { return a.ms[:a.nm] }

// meta is one dynamic metadata field: a string, or a bool when isBool.
type meta struct {
	key    string
	str    string
	isBool bool
	b      bool
}

// plan fills a (empty) with the answer to d.
func (a *reply) plan(d *authz.Decision, requestID string) {
	if d == nil {
		fail := authz.Deny(authz.Forbidden, authz.ReasonInternalError, "no decision")
		a.deny(&fail, requestID)
		return
	}
	if d.Allowed() {
		if a.allowed(d) {
			return
		}
		// An upstream header that cannot be sent as it is: fail closed
		// rather than drop it (the upstream would trust its absence).
		fail := authz.Deny(authz.Forbidden, authz.ReasonInternalError, "unsendable upstream header")
		fail.ID, fail.Rule = d.ID, d.Rule
		*a = reply{}
		a.deny(&fail, requestID)
		return
	}
	if d.Reason == "" {
		dd := *d
		dd.Reason = authz.ReasonInternalError
		d = &dd
	}
	a.deny(d, requestID)
}

// allowed plans the OK response; false if a header cannot be sent.
func (a *reply) allowed(d *authz.Decision) bool {
	for _, h := range d.UpstreamHeaders {
		// Names are sent lower-cased: a token is ASCII and stays one; any
		// other name is judged once lower-cased, as it would be sent.
		if !isToken(h.Name) && !isToken(strings.ToLower(h.Name)) || !validValue(h.Value) {
			return false
		}
		a.addHeader(h.Name, h.Value)
	}
	// The engine's removal lists are lower-case tokens shared between
	// decisions; they go into the response as they are (marshalling only
	// reads them). Anything else is copied lower-cased.
	shared := true
	for _, name := range d.RemoveHeaders {
		if !isToken(name) {
			return false
		}
		// A token is ASCII: lower-case exactly when it has no A-Z.
		if shared && hasUpperASCII(name) {
			shared = false
		}
	}
	if shared {
		a.remove = d.RemoveHeaders
	} else {
		a.remove = make([]string, len(d.RemoveHeaders))
		for i, name := range d.RemoveHeaders {
			a.remove[i] = strings.ToLower(name)
		}
	}
	a.allow, a.code = true, codes.OK
	a.addMeta(meta{key: MetaDecisionID, str: utf8Str(d.ID)})
	a.addMeta(meta{key: MetaReason, str: utf8Str(string(d.Reason))})
	a.addMeta(meta{key: MetaRule, str: utf8Str(d.Rule)})
	a.addMeta(meta{key: MetaDryRun, isBool: true, b: d.DryRun})
	if d.Provider != "" {
		a.addMeta(meta{key: MetaProvider, str: utf8Str(d.Provider)})
	}
	if d.Identity != nil {
		a.addMeta(meta{key: MetaUser, str: utf8Str(d.Identity.Username)})
		if d.Identity.ClientID != "" {
			a.addMeta(meta{key: MetaClientID, str: utf8Str(d.Identity.ClientID)})
		}
	}
	return true
}

// deny plans the denial: a non-OK gRPC code that agrees with the verdict
// and a local reply with the HTTP status, headers and JSON body.
func (a *reply) deny(d *authz.Decision, requestID string) {
	reason := clean(string(d.Reason))
	a.addHeader("content-type", "application/json")
	if d.Challenge != "" {
		a.addHeader("www-authenticate", clean(d.Challenge))
	}
	if d.Verdict == authz.Unavailable {
		a.addHeader("retry-after", d.RetryAfterSeconds())
	}
	a.addHeader(ReasonHeader, reason)

	a.httpStatus = typev3.StatusCode(d.HTTPStatus())
	if _, known := typev3.StatusCode_name[int32(a.httpStatus)]; !known || a.httpStatus == typev3.StatusCode_OK {
		a.httpStatus = typev3.StatusCode_Forbidden
	}
	a.allow, a.code, a.message = false, grpcCode(d.Verdict), reason
	a.body = string(d.Body(requestID))
	a.addMeta(meta{key: MetaDecisionID, str: utf8Str(d.ID)})
	a.addMeta(meta{key: MetaReason, str: utf8Str(reason)})
	a.addMeta(meta{key: MetaRule, str: utf8Str(d.Rule)})
}

// proto builds the CheckResponse.
func (a *reply) proto() *authv3.CheckResponse {
	hs := a.headers()
	headers := make([]*corev3.HeaderValueOption, len(hs))
	for i, h := range hs {
		headers[i] = overwrite(strings.ToLower(h.Name), h.Value)
	}
	md := make(map[string]*structpb.Value, a.nm)
	for _, m := range a.meta() {
		if m.isBool {
			md[m.key] = structpb.NewBoolValue(m.b)
		} else {
			md[m.key] = structpb.NewStringValue(m.str)
		}
	}
	resp := &authv3.CheckResponse{
		Status:          &rpcstatus.Status{Code: int32(a.code), Message: a.message},
		DynamicMetadata: &structpb.Struct{Fields: md},
	}
	if a.allow {
		resp.HttpResponse = &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{Headers: headers, HeadersToRemove: a.remove}}
	} else {
		resp.HttpResponse = &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: a.httpStatus},
			Headers: headers,
			Body:    a.body,
		}}
	}
	return resp
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
		Header: &corev3.HeaderValue{Key: name, Value: value},
		//lint:ignore SA1019 older Envoys read only the deprecated flag (see above)
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

func hasUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

// utf8Str makes s a metadata string: protobuf strings must be valid UTF-8.
func utf8Str(s string) string {
	return strings.ToValidUTF8(s, "\uFFFD")
}
