package providers

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
)

// fakeAtlassian is one httptest server answering like Jira, Confluence,
// Bitbucket, Bamboo and Crowd at once (JSON shapes from their REST docs).
// Tokens in tokens map to user names; the service account is svc/secret.
type fakeAtlassian struct {
	*httptest.Server
	hits   sync.Map // path → *atomic.Int64
	status atomic.Int64
	tokens map[string]string
	// groups per user; unknown users get 404.
	groups map[string][]string
	// release, when set, holds "who am I" answers until it is closed.
	release chan struct{}
}

const fakeSvcUser, fakeSvcPassword = "svc", "secret"

func newFakeAtlassian(t *testing.T) *fakeAtlassian {
	t.Helper()
	f := &fakeAtlassian{
		tokens: map[string]string{testPAT: "carol", testBBDC: "carol"},
		groups: map[string][]string{"carol": {"jira-api-users", "developers"}, "alice": {"developers"}},
	}
	mux := http.NewServeMux()
	who := func(path string, write func(w http.ResponseWriter, user string)) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			f.count(path)
			if f.release != nil {
				<-f.release
			}
			if s := f.status.Load(); s != 0 {
				http.Error(w, "{}", int(s))
				return
			}
			user, ok := f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			if !ok {
				w.Header().Set("X-AUSERNAME", "anonymous")
				http.Error(w, `{"message":"Client must be authenticated to access this resource."}`, http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			write(w, user)
		})
	}
	who("/rest/api/2/myself", func(w http.ResponseWriter, u string) {
		fmt.Fprintf(w, `{"self":"https://jira/rest/api/2/user?username=%s","key":"JIRAUSER10100","name":%q,"emailAddress":"%s@example.test","displayName":"Carol","active":true,"timeZone":"UTC","groups":{"size":1,"items":[]}}`, u, u, u)
	})
	who("/rest/api/user/current", func(w http.ResponseWriter, u string) {
		fmt.Fprintf(w, `{"type":"known","username":%q,"userKey":"ff80808","profilePicture":{"path":"/x.png"},"displayName":"Carol","_links":{"self":"x"}}`, u)
	})
	who("/rest/api/1.0/application-properties", func(w http.ResponseWriter, u string) {
		w.Header().Set("X-AUSERNAME", u)
		fmt.Fprint(w, `{"version":"8.19.0","buildNumber":"8019000","buildDate":"1700000000000","displayName":"Bitbucket"}`)
	})
	who("/rest/api/latest/currentUser", func(w http.ResponseWriter, u string) {
		fmt.Fprintf(w, `{"name":%q,"fullName":"Carol","email":"%s@example.test"}`, u, u)
	})

	dir := func(path string, write func(w http.ResponseWriter, r *http.Request, groups []string)) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			f.count(path)
			if s := f.status.Load(); s != 0 {
				http.Error(w, "<html>proxy error</html>", int(s))
				return
			}
			if u, p, ok := r.BasicAuth(); !ok || u != fakeSvcUser || p != fakeSvcPassword {
				http.Error(w, "", http.StatusUnauthorized)
				return
			}
			user := r.URL.Query().Get("username")
			if path == "/rest/api/1.0/admin/users/more-members" {
				user = r.URL.Query().Get("context")
			}
			// The products resolve names with Java's English-locale
			// lower-casing: authz.FoldName.
			g, ok := f.groups[authz.FoldName(user)]
			if !ok {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprint(w, `{"errorMessages":["No user found with this username"],"reason":"USER_NOT_FOUND"}`)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			write(w, r, g)
		})
	}
	objs := func(groups []string, extra string) string {
		var parts []string
		for _, g := range groups {
			parts = append(parts, fmt.Sprintf(`{"name":%q%s}`, g, extra))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	page := func(r *http.Request, startKey, limitKey string, groups []string) ([]string, int, bool) {
		start, _ := strconv.Atoi(r.URL.Query().Get(startKey))
		limit, _ := strconv.Atoi(r.URL.Query().Get(limitKey))
		limit = min(limit, 1) // one group per page: paging is exercised
		end := min(start+limit, len(groups))
		if start > len(groups) {
			start = len(groups)
		}
		return groups[start:end], end, end >= len(groups)
	}
	dir("/rest/api/2/user", func(w http.ResponseWriter, r *http.Request, g []string) {
		items := "[]"
		if r.URL.Query().Get("expand") == "groups" {
			items = objs(g, `,"self":"x"`)
		}
		fmt.Fprintf(w, `{"name":%q,"key":"JIRAUSER1","active":true,"groups":{"size":%d,"items":%s}}`, r.URL.Query().Get("username"), len(g), items)
	})
	dir("/rest/api/user/memberof", func(w http.ResponseWriter, r *http.Request, g []string) {
		got, next, last := page(r, "start", "limit", g)
		links := `{"self":"x"}`
		if !last {
			links = fmt.Sprintf(`{"self":"x","next":"/rest/api/user/memberof?start=%d"}`, next)
		}
		fmt.Fprintf(w, `{"results":%s,"start":0,"limit":1,"size":%d,"_links":%s}`, objs(got, `,"type":"group"`), len(got), links)
	})
	dir("/rest/api/1.0/admin/users/more-members", func(w http.ResponseWriter, r *http.Request, g []string) {
		got, next, last := page(r, "start", "limit", g)
		fmt.Fprintf(w, `{"size":%d,"limit":1,"isLastPage":%v,"values":%s,"start":0,"nextPageStart":%d}`, len(got), last, objs(got, `,"deletable":true`), next)
	})
	dir("/rest/usermanagement/1/user/group/nested", func(w http.ResponseWriter, r *http.Request, g []string) {
		fmt.Fprintf(w, `{"expand":"group","groups":%s}`, objs(g, `,"link":{"href":"x","rel":"self"}`))
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAtlassian) count(path string) {
	v, _ := f.hits.LoadOrStore(path, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (f *fakeAtlassian) Hits(path string) int64 {
	v, ok := f.hits.Load(path)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

var (
	testPAT  = base64.StdEncoding.EncodeToString([]byte("721835139075:abcdefghijklmnopqrst"))
	testBBDC = "BBDC-MTIzNDU2Nzg5MDEyOlpZWFdWVVRTUlFQT05NTExLSg"
)

var defaultShape = AtlassianTokenShape{Prefixes: []string{DefaultBitbucketTokenPrefix}, PAT: true}

func newNative(t *testing.T, product, mode, url string, clk *clock) *AtlassianTokens {
	t.Helper()
	a, err := NewAtlassianTokens(AtlassianTokensConfig{
		Name: product + "-native", Product: product, Mode: mode, Shape: defaultShape, URL: url,
		Remote: RemoteOptions{CacheTTL: time.Minute, NegativeTTL: 10 * time.Second, Now: clk.Now},
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAtlassianTokenShape(t *testing.T) {
	t.Parallel()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, token string
		want        bool
	}{
		{"jira PAT", testPAT, true},
		{"PAT with 13 digits", b64("7218351390751:abcdefghijklmnopqrs"), true},
		{"44 chars, no digits before the colon", b64("abcdefghijkl:abcdefghijklmnopqrst"), false},
		{"44 chars, no colon", b64("721835139075xabcdefghijklmnopqrst"), false},
		{"43 chars", testPAT[:43], false},
		{"base64url alphabet", strings.NewReplacer("+", "-", "/", "_").Replace(b64("721835139075:\xfb\xff\xfbabcdefghijklmnopq")), false},
		{"bitbucket token", testBBDC, true},
		{"prefix alone", "BBDC-", false},
		{"prefix case", "bbdc-MTIz", false},
		{"jwt", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", false},
		{"user:pass in bearer", b64("user:pass"), false},
		{"empty", "", false},
	} {
		if got := defaultShape.Match(tc.token); got != tc.want {
			t.Errorf("%s: Match(%q) = %v, want %v", tc.name, tc.token, got, tc.want)
		}
	}
	if (AtlassianTokenShape{}).Match(testPAT) {
		t.Error("the zero shape matched a PAT")
	}
}

// TestNativeTokenModes: classification happens before anything is sent
// anywhere; each mode answers as the Engine expects.
func TestNativeTokenModes(t *testing.T) {
	t.Parallel()
	f := newFakeAtlassian(t)
	clk := newClock()
	ctx := context.Background()

	for _, mode := range []string{NativePassThrough, NativeDeny, NativeVerify} {
		_, err := newNative(t, "jira", mode, f.URL, clk).Validate(ctx, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
		wantReason(t, err, authz.ErrNotResponsible, authz.ReasonTokenMalformed)
	}
	_, err := newNative(t, "jira", NativePassThrough, f.URL, clk).Validate(ctx, testPAT)
	if !errors.Is(err, authz.ErrPassThrough) {
		t.Errorf("pass_through: %v", err)
	}
	_, err = newNative(t, "bitbucket", NativeDeny, f.URL, clk).Validate(ctx, testBBDC)
	wantReason(t, err, authz.ErrInvalidToken, authz.ReasonNativeTokenDenied)
	noTokenInError(t, err, testBBDC)
	if n := f.Hits("/rest/api/2/myself") + f.Hits("/rest/api/1.0/application-properties"); n != 0 {
		t.Errorf("pass_through and deny called the product %d times", n)
	}
}

// TestNativeTokenGateOnPassRoutes: in deny mode a product-native token is
// refused on pass routes too, where no authenticator runs (seams item 9);
// the other modes have no gate.
func TestNativeTokenGateOnPassRoutes(t *testing.T) {
	t.Parallel()
	clk := newClock()
	gate := newNative(t, "jira", NativeDeny, "", clk).Gate()
	if gate == nil {
		t.Fatal("deny mode has no gate")
	}
	for token, denied := range map[string]bool{testPAT: true, testBBDC: true, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln": false, "opaque-token": false} {
		in := &authz.Input{Request: &authz.Request{}, Credential: authz.Credential{Kind: authz.CredentialBearer, Token: token}}
		d := gate.Evaluate(context.Background(), in)
		if got := d.Verdict == authz.Unauthenticated && d.Reason == authz.ReasonNativeTokenDenied; got != denied {
			t.Errorf("%.12s…: %s/%s, denied want %v", token, d.Verdict, d.Reason, denied)
		}
		if strings.Contains(d.Detail, token) {
			t.Error("the token is in the detail")
		}
	}
	basic := &authz.Input{Request: &authz.Request{}, Credential: authz.Credential{Kind: authz.CredentialBasic}}
	if d := gate.Evaluate(context.Background(), basic); d.Verdict != authz.Continue {
		t.Errorf("basic: %s", d.Verdict)
	}
	f := newFakeAtlassian(t)
	for _, mode := range []string{NativePassThrough, NativeVerify} {
		if g := newNative(t, "jira", mode, f.URL, clk).Gate(); g != nil {
			t.Errorf("%s has a gate", mode)
		}
	}
}

// TestNativeTokenVerifyPerProduct: each product's "who am I" answer gives
// the identity; a refused or anonymous answer refuses the token.
func TestNativeTokenVerifyPerProduct(t *testing.T) {
	t.Parallel()
	f := newFakeAtlassian(t)
	for _, tc := range []struct{ product, token, email string }{
		{"jira", testPAT, "carol@example.test"},
		{"confluence", testPAT, ""},
		{"bitbucket", testBBDC, ""},
		{"bamboo", testPAT, "carol@example.test"},
	} {
		t.Run(tc.product, func(t *testing.T) {
			t.Parallel()
			a := newNative(t, tc.product, NativeVerify, f.URL, newClock())
			id, err := a.Validate(context.Background(), tc.token)
			if err != nil {
				t.Fatal(err)
			}
			if id.Username != "carol" || id.Via != "atlassian" || id.Provider != tc.product+"-native" || id.Email != tc.email {
				t.Errorf("identity %+v", id)
			}
			other := base64.StdEncoding.EncodeToString([]byte("111111111111:abcdefghijklmnopqrst"))
			_, err = a.Validate(context.Background(), other)
			wantReason(t, err, authz.ErrInvalidToken, authz.ReasonTokenInvalid)
		})
	}
}

// TestConfluenceAnonymousAnswerIsNotAUser: Confluence answers 200
// {"type":"anonymous"} when it does not recognise the caller.
func TestConfluenceAnonymousAnswerIsNotAUser(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"type":"anonymous","profilePicture":{},"displayName":"Anonymous"}`)
	}))
	t.Cleanup(srv.Close)
	_, err := newNative(t, "confluence", NativeVerify, srv.URL, newClock()).Validate(context.Background(), testPAT)
	wantReason(t, err, authz.ErrInvalidToken, authz.ReasonTokenInvalid)
}

// TestNativeTokenVerifyCachesAndCoalesces: concurrent requests with one
// token make one product call; later ones are cache hits until the TTL.
func TestNativeTokenVerifyCachesAndCoalesces(t *testing.T) {
	t.Parallel()
	f := newFakeAtlassian(t)
	f.release = make(chan struct{})
	clk := newClock()
	a := newNative(t, "jira", NativeVerify, f.URL, clk)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Validate(context.Background(), testPAT); err != nil {
				errs <- err
			}
		}()
	}
	close(f.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := f.Hits("/rest/api/2/myself"); n != 1 {
		t.Errorf("product called %d times for 20 concurrent checks", n)
	}
	id, err := a.Validate(context.Background(), testPAT)
	if err != nil || !id.CacheHit {
		t.Fatalf("cached: %+v %v", id, err)
	}
	clk.Add(time.Minute + time.Second)
	if _, err := a.Validate(context.Background(), testPAT); err != nil {
		t.Fatal(err)
	}
	if n := f.Hits("/rest/api/2/myself"); n != 2 {
		t.Errorf("after the TTL: %d calls, want 2", n)
	}
}

// TestNativeTokenRefusalCachedBriefly: a refused token is not re-asked
// within NegativeTTL.
func TestNativeTokenRefusalCachedBriefly(t *testing.T) {
	t.Parallel()
	f := newFakeAtlassian(t)
	clk := newClock()
	a := newNative(t, "jira", NativeVerify, f.URL, clk)
	bad := base64.StdEncoding.EncodeToString([]byte("111111111111:abcdefghijklmnopqrst"))
	for range 3 {
		_, err := a.Validate(context.Background(), bad)
		wantReason(t, err, authz.ErrInvalidToken, authz.ReasonTokenInvalid)
	}
	if n := f.Hits("/rest/api/2/myself"); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
	clk.Add(11 * time.Second)
	_, _ = a.Validate(context.Background(), bad)
	if n := f.Hits("/rest/api/2/myself"); n != 2 {
		t.Errorf("after the negative TTL: %d calls, want 2", n)
	}
}

// TestNativeTokenProductDownIsUnavailableNotCached: an outage is a 503 and
// is asked again next time.
func TestNativeTokenProductDownIsUnavailableNotCached(t *testing.T) {
	t.Parallel()
	f := newFakeAtlassian(t)
	a := newNative(t, "jira", NativeVerify, f.URL, newClock())
	for _, s := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusNotFound} {
		f.status.Store(int64(s))
		_, err := a.Validate(context.Background(), testPAT)
		wantReason(t, err, authz.ErrUnavailable, authz.ReasonIdPUnavailable)
	}
	f.status.Store(0)
	if _, err := a.Validate(context.Background(), testPAT); err != nil {
		t.Fatal(err)
	}
	if n := f.Hits("/rest/api/2/myself"); n != 4 {
		t.Errorf("%d calls, want 4 (outages are not cached)", n)
	}

	f.Close()
	other := newNative(t, "jira", NativeVerify, f.URL, newClock())
	_, err := other.Validate(context.Background(), testPAT)
	wantReason(t, err, authz.ErrUnavailable, authz.ReasonIdPUnavailable)
}

// TestNativeTokenVerifyNeverFollowsRedirects: a redirect would carry the
// token somewhere else.
func TestNativeTokenVerifyNeverFollowsRedirects(t *testing.T) {
	t.Parallel()
	var canary atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { canary.Add(1) }))
	t.Cleanup(elsewhere.Close)
	srv := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/steal", http.StatusFound))
	t.Cleanup(srv.Close)
	_, err := newNative(t, "jira", NativeVerify, srv.URL, newClock()).Validate(context.Background(), testPAT)
	wantReason(t, err, authz.ErrUnavailable, authz.ReasonIdPUnavailable)
	if canary.Load() != 0 {
		t.Error("the token followed a redirect")
	}
}

func TestNewAtlassianTokensConfigErrors(t *testing.T) {
	t.Parallel()
	for _, cfg := range []AtlassianTokensConfig{
		{Mode: "introspect", Shape: defaultShape},
		{Mode: NativeVerify, Product: "jira", Shape: defaultShape},
		{Mode: NativeVerify, Product: "jira", Shape: defaultShape, URL: "http://jira.example.test"},
		{Mode: NativeVerify, Product: "crowd", Shape: defaultShape, URL: "https://jira.example.test"},
		{Mode: NativeDeny},
		{Mode: NativeDeny, Shape: defaultShape, Remote: RemoteOptions{CacheTTL: -time.Second}},
	} {
		if _, err := NewAtlassianTokens(cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}
