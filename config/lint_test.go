package config_test

import (
	"strings"
	"testing"

	"github.com/restguard/restguard/config"
)

// TestLintWarnings: findings that load but are probably mistakes come back
// as warnings with their lines (issue 12 §1).
func TestLintWarnings(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("warn.yaml", []byte(`listen: {admin: "0.0.0.0:9003"}
providers:
  - {name: corp, issuer: https://sso.example.com/realms/corp, audiences: [jira]}
  - {name: spare, issuer: https://spare.example.com, audiences: [jira]}
rules:
  - name: rest
    paths: ["/rest/**"]
    authenticate: [corp]
    groups: {any_of: [jira-api-users], dry_run: true}
    block_basic: {enabled: true, dry_run: true}
default: {action: deny}
`))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := config.Build(c, config.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range rt.Warnings {
		got = append(got, w.String())
	}
	for _, want := range []string{
		`warn.yaml:4: providers[1]: warning: provider "spare" is used by no rule`,
		`warn.yaml:1: listen.admin: warning: the admin listener 0.0.0.0:9003 is not on loopback`,
		`warn.yaml:9: rules[0].groups.dry_run: warning: report-only: users outside its groups are let through`,
		`warn.yaml:10: rules[0].block_basic.dry_run: warning: report-only: Basic requests`,
	} {
		if !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("missing warning %q in\n%s", want, strings.Join(got, "\n"))
		}
	}
	if len(got) != 4 {
		t.Errorf("%d warnings, want 4:\n%s", len(got), strings.Join(got, "\n"))
	}
	// The unused provider never holds readiness back (its keys are never
	// fetched here: Refresh is not called).
	for _, bp := range rt.Providers {
		if bp.Name == "spare" && !bp.Unused {
			t.Error("spare not marked unused")
		}
	}
}

// TestLintLeavesGoodConfigurationsAlone: the examples and the README's
// configurations produce no route error (they are loaded by
// TestDocsExamplesLoad); a user rule that overrides a preset route on
// purpose is not "shadowing".
func TestLintLeavesGoodConfigurationsAlone(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("ok.yaml", []byte(`providers:
  - {name: corp, issuer: https://sso.example.com/realms/corp, audiences: [jira]}
rules:
  - {name: strict-admin, hosts: [jira-api.example.com], paths: ["/rest/**"], authenticate: [corp], groups: {any_of: [admins]}}
  - {name: ui, hosts: [jira.example.com], action: pass, block_basic: {enabled: true}}
atlassian:
  products:
    - {product: jira, hosts: [jira-api.example.com], authenticate: [corp]}
    - {product: confluence, hosts: [jira-api.example.com], context_path: /wiki, authenticate: [corp]}
default: {action: deny}
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Build(c, config.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestDidYouMean(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ got, want string }{
		{"audience", `audiences`}, {"crop", `corp`}, {"authenticat", `authenticate`}, {"trusted_proxys", `trusted_proxies`},
		{"x", ""}, {"realm", ""}, {"completely", ""},
	} {
		hint := config.DidYouMean(c.got, "audiences", "corp", "authenticate", "trusted_proxies", "realm", "issuer")
		switch {
		case c.want == "" && hint != "":
			t.Errorf("%q: %q, want no hint", c.got, hint)
		case c.want != "" && !strings.Contains(hint, `"`+c.want+`"`):
			t.Errorf("%q: %q, want %q", c.got, hint, c.want)
		}
	}
}

// TestUnusedProviderDoesNotHoldReadiness: a provider no rule uses (say, an
// old IdP left in the file, now unreachable) never keeps the replica out of
// rotation (issue 12 §1).
func TestUnusedProviderDoesNotHoldReadiness(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("ready.yaml", []byte(`providers:
  - {name: keys, kind: api_key, keys: [{name: ci, sha256: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", username: ci}]}
  - {name: old-idp, issuer: "https://127.0.0.1:1/unreachable", audiences: [jira]}
rules:
  - {name: rest, paths: ["/rest/**"], authenticate: [keys]}
default: {action: deny}
`))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := config.Build(c, config.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rt.Ready() {
		t.Error("an unused provider without keys holds readiness back")
	}
}
