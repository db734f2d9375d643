package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestValidateReportsEveryErrorWithLines(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := run([]string{"validate", "-config", "../../config/testdata/bad/three_errors.yaml"}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{
		`three_errors.yaml:5: providers[0]: unknown key "audience" (did you mean "audiences"?)`,
		`three_errors.yaml:9: rules[0].authenticate[0]: unknown provider "crop" (did you mean "corp"?)`,
		`three_errors.yaml:13: rules[0].ip.allow[1]: invalid CIDR "10.0.0.300/8"`,
	} {
		if !strings.Contains(errOut.String(), want+"\n") {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
}

func TestValidatePrintsExpandedRules(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := run([]string{"validate", "-config", "../../examples/restguard.yaml"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"corp  jwt  issuer https://sso.example.com/realms/corp", "rest-api", "any of jira-api-users", "default"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestDevModeDemo runs the README's first command end to end: a throw-away
// IdP, restguard on loopback, and the demo requests through gRPC.
func TestDevModeDemo(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := run([]string{"dev", "-grpc", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-dir", t.TempDir(), "-exit-after-demo"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"allow 200 authenticated", "deny  403 group_missing", "deny  401 basic_auth_blocked", "x-forwarded-user: alice",
		// Every allow of the demo went on to the stand-in upstream, which
		// resolves the user from the identity assertion only (issue 14 §4).
		"upstream saw alice (assertion verified)",
		"assertion: eyJ",
		"public health check, spoofed identity header         allow 200 public_route          upstream saw nobody (no_assertion)",
		"straight to the product, X-Forwarded-User: admin     upstream saw nobody (no_assertion)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDevModeRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := run([]string{"dev", "-grpc", "0.0.0.0:9001"}, &out, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), "loopback only") {
		t.Errorf("stderr: %s", errOut.String())
	}
}

func TestVersionAndUsage(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := run([]string{"version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "restguard ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	if code := run([]string{"frobnicate"}, &out, &errOut); code != 2 {
		t.Fatalf("unknown command exit %d", code)
	}
}

func TestHashKeyReadsStdinNotArgs(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := runWithInput([]string{"hash-key"}, strings.NewReader("short-key\n"), &out, &errOut)
	if code != 0 || !strings.HasPrefix(out.String(), "sha256:") || len(strings.TrimSpace(out.String())) != len("sha256:")+64 {
		t.Fatalf("exit %d, out %q", code, out.String())
	}
	if !strings.Contains(errOut.String(), "warning") {
		t.Error("a short key must be warned about")
	}
	if strings.Contains(out.String()+errOut.String(), "short-key") {
		t.Error("the key was echoed")
	}
	if code := runWithInput([]string{"hash-key", "secret-on-argv"}, strings.NewReader(""), &out, &errOut); code != 2 {
		t.Errorf("a key on the command line must be refused, exit %d", code)
	}
}

// TestCheckSaysWhatAWrongPortIs: `check` against a port that is not gRPC
// (the admin listener, say) or against nothing says so in words (issue 12
// §7).
func TestCheckSaysWhatAWrongPortIs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	var out, errOut bytes.Buffer
	if code := run([]string{"check", "-addr", strings.TrimPrefix(srv.URL, "http://"), "-timeout", "5s", "/x"}, &out, &errOut); code != 2 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errOut.String(), "does not speak gRPC") {
		t.Errorf("stderr: %s", errOut.String())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	errOut.Reset()
	run([]string{"check", "-addr", addr, "-timeout", "5s", "/x"}, &out, &errOut)
	if !strings.Contains(errOut.String(), "nothing listens on "+addr) {
		t.Errorf("stderr: %s", errOut.String())
	}
}

// TestEverySubcommandHasUsage: -h prints a real usage text once, to stdout,
// and exits 0; validate takes its file as the argument too.
func TestEverySubcommandHasUsage(t *testing.T) {
	for _, cmd := range []string{"serve", "validate", "routes", "test", "check", "explain", "hash-key", "dev", "standin", "revoke"} {
		var out, errOut bytes.Buffer
		if code := runWithInput([]string{cmd, "-h"}, strings.NewReader(""), &out, &errOut); code != 0 {
			t.Errorf("%s -h: exit %d, stderr %q", cmd, code, errOut.String())
		}
		if n := strings.Count(out.String(), "usage: restguard "+cmd); n != 1 || errOut.Len() != 0 {
			t.Errorf("%s -h: usage printed %d times on stdout, stderr %q", cmd, n, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"validate", "../../examples/restguard.yaml"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), ": ok") {
		t.Errorf("validate FILE: exit %d, %s%s", code, out.String(), errOut.String())
	}
}
