package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/restguard/restguard/authz"
)

// TestGroupsLiteralComparison (E2): only an exact configured match passes.
func TestGroupsLiteralComparison(t *testing.T) {
	t.Parallel()
	p := NewGroups([]string{"jira-api-users", "jira.api-users"}, nil, false)
	tests := []struct {
		name   string
		groups []string
		nilID  bool
		pass   bool
	}{
		{"exact", []string{"other", "jira-api-users"}, false, true},
		{"exact with metacharacters", []string{"jira.api-users"}, false, true},
		{"no identity", nil, true, false},
		{"no groups claim", nil, false, false},
		{"empty groups", []string{}, false, false},
		{"upper case", []string{"JIRA-API-USERS"}, false, false},
		{"trailing space", []string{"jira-api-users "}, false, false},
		{"suffix", []string{"jira-api-usersX"}, false, false},
		{"prefix", []string{"xjira-api-users"}, false, false},
		{"keycloak full path", []string{"/jira-api-users"}, false, false},
		{"nested claim name", []string{"realm_access.roles"}, false, false},
		{"regex dot is literal", []string{"jiraXapi-users"}, false, false},
		{"empty group", []string{""}, false, false},
		{"comma joined", []string{"a,jira-api-users"}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := &authz.Input{}
			if !tc.nilID {
				in.Identity = &authz.Identity{Username: "alice", Groups: tc.groups}
			}
			d := p.Evaluate(context.Background(), in)
			if got := d.Verdict == authz.Continue; got != tc.pass {
				t.Fatalf("passed = %v, want %v (%s %q)", got, tc.pass, d.Verdict, d.Reason)
			}
			if !tc.pass && (d.Verdict != authz.Forbidden || d.Reason != authz.ReasonGroupMissing) {
				t.Errorf("denial = %s %q, want 403 group_missing", d.Verdict, d.Reason)
			}
		})
	}
}

func TestGroupsAllOf(t *testing.T) {
	t.Parallel()
	p := NewGroups(nil, []string{"a", "b", "a"}, false)
	for _, tc := range []struct {
		groups []string
		pass   bool
	}{
		{[]string{"a", "b"}, true},
		{[]string{"b", "c", "a"}, true},
		{[]string{"a"}, false},
		{[]string{"a", "a"}, false},
		{[]string{"A", "B"}, false},
		{nil, false},
	} {
		d := p.Evaluate(context.Background(), &authz.Input{Identity: &authz.Identity{Groups: tc.groups}})
		if got := d.Verdict == authz.Continue; got != tc.pass {
			t.Errorf("groups %q: passed = %v, want %v", tc.groups, got, tc.pass)
		}
	}
	both := NewGroups([]string{"x", "y"}, []string{"a"}, false)
	for _, tc := range []struct {
		groups []string
		pass   bool
	}{
		{[]string{"a", "y"}, true},
		{[]string{"a"}, false},
		{[]string{"x"}, false},
	} {
		d := both.Evaluate(context.Background(), &authz.Input{Identity: &authz.Identity{Groups: tc.groups}})
		if got := d.Verdict == authz.Continue; got != tc.pass {
			t.Errorf("anyOf+allOf groups %q: passed = %v, want %v", tc.groups, got, tc.pass)
		}
	}
}

func TestGroupsEdgeConfig(t *testing.T) {
	t.Parallel()
	id := &authz.Input{Identity: &authz.Identity{Groups: []string{""}}}
	if d := NewGroups([]string{""}, nil, false).Evaluate(context.Background(), id); d.Verdict == authz.Continue {
		t.Error("an empty configured group was satisfied")
	}
	if d := NewGroups(nil, nil, false).Evaluate(context.Background(), id); d.Verdict != authz.Continue {
		t.Errorf("no configured groups = %s, want continue", d.Verdict)
	}
	if d := NewGroups(nil, nil, false).Evaluate(context.Background(), &authz.Input{}); d.Verdict != authz.Forbidden {
		t.Errorf("no identity = %s, want 403", d.Verdict)
	}
}

func TestGroupDenialDoesNotEchoGroups(t *testing.T) {
	t.Parallel()
	p := NewGroups([]string{"jira-api-users"}, []string{"jira-admins"}, true)
	d := p.Evaluate(context.Background(), &authz.Input{Identity: &authz.Identity{Username: "alice", Groups: []string{"secret-project-x"}}})
	if d.Verdict != authz.Forbidden || !d.DryRun {
		t.Fatalf("Evaluate = %s dry=%v, want 403 dry", d.Verdict, d.DryRun)
	}
	for _, s := range []string{"secret-project-x", "alice", "jira-api-users", "jira-admins"} {
		if strings.Contains(d.Detail, s) {
			t.Errorf("detail %q contains %q", d.Detail, s)
		}
	}
}

func TestUsers(t *testing.T) {
	t.Parallel()
	allow := NewUsers([]string{"alice", "bob"}, []string{"bob"}, false)
	denyOnly := NewUsers(nil, []string{"mallory", "Former-Admin", "οδος", "ΑΣ_Β"}, false)
	tests := []struct {
		name string
		p    authz.Policy
		id   *authz.Identity
		pass bool
	}{
		{"allowed", allow, &authz.Identity{Username: "alice"}, true},
		// The products resolve names with Java's English-locale folding
		// (seams item 14).
		{"case differs: the same user", allow, &authz.Identity{Username: "ALICE"}, true},
		{"dotted capital I: another user", allow, &authz.Identity{Username: "alİce"}, false},
		{"deny other case", denyOnly, &authz.Identity{Username: "MALLORY"}, false},
		{"deny list written in another case", denyOnly, &authz.Identity{Username: "former-admin"}, false},
		{"deny final sigma", denyOnly, &authz.Identity{Username: "ΟΔΟΣ"}, false},
		{"deny medial sigma spelling", denyOnly, &authz.Identity{Username: "οδοσ"}, false},
		{"deny sigma before underscore", denyOnly, &authz.Identity{Username: "ασ_β"}, false},
		{"deny kelvin sign folds to k", NewUsers(nil, []string{"kate"}, false), &authz.Identity{Username: "\u212Aate"}, false},
		{"deny dotted capital I is another user", denyOnly, &authz.Identity{Username: "MALLORY\u0130"}, true},
		{"trailing space", allow, &authz.Identity{Username: "alice "}, false},
		{"not on allow list", allow, &authz.Identity{Username: "carol"}, false},
		{"deny wins over allow", allow, &authz.Identity{Username: "bob"}, false},
		{"deny list only", denyOnly, &authz.Identity{Username: "carol"}, true},
		{"denied", denyOnly, &authz.Identity{Username: "mallory"}, false},
		{"empty username", denyOnly, &authz.Identity{}, false},
		{"no identity", denyOnly, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := tc.p.Evaluate(context.Background(), &authz.Input{Identity: tc.id})
			if got := d.Verdict == authz.Continue; got != tc.pass {
				t.Fatalf("passed = %v, want %v", got, tc.pass)
			}
			if !tc.pass {
				if d.Verdict != authz.Forbidden || d.Reason != authz.ReasonUserDenied {
					t.Errorf("denial = %s %q, want 403 user_denied", d.Verdict, d.Reason)
				}
				if tc.id != nil && tc.id.Username != "" && strings.Contains(d.Detail, tc.id.Username) {
					t.Errorf("detail %q names the user", d.Detail)
				}
			}
		})
	}
	if d := NewUsers(nil, []string{"x"}, true).Evaluate(context.Background(), &authz.Input{Identity: &authz.Identity{Username: "x"}}); !d.DryRun {
		t.Error("dry run flag not set")
	}
}
