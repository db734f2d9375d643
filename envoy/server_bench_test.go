package envoy_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/idptest"
)

// BenchmarkServerCheckCached is one cached-token check as the gRPC server
// sees it, without the transport: unmarshal the CheckRequest, ToRequest,
// Engine.Check, ToResponse, marshal the CheckResponse. The difference to
// authz's BenchmarkEngineCheckCached is the cost of translation.
func BenchmarkServerCheckCached(b *testing.B) {
	p := idptest.New(b)
	c, err := config.Parse("bench.yaml", []byte(fmt.Sprintf(`
providers:
  - name: corp
    issuer: %s
    audiences: [%s]
    groups: {claim: groups}
rules:
  - name: rest-api
    paths: ["/rest/**"]
    authenticate: [corp]
    block_basic: {enabled: true}
    groups: {any_of: [jira-api-users]}
default: {action: deny}
upstream: {groups_header: X-Forwarded-Groups}
`, p.Issuer, idptest.Audience)))
	if err != nil {
		b.Fatal(err)
	}
	rt, err := config.Build(c, config.BuildOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if err := rt.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	srv := envoy.NewServer(func() *authz.Engine { return rt.Engine }, nil)
	tok := p.Mint(b, map[string]any{"groups": []string{"jira-api-users", "employees"}})
	req, err := envoy.NewCheckRequest(envoy.CheckInput{
		Method: "GET", Host: "jira.example.com", Path: "/rest/api/2/issue/PROJ-1", SourceIP: "10.1.2.3",
		Headers: []string{"authorization: Bearer " + tok, "accept: application/json", "user-agent: jira-cli/3.1"},
	})
	if err != nil {
		b.Fatal(err)
	}
	wire, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		in := req.ProtoReflect().New().Interface()
		if err := proto.Unmarshal(wire, in); err != nil {
			b.Fatal(err)
		}
		resp, err := srv.Check(ctx, req)
		if err != nil || resp.GetStatus().GetCode() != 0 {
			b.Fatalf("got %v %v", resp.GetStatus(), err)
		}
		if _, err := proto.Marshal(resp); err != nil {
			b.Fatal(err)
		}
	}
}
