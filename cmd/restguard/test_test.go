package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleCases: every configuration in examples/ ships with its policy
// tests, and they pass (issue 12 §3). make test runs them through this
// test.
func TestExampleCases(t *testing.T) {
	configs, _ := filepath.Glob("../../examples/*.yaml")
	more, _ := filepath.Glob("../../examples/*/restguard.yaml")
	for _, cfg := range append(configs, more...) {
		if strings.HasSuffix(cfg, ".cases.yaml") {
			continue
		}
		cases := strings.TrimSuffix(cfg, ".yaml") + ".cases.yaml"
		t.Run(strings.TrimPrefix(cfg, "../../"), func(t *testing.T) {
			t.Parallel()
			if _, err := os.Stat(cases); err != nil {
				t.Fatalf("%s has no policy tests: write %s", cfg, cases)
			}
			var out, errOut bytes.Buffer
			if code := run([]string{"test", "-config", cfg, cases}, &out, &errOut); code != 0 {
				t.Errorf("exit %d\n%s%s", code, out.String(), errOut.String())
			}
			if !strings.Contains(out.String(), " 0 failed") {
				t.Errorf("no summary line: %s", out.String())
			}
		})
	}
}

// TestPolicyTestsReportFailures: a failing case is reported with its file,
// line and what differed, and the exit status says so; a broken cases file
// is a load error with its line.
func TestPolicyTestsReportFailures(t *testing.T) {
	dir := t.TempDir()
	cases := filepath.Join(dir, "cases.yaml")
	if err := os.WriteFile(cases, []byte(`cases:
  - name: right
    request: {host: jira.example.com, path: /status}
    expect: {status: 200, reason: public_route}
  - name: wrong
    request: {host: jira.example.com, path: /rest/api/2/myself, client: 10.1.2.3}
    token: {provider: corp, claims: {preferred_username: bob}}
    expect: {status: 200, user: bob}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run([]string{"test", "-config", "../../examples/restguard.yaml", cases}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"--- FAIL: wrong (" + cases + ":5)", "status 403, want 200", `user "", want "bob"`, "FAIL  1 passed, 1 failed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "right") {
		t.Errorf("a passing case is listed without -v:\n%s", out.String())
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("cases:\n  - name: x\n    request: {path: /x}\n    expct: {status: 200}\n  - name: y\n    request: {path: /y}\n    basic: nocolon\n    expect: {status: 200}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"test", "-config", "../../examples/restguard.yaml", bad}, &out, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	for _, want := range []string{bad + `:4: unknown key "expct"`, bad + `:7: cases[1].basic: basic is "user:password"`} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
}
