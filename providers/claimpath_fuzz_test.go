package providers

import (
	"errors"
	"testing"

	"github.com/restguard/restguard/authz"
)

// FuzzClaimPath reads arbitrary claim sets through the dotted claim paths
// used for usernames, groups and required claims: nothing panics, a
// literal member named like the path wins, groups are strings, and a
// username is a non-empty string or a classified refusal.
func FuzzClaimPath(f *testing.F) {
	for _, s := range []struct{ claims, path string }{
		{`{"groups":["a","b"]}`, "groups"},
		{`{"realm_access":{"roles":["r"]}}`, "realm_access.roles"},
		{`{"realm_access.roles":["lit"],"realm_access":{"roles":["nested"]}}`, "realm_access.roles"},
		{`{"https://example.com/roles":["x"]}`, "https://example.com/roles"},
		{`{"a":{"b":{"c":"d"}}}`, "a.b.c"},
		{`{"a":null}`, "a"},
		{`{"groups":"one"}`, "groups"},
		{`{"groups":[1,"a"]}`, "groups"},
		{`{"a":{"":{"":1}}}`, "a.."},
		{`{"preferred_username":"al\u0000ice"}`, "preferred_username"},
		{`{"x":[{"y":1}]}`, "x.0.y"},
	} {
		f.Add([]byte(s.claims), s.path, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, path string, lower bool) {
		c, err := decodeStrict(data)
		if err != nil {
			return
		}
		v, present := claim(c, path)
		if lit, ok := c[path]; ok && (lit != nil) != present {
			t.Fatalf("literal member %q present=%v, claim says %v", path, lit != nil, present)
		}
		if present && v == nil {
			t.Fatal("present claim with a nil value")
		}
		gs, err := groups(c, path)
		if err == nil {
			for _, g := range gs {
				_ = g // strings by type
			}
		} else if !errors.Is(err, authz.ErrInvalidToken) {
			t.Fatalf("groups: unclassified error %v", err)
		}
		rule := usernameRule{paths: []string{path, "sub"}, lowercase: lower}
		u, err := rule.username(c)
		switch {
		case err == nil && u == "":
			t.Fatal("empty username accepted")
		case err != nil && !errors.Is(err, authz.ErrInvalidToken) && !errors.Is(err, authz.ErrForbidden):
			t.Fatalf("username: unclassified error %v", err)
		}
		_ = claimValues(c, path)
		_ = scalarString(c, path)
	})
}
