package policy

import (
	"slices"
	"strings"
	"testing"
)

func TestAtlassianPresetRoutes(t *testing.T) {
	t.Parallel()
	routes, err := AtlassianPreset(ProductConfluence, "/confluence/", nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range routes {
		names = append(names, r.Name)
		for _, p := range r.Paths {
			if !strings.HasPrefix(p, "/confluence/") {
				t.Errorf("%s: path %q outside the context path", r.Name, p)
			}
			if _, err := compileGlob(p); err != nil {
				t.Errorf("%s: %v", r.Name, err)
			}
		}
		if r.Public != (r.Exclusion != "") {
			t.Errorf("%s: public %v, exclusion %q", r.Name, r.Public, r.Exclusion)
		}
	}
	// Exclusions first, so /rest/oauth2/latest/** wins over /rest/**.
	want := []string{"status", "static", "oauth1", "applinks", "oauth2-provider", "synchrony", "rest", "attachments"}
	if !slices.Equal(names, want) {
		t.Errorf("routes %v, want %v", names, want)
	}
}

func TestAtlassianExclusionsSwitchable(t *testing.T) {
	t.Parallel()
	for _, product := range Products {
		known := AtlassianExclusions(product)
		off := map[string]bool{}
		for name := range known {
			off[name] = false
		}
		routes, err := AtlassianPreset(product, "", off)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range routes {
			if r.Public {
				t.Errorf("%s: exclusion %s still on", product, r.Name)
			}
		}
		on := map[string]bool{}
		for name := range known {
			on[name] = true
		}
		routes, _ = AtlassianPreset(product, "", on)
		var public int
		for _, r := range routes {
			if r.Public {
				public++
			}
		}
		if public != len(known) {
			t.Errorf("%s: %d public routes for %d exclusions", product, public, len(known))
		}
	}
	if AtlassianExclusions(ProductJira)[ExcludeCrowdServer] {
		t.Error("crowd_server is on by default")
	}
	if _, ok := AtlassianExclusions(ProductJira)[ExcludeSynchrony]; ok {
		t.Error("synchrony offered for jira")
	}
}

func TestAtlassianPresetErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		product, cp string
		ex          map[string]bool
	}{
		{"jria", "", nil},
		{ProductJira, "jira", nil},
		{ProductJira, "/jira/*", nil},
		{ProductJira, "/jira;x", nil},
		{ProductJira, "/a/b/c/d/e/f/g/h", nil},
		{ProductJira, "", map[string]bool{ExcludeSynchrony: false}},
		{ProductBamboo, "", map[string]bool{"statics": false}},
	} {
		if _, err := AtlassianPreset(tc.product, tc.cp, tc.ex); err == nil {
			t.Errorf("%+v: no error", tc)
		}
	}
}

func TestCleanContextPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "", "/": "", "/jira": "/jira", "/jira/": "/jira", "/a/b": "/a/b"} {
		if got, err := CleanContextPath(in); err != nil || got != want {
			t.Errorf("CleanContextPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
