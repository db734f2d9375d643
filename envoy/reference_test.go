package envoy

// The reference implementations: ToRequest and ToResponse as they were
// before the gRPC server read and wrote the wire itself (commit fb2210a),
// kept verbatim but for their names. FuzzWireDecode and FuzzWireResponse
// hold the wire path, and today's ToRequest and ToResponse, to them.

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/restguard/restguard/authz"
)

func refToRequest(req *authv3.CheckRequest) *authz.Request {
	r := &authz.Request{Header: make(http.Header)}
	r.Source = refSourceAddr(req.GetAttributes().GetSource().GetAddress())
	hr := req.GetAttributes().GetRequest().GetHttp()
	if hr == nil {
		r.Malformed = "no http request attributes"
		return r
	}
	t := refTranslator{r: r}
	fields := t.refCollect(hr)
	t.refFill(fields)

	pseudo := func(name string) string {
		vs := fields[name]
		if len(vs) > 1 {
			t.refMalformed("duplicate " + name)
		}
		if len(vs) == 0 {
			return ""
		}
		return vs[0]
	}
	r.Method = t.refPick("method", hr.GetMethod(), pseudo(":method"))
	r.Host = t.refPick("host", hr.GetHost(), pseudo(":authority"))
	target := t.refPick("path", hr.GetPath(), pseudo(":path"))
	t.refSetTarget(target)

	if id := r.Header.Get("X-Request-Id"); usableRequestID(id) {
		r.ID = id
	} else if sid := hr.GetId(); usableRequestID(sid) {
		r.ID = "envoy-" + sid
	}
	return r
}

// translator collects the first reason a request is malformed.
type refTranslator struct {
	r *authz.Request
}

func (t *refTranslator) refMalformed(msg string) {
	if t.r.Malformed == "" {
		t.r.Malformed = msg
	}
}

// collect returns the header lines by their key as sent. With
// encode_raw_headers Envoy sends header_map, whose duplicates stay
// separate; otherwise the headers map, where Envoy joined duplicate lines
// with ",". When a caller sends both, they must say the same thing.
func (t *refTranslator) refCollect(hr *authv3.AttributeContext_HttpRequest) map[string][]string {
	flat := hr.GetHeaders()
	hm := hr.GetHeaderMap()
	if hm == nil {
		out := make(map[string][]string, len(flat))
		for k, v := range flat {
			out[k] = []string{v}
		}
		return out
	}
	out := make(map[string][]string, len(hm.GetHeaders()))
	for _, hv := range hm.GetHeaders() {
		out[hv.GetKey()] = append(out[hv.GetKey()], headerValue(hv))
	}
	if len(flat) > 0 {
		agree := len(flat) == len(out)
		for k, v := range flat {
			if vs, ok := out[k]; !ok || strings.Join(vs, ",") != v {
				agree = false
				break
			}
		}
		if !agree {
			t.refMalformed("headers and header_map disagree")
		}
	}
	return out
}

// fill checks every header line and copies the regular ones into
// r.Header under canonical keys. Pseudo-headers (":authority", ...) stay
// out, and so does a "host" key, which Envoy never sends.
func (t *refTranslator) refFill(fields map[string][]string) {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic Malformed messages
	spelling := make(map[string]string, len(keys))
	for _, k := range keys {
		vs := fields[k]
		switch {
		case k == "":
			t.refMalformed("empty header name")
			continue
		case k != strings.ToLower(k):
			t.refMalformed("header name not lower-case")
		case k[0] != ':' && !isToken(k):
			t.refMalformed("invalid header name")
			continue
		}
		for _, v := range vs {
			if hasCRLFNUL(v) {
				t.refMalformed("header value contains CR, LF or NUL")
			}
		}
		if k[0] == ':' || k == "host" {
			continue
		}
		ck := http.CanonicalHeaderKey(k)
		if prev, ok := spelling[ck]; ok && prev != k {
			t.refMalformed("header " + ck + " in two spellings")
		}
		spelling[ck] = k
		t.r.Header[ck] = append(t.r.Header[ck], vs...)
	}
}

// pick chooses between the http attribute and its pseudo-header. Both are
// the same value when Envoy sends them; a difference is a contradiction.
func (t *refTranslator) refPick(what, attr, pseudo string) string {
	if attr != "" && pseudo != "" && attr != pseudo {
		t.refMalformed(what + " attribute and pseudo-header disagree")
	}
	if hasCRLFNUL(attr) {
		t.refMalformed(what + " contains CR, LF or NUL")
	}
	if attr != "" {
		return attr
	}
	return pseudo
}

// setTarget splits an origin-form request target into Path and Query. It
// is not decoded.
func (t *refTranslator) refSetTarget(target string) {
	if target != "" && target[0] != '/' {
		t.refMalformed("request target is not in origin form")
		return
	}
	// Clients never send a fragment; a raw '#' in the target is something
	// a proxy passed through unparsed, which the product may read
	// differently (security catalogue G3): refuse it.
	if strings.IndexByte(target, '#') >= 0 {
		t.refMalformed("request target contains '#'")
		return
	}
	t.r.Path, t.r.Query, _ = strings.Cut(target, "?")
}

func refSourceAddr(a *corev3.Address) netip.Addr {
	ip, err := netip.ParseAddr(a.GetSocketAddress().GetAddress())
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}
	}
	return ip
}
func refToResponse(d *authz.Decision, requestID string) *authv3.CheckResponse {
	if d == nil {
		fail := authz.Deny(authz.Forbidden, authz.ReasonInternalError, "no decision")
		return refDeny(&fail, requestID)
	}
	if d.Allowed() {
		if resp := refAllow(d); resp != nil {
			return resp
		}
		// An upstream header that cannot be sent as it is: fail closed
		// rather than drop it (the upstream would trust its absence).
		fail := authz.Deny(authz.Forbidden, authz.ReasonInternalError, "unsendable upstream header")
		fail.ID, fail.Rule = d.ID, d.Rule
		return refDeny(&fail, requestID)
	}
	if d.Reason == "" {
		dd := *d
		dd.Reason = authz.ReasonInternalError
		d = &dd
	}
	return refDeny(d, requestID)
}

// allow builds the OK response, or nil if a header cannot be sent.
func refAllow(d *authz.Decision) *authv3.CheckResponse {
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
		MetaDecisionID: refStr(d.ID),
		MetaReason:     refStr(string(d.Reason)),
		MetaRule:       refStr(d.Rule),
		MetaDryRun:     structpb.NewBoolValue(d.DryRun),
	}
	if d.Provider != "" {
		md[MetaProvider] = refStr(d.Provider)
	}
	if d.Identity != nil {
		md[MetaUser] = refStr(d.Identity.Username)
		if d.Identity.ClientID != "" {
			md[MetaClientID] = refStr(d.Identity.ClientID)
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
func refDeny(d *authz.Decision, requestID string) *authv3.CheckResponse {
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
			MetaDecisionID: refStr(d.ID),
			MetaReason:     refStr(reason),
			MetaRule:       refStr(d.Rule),
		}},
	}
}

func refStr(s string) *structpb.Value {
	return structpb.NewStringValue(strings.ToValidUTF8(s, "\uFFFD"))
}

// refWriteResponse is the forward-auth handler's writeResponse as it was:
// a CheckResponse rendered the way the HTTP proxies read it.
// Only an OK status with an OkHttpResponse answers 200; everything else is
// a 4xx/5xx denial.
func refWriteResponse(w http.ResponseWriter, resp *authv3.CheckResponse) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if ok := resp.GetOkResponse(); ok != nil && resp.GetStatus() != nil && resp.GetStatus().GetCode() == int32(codes.OK) {
		for _, o := range ok.GetHeaders() {
			h.Set(o.GetHeader().GetKey(), o.GetHeader().GetValue())
		}
		if rm := ok.GetHeadersToRemove(); len(rm) > 0 {
			h.Set(HeadersToRemoveHeader, strings.Join(rm, ", "))
		}
		if reason := resp.GetDynamicMetadata().GetFields()[MetaReason].GetStringValue(); reason != "" {
			h.Set(ReasonHeader, reason)
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	den := resp.GetDeniedResponse()
	status := int(den.GetStatus().GetCode())
	if status < 400 || status > 599 {
		status = http.StatusForbidden
	}
	for _, o := range den.GetHeaders() {
		h.Set(o.GetHeader().GetKey(), o.GetHeader().GetValue())
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(den.GetBody()))
}
