package envoy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/restguard/restguard/authz"
)

// This file is the HTTP transport, next to the gRPC one: one endpoint that
// answers Envoy's ext_authz http_service, nginx auth_request, ingress-nginx
// auth-url, Caddy forward_auth or Traefik ForwardAuth, with the same Engine
// and the same answers as Server.Check (it renders ToResponse's plan as
// HTTP). See docs/deploy.md for the proxy configurations.
//
// Which request is being authorized depends on the proxy, and the proxy is
// configuration (HTTPOptions.Style, forward_auth.style), never inferred
// from the request: a client can add any header its proxy passes on, so a
// style chosen by the headers present is a style chosen by the client.
// Each style reads exactly the parts its proxy sets itself (see Style);
// every other reconstruction header that is present, whoever sent it, must
// say the same method, target and host, or the request is refused as
// malformed (400). A reconstruction header sent twice is refused too.
//
// Answers: allow is exactly 200 (Envoy denies any other 2xx) with an empty
// body, the identity headers (UpstreamHeaders) as response headers and the
// removals in x-envoy-auth-headers-to-remove. A denial carries the gRPC
// path's status, WWW-Authenticate, Retry-After, X-Restguard-Reason,
// content type and JSON body. No engine, no style, a panic, anything
// unexpected: 503, never 2xx. Health endpoints live on the admin listener
// only: Envoy forwards arbitrary client paths under the prefix.

// DefaultPathPrefix is the forward-auth path when HTTPOptions.PathPrefix is
// empty.
const DefaultPathPrefix = "/ext-authz"

// Style is the proxy that calls the forward-auth endpoint, and therefore
// which parts of its request describe the original request. One listener
// has one style.
//
// What each proxy sets itself (overwriting a client's copy) and what it
// passes on from the client decides what a style may read:
//
//   - StyleEnvoy, Envoy's ext_authz http_service: the request line is the
//     original method and path_prefix + :path (with the query); Host is the
//     original :authority (envoy.extensions.filters.http.ext_authz.v3
//     HttpService; reference/extauthz-protocol.md). Reads the request line
//     and Host.
//   - StyleNginx, nginx auth_request: a GET subrequest to the auth location
//     carrying every client header (proxy_pass_request_headers on), with
//     only what the location sets through proxy_set_header replaced. The
//     configuration must set X-Original-Method $request_method,
//     X-Original-URI $request_uri and Host $host (otherwise nginx sends the
//     upstream's name, $proxy_host). Reads those three.
//   - StyleIngressNginx, Kubernetes ingress-nginx auth-url: the generated
//     auth location (rootfs/etc/nginx/template/nginx.tmpl) sets Host to the
//     auth-url's own host, X-Original-URL $scheme://$http_host$request_uri,
//     X-Original-Method $request_method, X-Original-URI $request_uri only
//     with auth-method, and passes every client header on. $http_host is
//     the client's Host header, which is not the host nginx routed on when
//     the request line is in absolute form (nginx then routes on the
//     line's host), so this style also requires X-Forwarded-Host $host,
//     added with the auth-proxy-set-headers annotation. Reads
//     X-Original-Method, X-Original-URL and X-Forwarded-Host; Host is the
//     auth service's and is ignored.
//   - StyleCaddy, Caddy forward_auth (2.5.1 and later;
//     modules/caddyhttp/reverseproxy/forwardauth/caddyfile.go): a GET to
//     uri with X-Forwarded-Method {http.request.method} and X-Forwarded-Uri
//     {http.request.uri} set; reverse_proxy passes Host through unchanged
//     and sets X-Forwarded-Host to it, replacing a client's copy unless the
//     client is in trusted_proxies (Caddy 2.5.0, caddyserver/caddy#4507).
//     Reads X-Forwarded-Method, X-Forwarded-Uri and X-Forwarded-Host; Host
//     must agree.
//   - StyleTraefik, Traefik ForwardAuth (pkg/middlewares/auth/forward.go,
//     writeHeader): a new GET (the original method with
//     preserveRequestMethod) to address, so Host is the auth service's;
//     X-Forwarded-Method, X-Forwarded-Uri and X-Forwarded-Host are set from
//     the request, replacing a client's copies unless trustForwardHeader.
//     Reads those three; Host is ignored.
//
// In every style, each host source that is present and meaningful for it
// (Host where the proxy passes the original one, X-Forwarded-Host, the
// host of X-Original-URL, the host of an absolute X-Forwarded-Uri) must
// agree with the host the style read, compared the way the router compares
// hosts (ASCII case-insensitively, without the port and a trailing dot;
// policy.NormalizeHost).
type Style string

// The forward-auth styles.
const (
	StyleEnvoy        Style = "envoy"
	StyleNginx        Style = "nginx"
	StyleIngressNginx Style = "ingress-nginx"
	StyleCaddy        Style = "caddy"
	StyleTraefik      Style = "traefik"
)

// Styles returns every style, in documentation order.
func Styles() []Style {
	return []Style{StyleEnvoy, StyleNginx, StyleIngressNginx, StyleCaddy, StyleTraefik}
}

func (s Style) valid() bool {
	for _, v := range Styles() {
		if s == v {
			return true
		}
	}
	return false
}

// hostFromHost reports whether the style's proxy sends the original host
// as Host (Traefik and ingress-nginx send the auth service's own).
func (s Style) hostFromHost() bool {
	return s == StyleEnvoy || s == StyleNginx || s == StyleCaddy
}

// HTTPOptions configure NewHTTPHandler.
type HTTPOptions struct {
	// Style is the proxy in front (required): without a valid style every
	// request is answered 503 and the problem is logged.
	Style Style
	// PathPrefix is the endpoint's path, e.g. "/ext-authz"
	// (DefaultPathPrefix when empty). In StyleEnvoy it is Envoy's
	// http_service path_prefix and requests come as PathPrefix + "/...";
	// the other styles call PathPrefix itself (with a query at most, which
	// is ignored). It must start with "/", must not end with "/" and may
	// contain only unreserved characters and "/"; otherwise every request
	// is answered 503 and the problem is logged.
	PathPrefix string
}

// Request headers of the header-style proxies, in canonical form.
const (
	HeaderOriginalURI     = "X-Original-Uri"     // nginx auth_request idiom: $request_uri
	HeaderOriginalMethod  = "X-Original-Method"  // nginx: $request_method; ingress-nginx
	HeaderOriginalURL     = "X-Original-Url"     // ingress-nginx: $scheme://$http_host$request_uri
	HeaderForwardedURI    = "X-Forwarded-Uri"    // Caddy forward_auth, Traefik ForwardAuth
	HeaderForwardedMethod = "X-Forwarded-Method" // Caddy forward_auth, Traefik ForwardAuth
	HeaderForwardedHost   = "X-Forwarded-Host"   // Caddy, Traefik; ingress-nginx via auth-proxy-set-headers
)

// HeadersToRemoveHeader lists, comma-separated, the request headers Envoy's
// http_service removes from an allowed request (it strips the header
// itself). nginx and Caddy ignore it; their configurations remove client
// identity headers explicitly.
const HeadersToRemoveHeader = "x-envoy-auth-headers-to-remove"

// notReadyRetryAfter is advertised while no engine is loaded.
const notReadyRetryAfter = 5 * time.Second

// httpHandler serves the forward-auth endpoint.
type httpHandler struct {
	engine func() *authz.Engine
	style  Style
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
	h := &httpHandler{engine: engine, style: o.Style, prefix: o.PathPrefix, log: logger}
	if h.prefix == "" {
		h.prefix = DefaultPathPrefix
	}
	switch {
	case !h.style.valid():
		h.bad = fmt.Errorf("envoy: forward-auth style %q is not one of %v (the proxy in front decides)", h.style, Styles())
	default:
		h.bad = ValidPathPrefix(h.prefix)
	}
	if h.bad != nil {
		logger.Error("forward-auth handler misconfigured; answering 503 to every check", "error", h.bad)
	}
	return h
}

// ValidPathPrefix reports whether p can be HTTPOptions.PathPrefix.
func ValidPathPrefix(p string) error {
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
			writeDecision(w, &d, requestID)
		}
	}()

	if h.bad != nil {
		d := authz.Deny(authz.Unavailable, authz.ReasonInternalError, h.bad.Error())
		wrote = true
		writeDecision(w, &d, "")
		return
	}
	line, ok := h.split(r.RequestURI)
	if !ok {
		// Not a check: Envoy relays the 404 to the client as a denial
		// (path_prefix missing?), nginx turns it into 500.
		wrote = true
		w.Header().Set("Cache-Control", "no-store")
		want := h.prefix
		if h.style == StyleEnvoy {
			want += "/<original path>"
		}
		http.Error(w, "restguard: not a forward-auth path (style "+string(h.style)+" expects "+want+")", http.StatusNotFound)
		return
	}
	req := toHTTPRequest(r, h.style, line)
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
	wrote = true
	writeDecision(w, &d, requestID)
}

// split returns the original request target carried by the request line
// (StyleEnvoy) and whether the request is a check at all. Envoy calls
// prefix + the original path; the other proxies call exactly the prefix,
// and the line's query, if any, is theirs, not the client's.
func (h *httpHandler) split(uri string) (line string, ok bool) {
	rest, found := strings.CutPrefix(uri, h.prefix)
	switch {
	case !found:
		return "", false
	case h.style == StyleEnvoy:
		if rest != "" && rest[0] == '/' {
			return rest, true
		}
		return "", false // "/ext-authz", "/ext-authzfoo"
	default:
		return "", rest == "" || rest[0] == '?'
	}
}

// toHTTPRequest builds the authz.Request of a forward-auth call in style.
// Like ToRequest it makes no decision: contradictions are marked
// Malformed (the first one found is kept).
func toHTTPRequest(r *http.Request, style Style, line string) *authz.Request {
	// net/http has canonicalised every key it could (and merged the lines
	// of one name), which is all a copy under http.CanonicalHeaderKey
	// would do: the request's own map is used as it is, read only.
	req := &authz.Request{Header: r.Header}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	t := translator{r: req}
	for _, vs := range r.Header {
		for _, v := range vs {
			if hasCRLFNUL(v) {
				t.malformed("header value contains CR, LF or NUL")
			}
		}
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && ap.Addr().Zone() == "" {
		req.Source = ap.Addr().Unmap()
	}
	if ids := req.Header.Values("X-Request-Id"); len(ids) == 1 && usableRequestID(ids[0]) {
		req.ID = ids[0]
	}

	o := readOriginal(&t, req.Header)
	method, target, host := t.styleOriginal(r, style, line, o)
	t.checkAgreement(r, style, o, method, target, host)
	if method != "" && !isToken(method) {
		t.malformed("invalid method")
	}
	if host == "" || hasCRLFNUL(host) || strings.ContainsAny(host, " ,/@") {
		t.malformed("invalid host")
	}
	req.Method, req.Host = method, host
	t.setTarget(target)
	return req
}

// styleOriginal reads the original method, target and host where style
// says its proxy puts them (docs/deploy.md); a missing one is malformed.
// Envoy's http_service sends the original request line itself.
func (t *translator) styleOriginal(r *http.Request, style Style, line string, o original) (method, target, host string) {
	need := func(v, name string) string {
		if v == "" {
			t.malformed(string(style) + " style: no " + name + " (the proxy must set it; see docs/deploy.md)")
		}
		return v
	}
	switch style {
	case StyleEnvoy:
		return r.Method, line, r.Host
	case StyleNginx:
		return need(o.origMethod, HeaderOriginalMethod), need(o.origURI, HeaderOriginalURI), need(r.Host, "Host")
	case StyleIngressNginx:
		return need(o.origMethod, HeaderOriginalMethod), need(o.urlTarget, HeaderOriginalURL), need(o.fwdHost, HeaderForwardedHost)
	case StyleCaddy, StyleTraefik:
		return need(o.fwdMethod, HeaderForwardedMethod), need(o.fwdURI, HeaderForwardedURI), need(o.fwdHost, HeaderForwardedHost)
	default:
		t.malformed("unknown forward-auth style")
		return "", "", ""
	}
}

// checkAgreement marks the request malformed when any reconstruction
// header present, the style's own among them, disagrees with the original
// method, target or host: a component behind the proxy may read another
// one than restguard did.
func (t *translator) checkAgreement(r *http.Request, style Style, o original, method, target, host string) {
	for _, m := range []struct{ name, v string }{{HeaderOriginalMethod, o.origMethod}, {HeaderForwardedMethod, o.fwdMethod}} {
		if m.v != "" && m.v != method {
			t.malformed(m.name + " disagrees with the original method")
		}
	}
	for _, u := range []struct{ name, v string }{{HeaderOriginalURI, o.origURI}, {HeaderForwardedURI, o.fwdURI}, {HeaderOriginalURL, o.urlTarget}} {
		if u.v != "" && u.v != target {
			t.malformed(u.name + " disagrees with the original target")
		}
	}
	hosts := []struct{ name, v string }{{HeaderForwardedHost, o.fwdHost}, {HeaderOriginalURL, o.urlHost}, {HeaderForwardedURI, o.fwdURIHost}}
	if style.hostFromHost() {
		hosts = append(hosts, struct{ name, v string }{"Host", r.Host})
	}
	for _, hs := range hosts {
		if hs.v != "" && !sameHost(hs.v, host) {
			t.malformed(hs.name + " host disagrees with the original host")
		}
	}
}

// original is what the reconstruction headers say, each read once. A
// header that is absent reads "".
type original struct {
	origMethod string // X-Original-Method
	fwdMethod  string // X-Forwarded-Method
	origURI    string // X-Original-URI, as sent
	fwdURI     string // X-Forwarded-Uri in origin form (the path and query of an absolute one)
	fwdURIHost string // the host of an absolute X-Forwarded-Uri
	urlTarget  string // the path and query of X-Original-URL
	urlHost    string // the host of X-Original-URL
	fwdHost    string // X-Forwarded-Host
}

// readOriginal reads every reconstruction header, whichever the style.
// Each may appear once and must not be empty.
func readOriginal(t *translator, h http.Header) original {
	one := func(name string) string {
		vs := h.Values(name)
		switch len(vs) {
		case 0:
			return ""
		case 1:
			if vs[0] == "" {
				t.malformed("empty " + name)
			}
			return vs[0]
		default:
			t.malformed("duplicate " + name)
			return vs[0]
		}
	}
	o := original{
		origMethod: one(HeaderOriginalMethod),
		fwdMethod:  one(HeaderForwardedMethod),
		origURI:    one(HeaderOriginalURI),
		fwdURI:     one(HeaderForwardedURI),
		fwdHost:    one(HeaderForwardedHost),
	}
	if u := o.fwdURI; u != "" && u[0] != '/' {
		// Absolute form: its host is one more host source.
		if host, target, ok := splitAbsoluteURL(u); ok {
			o.fwdURIHost, o.fwdURI = host, target
		}
	}
	if u := one(HeaderOriginalURL); u != "" {
		host, target, ok := splitAbsoluteURL(u)
		if !ok {
			t.malformed(HeaderOriginalURL + " is not an absolute http(s) URL")
		}
		o.urlHost, o.urlTarget = host, target
	}
	return o
}

// sameHost reports whether two host sources name the same host as the
// router sees it (policy.NormalizeHost, which this package cannot import):
// ASCII case-insensitively, without a numeric port and without one
// trailing dot. Anything else must match exactly.
func sameHost(a, b string) bool {
	return hostKey(a) == hostKey(b)
}

func hostKey(h string) string {
	if strings.HasPrefix(h, "[") {
		if end := strings.IndexByte(h, ']'); end >= 0 && (end == len(h)-1 || h[end+1] == ':' && allDigits(h[end+2:])) {
			h = h[:end+1]
		}
	} else if i := strings.IndexByte(h, ':'); i >= 0 && allDigits(h[i+1:]) {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	b := []byte(h)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
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

// writeDecision renders the answer to d (ToResponse's plan, without the
// protobuf messages) the way the HTTP proxies read it. Only an allow
// answers 200; everything else is a 4xx/5xx denial.
func writeDecision(w http.ResponseWriter, d *authz.Decision, requestID string) {
	var a reply
	a.plan(d, requestID)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if a.allow && a.code == codes.OK {
		for _, hv := range a.headers() {
			name := hv.Name // a token: Set canonicalises its case
			if !isToken(name) {
				name = strings.ToLower(name) // as the gRPC answer sends it
			}
			h.Set(name, hv.Value)
		}
		if len(a.remove) > 0 {
			h.Set(HeadersToRemoveHeader, strings.Join(a.remove, ", "))
		}
		for _, m := range a.meta() {
			if m.key == MetaReason && !m.isBool && m.str != "" {
				h.Set(ReasonHeader, m.str)
			}
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	status := int(a.httpStatus)
	if status < 400 || status > 599 {
		status = http.StatusForbidden
	}
	for _, hv := range a.headers() {
		h.Set(hv.Name, hv.Value)
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, a.body)
}
