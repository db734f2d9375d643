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
	m := newMapper(t, UsernameMapperConfig{StripDomain: true, Lowercase: true, Rename: map[string]string{"old.name": "new.name"}})
	for in, want := range map[string]string{
		"Alice@Corp.Example":      "alice",
		"alice@corp.example.test": "alice",
		`CORP\Bob`:                "bob",
		"Old.Name@corp.example":   "new.name",
		"carol":                   "carol",
	} {
		got, err := m.Map(context.Background(), &authz.Identity{Username: in})
		if err != nil || got.Username != want {
			t.Errorf("%q → %+v %v, want %q", in, got, err, want)
		}
	}
	_, err := m.Map(context.Background(), &authz.Identity{Username: "@corp.example"})
	wantReason(t, err, authz.ErrInvalidToken, authz.ReasonUsernameMissing)
	native := &authz.Identity{Username: "Carol@x", Via: "atlassian"}
	if got, _ := m.Map(context.Background(), native); got != native {
		t.Error("a product-verified identity was remapped")
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
