package e2eutil_test

import (
	"context"
	"fmt"
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
