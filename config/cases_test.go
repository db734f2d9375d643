package config_test

import (
	"context"
	"strings"
	"testing"

	"github.com/restguard/restguard/config"
)

// TestPolicyTestsMintForEveryKind: the test issuer mints tokens a JWT, an
// introspection, a userinfo and a discovery provider accept, and answers
// their calls without any network; what a case does not claim keeps the
// provider's checks (audience, client binding, required claims).
func TestPolicyTestsMintForEveryKind(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("kinds.yaml", []byte(`check_timeout: 2s
providers:
  - {name: jwt, issuer: https://sso.example.com/realms/corp, audiences: [jira], required_claims: {token_use: [access]}, algorithms: [ES256]}
  - {name: cognito, issuer: https://cognito.example.com/pool, client_id_claim: client_id, client_ids: [app-1], username: {claims: [username]}}
  - name: intro
    kind: introspection
    issuer: https://as.example.com
    introspection: {endpoint: "https://as.example.com/introspect", auth_method: none}
    client_ids: [jira-cli]
    token_shape: {prefixes: [at_]}
  - name: info
    kind: userinfo
    userinfo: {url: "https://idp.example.com/userinfo"}
    allow_any_client: true
    token_shape: {prefixes: [ui_]}
  - {name: disc, kind: discovery, issuer: https://oidc.example.com, audiences: [jira]}
rules:
  - {name: jwt, paths: ["/jwt/**"], authenticate: [jwt]}
  - {name: cognito, paths: ["/cognito/**"], authenticate: [cognito]}
  - {name: intro, paths: ["/intro/**"], authenticate: [intro]}
  - {name: info, paths: ["/info/**"], authenticate: [info]}
  - {name: disc, paths: ["/disc/**"], authenticate: [disc]}
default: {action: deny}
`))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := config.ParseCases("kinds.cases.yaml", []byte(`cases:
  - {name: jwt, request: {path: /jwt/x}, token: {provider: jwt, claims: {preferred_username: alice}}, expect: {status: 200, user: alice}}
  - {name: jwt required claim, request: {path: /jwt/x}, token: {provider: jwt, claims: {preferred_username: alice, token_use: id}}, expect: {status: 401, reason: claim_mismatch}}
  - {name: jwt audience kept, request: {path: /jwt/x}, token: {provider: jwt, claims: {preferred_username: alice, aud: other}}, expect: {reason: audience_mismatch}}
  - {name: cognito client id, request: {path: /cognito/x}, token: {provider: cognito, claims: {username: carol}}, expect: {status: 200, user: carol}}
  - {name: cognito other client, request: {path: /cognito/x}, token: {provider: cognito, claims: {username: carol, client_id: evil}}, expect: {reason: audience_mismatch}}
  - {name: introspection, request: {path: /intro/x}, token: {provider: intro, claims: {username: dave}}, expect: {status: 200, user: dave}}
  - {name: introspection other client, request: {path: /intro/x}, token: {provider: intro, claims: {username: dave, client_id: account-console}}, expect: {status: 401}}
  - {name: userinfo, request: {path: /info/x}, token: {provider: info, claims: {preferred_username: erin}}, expect: {status: 200, user: erin}}
  - {name: discovery, request: {path: /disc/x}, token: {provider: disc, claims: {preferred_username: frank}}, expect: {status: 200, user: frank}}
  - {name: literal bearer, request: {path: /jwt/x}, bearer: not-a-jwt, expect: {status: 401}}
`))
	if err != nil {
		t.Fatal(err)
	}
	results, err := config.RunCases(context.Background(), c, cs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if len(r.Problems) > 0 {
			t.Errorf("%s (%s): %s", r.Case.Name, r.Where, strings.Join(r.Problems, "; "))
		}
	}
}

func TestPolicyTestsUnknownProvider(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("c.yaml", []byte(`providers: [{name: corp, issuer: https://sso.example.com, audiences: [jira]}]
rules: [{name: r, authenticate: [corp]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := config.ParseCases("x.yaml", []byte("cases:\n  - {name: a, request: {path: /}, token: {provider: crop}, expect: {status: 200}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.RunCases(context.Background(), c, cs); err == nil || !strings.Contains(err.Error(), `x.yaml:2: a: token.provider: no provider named "crop"`) {
		t.Errorf("got %v", err)
	}
}
