package policy

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/restguard/restguard/authz"
)

func basicInput(authorization, path string) *authz.Input {
	h := http.Header{}
	if authorization != "" {
		h.Set("Authorization", authorization)
	}
	req := &authz.Request{Method: "GET", Path: path, Header: h}
	return &authz.Input{Request: req, Credential: authz.ParseCredential(h, "")}
}

func basic(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// TestBasicAuthBlockedInEveryCasing (A2): the scheme alone decides.
func TestBasicAuthBlockedInEveryCasing(t *testing.T) {
	t.Parallel()
	p, err := NewBasicAuth(BasicAuthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cred := basic("alice", "pass")
	for _, h := range []string{
		"Basic " + cred,
		"basic " + cred,
		"BASIC " + cred,
		"bAsIc " + cred,
		"Basic\t" + cred,
		"Basic  " + cred,
		"Basic",
		"Basic <not-base64>",
		"Basic " + strings.Repeat("QUFB", 10<<10/4),
	} {
		name := h
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := basicInput(h, "/status")
			if in.Credential.Kind != authz.CredentialBasic {
				t.Fatalf("ParseCredential kind = %s, want basic", in.Credential.Kind)
			}
			d := p.Evaluate(context.Background(), in)
			if d.Verdict != authz.Unauthenticated || d.Reason != authz.ReasonBasicAuthBlocked || d.DryRun {
				t.Errorf("Evaluate = %s %q dry=%v, want 401 basic_auth_blocked", d.Verdict, d.Reason, d.DryRun)
			}
			if strings.Contains(d.Detail, cred) || strings.Contains(d.Detail, "alice") {
				t.Errorf("detail %q leaks the credential", d.Detail)
			}
		})
	}
}

func TestBasicAuthAllowlist(t *testing.T) {
	t.Parallel()
	p, err := NewBasicAuth(BasicAuthOptions{
		AllowUsers: []string{"svc-crowd"},
		AllowPaths: []string{"/scm/**", "/rest/usermanagement/1/**", "/s/**"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, auth, path string
		pass             bool
	}{
		{"allowlisted user", "Basic " + basic("svc-crowd", "x"), "/rest/api/2/myself", true},
		{"allowlisted user other scheme casing", "BASIC " + basic("svc-crowd", "x"), "/rest/api/2/myself", true},
		{"user case differs", "Basic " + basic("SVC-CROWD", "x"), "/rest/api/2/myself", false},
		{"user with space", "Basic " + basic("svc-crowd ", "x"), "/rest/api/2/myself", false},
		{"user prefix", "Basic " + basic("svc-crowd2", "x"), "/rest/api/2/myself", false},
		{"other user", "Basic " + basic("alice", "x"), "/rest/api/2/myself", false},
		{"undecodable credential", "Basic !!!", "/rest/api/2/myself", false},
		{"allowed path", "Basic " + basic("alice", "x"), "/scm/proj/repo.git/info/refs", true},
		{"allowed path root", "Basic " + basic("alice", "x"), "/scm", true},
		{"allowed path crowd", "Basic " + basic("alice", "x"), "/rest/usermanagement/1/search", true},
		{"dotdot out of allowed path", "Basic " + basic("alice", "x"), "/scm/../rest/api/2/myself", false},
		{"ambiguous allowed path", "Basic " + basic("alice", "x"), "/scm;x/proj/repo.git", false},
		{"encoded allowed path", "Basic " + basic("alice", "x"), "/%73cm/proj/repo.git", false},
		{"case variant of allowed path", "Basic " + basic("alice", "x"), "/SCM/proj/repo.git", false},
		{"prefix confusion", "Basic " + basic("alice", "x"), "/scmx/proj", false},
		{"static path", "Basic " + basic("alice", "x"), "/s/abc/app.css", true},
		{"static rewrite to REST", "Basic " + basic("alice", "x"), "/s/x/_/rest/api/2/myself", false},
		{"static rewrite to allowed", "Basic " + basic("alice", "x"), "/s/x/_/scm/p/r.git", true},
		{"invalid path", "Basic " + basic("alice", "x"), "/../scm", false},
		{"bearer passes", "Bearer abc.def.ghi", "/rest/api/2/myself", true},
		{"no credential passes", "", "/rest/api/2/myself", true},
		{"other scheme passes", "Negotiate abc", "/rest/api/2/myself", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := p.Evaluate(context.Background(), basicInput(tc.auth, tc.path))
			if got := d.Verdict == authz.Continue; got != tc.pass {
				t.Errorf("passed = %v, want %v (%s %q)", got, tc.pass, d.Verdict, d.Reason)
			}
			if !tc.pass && (d.Verdict != authz.Unauthenticated || d.Reason != authz.ReasonBasicAuthBlocked) {
				t.Errorf("denial = %s %q, want 401 basic_auth_blocked", d.Verdict, d.Reason)
			}
		})
	}
}

func TestBasicAuthDryRun(t *testing.T) {
	t.Parallel()
	p, err := NewBasicAuth(BasicAuthOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	d := p.Evaluate(context.Background(), basicInput("Basic "+basic("alice", "pw"), "/rest/api/2/myself"))
	if d.Verdict != authz.Unauthenticated || d.Reason != authz.ReasonBasicAuthBlocked || !d.DryRun {
		t.Errorf("dry run = %s %q dry=%v, want 401 basic_auth_blocked dry", d.Verdict, d.Reason, d.DryRun)
	}
}

func TestNewBasicAuthErrors(t *testing.T) {
	t.Parallel()
	_, err := NewBasicAuth(BasicAuthOptions{AllowUsers: []string{"a", ""}, AllowPaths: []string{"/ok/**", "scm/**"}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"policy: basic_auth.allow_users[1]", "policy: basic_auth.allow_paths[1]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
