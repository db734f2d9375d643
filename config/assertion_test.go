package config_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restguard/restguard/assertion"
	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/internal/idptest"
)

// writeKey writes a fresh PKCS#8 private key (ed25519 or ES256) and
// returns its path.
func writeKey(t *testing.T, dir, name string, ec bool) string {
	t.Helper()
	var der []byte
	var err error
	if ec {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err = x509.MarshalPKCS8PrivateKey(k)
	} else {
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		der, err = x509.MarshalPKCS8PrivateKey(k)
	}
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAuthenticatedAllowCarriesAVerifiableAssertion: an authenticated allow
// carries a signed assertion the product can verify for exactly that
// request; a client's own assertion header never reaches the product; a
// public route carries none (issue 14 §1).
func TestAuthenticatedAllowCarriesAVerifiableAssertion(t *testing.T) {
	t.Parallel()
	for _, ec := range []bool{false, true} {
		t.Run(fmt.Sprintf("ec=%v", ec), func(t *testing.T) {
			t.Parallel()
			idp := idptest.New(t)
			dir := t.TempDir()
			key := writeKey(t, dir, "key.pem", ec)
			c, err := config.Parse("a.yaml", []byte(fmt.Sprintf(`providers: [{name: corp, issuer: %q, audiences: [restguard], groups: {claim: groups}}]
assertion: {issuer: restguard-test, key_file: %q, audience: "https://jira.example.com", groups: true, lifetime: 20s}
rules:
  - {name: status, paths: ["/status"], action: pass}
  - {name: wiki, paths: ["/wiki/**"], authenticate: [corp], assertion_audience: "https://wiki.example.com"}
  - {name: rest, paths: ["/rest/**"], authenticate: [corp]}
default: {action: deny}
`, idp.Issuer, key)))
			if err != nil {
				t.Fatal(err)
			}
			rt, err := config.Build(c, config.BuildOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := rt.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			ks, err := assertion.NewKeySet(rt.Assertion.Signer.Public())
			if err != nil {
				t.Fatal(err)
			}
			tok := idp.Mint(t, map[string]any{"groups": []string{"jira-api-users"}})
			check := func(path, query string, extra http.Header) authz.Decision {
				h := http.Header{"Authorization": {"Bearer " + tok}}
				for k, v := range extra {
					h[k] = v
				}
				return rt.Engine.Check(context.Background(), &authz.Request{ID: "t", Method: "POST", Host: "jira.example.com", Path: path, Query: query, Header: h, Source: netip.MustParseAddr("10.0.0.1")})
			}
			d := check("/rest/api/2/./issue", "a=1", http.Header{"X-Restguard-Assertion": {"forged"}})
			var value string
			for _, h := range d.UpstreamHeaders {
				if strings.EqualFold(h.Name, "X-Restguard-Assertion") {
					value = h.Value
				}
			}
			if value == "" || d.AssertionID == "" {
				t.Fatalf("no assertion on an authenticated allow: %+v", d.UpstreamHeaders)
			}
			for _, r := range d.RemoveHeaders {
				if r == "x-restguard-assertion" {
					t.Error("the assertion header is set and removed (Envoy removes after setting)")
				}
			}
			for _, aud := range []string{"https://jira.example.com"} {
				v, err := assertion.NewVerifier(assertion.VerifierConfig{Keys: ks, Issuer: "restguard-test", Audience: aud})
				if err != nil {
					t.Fatal(err)
				}
				// The product sees the normalised path with the query.
				claims, err := v.Verify(value, "POST", "/rest/api/2/issue", "a=1")
				if err != nil {
					t.Fatalf("the product cannot verify it: %v", err)
				}
				if claims.Subject != "alice" || claims.ID != d.AssertionID || claims.Expiry-claims.IssuedAt != 20 || len(claims.Groups) != 1 {
					t.Errorf("claims %+v", claims)
				}
				if _, err := v.Verify(value, "GET", "/rest/api/2/issue", "a=1"); assertion.ReasonOf(err) != assertion.ReasonReplayed && assertion.ReasonOf(err) != assertion.ReasonWrongMethod {
					t.Errorf("another method: %v", err)
				}
			}
			wiki := check("/wiki/x", "", nil)
			for _, h := range wiki.UpstreamHeaders {
				if strings.EqualFold(h.Name, "X-Restguard-Assertion") {
					v, _ := assertion.NewVerifier(assertion.VerifierConfig{Keys: ks, Issuer: "restguard-test", Audience: "https://wiki.example.com"})
					if _, err := v.Verify(h.Value, "POST", "/wiki/x", ""); err != nil {
						t.Errorf("per-rule audience: %v", err)
					}
				}
			}
			pub := rt.Engine.Check(context.Background(), &authz.Request{ID: "t", Method: "GET", Host: "jira.example.com", Path: "/status",
				Header: http.Header{"X-Restguard-Assertion": {"forged"}}, Source: netip.MustParseAddr("10.0.0.1")})
			removed := false
			for _, r := range pub.RemoveHeaders {
				removed = removed || r == "x-restguard-assertion"
			}
			if !pub.Allowed() || len(pub.UpstreamHeaders) != 0 || !removed {
				t.Errorf("public route: %v %v %v", pub.Verdict, pub.UpstreamHeaders, pub.RemoveHeaders)
			}
		})
	}
}

func TestAssertionConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := writeKey(t, dir, "k.pem", false)
	for _, c := range []struct{ yaml, want string }{
		{`assertion: {key_file: ` + key + `}`, "assertion: needs issuer"},
		{`assertion: {issuer: x}`, "assertion: needs key_file"},
		{`assertion: {issuer: x, key_file: /does/not/exist}`, "assertion.key_file: assertion: signing key: open /does/not/exist"},
		{`assertion: {issuer: x, key_file: ` + key + `, lifetime: 2m}`, "assertion.lifetime: 2m0s is longer than 1m0s"},
		{`assertion: {issuer: x, key_file: ` + key + `, publish_key_files: [/nope.pem]}`, "assertion.publish_key_files[0]"},
		{`assertion: {issuer: x, key_file: ` + key + `, lifetime: 1500ms}`, "assertion.lifetime: 1.5s is not a whole number of seconds"},
		{`assertion: {issuer: x, key_file: ` + key + `, lifetime: 500ms}`, "assertion.lifetime: 500ms is not a whole number of seconds"},
		{`rules: [{name: r, authenticate: [corp], assertion_audience: "https://x"}]`, "rules[0].assertion_audience: no assertion section"},
		{"assertion: {issuer: x, key_file: " + key + "}\nrules: [{name: open, action: pass, assertion_audience: \"https://x\"}]", `rules[0].assertion_audience: rule "open" has action pass`},
		{`rules: [{name: gone, action: deny, assertion_audience: "https://x"}]`, `rules[0].assertion_audience: rule "gone" has action deny`},
	} {
		yaml := "providers: [{name: corp, issuer: https://sso.example.com, audiences: [jira]}]\n" + c.yaml + "\n"
		if !strings.Contains(c.yaml, "rules:") {
			yaml += "rules: [{name: r, authenticate: [corp]}]\n"
		}
		cfg, err := config.Parse("bad.yaml", []byte(yaml))
		if err == nil {
			_, err = config.Build(cfg, config.BuildOptions{})
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.yaml, err, c.want)
		}
	}
	_ = time.Second
}

// TestAssertionWithoutAudienceWarns: with the section on, an authenticated
// rule that has no audience (its own or the section's) signs nothing; the
// product behind it then trusts the user header alone, which is what the
// section was meant to end.
func TestAssertionWithoutAudienceWarns(t *testing.T) {
	t.Parallel()
	key := writeKey(t, t.TempDir(), "k.pem", false)
	yaml := "providers: [{name: corp, issuer: https://sso.example.com, audiences: [jira]}]\n" +
		"assertion: {issuer: x, key_file: " + key + "}\n" +
		"rules:\n- {name: signed, hosts: [a.example.com], authenticate: [corp], assertion_audience: \"https://a.example.com\"}\n" +
		"- {name: unsigned, hosts: [b.example.com], authenticate: [corp]}\n" +
		"- {name: open, hosts: [c.example.com], action: pass}\n"
	cfg, err := config.Parse("w.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := config.Build(cfg, config.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range rt.Warnings {
		if strings.Contains(w.Msg, "assertion") {
			got = append(got, w.String())
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], `w.yaml:5: rules[1]: warning: rule "unsigned" authenticates but signs no identity assertion`) {
		t.Errorf("warnings = %q, want one for rules[1] at line 5", got)
	}
}
