package catalogue

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/e2eutil"
	"github.com/restguard/restguard/internal/idptest"
)

// suiteConfig is the one configuration of TestCatalogue: the catalogue's
// default profile (§0.2, §F, §G) with a few extra providers and rules so
// that each entry has a route that isolates it.
const suiteConfig = `
listen: {grpc: "127.0.0.1:0", http: "127.0.0.1:0", admin: "127.0.0.1:0"}
forward_auth: {style: envoy}   # checkHTTP calls it the way Envoy's http_service does
realm: jira
client_ip:
  trusted_proxies: ["192.0.2.0/24", "127.0.0.1/32"]
providers:
  - {name: a, issuer: %[1]q, audiences: [%[4]q], leeway: 60s, groups: {claim: groups}}
  - {name: a-conf, issuer: %[1]q, audiences: [%[5]q], groups: {claim: groups}}
  - {name: a-strict, issuer: %[1]q, audiences: [%[4]q], strict_typ: true}
  - {name: a-client, issuer: %[1]q, audiences: [%[4]q], client_id_claim: client_id, client_ids: [svc-a]}
  - {name: a-kc, issuer: %[1]q, audiences: [%[4]q], groups: {claim: realm_access.roles}}
  - {name: b, issuer: %[2]q, audiences: [%[4]q], groups: {claim: groups}}
  - name: rot
    issuer: %[3]q
    audiences: [%[4]q]
    leeway: 1s
    groups: {claim: groups}
    cache: {size: 50}
    jwks: {min_refresh_interval: 1s}
rules:
  - {name: public, paths: ["/status", "/s/**"], action: pass, block_basic: {enabled: true}}
  - {name: admin-ui, paths: ["/secure/admin/**"], action: deny, block_basic: {enabled: true}}
  - {name: no-delete, hosts: [jira.example.test], paths: ["/rest/api/2/issue/**"], methods: [DELETE], action: deny}
  - {name: strict, hosts: [strict.example.test], authenticate: [a-strict], block_basic: {enabled: true}}
  - {name: confluence, hosts: [confluence.example.test], authenticate: [a-conf], block_basic: {enabled: true}}
  - {name: client, hosts: [jira.example.test], paths: ["/rest/client/**"], authenticate: [a-client]}
  - {name: kc, hosts: [jira.example.test], paths: ["/rest/kc/**"], authenticate: [a-kc], groups: {any_of: [jira-api-users]}}
  - {name: dotted, hosts: [jira.example.test], paths: ["/rest/dotted/**"], authenticate: [a], groups: {any_of: [jira.api-users]}}
  - {name: b-only, hosts: [jira.example.test], paths: ["/rest/b-only/**"], authenticate: [b]}
  - {name: rot, hosts: [jira.example.test], paths: ["/rest/rot/**"], authenticate: [rot]}
  - name: rest-api
    hosts: [jira.example.test]
    paths: ["/rest/**"]
    authenticate: [a, b]
    block_basic: {enabled: true}
    groups: {any_of: [jira-api-users]}
    ip: {allow: ["10.0.0.0/8", "2001:db8::/32"]}
  - {name: jira-other, hosts: [jira.example.test], paths: ["/**"], authenticate: [a], block_basic: {enabled: true}}
default:
  action: deny
  block_basic: {enabled: true}
upstream:
  user_header: X-Forwarded-User
  groups_header: X-Forwarded-Groups
  remove_headers: [X-Atlassian-User]
`

// suite is the shared state of TestCatalogue.
type suite struct {
	*env
	top       *testing.T // TestCatalogue itself: owns processes started on demand
	a, b, rot *idptest.IdP
	canary    *canary
	kx        *idptest.IdP // an attacker: its keys are in no configured JWKS

	mu     sync.Mutex
	tokens []string // every valid token minted, for the log checks (N2)
}

// canary records every inbound request: the SSRF detector of the catalogue.
type canary struct {
	URL  string
	hits atomic.Int64
}

func newCanary(t testing.TB) *canary {
	c := &canary{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		http.Error(w, "canary", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

func newSuite(t *testing.T) *suite {
	t.Helper()
	s := &suite{top: t, a: idptest.New(t), b: idptest.New(t), rot: idptest.New(t), kx: idptest.New(t), canary: newCanary(t)}
	s.env = &env{rg: e2eutil.Start(t, fmt.Sprintf(suiteConfig, s.a.Issuer, s.b.Issuer, s.rot.Issuer, jiraAud, confAud))}
	c, err := envoy.Dial(s.rg.GRPC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s.grpc = c
	s.probeHTTP(t)
	return s
}

// probeHTTP finds out whether the forward-auth endpoint answers checks
// (it is wired by another issue) and with which path prefix: a public
// route must answer exactly 200.
func (e *env) probeHTTP(t *testing.T) {
	if e.rg.HTTP == "" {
		t.Log("forward-auth listener off: HTTP checks skipped")
		return
	}
	for _, prefix := range []string{envoy.DefaultPathPrefix, ""} {
		e.httpPrefix = prefix
		if o := e.checkHTTP(t, in{method: "GET", host: jiraHost, path: "/status", source: inside}); o.reason != "" && o.reason != "not_ready" {
			e.httpOK = true
			t.Logf("forward-auth endpoint answers under prefix %q: every case also runs over HTTP", prefix)
			return
		}
	}
	e.httpPrefix = ""
	t.Log("forward-auth endpoint does not answer checks yet (handler not wired): HTTP checks skipped")
}

// p0 is the catalogue's baseline claim set for issuer iss, merged with
// extra. A nil value removes the claim: it stays in the map as nil, which
// idptest's Mint reads as "remove this default" and payload drops.
func p0(iss string, extra map[string]any) map[string]any {
	now := time.Now().Unix()
	c := map[string]any{
		"iss": iss, "aud": jiraAud, "sub": "5f1c-alice", "preferred_username": "alice",
		"groups": []string{"jira-api-users"}, "client_id": "svc-a", "scope": "jira.api",
		"iat": now, "exp": now + 300, "jti": randHex(8),
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// withoutNil drops the nil members of claims (for raw JSON payloads).
func withoutNil(claims map[string]any) map[string]any {
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		if v != nil {
			out[k] = v
		}
	}
	return out
}

// t0 mints a valid baseline token of issuer A (T0) with extra claims.
func (s *suite) t0(t testing.TB, extra map[string]any) string {
	t.Helper()
	tok := s.a.Mint(t, p0(s.a.Issuer, extra))
	s.remember(tok)
	return tok
}

// raw signs header and payload JSON bytes with A's k1 as given.
func (s *suite) raw(t testing.TB, header, payload string) string {
	t.Helper()
	tok := idptest.SignRaw(t, []byte(header), []byte(payload), "RS256", s.a.RSAKey())
	s.remember(tok)
	return tok
}

// payload is P0 as JSON with extra members appended verbatim (for
// duplicate and type-confusion cases).
func (s *suite) payload(extra map[string]any, appendRaw string) string {
	b, _ := json.Marshal(withoutNil(p0(s.a.Issuer, extra)))
	if appendRaw == "" {
		return string(b)
	}
	return strings.TrimSuffix(string(b), "}") + "," + appendRaw + "}"
}

func (s *suite) remember(tok string) {
	s.mu.Lock()
	s.tokens = append(s.tokens, tok)
	s.mu.Unlock()
}

const h0 = `{"alg":"RS256","kid":"k1","typ":"at+jwt"}`

func b64u(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// metric reads one sample of the admin /metrics endpoint: the first line
// that starts with prefix (name plus optional labels).
func metric(t testing.TB, admin, prefix string) (float64, bool) {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, prefix) {
			var v float64
			if _, err := fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v); err == nil {
				return v, true
			}
		}
	}
	return 0, false
}

// eventually polls cond (bounded) and reports whether it became true.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for wait := 20 * time.Millisecond; time.Now().Before(deadline); wait = min(2*wait, 500*time.Millisecond) {
		if cond() {
			return true
		}
		time.Sleep(wait) // polling an external process, bounded by d
	}
	return cond()
}
