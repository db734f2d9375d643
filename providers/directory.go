package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/restguard/restguard/authz"
)

// Directory kinds: where a user's Atlassian groups are read (atlassian.md
// §3).
const (
	DirectoryJira       = "jira"
	DirectoryConfluence = "confluence"
	DirectoryBitbucket  = "bitbucket"
	DirectoryCrowd      = "crowd"
)

// Defaults for DirectoryConfig.
const (
	DefaultDirectoryNegativeTTL = time.Minute
	// maxDirectoryPages bounds the pages read for one user's groups.
	maxDirectoryPages = 20
	// maxSecretBytes bounds a credential file.
	maxSecretBytes = 4 << 10
)

// DirectoryConfig configures a Directory.
type DirectoryConfig struct {
	// Name names the directory in errors and logs, and its entries in the
	// shared cache: the product instance's unique name.
	Name string
	// Kind is DirectoryJira, DirectoryConfluence, DirectoryBitbucket or
	// DirectoryCrowd.
	Kind string
	// URL is the base URL including the context path (Crowd:
	// "https://crowd.internal/crowd"). https, or http on loopback.
	URL string
	// UserFile and PasswordFile hold the service account's credentials
	// (Crowd: the application name and password), sent as Basic to URL.
	// They are read on every directory call that misses the cache, so a
	// rotated secret is picked up without a reload.
	UserFile, PasswordFile string
	// Groups adds the user's directory groups to the identity.
	Groups bool
	// RequireUser refuses users the directory does not know (or knows as
	// inactive) with 403 user_unknown.
	RequireUser bool
	// Remote: CacheTTL is how long a user's groups are reused (default
	// DefaultAtlassianCacheTTL); NegativeTTL how long an unknown user
	// stays unknown (default DefaultDirectoryNegativeTTL); CacheSize 0 or
	// negative is DefaultCacheSize users (the cache spares the directory
	// and cannot be turned off). Grace and Leeway are not used.
	Remote RemoteOptions
}

// Directory is an authz.IdentityMapper that adds a user's groups from the
// product's (or Crowd's) directory to the identity, and can require that
// the user exists there. Lookups are cached per user, coalesced, bounded,
// and fail closed: a directory that cannot answer gives 503
// (ErrUnavailable), never an identity without its groups. It is safe for
// concurrent use.
type Directory struct {
	cfg    DirectoryConfig
	call   *caller
	cache  resultCache[*dirEntry] // an unknown user is a value too (exists false)
	flight singleflight.Group
}

type dirEntry struct {
	exists   bool
	inactive bool // the user exists but is deactivated: always refused
	groups   []string
}

// NewDirectory checks cfg and applies the defaults.
func NewDirectory(cfg DirectoryConfig) (*Directory, error) {
	var errs []error
	switch cfg.Kind {
	case DirectoryJira, DirectoryConfluence, DirectoryBitbucket, DirectoryCrowd:
	default:
		errs = append(errs, fmt.Errorf("directory: unknown kind %q (jira, confluence, bitbucket, crowd)", cfg.Kind))
	}
	var err error
	if cfg.URL, err = productURL("directory", cfg.URL, "url is required"); err != nil {
		errs = append(errs, err)
	}
	if cfg.UserFile == "" || cfg.PasswordFile == "" {
		errs = append(errs, errors.New("directory: user_file and password_file are required"))
	}
	if !cfg.Groups && !cfg.RequireUser {
		errs = append(errs, errors.New("directory: neither groups nor require_user: nothing to do"))
	}
	if err := cfg.Remote.prepare("directory", directoryDefaults); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Directory{
		cfg:   cfg,
		call:  newCaller("directory", &cfg.Remote, nil),
		cache: newResultCache(cfg.Remote.CacheSize, 0, cfg.Name, dirCodec, &cfg.Remote),
	}, nil
}

// Map implements authz.IdentityMapper: it returns a copy of id with the
// directory groups appended to the token's groups (duplicates dropped), or
// 403 user_unknown, or 503 when the directory cannot answer.
func (d *Directory) Map(ctx context.Context, id *authz.Identity) (*authz.Identity, error) {
	if id == nil || id.Username == "" {
		return nil, authz.InvalidToken(authz.ReasonUsernameMissing, errors.New("directory: no username"))
	}
	e, err := d.lookup(ctx, id.Username)
	if err != nil {
		return nil, err
	}
	if e.inactive {
		// A deactivated account must not keep API access through a token
		// its IdP still issues, whether or not require_user is set.
		return nil, authz.ForbiddenError(authz.ReasonUserUnknown, errors.New("directory: the user is deactivated"))
	}
	if !e.exists {
		if d.cfg.RequireUser {
			return nil, authz.ForbiddenError(authz.ReasonUserUnknown, errors.New("directory: no user found with this username"))
		}
		return id, nil
	}
	if !d.cfg.Groups || len(e.groups) == 0 {
		return id, nil
	}
	out := *id
	out.Groups = slices.Clone(id.Groups)
	for _, g := range e.groups {
		if !slices.Contains(out.Groups, g) {
			out.Groups = append(out.Groups, g)
		}
	}
	return &out, nil
}

// lookup returns the cached entry for user or asks the directory once for
// all concurrent requests. The cache key is the exact name asked for:
// folding it here (the product folds names its own way) let a lookalike
// ("admİn") share the entry of another user, so that an unknown lookalike
// made the real user unknown and a cached user lent its groups to the
// lookalike (seams item 11). Outages are not cached.
func (d *Directory) lookup(ctx context.Context, user string) (*dirEntry, error) {
	// Provider names cannot hold ':', so the scope is none of theirs.
	key := resultKey(d.cfg.Remote.keyScope("directory:"+d.cfg.Name), user)
	now := d.cfg.Remote.Now()
	if r, ok := d.cache.Get(ctx, key, user, now); ok && now.Before(r.fresh) {
		return r.val, nil
	}
	ch := d.flight.DoChan(string(key[:]), func() (any, error) {
		fctx := context.WithoutCancel(ctx)
		e, err := d.ask(fctx, user)
		if err != nil {
			d.cfg.Remote.Logger.Warn("directory lookup failed", "directory", d.cfg.Name, "error", err)
			return nil, err
		}
		ttl := d.cfg.Remote.CacheTTL
		if !e.exists {
			ttl = d.cfg.Remote.NegativeTTL
		}
		until := d.cfg.Remote.Now().Add(ttl)
		d.cache.Set(fctx, key, user, &result[*dirEntry]{val: e, fresh: until, grace: until, fetched: now})
		return e, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*dirEntry), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ask runs the directory calls for one user.
func (d *Directory) ask(ctx context.Context, user string) (*dirEntry, error) {
	auth, err := d.credentials()
	if err != nil {
		return nil, err
	}
	switch d.cfg.Kind {
	case DirectoryJira:
		return d.jira(ctx, auth, user)
	case DirectoryConfluence:
		return d.paged(ctx, auth, user, confluencePages)
	case DirectoryBitbucket:
		return d.paged(ctx, auth, user, bitbucketPages)
	default:
		return d.paged(ctx, auth, user, crowdPages)
	}
}

// credentials reads the service account from its files.
func (d *Directory) credentials() (func(*http.Request), error) {
	read := func(path string) (string, error) {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxSecretBytes+1))
		if err != nil {
			return "", err
		}
		if len(b) > maxSecretBytes {
			return "", errors.New("file too large")
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	user, err := read(d.cfg.UserFile)
	if err == nil && user == "" {
		err = errors.New("empty user file")
	}
	if err != nil {
		return nil, d.call.unavailable("service account user: %v", err)
	}
	pw, err := read(d.cfg.PasswordFile)
	if err != nil {
		return nil, d.call.unavailable("service account password: %v", err)
	}
	return func(r *http.Request) { r.SetBasicAuth(user, pw) }, nil
}

// get performs one GET and classifies the status: found (200), not found
// (404) or an outage (anything else, including 401/403: the service
// account's problem, not the user's).
func (d *Directory) get(ctx context.Context, auth func(*http.Request), path string, q url.Values) (map[string]any, bool, error) {
	req, err := newRequest(http.MethodGet, d.cfg.URL+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, false, d.call.unavailable("%v", err)
	}
	auth(req)
	ans, err := d.call.do(ctx, req)
	if err != nil {
		return nil, false, err
	}
	switch ans.status {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, false, nil
	default:
		return nil, false, d.call.unavailable("status %d", ans.status)
	}
	obj, err := d.call.object(ans)
	if err != nil {
		// An ambiguous answer is no verdict on the token here: an outage.
		return nil, false, d.call.unavailable("unreadable answer")
	}
	return obj, true, nil
}

// jira: GET /rest/api/2/user?username=…&expand=groups → name, active,
// groups.items[].name.
func (d *Directory) jira(ctx context.Context, auth func(*http.Request), user string) (*dirEntry, error) {
	q := url.Values{"username": {user}}
	if d.cfg.Groups {
		q.Set("expand", "groups")
	}
	obj, found, err := d.get(ctx, auth, "/rest/api/2/user", q)
	if err != nil || !found {
		return &dirEntry{}, err
	}
	if active, ok := obj["active"].(bool); ok && !active {
		return &dirEntry{inactive: true}, nil
	}
	e := &dirEntry{exists: true}
	if d.cfg.Groups {
		g, _ := obj["groups"].(map[string]any)
		e.groups = names(g["items"], "name")
		if size, ok := g["size"].(json.Number); ok {
			if n, err := size.Int64(); err == nil && int(n) > len(e.groups) {
				d.cfg.Remote.Logger.Warn("directory returned fewer groups than the user has", "directory", d.cfg.Name, "size", n, "items", len(e.groups))
			}
		}
	}
	return e, nil
}

// pager describes a paged group listing.
type pager struct {
	path     string
	query    func(user string, start, limit int) url.Values
	limit    int
	list     string // member holding the groups
	lastPage func(obj map[string]any, got int) bool
}

var confluencePages = pager{
	path: "/rest/api/user/memberof",
	query: func(u string, start, limit int) url.Values {
		return url.Values{"username": {u}, "start": {strconv.Itoa(start)}, "limit": {strconv.Itoa(limit)}}
	},
	limit: 200,
	list:  "results",
	lastPage: func(obj map[string]any, got int) bool {
		links, _ := obj["_links"].(map[string]any)
		_, hasNext := links["next"]
		return !hasNext
	},
}

var bitbucketPages = pager{
	path: "/rest/api/1.0/admin/users/more-members",
	query: func(u string, start, limit int) url.Values {
		return url.Values{"context": {u}, "start": {strconv.Itoa(start)}, "limit": {strconv.Itoa(limit)}}
	},
	limit: 100,
	list:  "values",
	lastPage: func(obj map[string]any, got int) bool {
		last, ok := obj["isLastPage"].(bool)
		return !ok || last
	},
}

var crowdPages = pager{
	path: "/rest/usermanagement/1/user/group/nested",
	query: func(u string, start, limit int) url.Values {
		return url.Values{"username": {u}, "start-index": {strconv.Itoa(start)}, "max-results": {strconv.Itoa(limit)}}
	},
	limit:    1000,
	list:     "groups",
	lastPage: func(_ map[string]any, got int) bool { return got < 1000 },
}

// paged reads every page of a group listing (bounded). A 404 on the first
// page means an unknown user.
func (d *Directory) paged(ctx context.Context, auth func(*http.Request), user string, p pager) (*dirEntry, error) {
	e := &dirEntry{exists: true}
	start := 0
	for page := 0; ; page++ {
		if page == maxDirectoryPages || len(e.groups) > maxGroups {
			return nil, d.call.unavailable("more than %d groups or %d pages", maxGroups, maxDirectoryPages)
		}
		obj, found, err := d.get(ctx, auth, p.path, p.query(user, start, p.limit))
		if err != nil {
			return nil, err
		}
		if !found {
			if page == 0 {
				return &dirEntry{}, nil
			}
			return nil, d.call.unavailable("a later page vanished")
		}
		got := names(obj[p.list], "name")
		if arr, _ := obj[p.list].([]any); len(arr) != len(got) {
			return nil, d.call.unavailable("unreadable group list")
		}
		if !d.cfg.Groups {
			return e, nil // existence was the question
		}
		e.groups = append(e.groups, got...)
		if p.lastPage(obj, len(got)) || len(got) == 0 {
			return e, nil
		}
		start += len(got)
	}
}

// names reads the string member field of each object of a JSON array.
func names(v any, field string) []string {
	arr, _ := v.([]any)
	var out []string
	for _, el := range arr {
		o, _ := el.(map[string]any)
		if s, ok := o[field].(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Evict implements Evicter: the cached directory entries of the users (or
// usernames) e names. The directory's "token" is the username, so a
// fingerprint names a username here, not a token.
func (d *Directory) Evict(e Eviction) int { return evictResults(d.cache, e) }

// wireDirEntry is a directory entry as the shared cache stores it.
type wireDirEntry struct {
	Exists   bool     `json:"x"`
	Inactive bool     `json:"i,omitempty"`
	Groups   []string `json:"g,omitempty"`
}

// dirCodec is the codec of directory entries; the user is the username the
// entry was looked up by.
var dirCodec = valueCodec[*dirEntry]{
	encode: func(e *dirEntry) ([]byte, error) {
		return json.Marshal(wireDirEntry{Exists: e.exists, Inactive: e.inactive, Groups: e.groups})
	},
	decode: func(b []byte) (*dirEntry, error) {
		var w wireDirEntry
		if err := strictJSON(b, &w); err != nil {
			return nil, err
		}
		if !w.Exists && (w.Inactive || len(w.Groups) > 0) {
			return nil, errors.New("an unknown user with groups")
		}
		return &dirEntry{exists: w.Exists, inactive: w.Inactive, groups: w.Groups}, nil
	},
	user: func(username string, _ *dirEntry) string { return username },
}
