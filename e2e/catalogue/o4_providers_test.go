package catalogue

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
}
