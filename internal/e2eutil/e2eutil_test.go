package e2eutil_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/e2eutil"
	"github.com/restguard/restguard/internal/idptest"
)

// TestBinaryServesAndStops runs the real binary: it serves, answers a
// check without logging the token, and stops on SIGTERM (at cleanup).
func TestBinaryServesAndStops(t *testing.T) {
	idp := idptest.New(t)
	rg := e2eutil.Start(t, fmt.Sprintf(`
listen: {grpc: "127.0.0.1:0", admin: "127.0.0.1:0"}
providers: [{name: idp, issuer: %q, audiences: [restguard]}]
rules: [{name: api, paths: ["/rest/**"], authenticate: [idp]}]
`, idp.Issuer))
	c, err := envoy.Dial(rg.GRPC)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req, err := envoy.NewCheckRequest(envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + idp.Mint(t, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Check(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r := envoy.ReadResponse(resp); !r.Allowed {
		t.Fatalf("denied: %+v", r)
	}
	if strings.Contains(rg.Logs(), "Bearer ") {
		t.Error("a bearer token reached the log")
	}
}

// TestBinaryReloadsOnSIGHUPAndFileChange: a broken file on SIGHUP is
// refused with its line and the old configuration keeps serving; a good
// change is picked up by polling the file, without a signal.
func TestBinaryReloadsOnSIGHUPAndFileChange(t *testing.T) {
	idp := idptest.New(t)
	cfg := fmt.Sprintf(`
listen: {grpc: "127.0.0.1:0", admin: "127.0.0.1:0"}
reload: {poll_interval: 1s}
providers: [{name: idp, issuer: %q, audiences: [restguard]}]
rules: [{name: api, paths: ["/rest/**"], authenticate: [idp]}]
`, idp.Issuer)
	rg := e2eutil.Start(t, cfg)
	if err := os.WriteFile(rg.ConfigPath, []byte(cfg+"rules: [oops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rg.Reload(); err != nil {
		t.Fatal(err)
	}
	if !rg.WaitLog("configuration reload failed", 1, 20*time.Second) || !regexp.MustCompile(`restguard\.yaml:\d+: `).MatchString(rg.Logs()) {
		t.Fatalf("broken reload not reported with its line:\n%s", rg.Logs())
	}
	if err := os.WriteFile(rg.ConfigPath, []byte(strings.Replace(cfg, "/rest/**", "/api/**", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if !rg.WaitLog("configuration reloaded", 1, 20*time.Second) {
		t.Fatalf("file change not picked up:\n%s", rg.Logs())
	}
	c, err := envoy.Dial(rg.GRPC)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req, _ := envoy.NewCheckRequest(envoy.CheckInput{Host: "h", Path: "/api/x"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Check(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r := envoy.ReadResponse(resp); r.Status != 401 {
		t.Fatalf("the new rule is not in force: %+v", r)
	}
}
