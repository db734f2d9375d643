package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/devidp"
)

// devConfig is the configuration `restguard dev` runs. It goes through the
// same Parse and Build as a production file; only the issuer is filled in.
const devConfig = `# restguard dev: generated configuration (loopback only, throw-away key)
listen: {grpc: "{{.GRPC}}", admin: "{{.Admin}}"}
realm: jira
providers:
  - name: dev
    issuer: {{.Issuer}}
    audiences: [jira]
    username: {claims: [preferred_username, sub], lowercase: true}
    groups: {claim: groups}
rules:
  - name: public
    paths: ["/status", "/s/**"]
    action: pass
    block_basic: {enabled: true}
  - name: rest-api
    paths: ["/rest/**"]
    authenticate: [dev]
    block_basic: {enabled: true}
    groups: {any_of: [jira-api-users]}
    ip: {allow: ["127.0.0.0/8", "::1/128", "10.0.0.0/8"]}
default:
  action: pass
  block_basic: {enabled: true}
upstream:
  user_header: X-Forwarded-User
  groups_header: X-Forwarded-Groups
`

type devDemo struct {
	what   string
	in     envoy.CheckInput
	allow  bool
	reason string
}

func runDev(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	grpcAddr := fs.String("grpc", "127.0.0.1:9001", "gRPC listen address (loopback only)")
	adminAddr := fs.String("admin", "127.0.0.1:9003", "admin listen address (loopback only)")
	dir := fs.String("dir", "", "where to write dev.yaml and the test tokens (default: a new temporary directory)")
	exit := fs.Bool("exit-after-demo", false, "run the demo requests, print them and exit (status 1 if any decision is unexpected)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	for _, a := range []string{*grpcAddr, *adminAddr} {
		if err := devidp.RequireLoopback(a); err != nil {
			fmt.Fprintln(stderr, "restguard dev: refusing to listen on", a, "- development mode is loopback only")
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gl, err := net.Listen("tcp", *grpcAddr)
	if err != nil {
		fmt.Fprintln(stderr, "restguard dev:", err)
		return 1
	}
	al, err := net.Listen("tcp", *adminAddr)
	if err != nil {
		gl.Close()
		fmt.Fprintln(stderr, "restguard dev:", err)
		return 1
	}
	defer gl.Close()
	defer al.Close()
	*grpcAddr, *adminAddr = gl.Addr().String(), al.Addr().String()

	idp, err := devidp.Start(ctx, "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, "restguard dev:", err)
		return 1
	}
	defer idp.Close()
	if *dir == "" {
		if *dir, err = os.MkdirTemp("", "restguard-dev-"); err != nil {
			fmt.Fprintln(stderr, "restguard dev:", err)
			return 1
		}
	}

	var buf bytes.Buffer
	_ = template.Must(template.New("dev").Parse(devConfig)).Execute(&buf, map[string]string{"GRPC": *grpcAddr, "Admin": *adminAddr, "Issuer": idp.Issuer})
	cfgPath := filepath.Join(*dir, "dev.yaml")
	if err := os.WriteFile(cfgPath, buf.Bytes(), 0o600); err != nil {
		fmt.Fprintln(stderr, "restguard dev:", err)
		return 1
	}
	cfg, err := config.Parse(cfgPath, buf.Bytes())
	if err != nil {
		fmt.Fprintln(stderr, "restguard dev:", err)
		return 1
	}
	tokens := map[string]map[string]any{
		"alice":          {"sub": "u-alice", "preferred_username": "Alice", "aud": "jira", "groups": []string{"jira-api-users"}},
		"bob":            {"sub": "u-bob", "preferred_username": "bob", "aud": "jira", "groups": []string{"jira-users"}},
		"expired":        {"sub": "u-alice", "preferred_username": "alice", "aud": "jira", "exp": time.Now().Add(-time.Hour).Unix()},
		"other-audience": {"sub": "u-alice", "preferred_username": "alice", "aud": "confluence", "groups": []string{"jira-api-users"}},
	}
	minted := map[string]string{}
	for name, claims := range tokens {
		tok, err := idp.Mint(claims)
		if err != nil {
			fmt.Fprintln(stderr, "restguard dev:", err)
			return 1
		}
		minted[name] = tok
		if err := os.WriteFile(filepath.Join(*dir, name+".jwt"), []byte(tok+"\n"), 0o600); err != nil {
			fmt.Fprintln(stderr, "restguard dev:", err)
			return 1
		}
	}

	logger := newLogger(config.Log{Level: "warn"}, stderr)
	if !*exit {
		logger = newLogger(config.Log{Level: "info", Format: "text"}, stderr)
	}
	svc := newService(logger)
	rt, err := svc.build(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "restguard dev:", err)
		return 1
	}
	svc.onReady = make(chan struct{})
	svc.install(ctx, rt)

	runErr := make(chan error, 1)
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go func() { runErr <- svc.serve(runCtx, gl, nil, al) }()

	fmt.Fprintf(stdout, "restguard dev — DEVELOPMENT MODE: throw-away signing key, loopback only, never for production\n\n")
	fmt.Fprintf(stdout, "  identity provider  %s (issuer, discovery and JWKS)\n  gRPC ext_authz     %s\n  admin              http://%s/readyz\n  config             %s\n  tokens             %s/{alice,bob,expired,other-audience}.jwt\n\n",
		idp.Issuer, *grpcAddr, *adminAddr, cfgPath, *dir)

	select {
	case <-svc.onReady:
	case err := <-runErr:
		fmt.Fprintln(stderr, "restguard dev:", err)
		return 1
	case <-time.After(30 * time.Second):
		fmt.Fprintln(stderr, "restguard dev: keys did not load within 30s")
		return 1
	}

	demos := []devDemo{
		{"alice, valid token, in jira-api-users", envoy.CheckInput{Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + minted["alice"]}}, true, "authenticated"},
		{"bob, valid token, not in jira-api-users", envoy.CheckInput{Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + minted["bob"]}}, false, "group_missing"},
		{"expired token", envoy.CheckInput{Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + minted["expired"]}}, false, "token_expired"},
		{"token for another audience", envoy.CheckInput{Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + minted["other-audience"]}}, false, "audience_mismatch"},
		{"no credentials", envoy.CheckInput{Path: "/rest/api/2/myself"}, false, "credentials_missing"},
		{"HTTP Basic (a password)", envoy.CheckInput{Path: "/rest/api/2/myself", Headers: []string{"Authorization: Basic YWxpY2U6c2VjcmV0"}}, false, "basic_auth_blocked"},
		{"alice from an address outside the rule's CIDRs", envoy.CheckInput{Path: "/rest/api/2/myself", SourceIP: "203.0.113.7", Headers: []string{"Authorization: Bearer " + minted["alice"]}}, false, "ip_denied"},
		{"public health check, spoofed identity header", envoy.CheckInput{Path: "/status", Headers: []string{"X-Forwarded-User: admin"}}, true, "public_route"},
	}
	fmt.Fprintln(stdout, "demo (each line is one CheckRequest through the gRPC server, as Envoy sends it):")
	failed := 0
	for _, d := range demos {
		d.in.Host = "jira.localtest.me"
		res, err := checkOnce(*grpcAddr, 2*time.Second, nil, d.in)
		if err != nil {
			fmt.Fprintf(stdout, "  %-52s error: %v\n", d.what, err)
			failed++
			continue
		}
		reason, _ := res.Metadata["reason"].(string)
		verdict := "deny "
		if res.Allowed {
			verdict = "allow"
		}
		extra := ""
		for _, h := range res.Headers {
			if strings.HasPrefix(h, "x-forwarded-user") || strings.HasPrefix(h, "www-authenticate") {
				extra += "  " + h
			}
		}
		mark := ""
		if res.Allowed != d.allow || reason != d.reason {
			mark = "  UNEXPECTED"
			failed++
		}
		fmt.Fprintf(stdout, "  %-52s %s %d %-20s%s%s\n", d.what, verdict, res.Status, reason, extra, mark)
	}
	fmt.Fprintf(stdout, "\ntry it yourself:\n  go run ./cmd/restguard check -addr %s -host jira.localtest.me -token-file %s/alice.jwt /rest/api/2/myself\n  go run ./cmd/restguard check -addr %s -host jira.localtest.me -basic-user alice /rest/api/2/myself\n\n",
		*grpcAddr, *dir, *grpcAddr)

	if *exit {
		cancelRun()
		<-runErr
		if failed > 0 {
			fmt.Fprintf(stdout, "%d demo decisions were unexpected\n", failed)
			return 1
		}
		return 0
	}
	fmt.Fprintln(stdout, "restguard is running; Ctrl-C stops it.")
	if err := <-runErr; err != nil {
		fmt.Fprintln(stderr, "restguard dev:", err)
		return 1
	}
	return 0
}
