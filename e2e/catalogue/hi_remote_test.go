package catalogue

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/e2eutil"
)

// remoteConfig is the second configuration of the suite: remote
// validation (introspection, userinfo) and the Atlassian presets
// (docs/providers.md, docs/atlassian.md).
const remoteConfig = `
listen: {grpc: "127.0.0.1:0", http: "127.0.0.1:0", admin: "127.0.0.1:0"}
forward_auth: {style: envoy}   # checkHTTP calls it the way Envoy's http_service does
realm: jira
check_timeout: 1s
client_ip: {trusted_proxies: ["127.0.0.1/32"]}
providers:
  - {name: atl-jwt, issuer: %[1]q, audiences: [%[3]q], groups: {claim: groups}}
  - name: intro
    kind: introspection
    issuer: https://as.example.test
    introspection: {endpoint: %[2]q, auth_method: none}
    audiences: [%[3]q]
    client_ids: [svc-a]
    token_shape: {prefixes: [op_]}
    timeout: 300ms
    cache: {ttl: 2s, negative_ttl: 1s}
  - name: intro2
    kind: introspection
    introspection: {endpoint: %[4]q, auth_method: none}
    allow_any_client: true
    token_shape: {prefixes: [op2_]}
    timeout: 300ms
  - name: ui
    kind: userinfo
    userinfo: {url: %[5]q}
    allow_any_client: true
    token_shape: {prefixes: [ui_]}
    timeout: 300ms
rules:
  - {name: b-only, hosts: [jira.example.test], paths: ["/rest/b/**"], authenticate: [intro2]}
  - {name: remote, hosts: [jira.example.test], paths: ["/rest/**"], authenticate: [atl-jwt, intro, ui, intro2], block_basic: {enabled: true}}
atlassian:
  products:
    - {product: jira, hosts: [atl.example.test], authenticate: [atl-jwt], ip: {allow: ["10.0.0.0/8"]}, native_tokens: {mode: pass_through}}
    - {product: confluence, hosts: [atl-conf.example.test], authenticate: [atl-jwt], groups: {any_of: [jira-api-users]}, native_tokens: {mode: pass_through}}
default: {action: deny, block_basic: {enabled: true}}
`

// answer is what the mock authorization server says about one token.
type answer struct {
	status int
	ctype  string
	body   string
	delay  time.Duration
	size   int // > 0: a body of this many bytes
}

// mockAS is an introspection and userinfo endpoint under test control.
type mockAS struct {
	srv   *httptest.Server
	mu    sync.Mutex
	ans   map[string]answer
	calls map[string]int
	total atomic.Int64
}

func newMockAS(t *testing.T, c *canary) *mockAS {
	m := &mockAS{ans: map[string]answer{}, calls: map[string]int{}}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.total.Add(1)
		tok := r.PostFormValue("token")
		if r.URL.Path == "/userinfo" {
			tok = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		m.mu.Lock()
		a, ok := m.ans[tok]
		m.calls[tok]++
		m.mu.Unlock()
		if !ok {
			a = answer{body: `{"active":false}`}
			if r.URL.Path == "/userinfo" {
				a = answer{status: 401, body: `{"error":"invalid_token"}`}
			}
		}
		if a.delay > 0 {
			select {
			case <-time.After(a.delay):
			case <-r.Context().Done():
				return
			}
		}
		if a.status == http.StatusFound {
			http.Redirect(w, r, c.URL+"/introspect", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", map[bool]string{true: a.ctype, false: "application/json"}[a.ctype != ""])
		w.WriteHeader(map[bool]int{true: a.status, false: 200}[a.status != 0])
		if a.size > 0 {
			chunk := strings.Repeat(" ", 64<<10)
			fmt.Fprint(w, `{"active":true,"pad":"`)
			for n := 0; n < a.size; n += len(chunk) {
				if _, err := fmt.Fprint(w, chunk); err != nil {
					return
				}
			}
			fmt.Fprint(w, `"}`)
			return
		}
		fmt.Fprint(w, a.body)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *mockAS) set(tok string, a answer) {
	m.mu.Lock()
	m.ans[tok] = a
	m.mu.Unlock()
}

func (m *mockAS) callsFor(tok string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[tok]
}

// activeBody is an introspection answer that passes every check.
func activeBody(extra string) string {
	return activeBodyExp(time.Now().Add(5*time.Minute).Unix(), extra)
}

func activeBodyExp(exp int64, extra string) string {
	b := fmt.Sprintf(`{"active":true,"iss":"https://as.example.test","aud":%q,"client_id":"svc-a","username":"alice","sub":"5f1c","exp":%d,"token_type":"access_token"`, jiraAud, exp)
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

// remote is the running second profile.
type remote struct {
	*env
	as, as2 *mockAS
}

var (
	remoteOnce sync.Once
	remoteEnv  *remote
)

// remoteProfile starts the second restguard on first use; it lives until
// TestCatalogue ends.
func (s *suite) remoteProfile(t *testing.T) *remote {
	remoteOnce.Do(func() {
		r := &remote{as: newMockAS(s.top, s.canary), as2: newMockAS(s.top, s.canary)}
		r.env = &env{rg: e2eutil.Start(s.top, fmt.Sprintf(remoteConfig, s.a.Issuer, r.as.srv.URL+"/introspect", jiraAud, r.as2.srv.URL+"/introspect", r.as.srv.URL+"/userinfo"))}
		c, err := envoy.Dial(r.rg.GRPC)
		if err != nil {
			s.top.Fatal(err)
		}
		s.top.Cleanup(func() { c.Close() })
		r.grpc = c
		r.probeHTTP(s.top)
		remoteEnv = r
	})
	if remoteEnv == nil {
		t.Fatal("the remote profile did not start")
	}
	return remoteEnv
}

func op(name string) string { return "op_" + name + "_" + randHex(6) }

var entriesH = []entry{
	{"H1_introspection_slow", func(t *testing.T, s *suite) {
		r := s.remoteProfile(t)
		tok := op("slow")
		r.as.set(tok, answer{body: activeBody(""), delay: 5 * time.Second})
		o := r.checkGRPC(t, mustReq(t, in{headers: hdrs(bearer(tok))}))
		if o.status != 503 || o.reason != "idp_unavailable" && o.reason != "timeout" {
			t.Errorf("slow introspection: %d %s, want 503", o.status, o.reason)
		}
		if o.elapsed > deadlineBudget {
			t.Errorf("slow introspection answered after %s", o.elapsed)
		}
		r.as.set(tok, answer{body: activeBody("")})
		r.run(t, in{headers: hdrs(bearer(tok))}, allow("alice")) // not cached as invalid
	}},
	{"H2_introspection_error_statuses", func(t *testing.T, s *suite) {
		r := s.remoteProfile(t)
		var cases []cs
		for _, st := range []int{500, 502, 503, 429, 404, 401, 403, 302} {
			tok := op(fmt.Sprint(st))
			r.as.set(tok, answer{status: st, body: activeBody("")})
			cases = append(cases, cs{name: fmt.Sprint(st), r: in{headers: hdrs(bearer(tok))}, w: unavailable("idp_unavailable")})
		}
		html := op("html")
		r.as.set(html, answer{ctype: "text/html", body: "<html>login</html>"})
		cases = append(cases, cs{name: "html", r: in{headers: hdrs(bearer(html))}, w: deny(401, 503)})
		t.Run("variants", func(t *testing.T) { r.table(t, cases) })
		if n := s.canary.hits.Load(); n != 0 {
			t.Errorf("a redirect from the introspection endpoint was followed: %d canary hits", n)
		}
	}},
	{"H3_introspection_body_shapes", func(t *testing.T, s *suite) {
		r := s.remoteProfile(t)
		var cases []cs
		for name, body := range map[string]string{
			"active_string": `{"active":"true"}`, "active_one": `{"active":1}`, "active_null": `{"active":null}`,
			"empty": `{}`, "array": `[]`, "bare_true": `true`, "trailing_garbage": activeBody("") + `garbage`,
			"duplicate_active": `{"active":false,"active":true}`, "upper_case_key": `{"active":false,"ACTIVE":true}`,
			"title_case_key": `{"Active":true}`, "invalid_utf8": "{\"active\":true,\"username\":\"al\xffice\"}",
			"nested": `{"active":true,"x":` + repeat("[", 10000) + repeat("]", 10000) + `}`,
		} {
			tok := op(name)
			r.as.set(tok, answer{body: body})
			cases = append(cases, cs{name: name, r: in{headers: hdrs(bearer(tok))}, w: deny(401, 503)})
		}
		big := op("50MiB")
		r.as.set(big, answer{size: 50 << 20})
		cases = append(cases, cs{name: "50MiB", r: in{headers: hdrs(bearer(big))}, w: unavailable("idp_unavailable")})
		good := op("good")
		r.as.set(good, answer{body: activeBody("")})
		cases = append(cases, cs{name: "literal_true", r: in{headers: hdrs(bearer(good))}, w: allow("alice")})
		r.table(t, cases)
	}},
	{"H4_active_but_unusable", func(t *testing.T, s *suite) {
		r := s.remoteProfile(t)
		now := time.Now().Unix()
		var cases []cs
		for name, body := range map[string]string{
			"expired":       activeBodyExp(now-120, ""), // beyond the 30s leeway
			"refresh_token": strings.Replace(activeBody(""), `"token_type":"access_token"`, `"token_type":"refresh_token"`, 1),
			"keycloak_typ":  activeBody(`"typ":"Refresh"`),
			"evil_client":   strings.Replace(activeBody(""), `"client_id":"svc-a"`, `"client_id":"evil-client"`, 1),
			"other_aud":     strings.Replace(activeBody(""), jiraAud, "https://other.example", 1),
			"other_iss":     strings.Replace(activeBody(""), "https://as.example.test", "https://other.example", 1),
			"no_identity":   strings.NewReplacer(`"username":"alice",`, "", `"sub":"5f1c",`, "").Replace(activeBody("")),
			"nbf_future":    activeBody(fmt.Sprintf(`"nbf":%d`, now+600)),
		} {
			tok := op(name)
			r.as.set(tok, answer{body: body})
			cases = append(cases, cs{name: name, r: in{headers: hdrs(bearer(tok))}, w: anyInvalid})
		}
		r.table(t, cases)
	}},
	{"H5_parameter_injection_and_routing", func(t *testing.T, s *suite) {
		r := s.remoteProfile(t)
		before := r.as.total.Load() + r.as2.total.Load()
		r.run(t, in{headers: hdrs("authorization: Bearer op_abc&token_type_hint=refresh_token")}, invalidRequest("malformed_credential"))
		// A JWT of an unknown issuer is not sprayed to the introspection
		// endpoints (token_shape accept_jwt is off).
		r.run(t, in{headers: hdrs(bearer(s.kx.Mint(t, p0("https://unknown.example", nil))))}, invalidToken("issuer_unknown"))
		if n := r.as.total.Load() + r.as2.total.Load() - before; n != 0 {
			t.Errorf("%d introspection calls for tokens that must never leave restguard", n)
		}
		tok2 := "op2_" + randHex(8)
		r.as2.set(tok2, answer{body: `{"active":true,"username":"carol","exp":` + fmt.Sprint(time.Now().Unix()+300) + `}`})
		r.run(t, in{headers: hdrs(bearer(tok2))}, allow("carol"))
		if r.as.callsFor(tok2) != 0 {
			t.Error("provider B's token was sent to provider A")
		}
	}},
	{"H6_revocation_vs_cache_ttl", func(t *testing.T, s *suite) {
		r := s.remoteProfile(t)
		tok := op("revoke")
		r.as.set(tok, answer{body: activeBody("")})
		r.run(t, in{headers: hdrs(bearer(tok))}, allow("alice"))
		r.as.set(tok, answer{body: `{"active":false}`})
		r.run(t, in{headers: hdrs(bearer(tok))}, allow("alice")) // inside cache.ttl (2s): the documented window
		if !eventually(10*time.Second, func() bool {
			return r.checkGRPC(t, mustReq(t, in{headers: hdrs(bearer(tok))})).status == 401
		}) {
			t.Fatal("a revoked token still allowed after cache.ttl")
		}
		r.run(t, in{headers: hdrs(bearer(tok))}, invalidToken("token_inactive"))
	}},
	{"H7_amplification_and_stampede", func(t *testing.T, s *suite) {
		r := s.remoteProfile(t)
		tok := op("stampede")
		r.as.set(tok, answer{body: `{"active":false}`, delay: 100 * time.Millisecond})
		var wg sync.WaitGroup
		for range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if o := r.checkGRPC(t, mustReq(t, in{headers: hdrs(bearer(tok))})); o.status == 200 {
					t.Error("an inactive token was allowed")
				}
			}()
		}
		wg.Wait()
		if n := r.as.callsFor(tok); n > 2 {
			t.Errorf("200 concurrent checks of one token made %d introspection calls, want at most 2", n)
		}
		g0, _ := metric(t, r.rg.Admin, "go_goroutines")
		n := 2000
		if testing.Short() {
			n = 500
		}
		before := r.as.total.Load()
		var next atomic.Int64
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					r.checkGRPC(t, mustReq(t, in{headers: hdrs(bearer(op("scan")))}))
				}
			}()
		}
		wg.Wait()
		calls := r.as.total.Load() - before
		g1, _ := metric(t, r.rg.Admin, "go_goroutines")
		t.Logf("%d distinct unknown opaque tokens: %d introspection calls; goroutines %v -> %v", n, calls, g0, g1)
		if calls > int64(n) {
			t.Errorf("%d calls for %d tokens", calls, n)
		}
		if g1 > g0+50 {
			t.Errorf("goroutines grew from %v to %v after the burst", g0, g1)
		}
	}},
	{"K4_opaque_token_other_provider", func(t *testing.T, s *suite) {
		r := s.remoteProfile(t)
		tok := op("k4")
		r.as.set(tok, answer{body: activeBody("")})
		r.run(t, in{headers: hdrs(bearer(tok))}, allow("alice"))
		r.run(t, in{path: "/rest/b/x", headers: hdrs(bearer(tok))}, anyInvalid)
	}},
}

var entriesI = []entry{
	{"I1_userinfo_token_substitution", func(t *testing.T, s *suite) {
		r := s.remoteProfile(t)
		tok := "ui_" + randHex(8)
		r.as.set(tok, answer{body: `{"sub":"u-1","preferred_username":"dave","client_id":"other-app"}`})
		// Documented: with allow_any_client: true, a token of any client of
		// this provider authenticates its user. Without a binding or that
		// opt-in the provider does not load.
		r.run(t, in{headers: hdrs(bearer(tok))}, allow("dave"))
		out, err := validate(t, "providers:\n  - {name: u, kind: userinfo, userinfo: {url: \"https://u.example/userinfo\"}}\nrules: [{name: r, authenticate: [u]}]\n")
		if err == nil {
			t.Errorf("a userinfo provider without app binding or allow_any_client was accepted:\n%s", out)
		}
	}},
	{"I2_userinfo_faults", func(t *testing.T, s *suite) {
		r := s.remoteProfile(t)
		set := func(name string, a answer) string {
			tok := "ui_" + name + "_" + randHex(6)
			r.as.set(tok, a)
			return tok
		}
		r.table(t, []cs{
			{name: "401", r: in{headers: hdrs(bearer(set("401", answer{status: 401, body: `{}`})))}, w: anyInvalid},
			{name: "500", r: in{headers: hdrs(bearer(set("500", answer{status: 500, body: `{}`})))}, w: unavailable("idp_unavailable")},
			{name: "timeout", r: in{headers: hdrs(bearer(set("slow", answer{delay: 5 * time.Second, body: `{"sub":"x"}`})))}, w: deny(503)},
			{name: "no_sub", r: in{headers: hdrs(bearer(set("nosub", answer{body: `{"name":"x"}`})))}, w: anyInvalid},
			{name: "signed_jwt", r: in{headers: hdrs(bearer(set("jwt", answer{ctype: "application/jwt", body: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"})))}, w: deny(401, 503)},
			{name: "50MiB", r: in{headers: hdrs(bearer(set("big", answer{size: 50 << 20})))}, w: unavailable("idp_unavailable")},
		})
	}},
}
