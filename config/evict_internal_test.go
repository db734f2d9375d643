package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/restguard/restguard/providers"
)

// TestEveryRemoteCacheIsReachedByRevoke: restguard revoke must reach every
// in-process cache of remote answers: each provider that sends tokens
// somewhere (introspection, userinfo and the presets built on them,
// discovery's opaque-token validator) and each product's native-token and
// directory caches. A new kind that forgets Evict fails here instead of
// leaving revoked answers in place while the command reports success.
func TestEveryRemoteCacheIsReachedByRevoke(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"secret", "user", "password"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x-"+f+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	yaml := `
providers:
  - name: intro
    kind: introspection
    introspection: {endpoint: "https://sso.example.com/introspect"}
    client_id: rs
    client_secret: {file: secret}
    client_ids: [cli]
  - name: github
    preset: github
    client_id: Iv1.8a61f9b3a7aba766
    client_secret: {file: secret}
  - name: slack
    preset: slack
    params: {team_ids: [T0123ABCD]}
    allow_any_client: true
  - name: custom
    preset: custom
    issuer: "https://sso.example.com"
    audiences: [jira]
    introspection: {}
    client_id: rs
    client_secret: {file: secret}
    client_ids: [cli]
atlassian:
  products:
    - product: jira
      url: https://jira.example.com
      authenticate: [intro, github, slack, custom]
      native_tokens: {mode: verify}
      directory: {user_file: user, password_file: password}
`
	file := filepath.Join(dir, "restguard.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := Build(c, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	remote := 0
	for _, bp := range rt.Providers {
		if !bp.remote {
			continue
		}
		remote++
		if _, ok := bp.Validator.(providers.Evicter); !ok {
			t.Errorf("provider %s (%T) sends tokens to its provider and caches the answers, but revoke cannot reach them", bp.Name, bp.Validator)
		}
	}
	if remote != 4 {
		t.Errorf("%d remote providers, want 4", remote)
	}
	if len(rt.caches) != 3 { // native (verify), native (deny twin), directory
		t.Errorf("%d product caches, want 3: %+v", len(rt.caches), rt.caches)
	}
}
