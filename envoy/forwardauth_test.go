package envoy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/internal/idptest"
	"github.com/restguard/restguard/policy"
)

// bothConfig is the engine behind the both-transports table: a real
// configuration built by the config package against a real (loopback) IdP. The
// proxy (Envoy's peer for gRPC, the HTTP peer for forward-auth) is
// 127.0.0.1, trusted, so the client address comes from X-Forwarded-For.
const bothConfig = `
realm: jira
client_ip: {trusted_proxies: ["127.0.0.1/32"]}
providers:
  - name: idp
    issuer: %q
    audiences: [restguard]
    username: {claims: [preferred_username]}
    groups: {claim: groups}
rules:
  - {name: public, paths: ["/status", "/s/**"], action: pass, block_basic: {enabled: true}}
  - name: admin
    hosts: [jira.example.com]
    paths: ["/rest/api/2/admin/**"]
    authenticate: [idp]
    block_basic: {enabled: true}
    ip: {allow: ["192.0.2.0/24"]}
  - name: rest
    hosts: [jira.example.com]
    paths: ["/rest/**"]
    authenticate: [idp]
    block_basic: {enabled: true}
    groups: {any_of: [jira-api-users]}
default: {action: deny}
upstream: {user_header: X-Forwarded-User, groups_header: X-Forwarded-Groups}
`

// realEngine builds bothConfig against a fresh IdP with warm keys.
func realEngine(t *testing.T) (*authz.Engine, *idptest.IdP) {
	t.Helper()
	idp := idptest.New(t)
	cfg, err := config.Parse("both.yaml", []byte(fmt.Sprintf(bothConfig, idp.Issuer)))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := config.Build(cfg, config.BuildOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rt.Start(ctx)
	rctx, done := context.WithTimeout(ctx, 10*time.Second)
	defer done()
	if err := rt.Refresh(rctx); err != nil {
		t.Fatal(err)
	}
	return rt.Engine, idp
}

// answer is a decision as a client (deny) or upstream (allow) sees it,
// whatever the transport.
type answer struct {
	status    int
	reason    string
	challenge string
	retry     string
	ctype     string
	user      string // X-Forwarded-User on allow
	groups    string
	remove    []string // headers removed upstream on allow, sorted
	body      string
}

func (a answer) String() string {
	return fmt.Sprintf("%d %s challenge=%q retry=%q user=%q groups=%q remove=%v body=%s",
		a.status, a.reason, a.challenge, a.retry, a.user, a.groups, a.remove, a.body)
}

// call is one original request, as the client sent it to the proxy.
type call struct {
	method, host, path string // path with the query
	headers            []string
	xff                string // X-Forwarded-For as the proxy passes it on
}

// viaGRPC asks Server.Check over a real gRPC connection with an
// Envoy-shaped CheckRequest whose peer is the proxy.
func viaGRPC(t *testing.T, client authv3.AuthorizationClient, c call, id string) answer {
	t.Helper()
	headers := slices.Clone(c.headers)
	if c.xff != "" {
		headers = append(headers, "X-Forwarded-For: "+c.xff)
	}
	req, err := NewCheckRequest(CheckInput{Method: c.method, Host: c.host, Path: c.path, Headers: headers, SourceIP: "127.0.0.1", RequestID: id})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := client.Check(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	r := ReadResponse(resp)
	a := answer{status: r.Status, body: r.Body}
	a.reason, _ = r.Metadata[MetaReason].(string)
	for _, line := range r.Headers {
		name, value, _ := strings.Cut(line, ": ")
		switch name {
		case "www-authenticate":
			a.challenge = value
		case "retry-after":
			a.retry = value
		case "content-type":
			a.ctype = value
		case "x-forwarded-user":
			a.user = value
		case "x-forwarded-groups":
			a.groups = value
		}
	}
	if r.Allowed {
		a.remove = slices.Sorted(slices.Values(r.Remove))
	}
	return a
}

// caller is how one proxy asks the forward-auth endpoint about c: what it
// sets itself (overwriting a client's copy) on top of the client's headers,
// which it passes on.
type caller struct {
	style Style
	sets  []string // headers the proxy sets itself; a client cannot choose them
	build func(base string, c call) *http.Request
}

func newReq(t testing.TB, method, url string) *http.Request {
	r, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func addLines(r *http.Request, lines []string) {
	for _, l := range lines {
		k, v, _ := strings.Cut(l, ":")
		r.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
}

// callers are the five proxies as docs/deploy.md configures them (see
// Style for what each sets).
func callers(t testing.TB) []caller {
	return []caller{
		{StyleEnvoy, []string{"Host"}, func(base string, c call) *http.Request {
			// Original method, path_prefix + :path, original :authority.
			r := newReq(t, c.method, base+DefaultPathPrefix+c.path)
			r.Host = c.host
			addLines(r, c.headers)
			return r
		}},
		{StyleNginx, []string{"Host", HeaderOriginalURI, HeaderOriginalMethod}, func(base string, c call) *http.Request {
			// auth_request subrequest: always GET to the auth location;
			// the minimal block sets exactly these three.
			r := newReq(t, http.MethodGet, base+DefaultPathPrefix)
			addLines(r, c.headers)
			r.Host = c.host // proxy_set_header Host $host
			r.Header.Set(HeaderOriginalURI, c.path)
			r.Header.Set(HeaderOriginalMethod, c.method)
			return r
		}},
		{StyleIngressNginx, []string{"Host", HeaderOriginalURL, HeaderOriginalMethod, HeaderForwardedHost}, func(base string, c call) *http.Request {
			r := newReq(t, http.MethodGet, base+DefaultPathPrefix)
			addLines(r, c.headers)
			r.Host = "restguard.authz.svc" // the auth-url's host
			r.Header.Set(HeaderOriginalURL, "https://"+c.host+c.path)
			r.Header.Set(HeaderOriginalMethod, c.method)
			r.Header.Set(HeaderForwardedHost, c.host) // auth-proxy-set-headers: X-Forwarded-Host $host
			return r
		}},
		{StyleCaddy, []string{"Host", HeaderForwardedMethod, HeaderForwardedURI, HeaderForwardedHost}, func(base string, c call) *http.Request {
			// forward_auth: GET to uri, Host passed through, X-Forwarded-*.
			r := newReq(t, http.MethodGet, base+DefaultPathPrefix)
			addLines(r, c.headers)
			r.Host = c.host
			r.Header.Set(HeaderForwardedMethod, c.method)
			r.Header.Set(HeaderForwardedURI, c.path)
			r.Header.Set(HeaderForwardedHost, c.host)
			r.Header.Set("X-Forwarded-Proto", "https")
			return r
		}},
		{StyleTraefik, []string{"Host", HeaderForwardedMethod, HeaderForwardedURI, HeaderForwardedHost}, func(base string, c call) *http.Request {
			// ForwardAuth: GET to the address (Host is restguard's).
			r := newReq(t, http.MethodGet, base+DefaultPathPrefix)
			addLines(r, c.headers)
			r.Host = "restguard:9002"
			r.Header.Set(HeaderForwardedMethod, c.method)
			r.Header.Set(HeaderForwardedURI, c.path)
			r.Header.Set(HeaderForwardedHost, c.host)
			r.Header.Set("X-Forwarded-Proto", "https")
			return r
		}},
	}
}

// styleServers starts one forward-auth server per style on engine.
func styleServers(t *testing.T, engine *authz.Engine) map[Style]*httptest.Server {
	t.Helper()
	out := map[Style]*httptest.Server{}
	for _, st := range Styles() {
		srv := httptest.NewServer(NewHTTPHandler(func() *authz.Engine { return engine }, HTTPOptions{Style: st}, nil))
		t.Cleanup(srv.Close)
		out[st] = srv
	}
	return out
}

// viaHTTP sends r to the forward-auth server and reads the answer as a
// proxy does.
func viaHTTP(t *testing.T, hc *http.Client, r *http.Request) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := hc.Do(r.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	a := answer{
		status:    resp.StatusCode,
		reason:    resp.Header.Get(ReasonHeader),
		challenge: resp.Header.Get("WWW-Authenticate"),
		retry:     resp.Header.Get("Retry-After"),
		body:      string(body),
	}
	if resp.StatusCode == http.StatusOK {
		if len(body) != 0 {
			t.Errorf("allow with a body: %q", body)
		}
		a.user = resp.Header.Get("X-Forwarded-User")
		a.groups = resp.Header.Get("X-Forwarded-Groups")
		if v := resp.Header.Get(HeadersToRemoveHeader); v != "" {
			a.remove = strings.Split(v, ", ")
			slices.Sort(a.remove)
		}
	} else {
		a.ctype = resp.Header.Get("Content-Type")
	}
	return a
}

// TestBothTransportsSameDecision is the issue's "one table, both
// transports": every input goes through Server.Check over gRPC (Envoy's
// grpc_service) and through the forward-auth handler in each caller style,
// and every answer must be the same, down to the body.
func TestBothTransportsSameDecision(t *testing.T) {
	engine, idp := realEngine(t)
	get := func() *authz.Engine { return engine }
	client := authv3.NewAuthorizationClient(serve(t, NewServer(get, nil)))
	servers := styleServers(t, engine)

	alice := idp.Mint(t, map[string]any{"groups": []string{"jira-api-users", "devs"}})
	bob := idp.Mint(t, map[string]any{"preferred_username": "bob", "groups": []string{"devs"}})
	expired := idp.Mint(t, map[string]any{"iat": time.Now().Add(-time.Hour).Unix(), "exp": time.Now().Add(-30 * time.Minute).Unix()})
	const jira = "jira.example.com"
	bearer := func(tok string) string { return "Authorization: Bearer " + tok }
	// On a bearer allow the credential and every client identity header
	// go, except the ones restguard sets (overwritten instead).
	mustRemove := []string{"authorization", "proxy-authorization", "remote-user", "x-forwarded-email", "x_forwarded_user", "x_forwarded_groups"}

	tests := []struct {
		name   string
		call   call
		status int
		reason string
		user   string // identity header on allow
		chal   string // substring of WWW-Authenticate ("" = none)
	}{
		{"valid token in group", call{"GET", jira, "/rest/api/2/myself", []string{bearer(alice)}, "198.51.100.7"}, 200, "authenticated", "alice", ""},
		{"post with query", call{"POST", jira, "/rest/api/2/issue?updateHistory=true&x=%2F", []string{bearer(alice), "Content-Type: application/json"}, "198.51.100.7"}, 200, "authenticated", "alice", ""},
		{"spoofed identity header overwritten", call{"GET", jira, "/rest/api/2/myself", []string{bearer(alice), "X-Forwarded-User: admin"}, "198.51.100.7"}, 200, "authenticated", "alice", ""},
		{"not in group", call{"GET", jira, "/rest/api/2/myself", []string{bearer(bob)}, "198.51.100.7"}, 403, "group_missing", "", `error="insufficient_scope"`},
		{"expired token", call{"GET", jira, "/rest/api/2/myself", []string{bearer(expired)}, "198.51.100.7"}, 401, "token_expired", "", `error="invalid_token"`},
		{"garbage token", call{"GET", jira, "/rest/api/2/myself", []string{bearer("not.a.jwt")}, ""}, 401, "token_malformed", "", `error="invalid_token"`},
		{"no credentials", call{"GET", jira, "/rest/api/2/myself", nil, "198.51.100.7"}, 401, "credentials_missing", "", `Bearer realm="jira"`},
		{"basic blocked", call{"GET", jira, "/rest/api/2/myself", []string{"Authorization: Basic YWxpY2U6cGFzc3dvcmQ="}, "198.51.100.7"}, 401, "basic_auth_blocked", "", `Bearer realm="jira"`},
		{"basic blocked on a public route", call{"GET", jira, "/status", []string{"Authorization: basic YWxpY2U6cGFzc3dvcmQ="}, ""}, 401, "basic_auth_blocked", "", `Bearer realm="jira"`},
		{"public route", call{"GET", jira, "/status", []string{"X-Forwarded-User: admin"}, ""}, 200, "public_route", "", ""},
		{"ip rule: client outside", call{"GET", jira, "/rest/api/2/admin/reindex", []string{bearer(alice)}, "198.51.100.7"}, 403, "ip_denied", "", ""},
		{"ip rule: client inside", call{"GET", jira, "/rest/api/2/admin/reindex", []string{bearer(alice)}, "192.0.2.5"}, 200, "authenticated", "alice", ""},
		{"ip rule: spoofed leftmost entry", call{"GET", jira, "/rest/api/2/admin/reindex", []string{bearer(alice)}, "192.0.2.5, 198.51.100.7"}, 403, "ip_denied", "", ""},
		{"other host falls to default deny", call{"GET", "evil.example.com", "/rest/api/2/myself", []string{bearer(alice)}, ""}, 403, "default_deny", "", ""},
		{"encoded path to a protected route", call{"GET", jira, "/s/..%2Frest/api/2/myself", nil, ""}, 400, "path_ambiguous", "", ""},
		{"cors preflight (method reconstructed)", call{"OPTIONS", jira, "/rest/api/2/issue", []string{"Origin: https://app.example.com", "Access-Control-Request-Method: POST"}, ""}, 200, "cors_preflight", "", ""},
		{"preflight method matters", call{"GET", jira, "/rest/api/2/issue", []string{"Origin: https://app.example.com", "Access-Control-Request-Method: POST"}, ""}, 401, "credentials_missing", "", `Bearer realm="jira"`},
		{"two credentials", call{"GET", jira, "/rest/api/2/myself?access_token=x", []string{bearer(alice)}, ""}, 400, "multiple_credentials", "", `error="invalid_request"`},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("both-%02d", i)
			want := viaGRPC(t, client, tc.call, id)
			if want.status != tc.status || want.reason != tc.reason {
				t.Fatalf("gRPC: %v, want %d %s", want, tc.status, tc.reason)
			}
			if want.user != tc.user || !strings.Contains(want.challenge, tc.chal) || (tc.chal == "") != (want.challenge == "") {
				t.Errorf("gRPC: %v, want user %q challenge %q", want, tc.user, tc.chal)
			}
			if want.status == 200 && tc.reason == "authenticated" {
				for _, h := range mustRemove {
					if !slices.Contains(want.remove, h) {
						t.Errorf("gRPC removals %v lack %s", want.remove, h)
					}
				}
				if slices.Contains(want.remove, "x-forwarded-user") {
					t.Errorf("gRPC removes the identity header it sets: %v", want.remove)
				}
			}

			for _, c := range callers(t) {
				srv := servers[c.style]
				r := c.build(srv.URL, tc.call)
				if tc.call.xff != "" {
					r.Header.Set("X-Forwarded-For", tc.call.xff)
				}
				r.Header.Set("X-Request-Id", id)
				if got := viaHTTP(t, srv.Client(), r); got.String() != want.String() || got.ctype != want.ctype {
					t.Errorf("%s:\n got %v (%s)\nwant %v (%s)", c.style, got, got.ctype, want, want.ctype)
				}
			}
		})
	}
}

// TestForwardAuthClientCannotChooseTheOriginalRequest is the matrix of
// seams item 1: every style × the reconstruction headers of every other
// style, added by the client (the proxy passes them on) × saying the same
// or something else about the method, the target or the host. A style
// reads only what its proxy sets; whatever else is present must agree, or
// the request is 400 malformed_request. Before (main at 54d34e7), an
// nginx-style request with an agreeing X-Forwarded-Method or -Uri was read
// the Caddy way, and the client's X-Forwarded-Host (or the host of its
// X-Original-URL) chose the rule.
func TestForwardAuthClientCannotChooseTheOriginalRequest(t *testing.T) {
	engine, idp := realEngine(t)
	servers := styleServers(t, engine)
	alice := "Authorization: Bearer " + idp.Mint(t, map[string]any{"groups": []string{"jira-api-users"}})
	const (
		jira   = "jira.example.com"
		other  = "confluence.example.com"
		myself = "/rest/api/2/myself"
	)
	// Each injection is one header a client adds: agree says the same as
	// the original request (spelt differently where the router does not
	// care: case, port, trailing dot), differ says something else.
	injections := []struct {
		header, agree, differ string
	}{
		{HeaderOriginalMethod, "GET", "DELETE"},
		{HeaderForwardedMethod, "GET", "POST"},
		{HeaderOriginalURI, myself, "/status"},
		{HeaderForwardedURI, myself, "/status"},
		{HeaderForwardedURI, "https://JIRA.example.com:443" + myself, "https://" + other + myself},
		{HeaderForwardedHost, "JIRA.Example.com.:8443", other},
		{HeaderForwardedHost, jira, "jira.example.com.evil"},
		{HeaderOriginalURL, "http://jira.example.com" + myself, "http://" + other + myself},
		{HeaderOriginalURL, "http://jira.example.com" + myself, "http://jira.example.com/status"},
	}
	for _, c := range callers(t) {
		srv := servers[c.style]
		for _, in := range injections {
			if slices.Contains(c.sets, in.header) {
				continue // the proxy overwrites the client's copy
			}
			for _, v := range []struct {
				value  string
				status int
				reason string
			}{{in.agree, 200, "authenticated"}, {in.differ, 400, "malformed_request"}} {
				t.Run(fmt.Sprintf("%s/%s: %s", c.style, in.header, v.value), func(t *testing.T) {
					r := c.build(srv.URL, call{method: "GET", host: jira, path: myself, headers: []string{alice, in.header + ": " + v.value}})
					if got := viaHTTP(t, srv.Client(), r); got.status != v.status || got.reason != v.reason {
						t.Errorf("got %v, want %d %s", got, v.status, v.reason)
					}
				})
			}
		}
	}
}

// TestForwardAuthStyleIsNeverInferred: a request shaped for another proxy
// is refused, whatever it carries; the style's own headers are required.
func TestForwardAuthStyleIsNeverInferred(t *testing.T) {
	engine, idp := realEngine(t)
	servers := styleServers(t, engine)
	bearer := idp.Mint(t, map[string]any{"groups": []string{"jira-api-users"}})
	c := call{method: "GET", host: "jira.example.com", path: "/rest/api/2/myself", headers: []string{"Authorization: Bearer " + bearer}}
	byStyle := map[Style]caller{}
	for _, cl := range callers(t) {
		byStyle[cl.style] = cl
	}
	for _, st := range Styles() {
		for _, shape := range Styles() {
			t.Run(fmt.Sprintf("%s listener, %s request", st, shape), func(t *testing.T) {
				srv := servers[st]
				got := viaHTTP(t, srv.Client(), byStyle[shape].build(srv.URL, c))
				want := "200 authenticated"
				switch {
				case st == shape:
				case st == StyleEnvoy:
					want = "404 " // exactly the prefix is not an Envoy check
				case shape == StyleEnvoy:
					want = "404 " // the original path after the prefix is not a header-style check
				case st == StyleCaddy && shape == StyleTraefik || st == StyleTraefik && shape == StyleCaddy:
					// The same headers; Caddy's Host is the original one.
					if st == StyleCaddy {
						want = "400 malformed_request"
					}
				default:
					want = "400 malformed_request"
				}
				if s := fmt.Sprintf("%d %s", got.status, got.reason); s != want {
					t.Errorf("got %v, want %s", got, want)
				}
			})
		}
	}
}

// TestForwardAuthRefusesInjectedReconstruction: single cases of the
// reconstruction rules, each in one style.
func TestForwardAuthRefusesInjectedReconstruction(t *testing.T) {
	engine, idp := realEngine(t)
	alice := "Bearer " + idp.Mint(t, map[string]any{"groups": []string{"jira-api-users"}})
	servers := map[Style]*httptest.Server{}
	for _, st := range Styles() {
		srv := httptest.NewServer(NewHTTPHandler(func() *authz.Engine { return engine }, HTTPOptions{Style: st, PathPrefix: "/authz"}, nil))
		t.Cleanup(srv.Close)
		servers[st] = srv
	}

	type hdrs = map[string][]string
	tests := []struct {
		name    string
		style   Style
		method  string
		path    string // request line
		host    string
		headers hdrs
		status  int
		reason  string
	}{
		{"envoy style: injected X-Forwarded-Uri to a public path", StyleEnvoy, "GET", "/authz/rest/api/2/myself", "jira.example.com",
			hdrs{HeaderForwardedURI: {"/status"}}, 400, "malformed_request"},
		{"envoy style: injected X-Original-Method", StyleEnvoy, "DELETE", "/authz/rest/api/2/issue/X-1", "jira.example.com",
			hdrs{HeaderOriginalMethod: {"GET"}, "Authorization": {alice}}, 400, "malformed_request"},
		{"envoy style: injected X-Original-URL host", StyleEnvoy, "GET", "/authz/rest/api/2/myself", "jira.example.com",
			hdrs{HeaderOriginalURL: {"https://other.example.com/rest/api/2/myself"}, "Authorization": {alice}}, 400, "malformed_request"},
		{"envoy style: injected X-Forwarded-Host", StyleEnvoy, "GET", "/authz/rest/api/2/myself", "jira.example.com",
			hdrs{HeaderForwardedHost: {"other.example.com"}, "Authorization": {alice}}, 400, "malformed_request"},
		{"envoy style: agreeing header is harmless", StyleEnvoy, "GET", "/authz/rest/api/2/myself", "jira.example.com",
			hdrs{HeaderForwardedURI: {"/rest/api/2/myself"}, "Authorization": {alice}}, 200, "authenticated"},
		{"envoy style: exactly the prefix is not a check", StyleEnvoy, "GET", "/authz", "jira.example.com",
			hdrs{HeaderOriginalURI: {"/rest/api/2/myself"}, HeaderOriginalMethod: {"GET"}, "Authorization": {alice}}, 404, ""},
		{"nginx: client adds X-Forwarded-Uri", StyleNginx, "GET", "/authz", "jira.example.com",
			hdrs{HeaderOriginalURI: {"/rest/api/2/myself"}, HeaderOriginalMethod: {"GET"}, HeaderForwardedURI: {"/status"}}, 400, "malformed_request"},
		{"nginx: client adds X-Forwarded-Method", StyleNginx, "GET", "/authz", "jira.example.com",
			hdrs{HeaderOriginalURI: {"/status"}, HeaderOriginalMethod: {"POST"}, HeaderForwardedMethod: {"GET"}}, 400, "malformed_request"},
		{"nginx: client X-Forwarded-Host passed on", StyleNginx, "GET", "/authz", "jira.example.com",
			hdrs{HeaderOriginalURI: {"/rest/api/2/myself"}, HeaderOriginalMethod: {"GET"}, HeaderForwardedHost: {"public.example.com"}}, 400, "malformed_request"},
		{"nginx: agreeing Caddy headers do not switch to the Caddy reading", StyleNginx, "GET", "/authz", "jira.example.com",
			hdrs{HeaderOriginalURI: {"/rest/api/2/myself"}, HeaderOriginalMethod: {"GET"}, HeaderForwardedURI: {"/rest/api/2/myself"},
				HeaderForwardedMethod: {"GET"}, HeaderForwardedHost: {"public.example.com"}, "Authorization": {alice}}, 400, "malformed_request"},
		{"nginx: client X-Original-URL with another host", StyleNginx, "GET", "/authz", "jira.example.com",
			hdrs{HeaderOriginalURI: {"/rest/api/2/myself"}, HeaderOriginalMethod: {"GET"}, HeaderOriginalURL: {"https://public.example.com/rest/api/2/myself"}}, 400, "malformed_request"},
		{"nginx: a Caddy-shaped request lacks the nginx headers", StyleNginx, "GET", "/authz", "jira.example.com",
			hdrs{HeaderForwardedURI: {"/rest/api/2/myself"}, HeaderForwardedMethod: {"GET"}, HeaderForwardedHost: {"jira.example.com"}, "Authorization": {alice}}, 400, "malformed_request"},
		{"caddy: client adds X-Original-URI", StyleCaddy, "GET", "/authz", "jira.example.com",
			hdrs{HeaderForwardedURI: {"/rest/api/2/myself"}, HeaderForwardedMethod: {"GET"}, HeaderForwardedHost: {"jira.example.com"}, HeaderOriginalURI: {"/status"}}, 400, "malformed_request"},
		{"caddy: client adds X-Original-URL", StyleCaddy, "GET", "/authz", "jira.example.com",
			hdrs{HeaderForwardedURI: {"/rest/api/2/myself"}, HeaderForwardedMethod: {"GET"}, HeaderForwardedHost: {"jira.example.com"}, HeaderOriginalURL: {"https://jira.example.com/status"}}, 400, "malformed_request"},
		{"caddy: Host disagrees with X-Forwarded-Host", StyleCaddy, "GET", "/authz", "jira.example.com",
			hdrs{HeaderForwardedURI: {"/rest/api/2/myself"}, HeaderForwardedMethod: {"GET"}, HeaderForwardedHost: {"public.example.com"}}, 400, "malformed_request"},
		{"caddy: absolute X-Forwarded-Uri on its own host", StyleCaddy, "GET", "/authz", "jira.example.com",
			hdrs{HeaderForwardedURI: {"http://jira.example.com/rest/api/2/myself"}, HeaderForwardedMethod: {"GET"}, HeaderForwardedHost: {"jira.example.com"}, "Authorization": {alice}}, 200, "authenticated"},
		{"caddy: absolute X-Forwarded-Uri on another host", StyleCaddy, "GET", "/authz", "jira.example.com",
			hdrs{HeaderForwardedURI: {"http://public.example.com/status"}, HeaderForwardedMethod: {"GET"}, HeaderForwardedHost: {"jira.example.com"}}, 400, "malformed_request"},
		{"caddy: no X-Forwarded-Host", StyleCaddy, "GET", "/authz", "jira.example.com",
			hdrs{HeaderForwardedURI: {"/rest/api/2/myself"}, HeaderForwardedMethod: {"GET"}, "Authorization": {alice}}, 400, "malformed_request"},
		{"traefik: Host is the auth service's, ignored", StyleTraefik, "GET", "/authz", "restguard:9002",
			hdrs{HeaderForwardedURI: {"/rest/api/2/myself"}, HeaderForwardedMethod: {"GET"}, HeaderForwardedHost: {"jira.example.com"}, "Authorization": {alice}}, 200, "authenticated"},
		{"traefik: client X-Original-URL with another host", StyleTraefik, "GET", "/authz", "restguard:9002",
			hdrs{HeaderForwardedURI: {"/rest/api/2/myself"}, HeaderForwardedMethod: {"GET"}, HeaderForwardedHost: {"jira.example.com"}, HeaderOriginalURL: {"https://public.example.com/rest/api/2/myself"}}, 400, "malformed_request"},
		{"ingress-nginx: X-Forwarded-Host disagrees with X-Original-URL", StyleIngressNginx, "GET", "/authz", "restguard",
			hdrs{HeaderOriginalURL: {"https://jira.example.com/status"}, HeaderOriginalMethod: {"GET"}, HeaderForwardedHost: {"x.example.com"}}, 400, "malformed_request"},
		{"ingress-nginx: no X-Forwarded-Host", StyleIngressNginx, "GET", "/authz", "restguard",
			hdrs{HeaderOriginalURL: {"https://jira.example.com/rest/api/2/myself"}, HeaderOriginalMethod: {"GET"}, "Authorization": {alice}}, 400, "malformed_request"},
		{"ingress-nginx: X-Original-URI with auth-method agrees", StyleIngressNginx, "GET", "/authz", "restguard",
			hdrs{HeaderOriginalURL: {"https://jira.example.com/rest/api/2/myself"}, HeaderOriginalURI: {"/rest/api/2/myself"}, HeaderOriginalMethod: {"GET"},
				HeaderForwardedHost: {"jira.example.com"}, "Authorization": {alice}}, 200, "authenticated"},
		{"duplicate URI header lines", StyleCaddy, "GET", "/authz", "jira.example.com",
			hdrs{HeaderForwardedURI: {"/rest/api/2/myself", "/status"}, HeaderForwardedMethod: {"GET"}, HeaderForwardedHost: {"jira.example.com"}}, 400, "malformed_request"},
		{"duplicate X-Forwarded-Host lines", StyleNginx, "GET", "/authz", "jira.example.com",
			hdrs{HeaderOriginalURI: {"/rest/api/2/myself"}, HeaderOriginalMethod: {"GET"}, HeaderForwardedHost: {"jira.example.com", "jira.example.com"}, "Authorization": {alice}}, 400, "malformed_request"},
		{"header style without URI", StyleNginx, "GET", "/authz", "jira.example.com",
			hdrs{HeaderOriginalMethod: {"GET"}}, 400, "malformed_request"},
		{"header style without method", StyleNginx, "GET", "/authz", "jira.example.com",
			hdrs{HeaderOriginalURI: {"/status"}}, 400, "malformed_request"},
		{"URI header not in origin form", StyleNginx, "GET", "/authz", "jira.example.com",
			hdrs{HeaderOriginalURI: {"http://jira.example.com/status"}, HeaderOriginalMethod: {"GET"}}, 400, "malformed_request"},
		{"method header not a token", StyleCaddy, "GET", "/authz", "jira.example.com",
			hdrs{HeaderForwardedURI: {"/status"}, HeaderForwardedMethod: {"GET /x"}, HeaderForwardedHost: {"jira.example.com"}}, 400, "malformed_request"},
		{"agreeing styles are accepted", StyleCaddy, "GET", "/authz?ignored=1", "jira.example.com",
			hdrs{HeaderForwardedURI: {"/rest/api/2/myself"}, HeaderForwardedMethod: {"GET"}, HeaderForwardedHost: {"jira.example.com"}, HeaderOriginalURI: {"/rest/api/2/myself"},
				HeaderOriginalMethod: {"GET"}, "Authorization": {alice}}, 200, "authenticated"},
		{"header style: the line's query is not the client's", StyleNginx, "GET", "/authz?access_token=x", "jira.example.com",
			hdrs{HeaderOriginalURI: {"/rest/api/2/myself"}, HeaderOriginalMethod: {"GET"}, "Authorization": {alice}}, 200, "authenticated"},
		{"header style: a path after the prefix is not a check", StyleNginx, "GET", "/authz/rest/api/2/myself", "jira.example.com",
			hdrs{HeaderOriginalURI: {"/rest/api/2/myself"}, HeaderOriginalMethod: {"GET"}, "Authorization": {alice}}, 404, ""},
		{"outside the prefix", StyleEnvoy, "GET", "/healthz", "jira.example.com", nil, 404, ""},
		{"prefix without a separator", StyleEnvoy, "GET", "/authzrest/api/2/myself", "jira.example.com", nil, 404, ""},
		{"absolute-form target", StyleEnvoy, "GET", "http://jira.example.com/authz/status", "jira.example.com", nil, 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := servers[tc.style]
			status, header := rawRequest(t, srv.Client(), srv.URL, tc.method, tc.path, tc.host, tc.headers)
			if status != tc.status || header.Get(ReasonHeader) != tc.reason {
				t.Errorf("got %d %q, want %d %q", status, header.Get(ReasonHeader), tc.status, tc.reason)
			}
		})
	}
}

// TestSameHostMatchesTheRouter: two host sources agree exactly when the
// router would judge them as the same host (policy.NormalizeHost), for
// hosts the router can read.
func TestSameHostMatchesTheRouter(t *testing.T) {
	hosts := []string{"jira.example.com", "JIRA.example.com", "jira.example.com.", "jira.example.com:443", "jira.example.com:8443",
		"jira.example.com.:80", "confluence.example.com", "jira.example.co", "[2001:db8::1]", "[2001:DB8::1]:8443", "[2001:db8::2]",
		"192.0.2.1", "192.0.2.1:80", "jira", "xn--jra-bla.example.com"}
	for _, a := range hosts {
		for _, b := range hosts {
			if got, want := sameHost(a, b), policy.NormalizeHost(a) == policy.NormalizeHost(b); got != want {
				t.Errorf("sameHost(%q, %q) = %v, router: %v", a, b, got, want)
			}
		}
	}
	// Unicode case folding is not ASCII case folding (İ, K, ſ).
	for _, b := range []string{"JİRA.example.com", "jira.example.\u212acom", "jira.ex\u017fample.com", "jira.example.com:x", "jira.example.com:443:443"} {
		if sameHost("jira.example.com", b) {
			t.Errorf("sameHost(jira.example.com, %q)", b)
		}
	}
}

// rawRequest sends a request with an exact request target (the client
// library would clean or re-encode it otherwise). An absolute-form target
// is sent the way a client sends it to a forward proxy.
func rawRequest(t *testing.T, hc *http.Client, base, method, target, host string, headers map[string][]string) (int, http.Header) {
	t.Helper()
	var r *http.Request
	if strings.HasPrefix(target, "/") {
		r = newReq(t, method, base+"/")
		r.URL.Opaque = target // sent verbatim as the request target
	} else {
		r = newReq(t, method, target)
		proxy, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{Proxy: http.ProxyURL(proxy)}
		defer tr.CloseIdleConnections()
		hc = &http.Client{Transport: tr}
	}
	r.Host = host
	for k, vs := range headers {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := hc.Do(r.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

func TestForwardAuthAllowAnswer(t *testing.T) {
	engine, idp := realEngine(t)
	srv := httptest.NewServer(NewHTTPHandler(func() *authz.Engine { return engine }, HTTPOptions{Style: StyleEnvoy}, nil))
	t.Cleanup(srv.Close)
	r := newReq(t, http.MethodGet, srv.URL+DefaultPathPrefix+"/rest/api/2/myself")
	r.Host = "jira.example.com"
	r.Header.Set("Authorization", "Bearer "+idp.Mint(t, map[string]any{"groups": []string{"jira-api-users", "devs"}}))
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != 0 {
		t.Fatalf("allow = %d, %d bytes (length %d), want exactly 200 and no body", resp.StatusCode, len(body), resp.ContentLength)
	}
	want := map[string]string{
		"X-Forwarded-User":    "alice",
		"X-Forwarded-Groups":  "jira-api-users,devs",
		"X-Restguard-Reason":  "authenticated",
		"Cache-Control":       "no-store",
		HeadersToRemoveHeader: "authorization, ",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); !strings.HasPrefix(got, v) {
			t.Errorf("%s = %q, want %q...", k, got, v)
		}
	}
	if resp.Header.Get("WWW-Authenticate") != "" || resp.Header.Get("Content-Type") != "" {
		t.Errorf("allow carries deny headers: %v", resp.Header)
	}
}

func TestForwardAuthFailsClosed(t *testing.T) {
	tests := []struct {
		name    string
		engine  func() *authz.Engine
		opts    HTTPOptions
		reason  string
		logWant string
	}{
		{"no engine yet", func() *authz.Engine { return nil }, HTTPOptions{Style: StyleEnvoy}, "not_ready", ""},
		{"nil engine func", nil, HTTPOptions{Style: StyleEnvoy}, "not_ready", ""},
		{"engine lookup panics", func() *authz.Engine { panic("boom") }, HTTPOptions{Style: StyleEnvoy}, "internal_error", "forward-auth check panicked"},
		{"invalid prefix", func() *authz.Engine { panic("not reached") }, HTTPOptions{Style: StyleEnvoy, PathPrefix: "/ext-authz/"}, "internal_error", "misconfigured"},
		{"no style", func() *authz.Engine { panic("not reached") }, HTTPOptions{}, "internal_error", "misconfigured"},
		{"unknown style", func() *authz.Engine { panic("not reached") }, HTTPOptions{Style: "Envoy"}, "internal_error", "misconfigured"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &syncBuffer{}
			h := NewHTTPHandler(tc.engine, tc.opts, slog.New(slog.NewJSONHandler(logs, nil)))
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, DefaultPathPrefix+"/rest/api/2/myself", nil)
			r.Header.Set("X-Request-Id", "rid-1")
			h.ServeHTTP(rec, r)
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get(ReasonHeader) != tc.reason {
				t.Errorf("got %d %q, want 503 %q", rec.Code, rec.Header().Get(ReasonHeader), tc.reason)
			}
			if rec.Header().Get("Retry-After") == "" || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("headers = %v", rec.Header())
			}
			if !strings.Contains(rec.Body.String(), `"reason":"`+tc.reason+`"`) {
				t.Errorf("body = %s", rec.Body)
			}
			if !strings.Contains(logs.String(), tc.logWant) {
				t.Errorf("log lacks %q:\n%s", tc.logWant, logs)
			}
		})
	}
}

// TestForwardAuthConcurrentReload swaps engines while checks run: every
// answer is a decision of one engine or the other, never an error.
func TestForwardAuthConcurrentReload(t *testing.T) {
	engine, idp := realEngine(t)
	var current atomic.Pointer[authz.Engine]
	h := NewHTTPHandler(current.Load, HTTPOptions{Style: StyleEnvoy}, nil)
	tok := "Bearer " + idp.Mint(t, map[string]any{"groups": []string{"jira-api-users"}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			if i%2 == 0 {
				current.Store(engine)
			} else {
				current.Store(nil)
			}
		}
	}()
	for range 200 {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, DefaultPathPrefix+"/rest/api/2/myself", nil)
		r.Host = "jira.example.com"
		r.Header.Set("Authorization", tok)
		h.ServeHTTP(rec, r)
		if rec.Code != 200 && rec.Code != 503 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	<-done
}

func TestToHTTPRequestFields(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/ext-authz", nil)
	r.RemoteAddr = "[::ffff:127.0.0.1]:4711"
	r.Host = "restguard:9002"
	r.Header.Set(HeaderForwardedMethod, "PUT")
	r.Header.Set(HeaderForwardedURI, "/rest/api/2/issue/X-1?notify=false")
	r.Header.Set(HeaderForwardedHost, "jira.example.com")
	r.Header.Add("X-Forwarded-For", "203.0.113.7")
	r.Header.Add("X-Forwarded-For", "198.51.100.20")
	r.Header.Set("X-Request-Id", "rid-7")
	req := toHTTPRequest(r, StyleTraefik, "")
	if req.Malformed != "" {
		t.Fatal(req.Malformed)
	}
	got := fmt.Sprintf("%s %s %s ? %s id=%s src=%s xff=%q", req.Method, req.Host, req.Path, req.Query, req.ID, req.Source, req.Header.Values("X-Forwarded-For"))
	want := `PUT jira.example.com /rest/api/2/issue/X-1 ? notify=false id=rid-7 src=127.0.0.1 xff=["203.0.113.7" "198.51.100.20"]`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, ok := req.Header["Host"]; ok {
		t.Error("Host must not be in Header")
	}
}

// FuzzHTTPHandler drives the forward-auth handler of every style with
// arbitrary request lines and reconstruction headers: it never panics,
// answers only 200 or a 4xx/5xx denial, allows only what the engine
// allowed for a well-formed request, sends no body with an allow, and
// allows only a request whose host sources all agree with the host the
// style read.
func FuzzHTTPHandler(f *testing.F) {
	// style, line method, request target, Host, X-Original-URI, -Method,
	// X-Forwarded-Uri, -Method, -Host, X-Original-URL, Authorization.
	f.Add(uint8(0), "GET", "/ext-authz/rest/x?a=1", "jira", "", "", "", "", "", "", "Bearer "+goodToken)
	f.Add(uint8(0), "GET", "/ext-authz/a", "h", "/b", "GET", "/a", "GET", "h", "", "")
	f.Add(uint8(0), "POST", "/ext-authz/rest/x", "h", "", "GET", "", "", "", "", "Basic YTpi")
	f.Add(uint8(0), "GET", "http://x/ext-authz/y", "h", "", "", "", "", "", "", "")
	f.Add(uint8(1), "GET", "/ext-authz", "jira", "/rest/x", "GET", "", "", "", "", "Bearer "+goodToken)
	f.Add(uint8(1), "GET", "/ext-authz", "jira", "/rest/x", "GET", "/rest/x", "GET", "confluence", "", "Bearer "+goodToken)
	f.Add(uint8(1), "GET", "/ext-authz", "jira", "/rest/x", "GET", "", "", "", "http://ui/rest/x", "")
	f.Add(uint8(2), "GET", "/ext-authz", "authz", "", "GET", "", "", "jira", "https://jira/rest/x", "Bearer "+goodToken)
	f.Add(uint8(2), "GET", "/ext-authz", "authz", "", "GET", "", "", "JIRA:443", "https://jira./rest/x", "Bearer "+goodToken)
	f.Add(uint8(3), "GET", "/ext-authz?q", "jira", "", "", "/rest/x", "POST", "jira", "", "Bearer "+goodToken)
	f.Add(uint8(3), "GET", "/ext-authz", "jira", "", "", "http://other/rest/x", "GET", "jira", "", "Bearer "+goodToken)
	f.Add(uint8(4), "GET", "/ext-authz", "authz:9002", "", "", "/rest/x", "GET", "jira", "", "Bearer "+goodToken)
	f.Add(uint8(4), "GET", "/ext-authz", "authz:9002", "/rest/x", "GET", "/rest/x", "GET", "jira", "http://ui/rest/x", "Bearer "+goodToken)
	engine := testEngine(f, nil)
	styles := Styles()
	handlers := make([]http.Handler, len(styles))
	for i, st := range styles {
		handlers[i] = NewHTTPHandler(func() *authz.Engine { return engine }, HTTPOptions{Style: st}, nil)
	}
	f.Fuzz(func(t *testing.T, si uint8, method, uri, host, origURI, origMethod, fwdURI, fwdMethod, fwdHost, origURL, authorization string) {
		st := styles[int(si)%len(styles)]
		hdr := http.Header{}
		for k, v := range map[string]string{HeaderOriginalURI: origURI, HeaderOriginalMethod: origMethod, HeaderForwardedURI: fwdURI,
			HeaderForwardedMethod: fwdMethod, HeaderForwardedHost: fwdHost, HeaderOriginalURL: origURL, "Authorization": authorization} {
			if v != "" {
				hdr.Set(k, v)
			}
		}
		r := &http.Request{Method: method, RequestURI: uri, Host: host, Header: hdr, RemoteAddr: "127.0.0.1:4711"}
		r = r.WithContext(t.Context())
		rec := httptest.NewRecorder()
		handlers[int(si)%len(styles)].ServeHTTP(rec, r)
		switch {
		case rec.Code == http.StatusOK:
			if rec.Body.Len() != 0 || rec.Header().Get("X-Forwarded-User") != "alice" {
				t.Fatalf("allow with body %q, user %q", rec.Body, rec.Header().Get("X-Forwarded-User"))
			}
			line, ok := (&httpHandler{style: st, prefix: DefaultPathPrefix}).split(uri)
			if !ok {
				t.Fatal("allowed a request outside the prefix")
			}
			req := toHTTPRequest(r, st, line)
			if req.Malformed != "" {
				t.Fatalf("allowed a malformed request: %s", req.Malformed)
			}
			// Every host source present agrees with the judged host.
			sources := []string{fwdHost}
			if st.hostFromHost() {
				sources = append(sources, host)
			}
			for _, u := range []string{origURL, fwdURI} {
				if h, _, ok := splitAbsoluteURL(u); ok {
					sources = append(sources, h)
				}
			}
			for _, h := range sources {
				if h != "" && !sameHost(h, req.Host) {
					t.Fatalf("%s: allowed as host %q with a host source %q", st, req.Host, h)
				}
			}
		case rec.Code < 400 || rec.Code > 599:
			t.Fatalf("status %d", rec.Code)
		}
	})
}
