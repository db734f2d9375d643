package providers

import (
	"context"
	"strings"
	"testing"

	"github.com/restguard/restguard/authz"
)

func newMapper(t *testing.T, cfg UsernameMapperConfig) *UsernameMapper {
	t.Helper()
	m, err := NewUsernameMapper(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUsernameMapper(t *testing.T) {
	t.Parallel()
	m := newMapper(t, UsernameMapperConfig{StripDomains: []string{"corp.example", "Corp.Example.Test"}, StripRealms: []string{"CORP"}, Lowercase: true, Rename: map[string]string{"old.name": "new.name"}})
	for in, want := range map[string]string{
		"Alice@Corp.Example":      "alice",
		"alice@corp.example.test": "alice",
		`CORP\Bob`:                "bob",
		`corp\bob@corp.example`:   "bob",
		"Old.Name@corp.example":   "new.name",
		"carol":                   "carol",
	} {
		got, err := m.Map(context.Background(), &authz.Identity{Username: in})
		if err != nil || got.Username != want {
			t.Errorf("%q → %+v %v, want %q", in, got, err, want)
		}
	}
	native := &authz.Identity{Username: "Carol@x", Via: "atlassian"}
	if got, _ := m.Map(context.Background(), native); got != native {
		t.Error("a product-verified identity was remapped")
	}
}

// TestStripOnlyNamedDomainsAndRealms: seams item 10. Only the listed
// domains and realms are stripped; any other one is refused, so that a
// guest or a second realm never becomes the local user of the same name.
func TestStripOnlyNamedDomainsAndRealms(t *testing.T) {
	t.Parallel()
	m := newMapper(t, UsernameMapperConfig{StripDomains: []string{"corp.example.com"}, StripRealms: []string{"CORP"}})
	for _, in := range []string{
		"admin@partner.example", "ADMIN@attacker.example", `EVIL\admin`, "admin@evil.corp.example.com",
		"admin@xcorp.example.com", "admin@corp.example.com.evil", "admin@partner.example@corp.example.com",
		"@corp.example.com", `CORP\`, `CORP\EVIL\admin`, `\admin`, "admin@corp.example.\u212Aom",
		`EVIL\admin@corp.example.com`,
	} {
		got, err := m.Map(context.Background(), &authz.Identity{Username: in})
		if err == nil {
			t.Errorf("%q → %q, want refused", in, got.Username)
			continue
		}
		wantReason(t, err, authz.ErrForbidden, authz.ReasonUsernameRejected)
	}

	keep := newMapper(t, UsernameMapperConfig{StripDomains: []string{"corp.example.com"}, StripRealms: []string{"CORP"}, KeepOtherDomains: true})
	for in, want := range map[string]string{
		"admin@partner.example":  "admin@partner.example",
		`EVIL\admin`:             `EVIL\admin`,
		"alice@corp.example.com": "alice",
		`CORP\alice`:             "alice",
	} {
		got, err := keep.Map(context.Background(), &authz.Identity{Username: in})
		if err != nil || got.Username != want {
			t.Errorf("keep: %q → %+v %v, want %q", in, got, err, want)
		}
	}
	// A listed domain with a malformed local part is refused even with keep.
	_, err := keep.Map(context.Background(), &authz.Identity{Username: "a@b@corp.example.com"})
	wantReason(t, err, authz.ErrForbidden, authz.ReasonUsernameRejected)

	// Without lists, names pass whole.
	plain := newMapper(t, UsernameMapperConfig{Lowercase: true})
	if got, err := plain.Map(context.Background(), &authz.Identity{Username: "Admin@Partner.example"}); err != nil || got.Username != "admin@partner.example" {
		t.Errorf("no lists: %+v %v", got, err)
	}
	for _, bad := range []UsernameMapperConfig{
		{StripDomains: []string{"*.corp.example.com"}},
		{StripDomains: []string{"@corp.example.com"}},
		{StripRealms: []string{`CORP\`}},
		{KeepOtherDomains: true},
	} {
		if _, err := NewUsernameMapper(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// TestUsernameMapRenamesAsTheProductResolves: seams item 14. A map entry
// for old.name renames every spelling the product resolves to old.name,
// and nothing else.
func TestUsernameMapRenamesAsTheProductResolves(t *testing.T) {
	t.Parallel()
	m := newMapper(t, UsernameMapperConfig{Rename: map[string]string{"old.name": "new.name", "ΟΔΟΣ": "odos"}})
	for in, want := range map[string]string{
		"old.name":      "new.name",
		"Old.Name":      "new.name",
		"OLD.NAME":      "new.name",
		"old.nam\u0130": "old.nam\u0130", // Java: "old.nami̇", another user
		"οδος":          "odos",
		"other":         "other",
	} {
		got, err := m.Map(context.Background(), &authz.Identity{Username: in})
		if err != nil || got.Username != want {
			t.Errorf("%q → %+v %v, want %q", in, got, err, want)
		}
	}
	if _, err := NewUsernameMapper(UsernameMapperConfig{Rename: map[string]string{"Old.Name": "a", "old.name": "b"}}); err == nil || !strings.Contains(err.Error(), "same user") {
		t.Errorf("two keys for one user: %v", err)
	}
}

// TestUsernameMapperLowercaseRefusesNonASCIIFolding: seams item 11.
func TestUsernameMapperLowercaseRefusesNonASCIIFolding(t *testing.T) {
	t.Parallel()
	m := newMapper(t, UsernameMapperConfig{Lowercase: true})
	for _, in := range []string{"adm\u0130n", "\u212Aate", "JÜRGEN"} {
		_, err := m.Map(context.Background(), &authz.Identity{Username: in})
		wantReason(t, err, authz.ErrForbidden, authz.ReasonUsernameRejected)
	}
	if got, err := m.Map(context.Background(), &authz.Identity{Username: "Jürgen"}); err != nil || got.Username != "jürgen" {
		t.Errorf("Jürgen: %+v %v", got, err)
	}
}

// TestProductCheckRefusesInjectionShapes: seams item 13. The product
// presets refuse names that are lookups, templates, paths or realms;
// names the Engine could not hand upstream stay username_missing.
func TestProductCheckRefusesInjectionShapes(t *testing.T) {
	t.Parallel()
	m := newMapper(t, UsernameMapperConfig{ProductCheck: true})
	for _, tc := range []struct {
		in    string
		class error
		want  authz.Reason
	}{
		{"${jndi:ldap://x/a}", authz.ErrForbidden, authz.ReasonUsernameRejected},
		{"a${env:X}", authz.ErrForbidden, authz.ReasonUsernameRejected},
		{"%{date}", authz.ErrForbidden, authz.ReasonUsernameRejected},
		{"../../admin", authz.ErrForbidden, authz.ReasonUsernameRejected},
		{"admin/x", authz.ErrForbidden, authz.ReasonUsernameRejected},
		{`EVIL\admin`, authz.ErrForbidden, authz.ReasonUsernameRejected},
		{"bob\u0085x", authz.ErrForbidden, authz.ReasonUsernameRejected}, // C1 NEL
		{"\u00a0admin", authz.ErrForbidden, authz.ReasonUsernameRejected},
		{"admin\u2003", authz.ErrForbidden, authz.ReasonUsernameRejected},
		{"bob\r\nX-Forwarded-User: admin", authz.ErrInvalidToken, authz.ReasonUsernameMissing},
		{"admin ", authz.ErrInvalidToken, authz.ReasonUsernameMissing},
		{strings.Repeat("b", 2000), authz.ErrInvalidToken, authz.ReasonUsernameMissing},
	} {
		_, err := m.Map(context.Background(), &authz.Identity{Username: tc.in})
		wantReason(t, err, tc.class, tc.want)
	}
	for _, ok := range []string{"alice", "alice@corp.example", "ali$ce", "50%", "o'brien", "jürgen", "a{b}"} {
		if got, err := m.Map(context.Background(), &authz.Identity{Username: ok}); err != nil || got.Username != ok {
			t.Errorf("%q: %+v %v", ok, got, err)
		}
	}
}

// TestUsernamePatternIsAnchored: a pattern matches the whole final name,
// after the transforms.
func TestUsernamePatternIsAnchored(t *testing.T) {
	t.Parallel()
	m := newMapper(t, UsernameMapperConfig{StripDomains: []string{"corp.example"}, Lowercase: true, Pattern: "[a-z]+"})
	for in, ok := range map[string]bool{"Bob@corp.example": true, "bob": true, "bob1": false, "1bob": false, "svc-bob": false} {
		got, err := m.Map(context.Background(), &authz.Identity{Username: in})
		if ok != (err == nil) {
			t.Errorf("%q: %+v %v, want ok=%v", in, got, err, ok)
		}
		if err != nil {
			wantReason(t, err, authz.ErrForbidden, authz.ReasonUsernameRejected)
		}
	}
	// Alternation does not escape the anchors.
	alt := newMapper(t, UsernameMapperConfig{Pattern: "alice|bob"})
	if _, err := alt.Map(context.Background(), &authz.Identity{Username: "bobby"}); err == nil {
		t.Error("bobby matched alice|bob")
	}
	if _, err := NewUsernameMapper(UsernameMapperConfig{Pattern: "[a-"}); err == nil || !strings.HasPrefix(err.Error(), "pattern: ") {
		t.Errorf("bad pattern: %v", err)
	}
}
