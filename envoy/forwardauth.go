package envoy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"

	"github.com/restguard/restguard/authz"
)

// This file is the HTTP transport, next to the gRPC one: one endpoint
// family that answers Envoy's ext_authz http_service, nginx auth_request,
// Caddy forward_auth and Traefik ForwardAuth, with the same Engine and the
// same answers as Server.Check (it renders ToResponse's CheckResponse as
// HTTP). See docs/deploy.md for the proxy configurations.
//
// Which request is being authorized:
//
//   - PathPrefix + "/..." (Envoy http_service): the request line is the
//     original request. Envoy sends the original method and
//     path_prefix + :path (with the query); Host is the original
//     :authority.
//   - exactly PathPrefix (optionally with a query, which is ignored): a
//     header-style proxy. The original request is rebuilt from
//     X-Original-URI / X-Original-Method (nginx auth_request; ingress-nginx
//     sends X-Original-URL) or X-Forwarded-Uri / X-Forwarded-Method /
//     X-Forwarded-Host (Caddy forward_auth, Traefik ForwardAuth).
//
// Trust: these headers decide which path, method and host are authorized,
// so the proxy must set them itself, overwriting anything the client sent
// (nginx proxy_set_header does; Caddy and Traefik set theirs). A client can
// still add the headers of the *other* style, which the proxy passes on
// untouched; therefore every reconstruction header present must agree with
// the others and, in Envoy style, with the request line, or the request is
// refused as malformed (400). A header line sent twice is refused too.
//
// Answers: allow is exactly 200 (Envoy denies any other 2xx) with an empty
// body, the identity headers (UpstreamHeaders) as response headers and the
// removals in x-envoy-auth-headers-to-remove. A denial carries the gRPC
// path's status, WWW-Authenticate, Retry-After, X-Restguard-Reason,
// content type and JSON body. No engine, a panic, anything unexpected: 503,
// never 2xx. Health endpoints live on the admin listener only: Envoy
// forwards arbitrary client paths under the prefix.

// DefaultPathPrefix is the forward-auth path when HTTPOptions.PathPrefix is
// empty.
const DefaultPathPrefix = "/ext-authz"

// HTTPOptions configure NewHTTPHandler.
type HTTPOptions struct {
	// PathPrefix is Envoy's http_service path_prefix, e.g. "/ext-authz"
	// (DefaultPathPrefix when empty). Header-style proxies call PathPrefix
	// itself. It must start with "/", must not end with "/" and may contain
	// only unreserved characters and "/"; otherwise every request is
	// answered 503 and the problem is logged.
	PathPrefix string
}

// Request headers of the header-style proxies, in canonical form.
const (
	HeaderOriginalURI     = "X-Original-Uri"     // nginx auth_request idiom: $request_uri
	HeaderOriginalMethod  = "X-Original-Method"  // nginx: $request_method; ingress-nginx
	HeaderOriginalURL     = "X-Original-Url"     // ingress-nginx: $scheme://$http_host$request_uri
	HeaderForwardedURI    = "X-Forwarded-Uri"    // Caddy forward_auth, Traefik ForwardAuth
	HeaderForwardedMethod = "X-Forwarded-Method" // Caddy forward_auth, Traefik ForwardAuth
	HeaderForwardedHost   = "X-Forwarded-Host"   // Caddy (reverse_proxy), Traefik
)

// HeadersToRemoveHeader lists, comma-separated, the request headers Envoy's
// http_service removes from an allowed request (it strips the header
// itself). nginx and Caddy ignore it; their configurations remove client
// identity headers explicitly.
const HeadersToRemoveHeader = "x-envoy-auth-headers-to-remove"

// notReadyRetryAfter is advertised while no engine is loaded.
const notReadyRetryAfter = 5 * time.Second

// httpHandler serves the forward-auth endpoint family.
type httpHandler struct {
	engine func() *authz.Engine
	prefix string
	bad    error // invalid options: every request gets 503
	log    *slog.Logger
}

// NewHTTPHandler returns the forward-auth handler. engine is asked for the
// current Engine on every request (nil until the first configuration
// loads: 503 not_ready). The handler is safe for concurrent use.
func NewHTTPHandler(engine func() *authz.Engine, o HTTPOptions, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &httpHandler{engine: engine, prefix: o.PathPrefix, log: logger}
	if h.prefix == "" {
		h.prefix = DefaultPathPrefix
	}
	if err := validPathPrefix(h.prefix); err != nil {
		h.bad = err
		logger.Error("forward-auth handler misconfigured; answering 503 to every check", "error", err)
	}
	return h
}

func validPathPrefix(p string) error {
	if len(p) < 2 || p[0] != '/' || p[len(p)-1] == '/' {
		return fmt.Errorf("envoy: path prefix %q must start with / and not end with /", p)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			continue
		}
		return fmt.Errorf("envoy: path prefix %q: only letters, digits, -._~ and / are allowed", p)
	}
	return nil
}

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var requestID string
	wrote := false
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		d := authz.Deny(authz.Unavailable, authz.ReasonInternalError, "")
		d.ID = authz.NewDecisionID()
		d.RetryAfter = time.Second
		h.log.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelError, "forward-auth check panicked",
			slog.String(authz.LogDecisionID, d.ID),
			slog.String(authz.LogRequestID, requestID),
			slog.String("panic", fmt.Sprint(v)),
			slog.String("stack", string(debug.Stack())))
		if !wrote {
			clear(w.Header())
			writeResponse(w, ToResponse(&d, requestID))
		}
	}()

	if h.bad != nil {
		d := authz.Deny(authz.Unavailable, authz.ReasonInternalError, h.bad.Error())
		wrote = true
		writeResponse(w, ToResponse(&d, ""))
		return
	}
	line, envoyStyle, ok := h.split(r.RequestURI)
	if !ok {
		// Not a check: Envoy relays the 404 to the client as a denial
		// (path_prefix missing?), nginx turns it into 500.
		wrote = true
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "restguard: not a forward-auth path (expected "+h.prefix+" or "+h.prefix+"/...)", http.StatusNotFound)
		return
	}
	req := toHTTPRequest(r, line, envoyStyle)
	requestID = req.ID

	var eng *authz.Engine
	if h.engine != nil {
		eng = h.engine()
	}
	var d authz.Decision
	if eng == nil {
		d = authz.Deny(authz.Unavailable, authz.ReasonNotReady, "no configuration loaded")
		d.RetryAfter = notReadyRetryAfter
	} else {
		d = eng.Check(r.Context(), req)
	}
	resp := ToResponse(&d, requestID)
	wrote = true
	writeResponse(w, resp)
}

// split returns the original request target carried by the request line
// (Envoy style) and whether the request is for this endpoint family.
func (h *httpHandler) split(uri string) (line string, envoyStyle, ok bool) {
	rest, found := strings.CutPrefix(uri, h.prefix)
	switch {
	case !found:
		return "", false, false
	case rest == "" || rest[0] == '?':
		return "", false, true // header style; the line's query is the proxy's, not the client's
	case rest[0] == '/':
		return rest, true, true
	default:
		return "", false, false // "/ext-authzfoo"
	}
}

// toHTTPRequest builds the authz.Request of a forward-auth call. Like
// ToRequest it makes no decision: contradictions are marked Malformed.
func toHTTPRequest(r *http.Request, line string, envoyStyle bool) *authz.Request {
	req := &authz.Request{Header: make(http.Header, len(r.Header))}
	t := translator{r: req}
	for k, vs := range r.Header {
		ck := http.CanonicalHeaderKey(k)
		for _, v := range vs {
			if hasCRLFNUL(v) {
				t.malformed("header value contains CR, LF or NUL")
			}
		}
		req.Header[ck] = append(req.Header[ck], vs...)
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && ap.Addr().Zone() == "" {
		req.Source = ap.Addr().Unmap()
	}
	if ids := req.Header.Values("X-Request-Id"); len(ids) == 1 && usableRequestID(ids[0]) {
		req.ID = ids[0]
	}

	o := readOriginal(&t, req.Header)
	var method, target, host string
	if envoyStyle {
		method, target, host = r.Method, line, r.Host
		if o.method != "" && o.method != method {
			t.malformed("forward-auth method header disagrees with the request line")
		}
		if o.target != "" && o.target != target {
			t.malformed("forward-auth URI header disagrees with the request line")
		}
		if o.urlHost != "" && !strings.EqualFold(o.urlHost, host) {
			t.malformed(HeaderOriginalURL + " host disagrees with Host")
		}
	} else {
		method, target = o.method, o.target
		if method == "" {
			t.malformed("no original method (" + HeaderOriginalMethod + " or " + HeaderForwardedMethod + ")")
		}
		if target == "" {
			t.malformed("no original URI (" + HeaderOriginalURI + ", " + HeaderOriginalURL + " or " + HeaderForwardedURI + ")")
		}
		host = o.host(r.Host, &t)
	}
	if method != "" && !isToken(method) {
		t.malformed("invalid method")
	}
	if hasCRLFNUL(host) || strings.ContainsAny(host, " ,/@") {
		t.malformed("invalid host")
	}
	req.Method, req.Host = method, host
	t.setTarget(target)
	return req
}

// original is what the reconstruction headers say.
type original struct {
	method     string // agreed X-Original-Method / X-Forwarded-Method
	target     string // agreed X-Original-URI / X-Forwarded-Uri / path of X-Original-URL
	urlHost    string // host of X-Original-URL
	fwdHost    string // X-Forwarded-Host
	forwarded  bool   // a Caddy/Traefik-style header is present
	hasFwdHost bool
}

// readOriginal reads every reconstruction header. Each may appear once, and
// all that are present must agree.
func readOriginal(t *translator, h http.Header) original {
	var o original
	one := func(name string) (string, bool) {
		vs := h.Values(name)
		switch len(vs) {
		case 0:
			return "", false
		case 1:
			if vs[0] == "" {
				t.malformed("empty " + name)
			}
			return vs[0], true
		default:
			t.malformed("duplicate " + name)
			return vs[0], true
		}
	}
	agree := func(dst *string, name, v string) {
		if *dst != "" && *dst != v {
			t.malformed("forward-auth headers disagree (" + name + ")")
			return
		}
		*dst = v
	}
	if v, ok := one(HeaderOriginalMethod); ok {
		agree(&o.method, HeaderOriginalMethod, v)
	}
	if v, ok := one(HeaderForwardedMethod); ok {
		o.forwarded = true
		agree(&o.method, HeaderForwardedMethod, v)
	}
	if v, ok := one(HeaderOriginalURI); ok {
		agree(&o.target, HeaderOriginalURI, v)
	}
	if v, ok := one(HeaderForwardedURI); ok {
		o.forwarded = true
		agree(&o.target, HeaderForwardedURI, v)
	}
	if v, ok := one(HeaderOriginalURL); ok {
		host, target, good := splitAbsoluteURL(v)
		if !good {
			t.malformed(HeaderOriginalURL + " is not an absolute http(s) URL")
		} else {
			o.urlHost = host
			agree(&o.target, HeaderOriginalURL, target)
		}
	}
	o.fwdHost, o.hasFwdHost = one(HeaderForwardedHost)
	return o
}

// host chooses the original host in header style:
//   - X-Original-URL (ingress-nginx): its host; X-Forwarded-Host must agree.
//   - Caddy/Traefik: X-Forwarded-Host, which they set themselves, else Host
//     (Caddy passes the original Host through).
//   - nginx: Host (proxy_set_header Host $host; nginx always overwrites
//     Host, so a client cannot choose it); X-Forwarded-Host must agree,
//     because nginx passes a client's copy on unless told to set it.
func (o original) host(hostHeader string, t *translator) string {
	switch {
	case o.urlHost != "":
		if o.hasFwdHost && !strings.EqualFold(o.fwdHost, o.urlHost) {
			t.malformed(HeaderForwardedHost + " disagrees with " + HeaderOriginalURL)
		}
		return o.urlHost
	case o.forwarded:
		if o.hasFwdHost {
			return o.fwdHost
		}
		return hostHeader
	default:
		if o.hasFwdHost && !strings.EqualFold(o.fwdHost, hostHeader) {
			t.malformed(HeaderForwardedHost + " disagrees with Host")
		}
		return hostHeader
	}
}

// splitAbsoluteURL splits "http(s)://host[:port]/path?query" into the host
// and the raw origin-form target, without decoding anything.
func splitAbsoluteURL(u string) (host, target string, ok bool) {
	scheme, rest, found := strings.Cut(u, "://")
	if !found || !strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https") {
		return "", "", false
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host, target = rest[:end], rest[end:]
	if host == "" || strings.Contains(host, "@") {
		return "", "", false
	}
	if target == "" || target[0] != '/' {
		target = "/" + target
	}
	return host, target, true
}

// writeResponse renders a CheckResponse the way the HTTP proxies read it.
// Only an OK status with an OkHttpResponse answers 200; everything else is
// a 4xx/5xx denial.
func writeResponse(w http.ResponseWriter, resp *authv3.CheckResponse) {
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
