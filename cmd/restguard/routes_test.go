package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestRoutesReview: `restguard routes` prints, per host, the deciding rule
// of every route and what each credential gets (issue 12 §2). The golden
// file is the review page of testdata/routes/review.yaml; refresh it with
// go test -run TestRoutesReview -update.
func TestRoutesReview(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"routes", "testdata/routes/review.yaml"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	const golden = "testdata/routes/review.golden"
	if *updateGolden {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run TestRoutesReview -update)", err)
	}
	if out.String() != string(want) {
		t.Errorf("routes output differs from %s:\n--- got\n%s\n--- want\n%s", golden, out.String(), want)
	}
	for _, line := range []string{
		"admin-api", // the user rule comes first
		"/status", "200 public_route", "(token removed)",
		"jira-rest", "401 credentials_missing", "401 basic_auth_blocked", "groups any of jira-api-users; ip allow 10.0.0.0/8",
		"jira.example.com", "ui", "200 public_route (token forwarded)",
		"any other host", "403 default_deny",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("review lacks %q", line)
		}
	}
}

func TestRoutesRefusesABadFile(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"routes", "-config", "../../config/testdata/bad/lint_catch_all_first.yaml"}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "can never match") {
		t.Errorf("stderr: %s", errOut.String())
	}
}
