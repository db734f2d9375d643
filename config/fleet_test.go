package config_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/internal/redistest"
	"github.com/restguard/restguard/sharedcache"
)

// TestReloadNeverServesTheOldConfigurationFromRedis: a reload that changes
// a provider (here: which claim is the username) must not find the answers
// the old configuration produced in the shared cache, where they outlive
// the in-process cache the reload dropped. Replicas with the same
// configuration still share.
func TestReloadNeverServesTheOldConfigurationFromRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	var calls atomic.Int64
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"active":true,"sub":"u-1","username":"alice","exp":%d}`, time.Now().Add(time.Hour).Unix())
	}))
	t.Cleanup(as.Close)
	secret := filepath.Join(t.TempDir(), "fleet")
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	if err := os.WriteFile(secret, []byte(base64.StdEncoding.EncodeToString(b)), 0o600); err != nil {
		t.Fatal(err)
	}
	shared, err := sharedcache.New(sharedcache.Config{Address: "unix:" + srv.Socket, UsernameFile: srv.UserFile,
		PasswordFile: srv.PasswordFile, FleetSecretFile: secret, Timeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shared.Close() })
	build := func(claim string) *config.Runtime {
		c, err := config.Parse("fleet.yaml", []byte(fmt.Sprintf(`
providers:
  - name: as
    kind: introspection
    introspection: {endpoint: %q, auth_method: none}
    allow_any_client: true
    username: {claims: [%s]}
rules: [{name: api, authenticate: [as]}]
`, as.URL+"/introspect", claim)))
		if err != nil {
			t.Fatal(err)
		}
		rt, err := config.Build(c, config.BuildOptions{Shared: shared})
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	user := func(rt *config.Runtime) string {
		t.Helper()
		d := rt.Engine.Check(context.Background(), &authz.Request{Method: "GET", Host: "jira.example.com", Path: "/rest/api/2/myself",
			Header: http.Header{"Authorization": {"Bearer opaque-token-1"}}, Source: netip.MustParseAddr("127.0.0.1")})
		if d.Verdict != authz.Allow {
			t.Fatalf("%s %s", d.Verdict, d.Reason)
		}
		return d.Identity.Username
	}
	if u := user(build("username")); u != "alice" {
		t.Fatalf("first configuration: %q", u)
	}
	srv.WaitKeys(t, "restguard:v:*", 1, 10*time.Second) // stored after the answer
	if u := user(build("username")); u != "alice" || calls.Load() != 1 {
		t.Fatalf("a second replica with the same configuration: %q after %d calls, want alice from Redis", u, calls.Load())
	}
	if u := user(build("sub")); u != "u-1" || calls.Load() != 2 {
		t.Fatalf("after the reload to claims [sub]: %q after %d calls, want u-1 from the provider", u, calls.Load())
	}
}
