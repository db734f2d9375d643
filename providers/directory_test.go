package providers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
)

func secretFiles(t *testing.T, user, password string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	u, p := filepath.Join(dir, "user"), filepath.Join(dir, "password")
	if err := os.WriteFile(u, []byte(user+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return u, p
}

func newDirectory(t *testing.T, kind, url string, clk *clock, mod func(*DirectoryConfig)) *Directory {
	t.Helper()
	u, p := secretFiles(t, fakeSvcUser, fakeSvcPassword)
	cfg := DirectoryConfig{
		Name: kind, Kind: kind, URL: url, UserFile: u, PasswordFile: p, Groups: true,
		Remote: RemoteOptions{CacheTTL: time.Minute, NegativeTTL: 10 * time.Second, Now: clk.Now},
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := NewDirectory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var directoryPaths = map[string]string{
	DirectoryJira:       "/rest/api/2/user",
	DirectoryConfluence: "/rest/api/user/memberof",
	DirectoryBitbucket:  "/rest/api/1.0/admin/users/more-members",
	DirectoryCrowd:      "/rest/usermanagement/1/user/group/nested",
}

// TestDirectoryGroupsAllowAndDeny: each directory adds the user's groups
// to the token's, and a group rule then allows or denies on them.
func TestDirectoryGroupsAllowAndDeny(t *testing.T) {
	t.Parallel()
	f := newFakeAtlassian(t)
	for _, kind := range []string{DirectoryJira, DirectoryConfluence, DirectoryBitbucket, DirectoryCrowd} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			d := newDirectory(t, kind, f.URL, newClock(), nil)
			tokenGroups := []string{"from-token", "developers"}
			carol := &authz.Identity{Username: "Carol", Groups: tokenGroups}
			got, err := d.Map(context.Background(), carol)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"from-token", "developers", "jira-api-users"}; !slices.Equal(got.Groups, want) {
				t.Errorf("groups %v, want %v", got.Groups, want)
			}
			if !slices.Equal(carol.Groups, tokenGroups) {
				t.Error("Map modified its argument")
			}
			alice, err := d.Map(context.Background(), &authz.Identity{Username: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			if alice.InGroup("jira-api-users") || !alice.InGroup("developers") {
				t.Errorf("alice groups %v", alice.Groups)
			}
		})
	}
}

// TestDirectoryUnknownUser: with require_user an unknown user is a 403
// user_unknown; without it the identity passes unchanged (and the group
// rule decides).
func TestDirectoryUnknownUser(t *testing.T) {
	t.Parallel()
	f := newFakeAtlassian(t)
	for _, kind := range []string{DirectoryJira, DirectoryConfluence, DirectoryBitbucket, DirectoryCrowd} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			strict := newDirectory(t, kind, f.URL, newClock(), func(c *DirectoryConfig) { c.RequireUser = true })
			_, err := strict.Map(context.Background(), &authz.Identity{Username: "mallory"})
			wantReason(t, err, authz.ErrForbidden, authz.ReasonUserUnknown)

			lax := newDirectory(t, kind, f.URL, newClock(), nil)
			id := &authz.Identity{Username: "mallory", Groups: []string{"x"}}
			got, err := lax.Map(context.Background(), id)
			if err != nil || !slices.Equal(got.Groups, []string{"x"}) {
				t.Errorf("lax: %+v %v", got, err)
			}
		})
	}
}

// TestDirectoryDownIsUnavailableNotAllow: an outage, a broken service
// account or an unreadable secret is a 503, never an identity without its
// directory groups, and is not cached.
func TestDirectoryDownIsUnavailableNotAllow(t *testing.T) {
	t.Parallel()
	f := newFakeAtlassian(t)
	clk := newClock()
	d := newDirectory(t, DirectoryJira, f.URL, clk, nil)
	for _, s := range []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusOK} {
		f.status.Store(int64(s)) // an error page; then the server gone
		if s == http.StatusOK {
			f.status.Store(0)
			f.Close()
		}
		_, err := d.Map(context.Background(), &authz.Identity{Username: "carol"})
		wantReason(t, err, authz.ErrUnavailable, authz.ReasonIdPUnavailable)
	}

	g := newFakeAtlassian(t)
	wrong := newDirectory(t, DirectoryCrowd, g.URL, clk, func(c *DirectoryConfig) {
		c.UserFile, c.PasswordFile = secretFiles(t, "svc", "wrong")
	})
	_, err := wrong.Map(context.Background(), &authz.Identity{Username: "carol"})
	wantReason(t, err, authz.ErrUnavailable, authz.ReasonIdPUnavailable)

	missing := newDirectory(t, DirectoryCrowd, g.URL, clk, func(c *DirectoryConfig) { c.PasswordFile = filepath.Join(t.TempDir(), "absent") })
	_, err = missing.Map(context.Background(), &authz.Identity{Username: "carol"})
	wantReason(t, err, authz.ErrUnavailable, authz.ReasonIdPUnavailable)
}

// TestDirectoryCachedPerExactName: one lookup per name until the TTL;
// unknown users are remembered for the negative TTL. The key is the exact
// name: each spelling is looked up once (the product decides whether two
// spellings are one user).
func TestDirectoryCachedPerExactName(t *testing.T) {
	t.Parallel()
	f := newFakeAtlassian(t)
	clk := newClock()
	d := newDirectory(t, DirectoryConfluence, f.URL, clk, func(c *DirectoryConfig) { c.RequireUser = true })
	path := directoryPaths[DirectoryConfluence]
	for range 2 {
		for _, u := range []string{"carol", "Carol"} {
			if _, err := d.Map(context.Background(), &authz.Identity{Username: u}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := f.Hits(path); n != 4 { // two pages per spelling
		t.Errorf("%d calls for two spellings, want 4 (one paged lookup each)", n)
	}
	for range 3 {
		_, _ = d.Map(context.Background(), &authz.Identity{Username: "mallory"})
	}
	if n := f.Hits(path); n != 5 {
		t.Errorf("%d calls, want 5 (unknown user cached)", n)
	}
	clk.Add(11 * time.Second)
	_, _ = d.Map(context.Background(), &authz.Identity{Username: "mallory"})
	if n := f.Hits(path); n != 6 {
		t.Errorf("%d calls after the negative TTL, want 6", n)
	}
	clk.Add(time.Minute)
	_, _ = d.Map(context.Background(), &authz.Identity{Username: "carol"})
	if n := f.Hits(path); n != 8 {
		t.Errorf("%d calls after the TTL, want 8", n)
	}
}

// TestDirectoryLookalikeNeitherPoisonsNorBorrows: seams item 11. "alİce"
// (U+0130) is not alice to the product (Java folds it to "ali\u0307ce"),
// though Go's strings.ToLower makes it "alice". Its negative entry must
// not make alice unknown, and alice's cached groups must not be lent to it.
func TestDirectoryLookalikeNeitherPoisonsNorBorrows(t *testing.T) {
	t.Parallel()
	f := newFakeAtlassian(t)
	d := newDirectory(t, DirectoryJira, f.URL, newClock(), func(c *DirectoryConfig) { c.RequireUser = true })
	_, err := d.Map(context.Background(), &authz.Identity{Username: "alİce"})
	wantReason(t, err, authz.ErrForbidden, authz.ReasonUserUnknown)
	if id, err := d.Map(context.Background(), &authz.Identity{Username: "alice"}); err != nil || !id.InGroup("developers") {
		t.Fatalf("alice after an unknown lookalike: %+v %v", id, err)
	}

	e := newDirectory(t, DirectoryJira, f.URL, newClock(), func(c *DirectoryConfig) { c.RequireUser = true })
	if _, err := e.Map(context.Background(), &authz.Identity{Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	id, err := e.Map(context.Background(), &authz.Identity{Username: "ALİCE"})
	if err == nil {
		t.Fatalf("ALİCE borrowed alice's entry: groups %v", id.Groups)
	}
	wantReason(t, err, authz.ErrForbidden, authz.ReasonUserUnknown)
}

// TestDirectoryExistenceOnly: groups off, require_user on asks Jira
// without expand and adds nothing.
func TestDirectoryExistenceOnly(t *testing.T) {
	t.Parallel()
	f := newFakeAtlassian(t)
	d := newDirectory(t, DirectoryJira, f.URL, newClock(), func(c *DirectoryConfig) { c.Groups, c.RequireUser = false, true })
	id := &authz.Identity{Username: "carol"}
	got, err := d.Map(context.Background(), id)
	if err != nil || got != id {
		t.Errorf("got %+v %v, want the same identity", got, err)
	}
}

func TestNewDirectoryConfigErrors(t *testing.T) {
	t.Parallel()
	for _, cfg := range []DirectoryConfig{
		{Kind: "ldap", URL: "https://x", UserFile: "u", PasswordFile: "p", Groups: true},
		{Kind: DirectoryJira, UserFile: "u", PasswordFile: "p", Groups: true},
		{Kind: DirectoryJira, URL: "http://jira.example.test", UserFile: "u", PasswordFile: "p", Groups: true},
		{Kind: DirectoryJira, URL: "https://x", Groups: true},
		{Kind: DirectoryJira, URL: "https://x", UserFile: "u", PasswordFile: "p"},
	} {
		if _, err := NewDirectory(cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

// TestDeactivatedUserRefusedEvenWithoutRequireUser: a deactivated account
// keeps no API access through a token its IdP still issues.
func TestDeactivatedUserRefusedEvenWithoutRequireUser(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"name":%q,"key":"JIRAUSER9","active":false,"groups":{"size":1,"items":[{"name":"jira-api-users"}]}}`, r.URL.Query().Get("username"))
	}))
	t.Cleanup(srv.Close)
	for _, require := range []bool{false, true} {
		d := newDirectory(t, DirectoryJira, srv.URL, newClock(), func(c *DirectoryConfig) { c.RequireUser = require })
		_, err := d.Map(context.Background(), &authz.Identity{Username: "former"})
		wantReason(t, err, authz.ErrForbidden, authz.ReasonUserUnknown)
	}
}
