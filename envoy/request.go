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
	r := &authz.Request{Header: make(http.Header)}
	r.Source = sourceAddr(req.GetAttributes().GetSource().GetAddress())
	hr := req.GetAttributes().GetRequest().GetHttp()
	if hr == nil {
		r.Malformed = "no http request attributes"
		return r
	}
	t := translator{r: r}
	fields := t.collect(hr)
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
	r.Method = t.pick("method", hr.GetMethod(), pseudo(":method"))
	r.Host = t.pick("host", hr.GetHost(), pseudo(":authority"))
	target := t.pick("path", hr.GetPath(), pseudo(":path"))
	t.setTarget(target)

	if id := r.Header.Get("X-Request-Id"); usableRequestID(id) {
		r.ID = id
	} else if sid := hr.GetId(); usableRequestID(sid) {
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

// collect returns the header lines by their key as sent. With
// encode_raw_headers Envoy sends header_map, whose duplicates stay
// separate; otherwise the headers map, where Envoy joined duplicate lines
// with ",". When a caller sends both, they must say the same thing.
func (t *translator) collect(hr *authv3.AttributeContext_HttpRequest) map[string][]string {
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

// sourceAddr is the downstream peer's IP. Pipes, names, zoned and
// unparsable addresses give the zero Addr (unknown).
func sourceAddr(a *corev3.Address) netip.Addr {
	ip, err := netip.ParseAddr(a.GetSocketAddress().GetAddress())
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}
	}
	return ip
}

func hasCRLFNUL(s string) bool {
	return strings.ContainsAny(s, "\r\n\x00")
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
