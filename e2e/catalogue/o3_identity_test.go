package catalogue

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// entriesOIdentity: usernames, presets and user lists (seams items 10-14,
// 16). Each entry starts the profiles it needs (one restguard each, cached
// by name), so that an entry whose configuration keys did not exist before
// its fix fails alone.
var entriesOIdentity = []entry{
	{"O3_10_strip_domain_names_the_domains", func(t *testing.T, s *suite) {
		// Before: username.strip_domain: true stripped any domain and any
		// realm, so admin@partner.example, ADMIN@attacker.example (with
		// lowercase) and EVIL\admin all reached Jira as admin. The old key
		// loaded; the named lists did not exist.
		out, err := validate(t, fmt.Sprintf(o3StripOld, s.a.Issuer, jiraAud))
		if err == nil || !strings.Contains(out, "atlassian.products[0].username.strip_domain") || !strings.Contains(out, "strip_domains") {
			t.Errorf("username.strip_domain: true is accepted or its error does not say what to write instead (err %v):\n%s", err, out)
		}
		e := s.o3Profile(t, "o3-strip", fmt.Sprintf(o3StripConfig, s.a.Issuer, jiraAud))
		u := func(name string) []string { return hdrs(bearer(s.t0(t, map[string]any{"preferred_username": name}))) }
		rejected := forbidden("username_rejected")
		e.table(t, []cs{
			{name: "named_domain", r: in{host: "o3-strip.example.test", headers: u("alice@corp.example.com")}, w: allow("alice")},
			{name: "named_domain_other_case", r: in{host: "o3-strip.example.test", headers: u("alice@CORP.Example.COM")}, w: allow("alice")},
			{name: "named_realm", r: in{host: "o3-strip.example.test", headers: u(`CORP\alice`)}, w: allow("alice")},
			{name: "named_realm_other_case", r: in{host: "o3-strip.example.test", headers: u(`corp\alice`)}, w: allow("alice")},
			{name: "no_domain", r: in{host: "o3-strip.example.test", headers: u("alice")}, w: allow("alice")},
			{name: "partner_domain", r: in{host: "o3-strip.example.test", headers: u("admin@partner.example")}, w: rejected},
			{name: "attacker_domain", r: in{host: "o3-strip.example.test", headers: u("ADMIN@attacker.example")}, w: rejected},
			{name: "subdomain_not_named", r: in{host: "o3-strip.example.test", headers: u("admin@evil.corp.example.com")}, w: rejected},
			{name: "suffix_not_a_domain", r: in{host: "o3-strip.example.test", headers: u("admin@xcorp.example.com")}, w: rejected},
			{name: "other_realm", r: in{host: "o3-strip.example.test", headers: u(`EVIL\admin`)}, w: rejected},
			{name: "two_at_signs", r: in{host: "o3-strip.example.test", headers: u("admin@partner.example@corp.example.com")}, w: rejected},
			{name: "empty_local_part", r: in{host: "o3-strip.example.test", headers: u("@corp.example.com")}, w: rejected},
			// other_domains: keep hands names of other domains and realms
			// to the product whole: a distinct Jira user, never the local one.
			{name: "keep_other_domain", r: in{host: "o3-keep.example.test", headers: u("admin@partner.example")}, w: allow("admin@partner.example")},
			{name: "keep_strips_named", r: in{host: "o3-keep.example.test", headers: u("alice@corp.example.com")}, w: allow("alice")},
		})
	}},
	{"O3_11_unicode_case_folding", func(t *testing.T, s *suite) {
		// Before: lowercase used Go's full Unicode folding, so admİn
		// (U+0130) and the Kelvin sign's \u212Aate became ASCII admin and
		// kate, while Jira (Java, English locale) resolves admi̇n and kate
		// only for the second. The directory cache was keyed by the same
		// folding: an admİn lookup that 404s was cached under admin (the real
		// admin then got 403 user_unknown for the negative TTL), and once
		// chief was cached, chİef borrowed chief's groups.
		e := s.o3Fold(t)
		u := func(name string, extra map[string]any) []string {
			c := map[string]any{"preferred_username": name}
			for k, v := range extra {
				c[k] = v
			}
			return hdrs(bearer(s.t0(t, c)))
		}
		rejected := forbidden("username_rejected")
		t.Run("provider_lowercase", func(t *testing.T) {
			e.table(t, []cs{
				{name: "ascii", r: in{host: "o3-plower.example.test", headers: u("ALICE", nil)}, w: allow("alice")},
				{name: "dotted_capital_i", r: in{host: "o3-plower.example.test", headers: u("admİn", nil)}, w: rejected},
				{name: "kelvin_sign", r: in{host: "o3-plower.example.test", headers: u("\u212Aate", nil)}, w: rejected},
				{name: "unchanged_non_ascii", r: in{host: "o3-plower.example.test", headers: u("jürgen", nil)}, w: allow("jürgen")},
			})
		})
		t.Run("product_lowercase", func(t *testing.T) {
			e.table(t, []cs{
				{name: "ascii", r: in{host: "o3-lower.example.test", headers: u("Admin", map[string]any{"groups": nil})}, w: allow("admin")},
				{name: "dotted_capital_i", r: in{host: "o3-lower.example.test", headers: u("admİn", map[string]any{"groups": nil})}, w: rejected},
			})
			if n := e.jira.calls("admİn") + e.jira.calls("admin\u0307n"); n != 0 {
				t.Errorf("a refused name reached the directory %d times", n)
			}
		})
		// The cache scenarios run in order against the directory of the
		// product without lowercase.
		t.Run("negative_entry_does_not_poison_the_real_user", func(t *testing.T) {
			e.run(t, in{host: "o3-dir.example.test", headers: u("admİn", map[string]any{"groups": nil})}, forbidden("user_unknown"))
			e.run(t, in{host: "o3-dir.example.test", headers: u("admin", map[string]any{"groups": nil})}, allow("admin"))
		})
		t.Run("lookalike_does_not_borrow_groups", func(t *testing.T) {
			e.run(t, in{host: "o3-dir.example.test", headers: u("chief", map[string]any{"groups": nil})}, allow("chief"))
			e.run(t, in{host: "o3-dir.example.test", headers: u("chİef", map[string]any{"groups": nil})}, forbidden("user_unknown"))
			if e.jira.calls("chİef") == 0 {
				t.Error("chİef was never looked up: it was answered from chief's cache entry")
			}
		})
	}},
	{"O3_12_preset_identities", func(t *testing.T, s *suite) {
		// Before: the custom preset mapped [preferred_username, email, sub]
		// with no e-mail verification, so a token without
		// preferred_username was forwarded as its self-service e-mail
		// (nOAuth, catalogue E1); a provider naming claims [email] accepted
		// email_verified: false; discord (like github, gitlab and slack)
		// defaulted to the mutable user name, facebook and miniorange to the
		// e-mail.
		e := s.o3Presets(t)
		tok := func(extra map[string]any) []string { return hdrs(bearer(s.t0(t, extra))) }
		unverified := map[string]any{"preferred_username": nil, "sub": "u-9", "email": "admin@corp.example", "email_verified": false}
		missing := invalidToken("username_missing")
		e.table(t, []cs{
			{name: "custom_no_preferred_username", r: in{host: "o3-custom.example.test", headers: tok(unverified)}, w: missing},
			{name: "custom_preferred_username", r: in{host: "o3-custom.example.test", headers: tok(nil)}, w: allow("alice")},
			{name: "email_unverified", r: in{host: "o3-email.example.test", headers: tok(unverified)}, w: missing},
			{name: "email_verified_absent", r: in{host: "o3-email.example.test", headers: tok(map[string]any{"email": "admin@corp.example"})}, w: missing},
			{name: "email_verified_string_false", r: in{host: "o3-email.example.test", headers: tok(map[string]any{"email": "admin@corp.example", "email_verified": "false"})}, w: missing},
			{name: "email_verified_true", r: in{host: "o3-email.example.test", headers: tok(map[string]any{"email": "bob@corp.example", "email_verified": true})}, w: allow("bob@corp.example")},
			{name: "email_verified_string_true", r: in{host: "o3-email.example.test", headers: tok(map[string]any{"email": "bob@corp.example", "email_verified": "true"})}, w: allow("bob@corp.example")},
			{name: "discord_immutable_id", r: in{host: "o3-remote.example.test", headers: hdrs(bearer(e.discord.token(`{"id":"80351110224678912","username":"alice"}`)))}, w: allow("80351110224678912")},
		})
		t.Run("explicit_opt_in", func(t *testing.T) {
			o := s.o3Profile(t, "o3-email-opt-in", fmt.Sprintf(o3EmailOptInConfig, s.a.Issuer, jiraAud, e.discord.srv.URL))
			o.table(t, []cs{
				{name: "unverified_email_accepted", r: in{host: "o3-email-any.example.test", headers: tok(unverified)}, w: allow("admin@corp.example")},
				{name: "discord_mutable_name_by_choice", r: in{host: "o3-remote.example.test", headers: hdrs(bearer(e.discord.token(`{"id":"80351110224678913","username":"carol"}`)))}, w: allow("carol")},
			})
		})
	}},
	{"O3_13_username_pattern", func(t *testing.T, s *suite) {
		// Before: restguard had no identity pattern. A token whose
		// preferred_username is ${jndi:ldap://…} was allowed and reached Jira
		// as that user name, and so were path separators, realms and
		// ${…}/%{…} lookups.
		jndi := "${jndi:ldap://" + strings.TrimPrefix(s.canary.URL, "http://") + "/a}"
		u := func(name string) []string { return hdrs(bearer(s.t0(t, map[string]any{"preferred_username": name}))) }
		rejected := forbidden("username_rejected")
		t.Run("product_default", func(t *testing.T) {
			e := s.o3Profile(t, "o3-pattern-product", fmt.Sprintf(o3PatternProductConfig, s.a.Issuer, jiraAud))
			e.table(t, []cs{
				{name: "jndi", r: in{host: "o3-pattern.example.test", headers: u(jndi)}, w: rejected},
				{name: "percent_lookup", r: in{host: "o3-pattern.example.test", headers: u("%{date}")}, w: rejected},
				{name: "traversal", r: in{host: "o3-pattern.example.test", headers: u("../../admin")}, w: rejected},
				{name: "slash", r: in{host: "o3-pattern.example.test", headers: u("admin/x")}, w: rejected},
				{name: "realm", r: in{host: "o3-pattern.example.test", headers: u(`EVIL\admin`)}, w: rejected},
				{name: "plain", r: in{host: "o3-pattern.example.test", headers: u("alice")}, w: allow("alice")},
				{name: "email_like", r: in{host: "o3-pattern.example.test", headers: u("alice@corp.example")}, w: allow("alice@corp.example")},
				{name: "dollar_alone", r: in{host: "o3-pattern.example.test", headers: u("ali$ce")}, w: allow("ali$ce")},
			})
		})
		t.Run("configured_patterns", func(t *testing.T) {
			e := s.o3Profile(t, "o3-pattern", fmt.Sprintf(o3PatternConfig, s.a.Issuer, jiraAud))
			e.table(t, []cs{
				{name: "provider_match", r: in{host: "o3-ppattern.example.test", headers: u("bob.smith")}, w: allow("bob.smith")},
				{name: "provider_upper_case", r: in{host: "o3-ppattern.example.test", headers: u("Bob")}, w: rejected},
				{name: "provider_anchored_prefix", r: in{host: "o3-ppattern.example.test", headers: u("bob!")}, w: rejected},
				{name: "provider_anchored_suffix", r: in{host: "o3-ppattern.example.test", headers: u("!bob")}, w: rejected},
				{name: "product_pattern_after_strip", r: in{host: "o3-ppattern-product.example.test", headers: u("bob@corp.example.com")}, w: allow("bob")},
				{name: "product_pattern_refuses", r: in{host: "o3-ppattern-product.example.test", headers: u("svc-bob")}, w: rejected},
				{name: "product_default_still_applies", r: in{host: "o3-ppattern-product.example.test", headers: u("${x}")}, w: rejected},
			})
		})
		if n := s.canary.hits.Load(); n != 0 {
			t.Errorf("canary received %d requests", n)
		}
	}},
	{"O3_14_user_lists_fold_like_the_product", func(t *testing.T, s *suite) {
		// Before: users.allow, users.deny and username.map compared
		// case-sensitively, while Jira resolves Former-Admin as former-admin:
		// a deny list naming former-admin let Former-Admin through, an allow
		// list naming alice refused ALICE, and a map for old.name missed
		// Old.Name.
		e := s.o3Profile(t, "o3-users", fmt.Sprintf(o3UsersConfig, s.a.Issuer, jiraAud))
		u := func(name string) []string { return hdrs(bearer(s.t0(t, map[string]any{"preferred_username": name}))) }
		denied := forbidden("user_denied")
		e.table(t, []cs{
			{name: "deny_exact", r: in{host: "o3-users.example.test", headers: u("former-admin")}, w: denied},
			{name: "deny_other_case", r: in{host: "o3-users.example.test", headers: u("Former-Admin")}, w: denied},
			{name: "deny_upper_case", r: in{host: "o3-users.example.test", headers: u("FORMER-ADMIN")}, w: denied},
			{name: "deny_final_sigma", r: in{host: "o3-users.example.test", headers: u("ΟΔΟΣ")}, w: denied},
			{name: "deny_not_folded_by_java", r: in{host: "o3-users.example.test", headers: u("former-admİn")}, w: allow("former-admİn")},
			{name: "allow_other_case", r: in{host: "o3-users.example.test", path: "/rest/allow-only/x", headers: u("ALICE")}, w: allow("ALICE")},
			{name: "allow_list_refuses_others", r: in{host: "o3-users.example.test", path: "/rest/allow-only/x", headers: u("bob")}, w: denied},
			{name: "map_other_case", r: in{host: "o3-users.example.test", headers: u("Old.Name")}, w: allow("new.name")},
		})
	}},
	{"O3_16_userinfo_subject_and_presence", func(t *testing.T, s *suite) {
		// Before: a userinfo answer without sub (OIDC Core §5.3.2: always
		// returned) was allowed, and so was a Discord answer without user.id;
		// required_claims could only list values (an empty list refused every
		// token, and a JWT provider with one did not load).
		e := s.o3Presets(t)
		ui := func(body string) []string {
			tok := "ui_" + randHex(8)
			e.as.set(tok, answer{body: body})
			return hdrs(bearer(tok))
		}
		team := func(body string) []string {
			tok := "uit_" + randHex(8)
			e.as.set(tok, answer{body: body})
			return hdrs(bearer(tok))
		}
		intro := func(extra string) []string {
			tok := "opr_" + randHex(8)
			e.as.set(tok, answer{body: activeBody(extra)})
			return hdrs(bearer(tok))
		}
		mismatch := invalidToken("claim_mismatch")
		e.table(t, []cs{
			{name: "userinfo_no_sub", r: in{host: "o3-remote.example.test", headers: ui(`{"preferred_username":"dave"}`)}, w: mismatch},
			{name: "userinfo_empty_sub", r: in{host: "o3-remote.example.test", headers: ui(`{"sub":"","preferred_username":"dave"}`)}, w: mismatch},
			{name: "userinfo_sub", r: in{host: "o3-remote.example.test", headers: ui(`{"sub":"u-1","preferred_username":"dave"}`)}, w: allow("dave")},
			{name: "discord_no_user_id", r: in{host: "o3-remote.example.test", headers: hdrs(bearer(e.discord.token(`{"username":"alice"}`)))}, w: mismatch},
			{name: "required_present", r: in{host: "o3-remote.example.test", headers: team(`{"sub":"u-2","preferred_username":"erin","team":"blue"}`)}, w: allow("erin")},
			{name: "required_absent", r: in{host: "o3-remote.example.test", headers: team(`{"sub":"u-2","preferred_username":"erin"}`)}, w: mismatch},
			{name: "required_null", r: in{host: "o3-remote.example.test", headers: team(`{"sub":"u-2","preferred_username":"erin","team":null}`)}, w: mismatch},
			{name: "introspection_required_present", r: in{host: "o3-remote.example.test", headers: intro(`"team":"blue"`)}, w: allow("alice")},
			{name: "introspection_required_absent", r: in{host: "o3-remote.example.test", headers: intro("")}, w: mismatch},
		})
		t.Run("jwt_presence", func(t *testing.T) {
			j := s.o3Profile(t, "o3-required-jwt", fmt.Sprintf(o3RequiredJWTConfig, s.a.Issuer, jiraAud))
			j.table(t, []cs{
				{name: "present", r: in{host: "o3-required.example.test", headers: hdrs(bearer(s.t0(t, map[string]any{"acr": "mfa"})))}, w: allow("alice")},
				{name: "absent", r: in{host: "o3-required.example.test", headers: hdrs(bearer(s.t0(t, nil)))}, w: mismatch},
				{name: "null", r: in{host: "o3-required.example.test", headers: hdrs(bearer(s.raw(t, h0, s.payload(nil, `"acr":null`))))}, w: mismatch},
			})
			out, err := validate(t, fmt.Sprintf(o3RequiredNullConfig, s.a.Issuer, jiraAud))
			if err == nil || !strings.Contains(out, "providers[0].required_claims") || !strings.Contains(out, "[]") {
				t.Errorf("required_claims with a null value is accepted or its error does not name [] (err %v):\n%s", err, out)
			}
		})
	}},
}

// o3Profile validates configYAML (so that a configuration error fails at
// once, with its message) and starts the profile.
func (s *suite) o3Profile(t *testing.T, name, configYAML string) *env {
	t.Helper()
	if out, err := validate(t, configYAML); err != nil {
		t.Fatalf("profile %s does not load: %v\n%s", name, err, out)
	}
	return s.profile(t, name, configYAML)
}

const o3Head = `
listen: {grpc: "127.0.0.1:0", http: "127.0.0.1:0", admin: "127.0.0.1:0"}
forward_auth: {style: envoy}
realm: jira
check_timeout: 2s
client_ip: {trusted_proxies: ["127.0.0.1/32"]}
default: {action: deny}
`

// o3StripOld is the removed spelling of item 10.
const o3StripOld = o3Head + `
providers:
  - {name: idp, issuer: %[1]q, audiences: [%[2]q]}
atlassian:
  products:
    - {product: jira, hosts: [o3-strip.example.test], authenticate: [idp], username: {strip_domain: true}}
`

const o3StripConfig = o3Head + `
providers:
  - {name: idp, issuer: %[1]q, audiences: [%[2]q]}
atlassian:
  products:
    - {product: jira, name: strip, hosts: [o3-strip.example.test], authenticate: [idp], username: {strip_domains: [corp.example.com], strip_realms: [CORP], lowercase: true}}
    - {product: jira, name: keep, hosts: [o3-keep.example.test], authenticate: [idp], username: {strip_domains: [corp.example.com], other_domains: keep}}
`

const o3FoldConfig = o3Head + `
providers:
  - {name: idp, issuer: %[1]q, audiences: [%[2]q], groups: {claim: groups}}
  - {name: idp-lower, issuer: %[1]q, audiences: [%[2]q], username: {lowercase: true}}
rules:
  - {name: plower, hosts: [o3-plower.example.test], authenticate: [idp-lower]}
atlassian:
  products:
    - product: jira
      name: lower
      hosts: [o3-lower.example.test]
      url: %[3]q
      authenticate: [idp]
      username: {lowercase: true}
      groups: {any_of: [jira-api-users]}
      directory: {user_file: %[4]q, password_file: %[5]q, require_user: true, negative_ttl: 10m}
    - product: jira
      name: dir
      hosts: [o3-dir.example.test]
      url: %[3]q
      authenticate: [idp]
      groups: {any_of: [jira-api-users]}
      directory: {user_file: %[4]q, password_file: %[5]q, require_user: true, negative_ttl: 10m}
`

const o3PresetsConfig = o3Head + `
providers:
  - {name: idp-custom, preset: custom, issuer: %[1]q, audiences: [%[2]q]}
  - {name: idp-email, issuer: %[1]q, audiences: [%[2]q], username: {claims: [email]}}
  - name: ui
    kind: userinfo
    userinfo: {url: %[3]q}
    allow_any_client: true
    token_shape: {prefixes: [ui_]}
  - name: ui-team
    kind: userinfo
    userinfo: {url: %[3]q}
    allow_any_client: true
    token_shape: {prefixes: [uit_]}
    required_claims: {team: []}
  - name: intro-team
    kind: introspection
    issuer: https://as.example.test
    introspection: {endpoint: %[4]q, auth_method: none}
    audiences: [%[2]q]
    client_ids: [svc-a]
    token_shape: {prefixes: [opr_]}
    required_claims: {team: []}
  - {name: dc, preset: discord, params: {base_url: %[5]q}, client_id: our-app}
rules:
  - {name: custom, hosts: [o3-custom.example.test], authenticate: [idp-custom]}
  - {name: email, hosts: [o3-email.example.test], authenticate: [idp-email]}
  - {name: remote, hosts: [o3-remote.example.test], authenticate: [ui, ui-team, intro-team, dc]}
`

const o3EmailOptInConfig = o3Head + `
providers:
  - {name: idp-email-any, issuer: %[1]q, audiences: [%[2]q], username: {claims: [email], allow_unverified_email: true}}
  - {name: dc, preset: discord, params: {base_url: %[3]q}, client_id: our-app, username: {claims: [user.username]}}
rules:
  - {name: email-any, hosts: [o3-email-any.example.test], authenticate: [idp-email-any]}
  - {name: remote, hosts: [o3-remote.example.test], authenticate: [dc]}
`

const o3PatternProductConfig = o3Head + `
providers:
  - {name: idp, issuer: %[1]q, audiences: [%[2]q]}
atlassian:
  products:
    - {product: jira, hosts: [o3-pattern.example.test], authenticate: [idp]}
`

const o3PatternConfig = o3Head + `
providers:
  - {name: idp, issuer: %[1]q, audiences: [%[2]q]}
  - {name: idp-pattern, issuer: %[1]q, audiences: [%[2]q], username: {pattern: "[a-z][a-z0-9._-]{1,31}"}}
rules:
  - {name: ppattern, hosts: [o3-ppattern.example.test], authenticate: [idp-pattern]}
atlassian:
  products:
    - {product: jira, hosts: [o3-ppattern-product.example.test], authenticate: [idp], username: {strip_domains: [corp.example.com], pattern: "[a-z]+"}}
`

const o3UsersConfig = o3Head + `
providers:
  - {name: idp, issuer: %[1]q, audiences: [%[2]q]}
rules:
  - {name: allow-only, hosts: [o3-users.example.test], paths: ["/rest/allow-only/**"], authenticate: [idp], users: {allow: [alice]}}
atlassian:
  products:
    - {product: jira, hosts: [o3-users.example.test], authenticate: [idp], users: {deny: [former-admin, οδος]}, username: {map: {old.name: new.name}}}
`

const o3RequiredJWTConfig = o3Head + `
providers:
  - {name: idp, issuer: %[1]q, audiences: [%[2]q], required_claims: {acr: []}}
rules:
  - {name: required, hosts: [o3-required.example.test], authenticate: [idp]}
`

const o3RequiredNullConfig = o3Head + `
providers:
  - {name: idp, issuer: %[1]q, audiences: [%[2]q], required_claims: {acr: }}
rules:
  - {name: required, hosts: [o3-required.example.test], authenticate: [idp]}
`

// o3FoldEnv is the profile of item 11 with its directory stand-in.
type o3FoldEnv struct {
	*env
	jira *jiraDirectory
}

// o3PresetsEnv is the profile of items 12 and 16 with its stand-ins.
type o3PresetsEnv struct {
	*env
	as      *mockAS
	discord *discordStandIn
}

var (
	o3FoldOnce, o3PresetsOnce sync.Once
	o3FoldProfile             *o3FoldEnv
	o3PresetsProfile          *o3PresetsEnv
)

func (s *suite) o3Fold(t *testing.T) *o3FoldEnv {
	o3FoldOnce.Do(func() {
		j := newJiraDirectory(s.top, map[string][]string{
			"admin": {"jira-administrators", "jira-api-users"},
			"chief": {"jira-api-users"},
		})
		dir := s.top.TempDir()
		user, pw := filepath.Join(dir, "user"), filepath.Join(dir, "password")
		for path, v := range map[string]string{user: jiraSvcUser, pw: jiraSvcPassword} {
			if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
				s.top.Fatal(err)
			}
		}
		cfg := fmt.Sprintf(o3FoldConfig, s.a.Issuer, jiraAud, j.srv.URL, user, pw)
		o3FoldProfile = &o3FoldEnv{env: s.o3Profile(t, "o3-fold", cfg), jira: j}
	})
	if o3FoldProfile == nil {
		t.Fatal("the o3-fold profile did not start")
	}
	return o3FoldProfile
}

func (s *suite) o3Presets(t *testing.T) *o3PresetsEnv {
	o3PresetsOnce.Do(func() {
		as := newMockAS(s.top, s.canary)
		dc := newDiscordStandIn(s.top)
		cfg := fmt.Sprintf(o3PresetsConfig, s.a.Issuer, jiraAud, as.srv.URL+"/userinfo", as.srv.URL+"/introspect", dc.srv.URL)
		o3PresetsProfile = &o3PresetsEnv{env: s.o3Profile(t, "o3-presets", cfg), as: as, discord: dc}
	})
	if o3PresetsProfile == nil {
		t.Fatal("the o3-presets profile did not start")
	}
	return o3PresetsProfile
}

const (
	jiraSvcUser     = "svc-restguard"
	jiraSvcPassword = "directory-secret"
)

// jiraDirectory stands in for Jira's GET /rest/api/2/user?username=…
// &expand=groups. Jira resolves a user name case-insensitively with Java's
// String.toLowerCase(Locale.ENGLISH); the stand-in knows only ASCII names,
// for which that is ASCII lower-casing, so admİn (Java: admi̇n) is nobody.
type jiraDirectory struct {
	srv   *httptest.Server
	users map[string][]string
	mu    sync.Mutex
	asked map[string]int
}

func newJiraDirectory(t *testing.T, users map[string][]string) *jiraDirectory {
	j := &jiraDirectory{users: users, asked: map[string]int{}}
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != jiraSvcUser || p != jiraSvcPassword {
			http.Error(w, `{"errorMessages":["unauthorized"]}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/rest/api/2/user" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query().Get("username")
		j.mu.Lock()
		j.asked[q]++
		j.mu.Unlock()
		name := asciiLower(q)
		groups, ok := j.users[name]
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errorMessages":["The user named '`+strings.ReplaceAll(q, "'", "")+`' does not exist"],"errors":{}}`)
			return
		}
		items := []map[string]string{}
		for _, g := range groups {
			items = append(items, map[string]string{"name": g})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"name": name, "key": name, "active": true,
			"groups": map[string]any{"size": len(items), "items": items}})
	}))
	t.Cleanup(j.srv.Close)
	return j
}

func (j *jiraDirectory) calls(username string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.asked[username]
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// discordStandIn answers GET /oauth2/@me: the app binding and the identity
// of the discord preset in one answer. Each token gets the user object it
// was minted with.
type discordStandIn struct {
	srv   *httptest.Server
	mu    sync.Mutex
	users map[string]string
}

func newDiscordStandIn(t *testing.T) *discordStandIn {
	d := &discordStandIn{users: map[string]string{}}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		d.mu.Lock()
		user, ok := d.users[tok]
		d.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/oauth2/@me" || !ok {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"401: Unauthorized","code":0}`)
			return
		}
		fmt.Fprintf(w, `{"application":{"id":"our-app","name":"restguard"},"scopes":["identify"],"expires":%q,"user":%s}`,
			time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000000+00:00"), user)
	}))
	t.Cleanup(d.srv.Close)
	return d
}

// token registers a new token whose answer carries userJSON as the user.
func (d *discordStandIn) token(userJSON string) string {
	tok := "dc" + randHex(12)
	d.mu.Lock()
	d.users[tok] = userJSON
	d.mu.Unlock()
	return tok
}
