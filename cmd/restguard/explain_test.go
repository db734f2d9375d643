package main

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/restguard/restguard/internal/idptest"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/explain/*.golden")

// normalise removes what changes from run to run: the IdP's port, token
// fingerprints and remaining lifetimes.
var normalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`http://127\.0\.0\.1:\d+`), "http://IDP"},
	{regexp.MustCompile(`sha256:[0-9a-f]{16}`), "sha256:FINGERPRINT"},
	{regexp.MustCompile(`expires in [0-9hms.]+`), "expires in TTL"},
}

func normalise(s string) string {
	for _, n := range normalisers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}

// TestExplainGolden runs `restguard explain` over recorded CheckRequests
// and flag-built requests: an allow, each kind of deny, and an IdP outage.
func TestExplainGolden(t *testing.T) {
	idp := idptest.New(t)
	down := idptest.New(t)
	down.SetJWKSFault(func(w http.ResponseWriter, _ *http.Request) bool {
		http.Error(w, "upstream connect error", http.StatusBadGateway)
		return true
	})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "restguard.yaml")
	cfgText := fmt.Sprintf(fixtureConfig, idp.Issuer)
	// A second issuer whose JWKS endpoint is down, on its own rule.
	cfgText = strings.Replace(cfgText, "rules:\n", fmt.Sprintf("  - name: down\n    issuer: %s\n    audiences: [restguard]\nrules:\n  - name: outage\n    paths: [\"/outage/**\"]\n    authenticate: [down]\n", down.Issuer), 1)
	if err := os.WriteFile(cfg, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := idp.Mint(t, map[string]any{"groups": []string{"jira-api-users"}, "sub": "u-alice", "client_id": "jira-cli"})
	fixture := func(name, token string) string {
		b, err := protojson.Marshal(loadFixture(t, name, token))
		if err != nil {
			t.Fatal(err)
		}
		return write(name, string(b))
	}
	tests := []struct {
		name string
		args []string
		exit int
	}{
		{"allow-fixture-01", []string{"-request", fixture("01-jira-get-project-bearer-http11.json", good)}, 0},
		{"allow-xff-fixture-08", []string{"-request", fixture("08-jira-proxy-chain-xff.json", good)}, 0},
		{"basic-blocked-fixture-05", []string{"-request", fixture("05-jira-basic-auth.json", good)}, 1},
		{"no-credentials-fixture-06", []string{"-request", fixture("06-jira-no-auth.json", good)}, 1},
		{"public-ui-fixture-07", []string{"-request", fixture("07-jira-ui-dashboard-jspa-browser.json", good)}, 0},
		{"expired-token", []string{"-host", "jira.example.com", "-token-file", write("expired.jwt", idp.Mint(t, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})), "/rest/api/2/myself"}, 1},
		{"group-missing", []string{"-host", "jira.example.com", "-token-file", write("bob.jwt", idp.Mint(t, map[string]any{"preferred_username": "bob", "groups": []string{"jira-users"}})), "/rest/api/2/myself"}, 1},
		{"ip-denied", []string{"-host", "jira.example.com", "-ip", "203.0.113.9", "-token-file", write("alice.jwt", good), "/rest/api/2/search"}, 1},
		{"dotdot-path-stays-protected", []string{"-host", "jira.example.com", "/status/..;/rest/api/2/myself"}, 1},
		{"case-variant-path-ambiguous", []string{"-host", "jira.example.com", "/REST/api/2/myself"}, 1},
		{"idp-outage", []string{"-host", "jira.example.com", "-token-file", write("down.jwt", down.Mint(t, nil)), "/outage/x"}, 1},
		// No provider of the rule is responsible: the token's iss is shown
		// beside the provider's issuer, and not as an error.
		{"issuer-unknown", []string{"-host", "jira.example.com", "-token-file", write("other.jwt", idp.Mint(t, map[string]any{"iss": "https://other-issuer.example"})), "/rest/api/2/myself"}, 1},
		// The default rule decides: the rule the request nearly matched.
		{"default-nearly-context-path", []string{"-host", "jira.example.com", "/jira/rest/api/2/myself"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(append([]string{"explain", "-config", cfg, "-timeout", "5s"}, tc.args...), &out, &errOut)
			if code != tc.exit {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.exit, out.String(), errOut.String())
			}
			got := normalise(out.String())
			for _, secret := range []string{good, "Bearer ey"} {
				if strings.Contains(out.String(), secret) {
					t.Fatal("explain printed a token")
				}
			}
			golden := filepath.Join("testdata", "explain", tc.name+".golden")
			if *updateGolden {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -run TestExplainGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("explain output differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}
