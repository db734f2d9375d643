package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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
assertion:
  issuer: restguard-dev
  key_file: {{.KeyFile}}
  jwks_file: {{.JWKSFile}}
  audience: {{.Upstream}}
`

// devFlags are the flags of `restguard dev`.
type devFlags struct {
	grpc, admin string // listen addresses, loopback only
	dir         string // where dev.yaml and the tokens go; a temporary directory when empty
	exit        bool   // run the demo, print it and exit
}

// errDemoUnexpected ends `restguard dev -exit-after-demo` with status 1
// when a demo decision differs from the expected one (already printed).
var errDemoUnexpected = errors.New("unexpected demo decisions")

func runDev(args []string, stdout, stderr io.Writer) int {
	f, code, ok := parseDevFlags(args, stdout, stderr)
	if !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dev(ctx, f, stdout, stderr); err != nil {
		if !errors.Is(err, errDemoUnexpected) {
			fmt.Fprintln(stderr, "restguard dev:", err)
		}
		return 1
	}
	return 0
}

// parseDevFlags reads the flags and refuses any address that is not
// loopback: the signing key is throw-away and published in the directory.
// When ok is false the command ends with code (0 after -h).
func parseDevFlags(args []string, stdout, stderr io.Writer) (f devFlags, code int, ok bool) {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.grpc, "grpc", "127.0.0.1:9001", "gRPC listen address (loopback only)")
	fs.StringVar(&f.admin, "admin", "127.0.0.1:9003", "admin listen address (loopback only)")
	fs.StringVar(&f.dir, "dir", "", "where to write dev.yaml and the test tokens (default: a new temporary directory)")
	fs.BoolVar(&f.exit, "exit-after-demo", false, "run the demo requests, print them and exit (status 1 if any decision is unexpected)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: restguard dev [flags]\n\nA complete local setup with no external services: a throw-away identity\nprovider on loopback, test tokens in a temporary directory, restguard's gRPC\nserver, and a demo of an allow and each kind of deny. Loopback only.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout); done {
		return f, code, false
	}
	for _, a := range []string{f.grpc, f.admin} {
		if err := devidp.RequireLoopback(a); err != nil {
			fmt.Fprintln(stderr, "restguard dev: refusing to listen on", a, "- development mode is loopback only")
			return f, 2, false
		}
	}
	return f, 0, true
}

// dev runs the whole session: listeners, the throw-away IdP, the generated
// configuration and tokens, restguard itself, then the demo. It returns
// when ctx ends (or, with -exit-after-demo, after the demo).
func dev(ctx context.Context, f devFlags, stdout, stderr io.Writer) error {
	gl, al, err := listenDev(f.grpc, f.admin)
	if err != nil {
		return err
	}
	defer gl.Close()
	defer al.Close()
	f.grpc, f.admin = gl.Addr().String(), al.Addr().String()

	idp, err := devidp.Start(ctx, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer idp.Close()
	if f.dir == "" {
		if f.dir, err = os.MkdirTemp("", "restguard-dev-"); err != nil {
			return err
		}
	}
	// The stand-in upstream plays the product with the reference
	// authenticator: it believes an identity only with a valid assertion.
	up, upURL, err := startStandin(ctx, f.dir)
	if err != nil {
		return err
	}
	cfgPath, cfg, err := writeDevConfig(f, idp.Issuer, upURL)
	if err != nil {
		return err
	}
	minted, err := mintDevTokens(idp, f.dir)
	if err != nil {
		return err
	}

	// Warnings only while the demo prints its table, so that decision
	// lines do not cut through it; every decision is logged afterwards
	// (unless the demo is all there is).
	level := new(slog.LevelVar)
	level.Set(slog.LevelWarn)
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	svc := newService(logger)
	rt, err := svc.build(ctx, cfg)
	if err != nil {
		return err
	}
	svc.onReady = make(chan struct{})
	svc.install(ctx, rt)
	if err := up.WatchKeys(filepath.Join(f.dir, "assertion-keys.json")); err != nil {
		return err
	}

	runErr := make(chan error, 1)
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go func() { runErr <- svc.serve(runCtx, gl, nil, al) }()

	fmt.Fprintf(stdout, "restguard dev — DEVELOPMENT MODE: throw-away signing key, loopback only, never for production\n\n")
	fmt.Fprintf(stdout, "  identity provider  %s (issuer, discovery and JWKS)\n  gRPC ext_authz     %s\n  admin              http://%s/readyz\n  stand-in upstream  %s (accepts only valid identity assertions)\n  config             %s\n  tokens             %s/{alice,bob,expired,other-audience}.jwt\n\n",
		idp.Issuer, f.grpc, f.admin, upURL, cfgPath, f.dir)

	select {
	case <-svc.onReady:
	case err := <-runErr:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("keys did not load within 30s")
	}

	failed := runDevDemos(stdout, f.grpc, upURL, devDemos(minted))
	fmt.Fprintf(stdout, "\ntry it yourself:\n  go run ./cmd/restguard check -addr %s -host jira.localtest.me -token-file %s/alice.jwt /rest/api/2/myself\n  go run ./cmd/restguard check -addr %s -host jira.localtest.me -basic-user alice /rest/api/2/myself\n\n",
		f.grpc, f.dir, f.grpc)

	if f.exit {
		cancelRun()
		<-runErr
		if failed > 0 {
			fmt.Fprintf(stdout, "%d demo decisions were unexpected\n", failed)
			return errDemoUnexpected
		}
		return nil
	}
	fmt.Fprintln(stdout, "restguard is running (every decision is logged from now on); Ctrl-C stops it.")
	level.Set(slog.LevelInfo)
	return <-runErr
}

// listenDev opens the gRPC and admin listeners (both or neither), so that
// ":0" addresses are resolved before the configuration is written.
func listenDev(grpcAddr, adminAddr string) (gl, al net.Listener, err error) {
	gl, err = net.Listen("tcp", grpcAddr)
	if err != nil {
		return nil, nil, err
	}
	al, err = net.Listen("tcp", adminAddr)
	if err != nil {
		gl.Close()
		return nil, nil, err
	}
	return gl, al, nil
}

// writeDevConfig writes a throw-away assertion signing key, fills
// devConfig with the listeners, the issuer and the stand-in upstream,
// writes it to dir/dev.yaml and parses it exactly as serve would.
func writeDevConfig(f devFlags, issuer, upstream string) (string, *config.Config, error) {
	keyFile := filepath.Join(f.dir, "assertion-key.pem")
	if err := writeDevKey(keyFile); err != nil {
		return "", nil, err
	}
	var buf bytes.Buffer
	_ = template.Must(template.New("dev").Parse(devConfig)).Execute(&buf, map[string]string{
		"GRPC": f.grpc, "Admin": f.admin, "Issuer": issuer, "Upstream": upstream,
		"KeyFile": keyFile, "JWKSFile": filepath.Join(f.dir, "assertion-keys.json"),
	})
	cfgPath := filepath.Join(f.dir, "dev.yaml")
	if err := os.WriteFile(cfgPath, buf.Bytes(), 0o600); err != nil {
		return "", nil, err
	}
	cfg, err := config.Parse(cfgPath, buf.Bytes())
	if err != nil {
		return "", nil, err
	}
	return cfgPath, cfg, nil
}

// mintDevTokens signs the demo's tokens with the IdP and writes each to
// dir/NAME.jwt; it returns them by name.
func mintDevTokens(idp *devidp.IdP, dir string) (map[string]string, error) {
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
			return nil, err
		}
		minted[name] = tok
		if err := os.WriteFile(filepath.Join(dir, name+".jwt"), []byte(tok+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	return minted, nil
}

// devDemo is one demo request and the decision it should get.
type devDemo struct {
	what   string
	in     envoy.CheckInput
	allow  bool
	reason string
}

// devDemos are the demo requests, one per decision a new user should see.
func devDemos(minted map[string]string) []devDemo {
	return []devDemo{
		{"alice, valid token, in jira-api-users", envoy.CheckInput{Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + minted["alice"]}}, true, "authenticated"},
		{"bob, valid token, not in jira-api-users", envoy.CheckInput{Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + minted["bob"]}}, false, "group_missing"},
		{"expired token", envoy.CheckInput{Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + minted["expired"]}}, false, "token_expired"},
		{"token for another audience", envoy.CheckInput{Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + minted["other-audience"]}}, false, "audience_mismatch"},
		{"no credentials", envoy.CheckInput{Path: "/rest/api/2/myself"}, false, "credentials_missing"},
		{"HTTP Basic (a password)", envoy.CheckInput{Path: "/rest/api/2/myself", Headers: []string{"Authorization: Basic YWxpY2U6c2VjcmV0"}}, false, "basic_auth_blocked"},
		{"alice from an address outside the rule's CIDRs", envoy.CheckInput{Path: "/rest/api/2/myself", SourceIP: "203.0.113.7", Headers: []string{"Authorization: Bearer " + minted["alice"]}}, false, "ip_denied"},
		{"public health check, spoofed identity header", envoy.CheckInput{Path: "/status", Headers: []string{"X-Forwarded-User: admin"}}, true, "public_route"},
	}
}

// runDevDemos sends each demo through the gRPC server as Envoy would and,
// when it is allowed, on to the stand-in upstream with Envoy's header
// changes applied; it prints one line per decision (with the user the
// upstream resolved from the identity assertion) and returns how many were
// unexpected.
func runDevDemos(stdout io.Writer, grpcAddr, upstream string, demos []devDemo) (failed int) {
	fmt.Fprintln(stdout, "demo (each line is one CheckRequest through the gRPC server, as Envoy sends it; allowed ones go on to the stand-in upstream):")
	for _, d := range demos {
		d.in.Host = "jira.localtest.me"
		res, err := checkOnce(grpcAddr, 2*time.Second, nil, d.in)
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
		if res.Allowed {
			saw, err := forwardToStandin(upstream, d.in, res)
			switch {
			case err != nil:
				extra += "  upstream: " + err.Error()
				mark = "  UNEXPECTED"
				failed++
			case saw.User != "":
				extra += "  upstream saw " + saw.User + " (assertion verified)"
			default:
				extra += "  upstream saw nobody (" + saw.Refused + ")"
			}
		}
		fmt.Fprintln(stdout, strings.TrimRight(fmt.Sprintf("  %-52s %s %d %-20s%s%s", d.what, verdict, res.Status, reason, extra, mark), " "))
		for _, h := range res.Headers {
			if v, ok := strings.CutPrefix(h, "x-restguard-assertion: "); ok {
				fmt.Fprintf(stdout, "  %-52s assertion: %.32s… (signed, %s only, expires in 30s)\n", "", v, "GET "+d.in.Path)
			}
		}
	}
	// What a direct request to the product gets: a forged header is not an
	// identity.
	direct, err := forwardToStandin(upstream, envoy.CheckInput{Path: "/rest/api/2/myself", Headers: []string{"X-Forwarded-User: admin"}}, envoy.Result{})
	if err == nil {
		fmt.Fprintf(stdout, "  %-52s %s\n", "straight to the product, X-Forwarded-User: admin", "upstream saw nobody ("+direct.Refused+")")
	}
	return failed
}
