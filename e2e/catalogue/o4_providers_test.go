package catalogue

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restguard/restguard/internal/idptest"
)

// entriesOProviders: provider bindings, key sets and reloads (seams items 15, 17, 18).
var entriesOProviders = []entry{
	// Item 15. An introspection provider without audiences or client_ids
	// accepted every token its authorization server reported active,
	// whichever client it was issued to (another application, Keycloak's
	// account-console). Before: such a provider loaded, and `restguard
	// validate` said ok; allow_any_client was refused for kind
	// introspection. Now the binding (or the explicit opt-in) is required,
	// and the error names the key, its line and the fix.
	{"O4_15_introspection_client_binding", func(t *testing.T, s *suite) {
		as := newMockAS(s.top, s.canary)
		secret := filepath.Join(s.top.TempDir(), "kc-secret")
		if err := os.WriteFile(secret, []byte("restguard-secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		provider := func(binding string) string {
			return fmt.Sprintf(`providers:
  - name: kc
    preset: keycloak
    kind: introspection
    params: {base_url: %q, realm: corp}
    client_id: restguard
    client_secret: {file: %q}
%srules:
  - {name: api, hosts: [jira.example.test], paths: ["/rest/**"], authenticate: [kc]}
default: {action: deny}
`, as.srv.URL, secret, binding)
		}
		e := s.profile(t, "o4-15", `listen: {grpc: "127.0.0.1:0", http: "127.0.0.1:0", admin: "127.0.0.1:0"}
forward_auth: {style: envoy}
realm: jira
client_ip: {trusted_proxies: ["127.0.0.1/32"]}
`+provider("    client_ids: [jira-cli]\n"))
		iss := as.srv.URL + "/realms/corp"
		answer := func(client string) string {
			tok := "kc-" + client + "-" + randHex(8)
			as.set(tok, answer{body: fmt.Sprintf(`{"active":true,"iss":%q,"client_id":%q,"preferred_username":"alice","sub":"5f1c","exp":%d,"token_type":"Bearer"}`,
				iss, client, time.Now().Add(5*time.Minute).Unix())})
			return tok
		}
		e.table(t, []cs{
			{name: "our_client", r: in{headers: hdrs(bearer(answer("jira-cli")))}, w: allow("alice")},
			// before (without client_ids, which loaded): allowed as alice
			{name: "account_console", r: in{headers: hdrs(bearer(answer("account-console")))}, w: invalidToken("audience_mismatch")},
			{name: "other_application", r: in{headers: hdrs(bearer(answer("crm-frontend")))}, w: invalidToken("audience_mismatch")},
		})

		t.Run("validate", func(t *testing.T) {
			unbound := provider("")
			line := 1 + strings.Count(unbound[:strings.Index(unbound, "- name: kc")], "\n")
			out, err := validate(t, unbound)
			if err == nil {
				t.Fatalf("before: an introspection provider without client_ids or audiences loaded:\n%s", out)
			}
			want := fmt.Sprintf("restguard.yaml:%d: providers[0].client_ids: ", line)
			if !strings.Contains(out, want) || !strings.Contains(out, "allow_any_client: true") {
				t.Errorf("error does not name the key, its line (%s) and the fix:\n%s", want, out)
			}
			plain := "providers:\n  - {name: hydra, kind: introspection, introspection: {endpoint: \"https://hydra.example.test/introspect\", auth_method: none}}\nrules: [{name: r, authenticate: [hydra]}]\n"
			if out, err := validate(t, plain); err == nil || !strings.Contains(out, "restguard.yaml:2: providers[0].client_ids: ") {
				t.Errorf("kind introspection without a binding: %v\n%s", err, out)
			}
			// The explicit opt-in says in the file what it accepts.
			if out, err := validate(t, provider("    allow_any_client: true\n")); err != nil {
				t.Errorf("allow_any_client: true refused: %v\n%s", err, out)
			}
		})
	}},

	// Item 17(a). The background refresh timer was armed before the first
	// key set loaded, with min_refresh_interval, so every provider fetched
	// its JWKS a second time min_refresh_interval after a good start.
	// Before: fetches at 0 s, 1 s, 3 s, 5 s with refresh_interval 2s and
	// min_refresh_interval 1s. Now: one fetch at startup, then one every
	// refresh_interval after the last fetch.
	{"O4_17_jwks_no_early_refetch", func(t *testing.T, s *suite) {
		idp := idptest.New(s.top)
		var mu sync.Mutex
		var at []time.Time
		idp.SetJWKSFault(func(_ http.ResponseWriter, _ *http.Request) bool {
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
			return false // served normally
		})
		fetches := func() []time.Time {
			mu.Lock()
			defer mu.Unlock()
			return append([]time.Time(nil), at...)
		}
		const interval = 2 * time.Second
		e := s.profile(t, "o4-17a", fmt.Sprintf(`listen: {grpc: "127.0.0.1:0", admin: "127.0.0.1:0"}
realm: jira
providers:
  - {name: a, issuer: %q, audiences: [%q], jwks: {refresh_interval: 2s, min_refresh_interval: 1s}}
rules:
  - {name: api, paths: ["/rest/**"], authenticate: [a]}
default: {action: deny}
`, idp.Issuer, jiraAud))
		if n := len(fetches()); n != 1 {
			t.Errorf("%d JWKS fetches by readiness, want exactly 1", n)
		}
		if !eventually(4*interval, func() bool { return len(fetches()) >= 4 }) {
			t.Fatalf("background refresh: %d fetches in %s, want 4", len(fetches()), 4*interval)
		}
		got := fetches()[:4]
		for i := 1; i < len(got); i++ {
			// The fetch is timed from its end inside restguard, and the
			// hit is recorded when its request arrives: a gap is never
			// shorter than the interval, whatever the scheduling delay.
			if gap := got[i].Sub(got[i-1]); gap < interval-100*time.Millisecond {
				t.Errorf("fetch %d came %s after fetch %d, want at least refresh_interval %s (before: the first came after min_refresh_interval)", i+1, gap.Round(time.Millisecond), i, interval)
			}
		}
		e.run(t, in{headers: hdrs(bearer(idp.Mint(t, p0(idp.Issuer, nil))))}, allow("alice"))
	}},

	// Item 17(b). Two providers of one issuer (one audience per host) each
	// had their own key set: two fetches at startup, and a kid rotation
	// refetched once per provider. Now providers with the same JWKS source
	// and fetch settings share one key set within a configuration and
	// across reloads. Before: 2 fetches at startup, 3 after the rotation.
	{"O4_17_one_key_set_per_issuer", func(t *testing.T, s *suite) {
		idp := idptest.New(s.top)
		e := s.profile(t, "o4-17b", fmt.Sprintf(`listen: {grpc: "127.0.0.1:0", http: "127.0.0.1:0", admin: "127.0.0.1:0"}
forward_auth: {style: envoy}
realm: jira
client_ip: {trusted_proxies: ["127.0.0.1/32"]}
providers:
  - {name: jira, issuer: %[1]q, audiences: [%[2]q], jwks: {min_refresh_interval: 1s}}
  - {name: wiki, issuer: %[1]q, audiences: [%[3]q], jwks: {min_refresh_interval: 1s}}
rules:
  - {name: jira, hosts: [jira.example.test], paths: ["/rest/**"], authenticate: [jira]}
  - {name: wiki, hosts: [confluence.example.test], paths: ["/rest/**"], authenticate: [wiki]}
default: {action: deny}
`, idp.Issuer, jiraAud, confAud))
		if n := idp.JWKSHits(); n != 1 {
			t.Errorf("%d JWKS fetches at startup for two providers of one issuer, want 1", n)
		}
		k3 := idp.AddKey(t, "k3")
		forJira := idp.MintWithKey(t, "k3", k3, p0(idp.Issuer, nil))
		forWiki := idp.MintWithKey(t, "k3", k3, p0(idp.Issuer, map[string]any{"aud": confAud}))
		// The first unknown-kid refetch is allowed min_refresh_interval
		// after the startup fetch.
		if !eventually(10*time.Second, func() bool {
			return e.checkGRPC(t, mustReq(t, in{headers: hdrs(bearer(forJira))})).status == 200
		}) {
			t.Fatal("the rotated key was never picked up")
		}
		// (A group, so that its parallel cases finish before the count.)
		t.Run("after_rotation", func(t *testing.T) {
			e.table(t, []cs{
				{name: "jira", r: in{headers: hdrs(bearer(forJira))}, w: allow("alice")},
				{name: "wiki", r: in{host: confHost, headers: hdrs(bearer(forWiki))}, w: allow("alice")},
				{name: "wiki_token_on_jira", r: in{headers: hdrs(bearer(forWiki))}, w: invalidToken("audience_mismatch")},
			})
		})
		if n := idp.JWKSHits(); n != 2 {
			t.Errorf("%d JWKS fetches after one kid rotation seen by both providers, want 2 (startup and one refetch)", n)
		}
	}},

	// Item 18. A reload reused a pooled JWT provider whose YAML text printed
	// the same; a node that refers to an anchor prints as "*auds" whatever
	// the anchor holds. Before: after "configuration reloaded", a token for
	// the audience removed from the anchor was still allowed until restart.
	// Now a provider is reused only when its decoded configuration (and its
	// secret's content) is unchanged; its key set is reused all the same.
	{"O4_18_reload_anchor_revokes_audience", func(t *testing.T, s *suite) {
		idp := idptest.New(s.top)
		const tmpl = `listen: {grpc: "127.0.0.1:0", http: "127.0.0.1:0", admin: "127.0.0.1:0"}
forward_auth: {style: envoy}
realm: jira
client_ip: {trusted_proxies: ["127.0.0.1/32"]}
providers:
  - name: wiki
    issuer: %[1]q
    audiences: &auds %[2]s
  - name: api
    issuer: %[1]q
    audiences: *auds
rules:
  - {name: wiki, hosts: [confluence.example.test], paths: ["/rest/**"], authenticate: [wiki]}
  - {name: api, hosts: [jira.example.test], paths: ["/rest/**"], authenticate: [api]}
default: {action: deny}
`
		both := fmt.Sprintf(`[%q, %q]`, jiraAud, confAud)
		e := s.profile(t, "o4-18", fmt.Sprintf(tmpl, idp.Issuer, both))
		forJira := idp.Mint(t, p0(idp.Issuer, nil))
		forWiki := idp.Mint(t, p0(idp.Issuer, map[string]any{"aud": confAud}))
		// (Groups, so that their parallel cases run before and after the
		// reload, not all after the entry returns.)
		t.Run("before_reload", func(t *testing.T) {
			e.table(t, []cs{
				{name: "jira_audience", r: in{headers: hdrs(bearer(forJira))}, w: allow("alice")},
				{name: "wiki_audience", r: in{headers: hdrs(bearer(forWiki))}, w: allow("alice")},
			})
		})
		hits := idp.JWKSHits()
		if err := os.WriteFile(e.rg.ConfigPath, []byte(fmt.Sprintf(tmpl, idp.Issuer, fmt.Sprintf(`[%q]`, confAud))), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := e.rg.Reload(); err != nil {
			t.Fatal(err)
		}
		if !e.rg.WaitLog(`"msg":"configuration reloaded"`, 1, 10*time.Second) {
			t.Fatalf("no reload logged:\n%s", e.rg.Logs())
		}
		t.Run("after_reload", func(t *testing.T) {
			e.table(t, []cs{
				// before: allowed as alice until restart
				{name: "revoked_audience", r: in{headers: hdrs(bearer(forJira))}, w: invalidToken("audience_mismatch")},
				{name: "revoked_audience_wiki", r: in{host: confHost, headers: hdrs(bearer(forJira))}, w: invalidToken("audience_mismatch")},
				{name: "kept_audience", r: in{headers: hdrs(bearer(forWiki))}, w: allow("alice")},
			})
		})
		if n := idp.JWKSHits(); n != hits {
			t.Errorf("the reload refetched the unchanged key set: %d → %d JWKS fetches", hits, n)
		}
	}},
}
