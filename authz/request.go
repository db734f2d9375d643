package authz

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// Request is the protocol-free view of one HTTP request that Envoy (or a
// forward-auth proxy) asks about. The transport adapters build it; nothing
// else does. It is read-only once handed to the Engine.
type Request struct {
	// ID is the request id used for correlation (x-request-id), never
	// Envoy's stream id.
	ID string
	// Method is the HTTP method as received.
	Method string
	// Host is the :authority as received (port and case untouched).
	Host string
	// Path is the request target up to, not including, '?': raw, not
	// decoded and not normalised.
	Path string
	// Query is the raw query string without the leading '?'.
	Query string
	// Header holds the request headers with canonical keys. Separate header
	// lines are separate values; Envoy's comma-joined duplicates arrive as
	// one value. Never log it whole: it carries credentials.
	Header http.Header
	// Source is the address of the peer that connected to the proxy
	// (Envoy's source.address). The zero Addr means unknown.
	Source netip.Addr
	// Malformed is set by the adapter when the request is contradictory or
	// incomplete (for example two different :path values). The Engine
	// denies such a request with 400 without looking further.
	Malformed string
}

// methodOverrideHeaders are the headers servlet filters and frameworks
// read to replace the request method.
var methodOverrideHeaders = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// methodOverrideParam is the query parameter Jersey's and Spring's
// method-override filters read (HttpMethodOverrideFilter,
// HiddenHttpMethodFilter); Spring upper-cases its value.
const methodOverrideParam = "_method"

// overrideMethods returns the methods other than the request's own that
// an override header or the _method parameter asks for, each once.
func overrideMethods(r *Request) []string {
	var out []string
	add := func(values []string) {
		for _, v := range values {
			for _, m := range strings.Split(v, ",") {
				m = strings.ToUpper(strings.TrimSpace(m))
				if m != "" && m != r.Method && !slices.Contains(out, m) {
					out = append(out, m)
				}
			}
		}
	}
	for _, h := range methodOverrideHeaders {
		add(r.Header[h]) // canonical names
	}
	if strings.Contains(r.Query, "method") || strings.Contains(r.Query, "%") {
		add(QueryValues(r.Query, methodOverrideParam))
	}
	return out
}

// sessionInPath reports whether a raw path has a path parameter that
// carries a session id (";jsessionid=...", or the name of a session
// cookie, which Tomcat uses as the parameter name when the cookie is
// renamed). Names are compared case-insensitively after lenient
// percent-decoding: a superset of what Tomcat reads.
func (e *Engine) sessionInPath(raw string) bool {
	for i := strings.IndexByte(raw, ';'); i >= 0; {
		raw = raw[i+1:]
		end := strings.IndexAny(raw, ";/")
		param := raw
		if end >= 0 {
			param = raw[:end]
		}
		name, _, _ := strings.Cut(param, "=")
		if e.sessionParams[strings.ToLower(QueryUnescape(name))] {
			return true
		}
		i = strings.IndexByte(raw, ';')
	}
	return false
}

// firstValue is http.Header.Get on a value list.
func firstValue(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func isPreflight(r *Request) bool {
	return r.Method == "OPTIONS" && firstValue(r.Header["Origin"]) != "" && firstValue(r.Header["Access-Control-Request-Method"]) != ""
}
