package envoy

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/restguard/restguard/authz"
)

// ToRequest translates an ext_authz CheckRequest into an authz.Request. It
// makes no decision: input that Envoy would never send (contradicting
// attributes, mixed-case header names, CR/LF/NUL in values, an
// absolute-form target) is marked Malformed, and the Engine denies it. It
// never panics and never returns nil; fields are read only through the
// generated nil-safe getters.
func ToRequest(req *authv3.CheckRequest) *authz.Request {
	f := fieldsFromProto(req)
	return f.translate()
}

// translate builds the authz.Request from the fields of a CheckRequest,
// however they were read (fieldsFromProto, or decodeCheckFields from the
// wire).
func (f *checkFields) translate() *authz.Request {
	r := &authz.Request{Source: sourceAddr(f.source)}
	if !f.hasHTTP {
		r.Header = make(http.Header)
		r.Malformed = "no http request attributes"
		return r
	}
	t := translator{r: r}
	p, ok := t.clean(f)
	if !ok {
		// Something is off: the general path, whose first complaint (in
		// sorted header order) is the Malformed message.
		r.Header = make(http.Header)
		fields := t.collect(f)
		t.fill(fields)
		pseudo := func(name string) string {
			vs := fields[name]
			if len(vs) > 1 {
				t.malformed("duplicate " + name)
			}
			if len(vs) == 0 {
				return ""
			}
			return vs[0]
		}
		p.method, p.authority, p.path = pseudo(":method"), pseudo(":authority"), pseudo(":path")
	}
	r.Method = t.pick("method", f.method, p.method)
	r.Host = t.pick("host", f.host, p.authority)
	target := t.pick("path", f.path, p.path)
	t.setTarget(target)

	if id := r.Header.Get("X-Request-Id"); usableRequestID(id) {
		r.ID = id
	} else if sid := f.id; usableRequestID(sid) {
		r.ID = "envoy-" + sid
	}
	return r
}

// translator collects the first reason a request is malformed.
type translator struct {
	r *authz.Request
}

func (t *translator) malformed(msg string) {
	if t.r.Malformed == "" {
		t.r.Malformed = msg
	}
}

// pseudoHeaders are the values of the pseudo-headers ToRequest reads.
type pseudoHeaders struct{ method, authority, path string }

// clean is the path of every request Envoy sends: when the header lines
// give collect and fill nothing to complain about (one of the two header
// forms, lower-case token names, no CR, LF or NUL in values, each of
// :method, :authority and :path at most once), it builds r.Header in one
// pass and returns the pseudo-headers. Otherwise it returns !ok and leaves
// r.Header nil.
func (t *translator) clean(f *checkFields) (pseudoHeaders, bool) {
	var p pseudoHeaders
	lines := f.headers
	if f.hasHeaderMap {
		if len(f.headers) > 0 {
			return p, false // both forms: collect compares them
		}
		lines = f.headerMap
	}
	var seen [3]bool
	n := 0
	for _, l := range lines {
		k := l.key
		if k == "" || hasCRLFNUL(l.value) {
			return p, false
		}
		if k[0] == ':' {
			if !lowerToken(k[1:]) {
				return p, false
			}
			i := -1
			switch k {
			case ":method":
				i, p.method = 0, l.value
			case ":authority":
				i, p.authority = 1, l.value
			case ":path":
				i, p.path = 2, l.value
			}
			if i >= 0 {
				if seen[i] {
					return p, false
				}
				seen[i] = true
			}
			continue
		}
		if !lowerToken(k) {
			return p, false
		}
		if k != "host" {
			n++
		}
	}
	h := make(http.Header, n)
	values := make([]string, n)
	i := 0
	for _, l := range lines {
		if l.key[0] == ':' || l.key == "host" {
			continue
		}
		ck := canonicalKey(l.key)
		if vs, dup := h[ck]; dup {
			h[ck] = append(vs, l.value) // a repeated header_map line
		} else {
			values[i] = l.value
			h[ck] = values[i : i+1 : i+1]
		}
		i++
	}
	t.r.Header = h
	return p, true
}

// lowerToken reports whether s is a non-empty RFC 9110 token without
// upper-case letters (so strings.ToLower(s) == s).
func lowerToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return false
		}
	}
	return isToken(s)
}

// collect returns the header lines by their key as sent. With
// encode_raw_headers Envoy sends header_map, whose duplicates stay
// separate; otherwise the headers map, where Envoy joined duplicate lines
// with ",". When a caller sends both, they must say the same thing.
func (t *translator) collect(f *checkFields) map[string][]string {
	flat := f.headers
	if !f.hasHeaderMap {
		out := make(map[string][]string, len(flat))
		for _, kv := range flat {
			out[kv.key] = []string{kv.value}
		}
		return out
	}
	out := make(map[string][]string, len(f.headerMap))
	for _, hv := range f.headerMap {
		out[hv.key] = append(out[hv.key], hv.value)
	}
	if len(flat) > 0 {
		agree := len(flat) == len(out)
		for _, kv := range flat {
			if vs, ok := out[kv.key]; !ok || strings.Join(vs, ",") != kv.value {
				agree = false
				break
			}
		}
		if !agree {
			t.malformed("headers and header_map disagree")
		}
	}
	return out
}

// headerValue is raw_value, or value when raw_value is empty. Raw bytes are
// kept as they are: the engine's parsers refuse what they cannot read.
func headerValue(hv *corev3.HeaderValue) string {
	if raw := hv.GetRawValue(); len(raw) > 0 {
		return string(raw)
	}
	return hv.GetValue()
}

// fill checks every header line and copies the regular ones into
// r.Header under canonical keys. Pseudo-headers (":authority", ...) stay
// out, and so does a "host" key, which Envoy never sends.
func (t *translator) fill(fields map[string][]string) {
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
			t.malformed("empty header name")
			continue
		case k != strings.ToLower(k):
			t.malformed("header name not lower-case")
		case k[0] != ':' && !isToken(k):
			t.malformed("invalid header name")
			continue
		}
		for _, v := range vs {
			if hasCRLFNUL(v) {
				t.malformed("header value contains CR, LF or NUL")
			}
		}
		if k[0] == ':' || k == "host" {
			continue
		}
		ck := http.CanonicalHeaderKey(k)
		if prev, ok := spelling[ck]; ok && prev != k {
			t.malformed("header " + ck + " in two spellings")
		}
		spelling[ck] = k
		t.r.Header[ck] = append(t.r.Header[ck], vs...)
	}
}

// pick chooses between the http attribute and its pseudo-header. Both are
// the same value when Envoy sends them; a difference is a contradiction.
func (t *translator) pick(what, attr, pseudo string) string {
	if attr != "" && pseudo != "" && attr != pseudo {
		t.malformed(what + " attribute and pseudo-header disagree")
	}
	if hasCRLFNUL(attr) {
		t.malformed(what + " contains CR, LF or NUL")
	}
	if attr != "" {
		return attr
	}
	return pseudo
}

// setTarget splits an origin-form request target into Path and Query. It
// is not decoded.
func (t *translator) setTarget(target string) {
	if target != "" && target[0] != '/' {
		t.malformed("request target is not in origin form")
		return
	}
	// Clients never send a fragment; a raw '#' in the target is something
	// a proxy passed through unparsed, which the product may read
	// differently (security catalogue G3): refuse it.
	if strings.IndexByte(target, '#') >= 0 {
		t.malformed("request target contains '#'")
		return
	}
	t.r.Path, t.r.Query, _ = strings.Cut(target, "?")
}

// sourceAddr is the downstream peer's IP (the socket address's address).
// Pipes, names, zoned and unparsable addresses give the zero Addr
// (unknown).
func sourceAddr(a string) netip.Addr {
	ip, err := netip.ParseAddr(a)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}
	}
	return ip
}

// hasCRLFNUL reports whether s holds CR, LF or NUL. It runs over every
// header value of every check: three vectorised byte searches beat one
// search for a set.
func hasCRLFNUL(s string) bool {
	return strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0 || strings.IndexByte(s, 0) >= 0
}

// maxRequestIDBytes bounds the request id echoed in deny bodies and logs.
const maxRequestIDBytes = 128

// usableRequestID accepts a request id only when it is short printable
// ASCII: it is echoed to the client and written to logs.
func usableRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// isToken reports whether s is an RFC 9110 token (a header field name).
func isToken(s string) bool { return authz.IsToken(s) }

// canonicalKey is http.CanonicalHeaderKey for a lower-case token, without
// an allocation for the headers Envoy usually sends.
func canonicalKey(k string) string {
	if ck, ok := commonHeaders[k]; ok {
		return ck
	}
	return http.CanonicalHeaderKey(k)
}

// commonHeaders maps lower-case header names to their canonical form
// (TestCommonHeadersCanonical keeps each equal to http.CanonicalHeaderKey).
var commonHeaders = map[string]string{
	"accept":                         "Accept",
	"accept-encoding":                "Accept-Encoding",
	"accept-language":                "Accept-Language",
	"access-control-request-headers": "Access-Control-Request-Headers",
	"access-control-request-method":  "Access-Control-Request-Method",
	"authorization":                  "Authorization",
	"cache-control":                  "Cache-Control",
	"connection":                     "Connection",
	"content-length":                 "Content-Length",
	"content-type":                   "Content-Type",
	"cookie":                         "Cookie",
	"forwarded":                      "Forwarded",
	"if-modified-since":              "If-Modified-Since",
	"if-none-match":                  "If-None-Match",
	"origin":                         "Origin",
	"pragma":                         "Pragma",
	"proxy-authorization":            "Proxy-Authorization",
	"referer":                        "Referer",
	"sec-fetch-dest":                 "Sec-Fetch-Dest",
	"sec-fetch-mode":                 "Sec-Fetch-Mode",
	"sec-fetch-site":                 "Sec-Fetch-Site",
	"te":                             "Te",
	"traceparent":                    "Traceparent",
	"tracestate":                     "Tracestate",
	"user-agent":                     "User-Agent",
	"x-atlassian-token":              "X-Atlassian-Token",
	"x-b3-parentspanid":              "X-B3-Parentspanid",
	"x-b3-sampled":                   "X-B3-Sampled",
	"x-b3-spanid":                    "X-B3-Spanid",
	"x-b3-traceid":                   "X-B3-Traceid",
	"x-envoy-expected-rq-timeout-ms": "X-Envoy-Expected-Rq-Timeout-Ms",
	"x-envoy-external-address":       "X-Envoy-External-Address",
	"x-envoy-internal":               "X-Envoy-Internal",
	"x-envoy-peer-metadata":          "X-Envoy-Peer-Metadata",
	"x-envoy-peer-metadata-id":       "X-Envoy-Peer-Metadata-Id",
	"x-forwarded-client-cert":        "X-Forwarded-Client-Cert",
	"x-forwarded-for":                "X-Forwarded-For",
	"x-forwarded-host":               "X-Forwarded-Host",
	"x-forwarded-port":               "X-Forwarded-Port",
	"x-forwarded-proto":              "X-Forwarded-Proto",
	"x-http-method-override":         "X-Http-Method-Override",
	"x-real-ip":                      "X-Real-Ip",
	"x-request-id":                   "X-Request-Id",
	"x-requested-with":               "X-Requested-With",
}
