package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/envoy"
)

// revokeSetup is one replica with an introspection provider that counts
// its calls, and the admin secret in a file.
type revokeSetup struct {
	grpc       *envoy.Client
	admin      string
	secretFile string
	calls      *atomic.Int64
	logs       *syncBuffer
}

func newRevokeSetup(t *testing.T, withSecret bool) *revokeSetup {
	t.Helper()
	s := &revokeSetup{calls: &atomic.Int64{}, logs: &syncBuffer{}}
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"active":true,"sub":"u-1","username":"alice"}`))
	}))
	t.Cleanup(as.Close)
	dir := t.TempDir()
	s.secretFile = filepath.Join(dir, "admin-secret")
	if err := os.WriteFile(s.secretFile, []byte("correct-horse-battery-staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin := ""
	if withSecret {
		admin = fmt.Sprintf("admin: {secret_file: %q}\n", s.secretFile)
	}
	cfg := fmt.Sprintf(`
providers:
  - name: as
    kind: introspection
    introspection: {endpoint: %q, auth_method: none}
    allow_any_client: true
rules:
  - name: rest
    paths: ["/rest/**"]
    authenticate: [as]
%s`, as.URL+"/introspect", admin)
	s.grpc, _, s.admin = startServiceFull(t, cfg, s.logs)
	return s
}

func (s *revokeSetup) check(t *testing.T, token string) {
	t.Helper()
	if r := check(t, s.grpc, envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + token}}); !r.Allowed {
		t.Fatalf("denied: %v", r.Metadata)
	}
}

func (s *revokeSetup) revoke(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runWithInput(append([]string{"revoke", "-admin", "http://" + s.admin}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestRevokeWithoutRedisActsOnThisReplicaAndSaysSo: a token read from
// stdin is dropped from the replica's cache (the next check asks the
// provider again), and the operator is told that other replicas were not
// reached. The token appears in no output and no log line.
func TestRevokeWithoutRedisActsOnThisReplicaAndSaysSo(t *testing.T) {
	s := newRevokeSetup(t, true)
	const token = "opaque-token-to-revoke-1"
	s.check(t, token)
	s.check(t, token)
	if n := s.calls.Load(); n != 1 {
		t.Fatalf("%d provider calls before the revoke, want 1 (cached)", n)
	}
	code, out, errOut := s.revoke(t, token+"\n", "-secret-file", s.secretFile, "-token-stdin")
	if code != 0 {
		t.Fatalf("revoke exit %d: %s %s", code, out, errOut)
	}
	for _, want := range []string{"revoked token " + authz.Fingerprint(token) + " on this replica only: 1 entries dropped", "no redis section"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	s.check(t, token)
	if n := s.calls.Load(); n != 2 {
		t.Fatalf("%d provider calls after the revoke, want 2 (asked again)", n)
	}
	// The answer fetched right after the revocation was not cached (it
	// falls within the revocation's margin); another token of alice's is.
	s.check(t, "opaque-token-of-alice-2")
	// By user: every cached answer naming alice.
	code, out, _ = s.revoke(t, "", "-secret-file", s.secretFile, "-provider", "as", "-user", "alice")
	if code != 0 || !strings.Contains(out, `revoked user "alice" of as on this replica only: 1 entries dropped`) {
		t.Fatalf("revoke by user: %d %s", code, out)
	}
	// A name nothing is cached under is most likely a mistake: exit 1.
	code, out, _ = s.revoke(t, "", "-secret-file", s.secretFile, "-provider", "as", "-user", "Alice@corp.example")
	if code != 1 || !strings.Contains(out, "nothing cached under this user") {
		t.Fatalf("revoke of an unknown name: %d %s", code, out)
	}
	// A token pasted with its scheme matches nothing: refused.
	code, _, errOut2 := s.revoke(t, "Bearer "+token, "-secret-file", s.secretFile, "-token-stdin")
	if code != 2 || !strings.Contains(errOut2, "without \"Bearer \"") {
		t.Fatalf("a token with its scheme: %d %s", code, errOut2)
	}
	for _, leak := range []string{token, "correct-horse"} {
		if strings.Contains(out+errOut+s.logs.String(), leak) {
			t.Errorf("%q leaked into the output or the log", leak)
		}
	}
	if !strings.Contains(s.logs.String(), `"msg":"revocation"`) {
		t.Error("the revocation is not in the log")
	}
}

// TestRevokeEndpointRefusesWithoutTheSecret: no secret configured, a
// missing or wrong secret, a second Authorization header, an unknown
// provider and a body naming two things are each refused, and nothing is
// dropped.
func TestRevokeEndpointRefusesWithoutTheSecret(t *testing.T) {
	off := newRevokeSetup(t, false)
	code, _, errOut := off.revoke(t, "", "-secret-file", off.secretFile, "-fingerprint", "0123456789abcdef")
	if code != 1 || !strings.Contains(errOut, "refused (403): revocation is off: set admin.secret_file") {
		t.Fatalf("without admin.secret_file: %d %s", code, errOut)
	}

	s := newRevokeSetup(t, true)
	s.check(t, "opaque-token-kept")
	post := func(auth []string, body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.admin+RevokePath, strings.NewReader(body))
		for _, a := range auth {
			req.Header.Add("Authorization", a)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "correct-horse") {
			t.Error("the answer holds the secret")
		}
		return resp.StatusCode
	}
	all := `{"fingerprint":"` + authz.Fingerprint("opaque-token-kept") + `"}`
	for _, c := range []struct {
		name string
		auth []string
		body string
		want int
	}{
		{"no credential", nil, all, 401},
		{"wrong secret", []string{"Bearer correct-horse-battery-stapler"}, all, 401},
		{"Basic", []string{"Basic Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5LXN0YXBsZQ=="}, all, 401},
		{"two headers", []string{"Bearer correct-horse-battery-staple", "Bearer correct-horse-battery-staple"}, all, 401},
		{"unknown provider", []string{"Bearer correct-horse-battery-staple"}, `{"provider":"nope","user":"alice"}`, 400},
		{"two names", []string{"Bearer correct-horse-battery-staple"}, `{"fingerprint":"0123456789abcdef","user":"alice","provider":"as"}`, 400},
		{"unknown field", []string{"Bearer correct-horse-battery-staple"}, `{"fingerprint":"0123456789abcdef","all":true}`, 400},
		{"bad fingerprint", []string{"Bearer correct-horse-battery-staple"}, `{"fingerprint":"../../etc"}`, 400},
		{"control bytes that fold to hex", []string{"Bearer correct-horse-battery-staple"}, "{\"fingerprint\":\"\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u0010\u0011\u0012\u0013\u0014\u0015\"}", 400},
		{"trailing data", []string{"Bearer correct-horse-battery-staple"}, all + `{"user":"alice","provider":"as"}`, 400},
	} {
		if got := post(c.auth, c.body); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	s.check(t, "opaque-token-kept")
	if n := s.calls.Load(); n != 1 {
		t.Fatalf("%d provider calls: a refused revocation dropped the entry", n)
	}
}
