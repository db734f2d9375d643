// Package catalogue runs the security catalogue
// (../shared/reference/security-catalogue.md, mapped in docs/security.md)
// against the real restguard binary: every input goes through the gRPC
// ext_authz server and, when the forward-auth listener answers, through the
// HTTP endpoint the way Envoy's http_service sends it. Tests only.
package catalogue

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/e2eutil"
)

// Hosts, addresses and names shared by the cases (catalogue §0.2).
const (
	jiraHost   = "jira.example.test"
	confHost   = "confluence.example.test"
	strictHost = "strict.example.test"
	jiraAud    = "https://jira.example.test"
	confAud    = "https://confluence.example.test"
	myself     = "/rest/api/2/myself"
	inside     = "10.1.2.3"    // inside the allowlist
	outside    = "203.0.113.7" // outside it
	proxyIP    = "192.0.2.10"  // a trusted proxy
	realm      = "jira"
	userHeader = "x-forwarded-user"
)

// spoofable are identity headers a client might send; none may reach the
// upstream unless restguard set it (catalogue E3).
var spoofable = []string{
	"x-forwarded-user", "x_forwarded_user", "x-forwarded-groups", "x_forwarded_groups",
	"x-forwarded-email", "remote-user", "remote_user", "x-remote-user", "x-auth-request-user",
	"x-authenticated-user", "x-atlassian-user", "x_atlassian_user", "proxy-authorization",
}

// want is the exact decision a case expects.
type want struct {
	status int    // 200 allow, or the denial status
	err    string // WWW-Authenticate error: "", invalid_token, invalid_request, insufficient_scope; "none" = no header at all
	reason string // exact reason; alternatives separated by "|"; "" = any
	user   string // on an authenticated allow: the identity header value
	groups string // on allow, if not "": the groups header value
	keep   bool   // on allow: the Authorization header reaches the upstream (public routes, Basic pass-through)
	any    []int  // instead of status: any of these (never 200 unless listed); the challenge is checked only for grammar
}

// never200 accepts any denial among statuses.
func deny(statuses ...int) want { return want{any: statuses, err: "?"} }

func allow(user string) want { return want{status: 200, reason: "authenticated", user: user} }
func public() want           { return want{status: 200, reason: "public_route", keep: true} }
func none401(reason string) want {
	return want{status: 401, reason: reason}
}
func invalidToken(reason string) want { return want{status: 401, err: "invalid_token", reason: reason} }
func invalidRequest(reason string) want {
	return want{status: 400, err: "invalid_request", reason: reason}
}
func forbidden(reason string) want  { return want{status: 403, err: "none", reason: reason} }
func badRequest(reason string) want { return want{status: 400, err: "none", reason: reason} }
func unavailable(reason string) want {
	return want{status: 503, err: "none", reason: reason}
}

// in is one request. Zero fields take R0's values.
type in struct {
	method, host, path, source string
	headers                    []string // "name: value" lines, duplicates kept as separate lines
}

func (r in) withDefaults() in {
	if r.method == "" {
		r.method = "GET"
	}
	if r.host == "" {
		r.host = jiraHost
	}
	if r.path == "" {
		r.path = myself
	}
	if r.source == "" {
		r.source = inside
	}
	return r
}

func bearer(tok string) string { return "authorization: Bearer " + tok }

// outcome is one answer, from either transport, in one shape.
type outcome struct {
	transport string
	status    int
	code      int32             // gRPC status code (HTTP: derived from the status)
	headers   map[string]string // deny: client headers; allow: upstream sets (lower-case names)
	remove    []string          // allow: upstream removals
	overwrite bool              // allow: every set uses append=false and OVERWRITE_IF_EXISTS_OR_ADD
	reason    string
	body      string
	elapsed   time.Duration
}

// env is the running suite: one restguard, its IdPs, and clients.
type env struct {
	rg         *e2eutil.Restguard
	grpc       *envoy.Client
	httpPrefix string // "" with httpOK false: forward-auth not available
	httpOK     bool
}

// check sends one request through gRPC.
func (e *env) checkGRPC(t testing.TB, req *authv3.CheckRequest) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := e.grpc.Check(ctx, req)
	if err != nil {
		t.Fatalf("grpc check: %v", err)
	}
	o := outcome{transport: "grpc", elapsed: time.Since(start), headers: map[string]string{}}
	r := envoy.ReadResponse(resp)
	o.status, o.code, o.body, o.remove = r.Status, r.Code, r.Body, r.Remove
	o.reason, _ = r.Metadata["reason"].(string)
	for _, h := range r.Headers {
		k, v, _ := strings.Cut(h, ": ")
		if _, dup := o.headers[k]; dup {
			t.Errorf("grpc: header %q set twice", k)
		}
		o.headers[k] = v
	}
	if r.Allowed {
		o.overwrite = true
		for _, h := range resp.GetOkResponse().GetHeaders() {
			//lint:ignore SA1019 the deprecated flag is what older Envoys read: it must be set
			if h.GetAppend() == nil || h.GetAppend().GetValue() || h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
				o.overwrite = false
			}
		}
	} else if hr := o.headers[envoy.ReasonHeader]; hr != o.reason {
		t.Errorf("grpc: %s header %q disagrees with metadata reason %q", envoy.ReasonHeader, hr, o.reason)
	}
	return o
}

// checkHTTP sends the same request to the forward-auth endpoint as Envoy's
// http_service does: the original method, path_prefix + path as the request
// line, the original headers. The peer of an HTTP check is always loopback
// (a trusted proxy in the suite's configuration), so the source address
// travels as the last X-Forwarded-For element, which gives the same client
// address as the gRPC source.
func (e *env) checkHTTP(t testing.TB, r in) outcome {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s%s HTTP/1.1\r\nHost: %s\r\n", r.method, e.httpPrefix, r.path, r.host)
	xff := ""
	for _, h := range r.headers {
		name, value, _ := strings.Cut(h, ":")
		value = strings.TrimSpace(value)
		if strings.EqualFold(strings.TrimSpace(name), "x-forwarded-for") {
			xff = strings.TrimSuffix(xff+value+",", ",") + ","
			continue
		}
		fmt.Fprintf(&b, "%s: %s\r\n", strings.TrimSpace(name), value)
	}
	fmt.Fprintf(&b, "X-Forwarded-For: %s%s\r\nConnection: close\r\n\r\n", xff, r.source)
	conn, err := net.DialTimeout("tcp", e.rg.HTTP, 5*time.Second)
	if err != nil {
		t.Fatalf("http dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatalf("http write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("http read: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	o := outcome{transport: "http", elapsed: time.Since(start), status: resp.StatusCode, body: string(body), headers: map[string]string{}, overwrite: true}
	o.reason = resp.Header.Get(envoy.ReasonHeader)
	skip := map[string]bool{"date": true, "content-length": true, "cache-control": true, "content-type": true, "x-content-type-options": true, "connection": true, envoy.ReasonHeader: true}
	for k, vs := range resp.Header {
		lk := strings.ToLower(k)
		switch {
		case lk == envoy.HeadersToRemoveHeader:
			for _, v := range vs {
				for _, n := range strings.Split(v, ",") {
					o.remove = append(o.remove, strings.TrimSpace(n))
				}
			}
		case skip[lk] && !(resp.StatusCode != 200 && lk == "content-type"):
		default:
			if len(vs) != 1 {
				t.Errorf("http: header %q sent %d times", lk, len(vs))
			}
			o.headers[lk] = vs[0]
		}
	}
	switch {
	case resp.StatusCode == 200:
	case resp.StatusCode == 401:
		o.code = 16
	case resp.StatusCode == 400:
		o.code = 3
	case resp.StatusCode == 503:
		o.code = 14
	default:
		o.code = 7
	}
	return o
}

// run sends r through every transport and checks each answer against w
// (or, over HTTP, against httpWant[0] when given: the forward-auth
// transport refuses some shapes the gRPC one accepts).
func (e *env) run(t *testing.T, r in, w want, httpWant ...want) {
	t.Helper()
	r = r.withDefaults()
	req, err := envoy.NewCheckRequest(envoy.CheckInput{Method: r.method, Host: r.host, Path: r.path, Headers: r.headers, SourceIP: r.source})
	if err != nil {
		t.Fatal(err)
	}
	assertOutcome(t, r.headers, e.checkGRPC(t, req), w)
	if e.httpOK && httpCarries(r) {
		hw := w
		if len(httpWant) > 0 {
			hw = httpWant[0]
		}
		assertOutcome(t, r.headers, e.checkHTTP(t, r), hw)
	}
}

// runRaw sends a hand-built CheckRequest (shapes Envoy never produces or
// that HTTP cannot carry) through gRPC only.
func (e *env) runRaw(t *testing.T, req *authv3.CheckRequest, w want) {
	t.Helper()
	var sent []string
	for k, v := range req.GetAttributes().GetRequest().GetHttp().GetHeaders() {
		sent = append(sent, k+": "+v)
	}
	for _, hv := range req.GetAttributes().GetRequest().GetHttp().GetHeaderMap().GetHeaders() {
		sent = append(sent, hv.GetKey()+": "+string(hv.GetRawValue())+hv.GetValue())
	}
	assertOutcome(t, sent, e.checkGRPC(t, req), w)
}

// httpCarries reports whether the HTTP/1.1 wire can carry r unchanged: no
// control bytes, a parseable source address, an origin-form target.
func httpCarries(r in) bool {
	if _, err := netip.ParseAddr(r.source); err != nil {
		return false
	}
	size := 0
	for _, h := range r.headers {
		size += len(h)
	}
	if size > 60<<10 {
		return false // Envoy answers 431 before ext_authz runs
	}
	for _, s := range append([]string{r.method, r.host, r.path}, r.headers...) {
		if strings.ContainsAny(s, "\r\n\x00\t") || strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
			return false
		}
	}
	return r.path != "" && r.path[0] == '/' && !strings.Contains(r.path, " ") && !strings.ContainsAny(r.host, " /")
}

func assertOutcome(t *testing.T, sent []string, o outcome, w want) {
	t.Helper()
	where := o.transport
	if len(w.any) > 0 {
		if !slices.Contains(w.any, o.status) {
			t.Errorf("%s: status %d (reason %q), want one of %v", where, o.status, o.reason, w.any)
			return
		}
		if w.reason != "" && !slices.Contains(strings.Split(w.reason, "|"), o.reason) {
			t.Errorf("%s: reason %q, want %s", where, o.reason, w.reason)
		}
		if o.status != 200 {
			assertDeny(t, o, w)
		}
		return
	}
	if o.status != w.status {
		t.Errorf("%s: status %d (reason %q), want %d (%s)", where, o.status, o.reason, w.status, w.reason)
		return
	}
	if w.reason != "" && !slices.Contains(strings.Split(w.reason, "|"), o.reason) {
		t.Errorf("%s: reason %q, want %s", where, o.reason, w.reason)
	}
	if o.status != 200 {
		assertDeny(t, o, w)
		return
	}
	if o.code != 0 {
		t.Errorf("%s: allow with grpc code %d", where, o.code)
	}
	if !o.overwrite {
		t.Errorf("%s: upstream headers not set with append=false and OVERWRITE_IF_EXISTS_OR_ADD", where)
	}
	up := upstream(sent, o)
	got := up[userHeader]
	switch {
	case w.user == "" && len(got) != 0:
		t.Errorf("%s: upstream receives %s %q on a %s allow", where, userHeader, got, o.reason)
	case w.user != "" && (len(got) != 1 || got[0] != w.user):
		t.Errorf("%s: upstream %s = %q, want exactly [%q]", where, userHeader, got, w.user)
	}
	if w.groups != "" {
		if g := up["x-forwarded-groups"]; len(g) != 1 || g[0] != w.groups {
			t.Errorf("%s: upstream groups = %q, want %q", where, g, w.groups)
		}
	}
	for _, h := range spoofable {
		if h == userHeader || h == "x-forwarded-groups" && w.groups != "" {
			continue
		}
		if _, set := o.headers[h]; !set && len(up[h]) > 0 {
			t.Errorf("%s: client-supplied %s reaches the upstream", where, h)
		}
	}
	if !w.keep && len(up["authorization"]) > 0 {
		t.Errorf("%s: Authorization reaches the upstream on a bearer allow", where)
	}
}

func assertDeny(t *testing.T, o outcome, w want) {
	t.Helper()
	where := o.transport
	wantCode := map[int]int32{400: 3, 401: 16, 403: 7, 503: 14}[o.status]
	if o.code != wantCode {
		t.Errorf("%s: status %d with grpc code %d, want %d", where, o.status, o.code, wantCode)
	}
	ch, has := o.headers["www-authenticate"]
	if strings.Contains(strings.ToLower(ch), "basic") {
		t.Errorf("%s: a Basic challenge: %q", where, ch)
	}
	if strings.ContainsAny(ch, "\r\n") {
		t.Errorf("%s: CR/LF in the challenge", where)
	}
	prefix := `Bearer realm="` + realm + `"`
	switch {
	case w.err == "?":
		if o.status == 401 && !strings.HasPrefix(ch, prefix) {
			t.Errorf("%s: 401 challenge %q does not start with %q", where, ch, prefix)
		}
	case o.status == 401 && w.err == "":
		if ch != prefix {
			t.Errorf("%s: challenge %q, want exactly %q (no error code)", where, ch, prefix)
		}
	case w.err == "none":
		if has && (w.status != 403 || strings.Contains(ch, "invalid_token")) {
			t.Errorf("%s: unexpected challenge %q", where, ch)
		}
	case w.err != "":
		if !strings.HasPrefix(ch, prefix+`, error="`+w.err+`"`) {
			t.Errorf("%s: challenge %q, want error=%q", where, ch, w.err)
		}
	}
	if o.status == 503 {
		if ra, err := strconv.Atoi(o.headers["retry-after"]); err != nil || ra <= 0 {
			t.Errorf("%s: 503 without a Retry-After: %q", where, o.headers["retry-after"])
		}
	}
	if _, ok := o.headers["set-cookie"]; ok {
		t.Errorf("%s: Set-Cookie on a denial", where)
	}
	if strings.Contains(o.body, "eyJ") || strings.Contains(o.body, "goroutine ") {
		t.Errorf("%s: token or stack in the deny body: %.200q", where, o.body)
	}
}

// upstream applies an allow the way Envoy does (removals, then sets with
// overwrite) to the headers the client sent, and returns what the upstream
// receives, by lower-case name.
func upstream(sent []string, o outcome) map[string][]string {
	up := map[string][]string{}
	for _, h := range sent {
		k, v, _ := strings.Cut(h, ":")
		k = strings.ToLower(strings.TrimSpace(k))
		if strings.HasPrefix(k, ":") {
			continue
		}
		up[k] = append(up[k], strings.TrimSpace(v))
	}
	for _, r := range o.remove {
		delete(up, strings.ToLower(r))
	}
	for k, v := range o.headers {
		up[k] = []string{v}
	}
	return up
}

// rawRequest is R0 with the given header_map (encode_raw_headers shape):
// pseudo-headers added, no headers map.
func rawRequest(t testing.TB, hm []*corev3.HeaderValue) *authv3.CheckRequest {
	t.Helper()
	req, err := envoy.NewCheckRequest(envoy.CheckInput{Host: jiraHost, Path: myself, SourceIP: inside})
	if err != nil {
		t.Fatal(err)
	}
	http := req.Attributes.Request.Http
	for k, v := range http.Headers {
		hm = append(hm, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
	}
	http.Headers = nil
	http.HeaderMap = &corev3.HeaderMap{Headers: hm}
	return req
}

// rawFlat is R0 with extra entries in the headers map, as given (keys
// untouched).
func rawFlat(t testing.TB, extra map[string]string) *authv3.CheckRequest {
	t.Helper()
	req, err := envoy.NewCheckRequest(envoy.CheckInput{Host: jiraHost, Path: myself, SourceIP: inside})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		req.Attributes.Request.Http.Headers[k] = v
	}
	return req
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// mustReq builds the CheckRequest of r (R0's defaults).
func mustReq(t testing.TB, r in) *authv3.CheckRequest {
	t.Helper()
	r = r.withDefaults()
	req, err := envoy.NewCheckRequest(envoy.CheckInput{Method: r.method, Host: r.host, Path: r.path, Headers: r.headers, SourceIP: r.source})
	if err != nil {
		t.Fatal(err)
	}
	return req
}
