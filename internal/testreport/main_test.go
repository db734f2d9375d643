package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestReportListsSkipsAndFailures(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p/e2e/proxies","Test":"TestNginx"}`,
		`{"Action":"output","Package":"p/e2e/proxies","Test":"TestNginx","Output":"=== RUN   TestNginx\n"}`,
		`{"Action":"output","Package":"p/e2e/proxies","Test":"TestNginx","Output":"    proxies_test.go:40: nginx not on PATH\n"}`,
		`{"Action":"output","Package":"p/e2e/proxies","Test":"TestNginx","Output":"--- SKIP: TestNginx (0.00s)\n"}`,
		`{"Action":"skip","Package":"p/e2e/proxies","Test":"TestNginx"}`,
		`{"Action":"output","Package":"p/e2e/proxies","Output":"ok  \tp/e2e/proxies\t0.1s\n"}`,
		`{"Action":"pass","Package":"p/e2e/proxies"}`,
		`{"Action":"output","Package":"p/a","Test":"TestX","Output":"    a_test.go:9: want 1, got 2\n"}`,
		`{"Action":"output","Package":"p/a","Test":"TestX","Output":"--- FAIL: TestX (0.00s)\n"}`,
		`{"Action":"fail","Package":"p/a","Test":"TestX"}`,
		`{"Action":"output","Package":"p/a","Output":"FAIL\tp/a\t0.2s\n"}`,
		`{"Action":"fail","Package":"p/a"}`,
		`{"Action":"output","Package":"p/b","Test":"TestY","Output":"noise of a passing test\n"}`,
		`{"Action":"pass","Package":"p/b","Test":"TestY"}`,
	}, "\n")
	var out bytes.Buffer
	if code := report(strings.NewReader(in), &out); code != 1 {
		t.Errorf("exit %d, want 1 (a test failed)", code)
	}
	got := out.String()
	for _, want := range []string{"ok  \tp/e2e/proxies", "want 1, got 2", "--- FAIL: TestX", "FAIL\tp/a", "skipped tests (1):", "p/e2e/proxies TestNginx (nginx not on PATH)"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "noise of a passing test") || strings.Contains(got, "=== RUN") {
		t.Errorf("passing tests' output printed:\n%s", got)
	}
	out.Reset()
	if code := report(strings.NewReader(`{"Action":"pass","Package":"p"}`), &out); code != 0 || !strings.Contains(out.String(), "skipped tests: none") {
		t.Errorf("exit %d, %s", code, out.String())
	}
}
