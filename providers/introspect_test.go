package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
)

// fakeAS is a real HTTP authorization server for remote-validation tests:
// its handler can be swapped, and it counts the calls it gets.
type fakeAS struct {
	srv   *httptest.Server
	calls atomic.Int64
	mu    sync.Mutex
	h     http.HandlerFunc
	// last request, for assertions
	lastForm   map[string][]string
	lastHeader http.Header
}

func newFakeAS(t *testing.T, h http.HandlerFunc) *fakeAS {
	t.Helper()
	f := &fakeAS{h: h}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		_ = r.ParseForm()
		f.mu.Lock()
		f.lastForm, f.lastHeader = r.PostForm, r.Header.Clone()
		h := f.h
		f.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAS) set(h http.HandlerFunc) {
	f.mu.Lock()
	f.h = h
	f.mu.Unlock()
}

func (f *fakeAS) form() map[string][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastForm
}

// jsonAnswer answers 200 with body.
func jsonAnswer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = writeBody(w, body)
	}
}

func writeBody(w http.ResponseWriter, s string) (int, error) { return w.Write([]byte(s)) }

// activeFor answers like Hydra: active, with ext claims, exp in an hour.
func activeFor(clk *clock) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"active": true, "client_id": "svc-jira", "sub": "svc-jira", "iss": "https://as.test/",
			"exp": clk.Unix(time.Hour), "iat": clk.Unix(0), "aud": []string{"https://jira.example.test"},
			"token_type": "Bearer", "token_use": "access_token",
			"ext": map[string]any{"username": "alice", "groups": []string{"jira-users"}},
		})
	}
}

func newIntrospection(t *testing.T, f *fakeAS, clk *clock, mod func(*IntrospectionConfig)) *Introspection {
	t.Helper()
	cfg := IntrospectionConfig{
		Name: "as", Endpoint: f.srv.URL + "/introspect", ClientID: "rs-jira", ClientSecret: "s3cret&=:x",
		TokenTypeHint: "access_token",
		// Most answers below carry no client_id: the binding checks have
		// tests of their own.
		AllowAnyClient: true,
		Mapping:        IdentityMapping{UsernameClaims: []string{"ext.username"}, GroupsClaim: "ext.groups"},
		Remote:         RemoteOptions{Now: clk.Now},
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := NewIntrospection(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIntrospectionAllowsActiveTokenWithMappedIdentity(t *testing.T) {
	t.Parallel()
	clk := newClock()
	f := newFakeAS(t, activeFor(clk))
	p := newIntrospection(t, f, clk, nil)
	id, err := p.Validate(context.Background(), "opaque-token-1")
	if err != nil {
		t.Fatal(err)
	}
	if id.Username != "alice" || len(id.Groups) != 1 || id.Groups[0] != "jira-users" || id.Via != "introspection" || id.ClientID != "svc-jira" || id.Provider != "as" {
		t.Fatalf("identity = %+v", id)
	}
	// client_secret_basic, form-encoded per RFC 6749 §2.3.1, and the hint.
	user, pass, ok := (&http.Request{Header: f.lastHeader}).BasicAuth()
	if !ok || user != "rs-jira" || pass != "s3cret%26%3D%3Ax" {
		t.Errorf("basic auth = %q %q %v", user, pass, ok)
	}
	if form := f.form(); form["token"][0] != "opaque-token-1" || form["token_type_hint"][0] != "access_token" || form["client_secret"] != nil {
		t.Errorf("form = %v", form)
	}
}

func TestIntrospectionClientSecretPost(t *testing.T) {
	t.Parallel()
	clk := newClock()
	f := newFakeAS(t, activeFor(clk))
	p := newIntrospection(t, f, clk, func(c *IntrospectionConfig) { c.AuthMethod = AuthClientSecretPost; c.TokenTypeHint = "" })
	if _, err := p.Validate(context.Background(), "tok"); err != nil {
		t.Fatal(err)
	}
	form := f.form()
	if form["client_id"][0] != "rs-jira" || form["client_secret"][0] != "s3cret&=:x" || form["token_type_hint"] != nil {
		t.Errorf("form = %v", form)
	}
	if f.lastHeader.Get("Authorization") != "" {
		t.Error("client_secret_post also sent Authorization")
	}
}

// TestIntrospectionParameterInjectionEncoded: a token that would inject a
// form parameter is refused by its shape before any call, and every token
// character the Bearer syntax allows arrives as one exact form value
// (catalogue H5, A11).
func TestIntrospectionParameterInjectionEncoded(t *testing.T) {
	t.Parallel()
	clk := newClock()
	f := newFakeAS(t, jsonAnswer(`{"active":false}`))
	p := newIntrospection(t, f, clk, nil)
	_, err := p.Validate(context.Background(), "abc&token_type_hint=refresh_token")
	wantReason(t, err, authz.ErrNotResponsible, authz.ReasonTokenMalformed)
	if f.calls.Load() != 0 {
		t.Fatal("a token with & was sent")
	}
	tok := "a+b/c=d~e.f_g-h=="
	_, _ = p.Validate(context.Background(), tok)
	if got := f.form(); len(got["token"]) != 1 || got["token"][0] != tok || len(got["token_type_hint"]) != 1 || got["token_type_hint"][0] != "access_token" {
		t.Fatalf("form = %v", got)
	}
}

// TestIntrospectionActiveMustBeJSONTrue: only the literal true in an exact,
// unique "active" member counts (catalogue H3).
func TestIntrospectionActiveMustBeJSONTrue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		class      error
		reason     authz.Reason
	}{
		{"string true", `{"active":"true","username":"alice"}`, authz.ErrInvalidToken, authz.ReasonTokenInactive},
		{"number", `{"active":1,"username":"alice"}`, authz.ErrInvalidToken, authz.ReasonTokenInactive},
		{"null", `{"active":null,"username":"alice"}`, authz.ErrInvalidToken, authz.ReasonTokenInactive},
		{"missing", `{"username":"alice"}`, authz.ErrInvalidToken, authz.ReasonTokenInactive},
		{"upper-case key", `{"active":false,"ACTIVE":true,"username":"alice"}`, authz.ErrInvalidToken, authz.ReasonTokenInactive},
		{"capitalised key", `{"Active":true,"username":"alice"}`, authz.ErrInvalidToken, authz.ReasonTokenInactive},
		{"duplicate active", `{"active":false,"active":true,"username":"alice"}`, authz.ErrInvalidToken, authz.ReasonTokenInvalid},
		{"duplicate nested", `{"active":true,"ext":{"username":"mallory","username":"alice"}}`, authz.ErrInvalidToken, authz.ReasonTokenInvalid},
		{"inactive", `{"active":false}`, authz.ErrInvalidToken, authz.ReasonTokenInactive},
		{"array", `[]`, authz.ErrUnavailable, authz.ReasonIdPUnavailable},
		{"bare true", `true`, authz.ErrUnavailable, authz.ReasonIdPUnavailable},
		{"trailing garbage", `{"active":true,"username":"alice"}garbage`, authz.ErrUnavailable, authz.ReasonIdPUnavailable},
		{"html", `<html><body>Service Unavailable</body></html>`, authz.ErrUnavailable, authz.ReasonIdPUnavailable},
		{"invalid utf-8", "{\"active\":true,\"username\":\"al\xffice\"}", authz.ErrUnavailable, authz.ReasonIdPUnavailable},
		{"deeply nested", `{"active":true,"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, authz.ErrUnavailable, authz.ReasonIdPUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			f := newFakeAS(t, jsonAnswer(tc.body))
			p := newIntrospection(t, f, clk, func(c *IntrospectionConfig) { c.Mapping = IdentityMapping{} })
			_, err := p.Validate(context.Background(), "tok")
			wantReason(t, err, tc.class, tc.reason)
		})
	}
}

// TestIntrospectionActiveButUnusableRefused: catalogue H4.
func TestIntrospectionActiveButUnusableRefused(t *testing.T) {
	t.Parallel()
	clk := newClock()
	past, future := clk.Unix(-10*time.Minute), clk.Unix(10*time.Minute)
	for _, tc := range []struct {
		name, body string
		reason     authz.Reason
	}{
		{"expired", fmt.Sprintf(`{"active":true,"username":"alice","exp":%d}`, past), authz.ReasonTokenExpired},
		{"exp as string", `{"active":true,"username":"alice","exp":"soon"}`, authz.ReasonTokenInvalid},
		{"not yet valid", fmt.Sprintf(`{"active":true,"username":"alice","nbf":%d}`, future), authz.ReasonTokenNotYetValid},
		{"refresh token_type", `{"active":true,"username":"alice","token_type":"refresh_token"}`, authz.ReasonTokenTypeInvalid},
		{"keycloak refresh typ", `{"active":true,"username":"alice","typ":"Refresh"}`, authz.ReasonTokenTypeInvalid},
		{"hydra refresh token_use", `{"active":true,"username":"alice","token_use":"refresh_token"}`, authz.ReasonTokenTypeInvalid},
		{"id token_use", `{"active":true,"username":"alice","token_use":"id"}`, authz.ReasonTokenTypeInvalid},
		{"other client", `{"active":true,"username":"alice","client_id":"evil-client","iss":"https://as.test/","aud":"https://jira.example.test"}`, authz.ReasonAudienceMismatch},
		{"other audience", `{"active":true,"username":"alice","client_id":"svc-jira","iss":"https://as.test/","aud":"https://other"}`, authz.ReasonAudienceMismatch},
		{"other issuer", `{"active":true,"username":"alice","client_id":"svc-jira","iss":"https://other/","aud":"https://jira.example.test"}`, authz.ReasonIssuerUnknown},
		{"no issuer", `{"active":true,"username":"alice","client_id":"svc-jira","aud":"https://jira.example.test"}`, authz.ReasonIssuerUnknown},
		{"no username", `{"active":true,"client_id":"svc-jira","iss":"https://as.test/","aud":"https://jira.example.test"}`, authz.ReasonUsernameMissing},
		{"username not a string", `{"active":true,"username":["alice"],"client_id":"svc-jira","iss":"https://as.test/","aud":"https://jira.example.test"}`, authz.ReasonUsernameMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAS(t, jsonAnswer(tc.body))
			p := newIntrospection(t, f, clk, func(c *IntrospectionConfig) {
				c.Mapping = IdentityMapping{}
				if strings.Contains(tc.body, "client_id") {
					c.Issuer, c.ClientIDs, c.Audiences, c.AllowAnyClient = "https://as.test/", []string{"svc-jira"}, []string{"https://jira.example.test"}, false
				}
			})
			_, err := p.Validate(context.Background(), "tok")
			wantReason(t, err, authz.ErrInvalidToken, tc.reason)
		})
	}
}

func TestIntrospectionTokenTypesChecked(t *testing.T) {
	t.Parallel()
	clk := newClock()
	f := newFakeAS(t, jsonAnswer(`{"active":true,"username":"alice","token_type":"Bearer"}`))
	p := newIntrospection(t, f, clk, func(c *IntrospectionConfig) { c.Mapping = IdentityMapping{}; c.TokenTypes = []string{"access_token"} })
	_, err := p.Validate(context.Background(), "tok")
	wantReason(t, err, authz.ErrInvalidToken, authz.ReasonTokenTypeInvalid)
	p = newIntrospection(t, f, clk, func(c *IntrospectionConfig) { c.Mapping = IdentityMapping{}; c.TokenTypes = []string{"bearer"} })
	if _, err := p.Validate(context.Background(), "tok"); err != nil {
		t.Fatal(err)
	}
}

// TestJWTNeverSentToIntrospection: a JWT is not an introspection
// provider's unless configured, and nothing is sent (catalogue H5).
func TestJWTNeverSentToIntrospection(t *testing.T) {
	t.Parallel()
	clk := newClock()
	f := newFakeAS(t, activeFor(clk))
	p := newIntrospection(t, f, clk, nil)
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln"
	_, err := p.Validate(context.Background(), jwt)
	wantReason(t, err, authz.ErrNotResponsible, authz.ReasonIssuerUnknown)
	if f.calls.Load() != 0 {
		t.Fatalf("%d calls for a JWT", f.calls.Load())
	}
	p = newIntrospection(t, f, clk, func(c *IntrospectionConfig) { c.Shape.AcceptJWT = true })
	if _, err := p.Validate(context.Background(), jwt); err != nil {
		t.Fatal(err)
	}
}

// TestShapeFilterNeverSpraysTokens: a token outside the shape is not sent.
func TestShapeFilterNeverSpraysTokens(t *testing.T) {
	t.Parallel()
	clk := newClock()
	f := newFakeAS(t, activeFor(clk))
	p := newIntrospection(t, f, clk, func(c *IntrospectionConfig) {
		c.Shape = TokenShape{Prefixes: []string{"ory_at_"}, MinLength: 20, MaxLength: 100, Charset: "base64url"}
	})
	for _, tok := range []string{"gho_abcdefghijklmnopqrstuvwxyz", "ory_at_short", "ory_at_" + strings.Repeat("a", 100), "ory_at_abcdefghijklmn.opq"} {
		_, err := p.Validate(context.Background(), tok)
		wantReason(t, err, authz.ErrNotResponsible, authz.ReasonTokenMalformed)
	}
	if f.calls.Load() != 0 {
		t.Fatalf("%d calls for tokens outside the shape", f.calls.Load())
	}
	if _, err := p.Validate(context.Background(), "ory_at_abcdefghijklmnopq"); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentChecksOfOneTokenCauseOneIntrospection: 64 concurrent checks
// of one new token share one call (catalogue H7).
func TestConcurrentChecksOfOneTokenCauseOneIntrospection(t *testing.T) {
	t.Parallel()
	clk := newClock()
	release := make(chan struct{})
	arrived := make(chan struct{}, 64)
	f := newFakeAS(t, nil)
	f.set(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		activeFor(clk)(w, r)
	})
	p := newIntrospection(t, f, clk, nil)
	var wg sync.WaitGroup
	var started sync.WaitGroup
	errs := make(chan error, 64)
	started.Add(64)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			id, err := p.Validate(context.Background(), "one-new-token")
			if err == nil && id.Username != "alice" {
				err = fmt.Errorf("username %q", id.Username)
			}
			errs <- err
		}()
	}
	started.Wait()
	// Hold the one call until it has arrived, then release it.
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no introspection call arrived")
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d introspection calls, want 1", n)
	}
}

// TestDistinctTokensRepeatedCauseOneCallEach: 1,000 distinct tokens, each
// presented 10 times, cause at most 1,000 calls.
func TestDistinctTokensRepeatedCauseOneCallEach(t *testing.T) {
	t.Parallel()
	clk := newClock()
	f := newFakeAS(t, activeFor(clk))
	p := newIntrospection(t, f, clk, nil)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	var failed atomic.Int64
	for range 10 {
		for i := range 1000 {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				if _, err := p.Validate(context.Background(), fmt.Sprintf("token-%04d", i)); err != nil {
					failed.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d validations failed", failed.Load())
	}
	if n := f.calls.Load(); n > 1000 {
		t.Fatalf("%d introspection calls for 1000 distinct tokens, want <= 1000", n)
	}
}

// TestIntrospectionOutagesAreUnavailableAndNotCached: a slow endpoint, 500,
// HTML, a 10 MiB body and a refused connection each give idp_unavailable
// within the deadline, and the same token is allowed once the provider
// recovers (catalogue H1, H2, K5).
func TestIntrospectionOutagesAreUnavailableAndNotCached(t *testing.T) {
	t.Parallel()
	big := strings.Repeat(" ", 10<<20)
	for _, tc := range []struct {
		name  string
		fault http.HandlerFunc
	}{
		{"slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}},
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }},
		{"503", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) }},
		{"429", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "slow down", http.StatusTooManyRequests) }},
		{"401 bad client credentials", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		}},
		{"html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = writeBody(w, "<html>maintenance</html>")
		}},
		{"10 MiB body", func(w http.ResponseWriter, r *http.Request) {
			_, _ = writeBody(w, `{"active":true,"username":"alice","pad":"`+big+`"}`)
		}},
		{"connection refused", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			f := newFakeAS(t, activeFor(clk))
			endpoint := f.srv.URL + "/introspect"
			if tc.fault == nil {
				endpoint = closedURL(t)
			} else {
				f.set(tc.fault)
			}
			p := newIntrospection(t, f, clk, func(c *IntrospectionConfig) { c.Endpoint = endpoint })
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			start := time.Now()
			_, err := p.Validate(ctx, "tok-outage")
			cancel()
			if !errors.Is(err, authz.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want unavailable", err)
			}
			// Not a speed assertion: the slow fault holds its answer for 5 s,
			// so returning well before that proves the call stopped at the
			// request's deadline instead of waiting for the IdP (the slack
			// absorbs a loaded -race run).
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("took %s: the call waited for the IdP instead of the 200ms deadline", el)
			}
			noTokenInError(t, err, "tok-outage")
			// Recovery: the very next check asks again and is allowed.
			f.set(activeFor(clk))
			if tc.fault == nil {
				p = newIntrospection(t, f, clk, nil)
			}
			id, err := p.Validate(context.Background(), "tok-outage")
			if err != nil || id.Username != "alice" {
				t.Fatalf("after recovery: %v %+v", err, id)
			}
		})
	}
}

func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/introspect"
}

// TestIntrospectionRedirectNotFollowed: a redirect never carries the token
// or the client secret elsewhere (catalogue H2).
func TestIntrospectionRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	clk := newClock()
	canary := newFakeAS(t, activeFor(clk))
	f := newFakeAS(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, canary.srv.URL+"/introspect", http.StatusTemporaryRedirect)
	})
	p := newIntrospection(t, f, clk, nil)
	_, err := p.Validate(context.Background(), "tok")
	wantReason(t, err, authz.ErrUnavailable, authz.ReasonIdPUnavailable)
	if canary.calls.Load() != 0 {
		t.Fatal("redirect followed")
	}
}

// TestExpiredCachedIntrospectionRejected: a cached positive answer is not
// served past the token's exp (catalogue K2).
func TestExpiredCachedIntrospectionRejected(t *testing.T) {
	t.Parallel()
	clk := newClock()
	exp := clk.Unix(3 * time.Second)
	f := newFakeAS(t, jsonAnswer(fmt.Sprintf(`{"active":true,"username":"alice","exp":%d}`, exp)))
	p := newIntrospection(t, f, clk, func(c *IntrospectionConfig) {
		c.Mapping = IdentityMapping{}
		c.Remote.Leeway = time.Second
		c.Remote.CacheTTL = time.Hour
	})
	if _, err := p.Validate(context.Background(), "tok"); err != nil {
		t.Fatal(err)
	}
	id, err := p.Validate(context.Background(), "tok")
	if err != nil || !id.CacheHit {
		t.Fatalf("second check: %v %+v", err, id)
	}
	clk.Add(5 * time.Second)
	_, err = p.Validate(context.Background(), "tok")
	wantReason(t, err, authz.ErrInvalidToken, authz.ReasonTokenExpired)
	if f.calls.Load() != 2 {
		t.Fatalf("calls = %d, want 2 (the expired entry is not served)", f.calls.Load())
	}
}

// TestRevokedTokenRefusedAfterTTL: revocation takes effect at the latest
// after the cache TTL (catalogue H6).
func TestRevokedTokenRefusedAfterTTL(t *testing.T) {
	t.Parallel()
	clk := newClock()
	f := newFakeAS(t, activeFor(clk))
	p := newIntrospection(t, f, clk, func(c *IntrospectionConfig) { c.Remote.CacheTTL = 30 * time.Second })
	if _, err := p.Validate(context.Background(), "tok"); err != nil {
		t.Fatal(err)
	}
	f.set(jsonAnswer(`{"active":false}`))
	clk.Add(time.Second)
	if _, err := p.Validate(context.Background(), "tok"); err != nil {
		t.Fatalf("within ttl: %v", err)
	}
	clk.Add(30 * time.Second)
	_, err := p.Validate(context.Background(), "tok")
	wantReason(t, err, authz.ErrInvalidToken, authz.ReasonTokenInactive)
}

// TestNegativeCacheIsShort: a refusal is reused for NegativeTTL only.
func TestNegativeCacheIsShort(t *testing.T) {
	t.Parallel()
	clk := newClock()
	f := newFakeAS(t, jsonAnswer(`{"active":false}`))
	p := newIntrospection(t, f, clk, func(c *IntrospectionConfig) { c.Remote.NegativeTTL = 5 * time.Second })
	for range 3 {
		_, err := p.Validate(context.Background(), "bad")
		wantReason(t, err, authz.ErrInvalidToken, authz.ReasonTokenInactive)
	}
	if f.calls.Load() != 1 {
		t.Fatalf("calls = %d, want 1", f.calls.Load())
	}
	f.set(activeFor(clk))
	clk.Add(6 * time.Second)
	if _, err := p.Validate(context.Background(), "bad"); err != nil {
		t.Fatalf("after negative ttl: %v", err)
	}
}

// TestGracePeriodServesCachedIdentityDuringOutage: with grace, a positive
// answer past its TTL is served while the provider is down; never past exp,
// never after the grace period.
func TestGracePeriodServesCachedIdentityDuringOutage(t *testing.T) {
	t.Parallel()
	clk := newClock()
	f := newFakeAS(t, activeFor(clk)) // exp in an hour
	p := newIntrospection(t, f, clk, func(c *IntrospectionConfig) {
		c.Remote.CacheTTL = time.Minute
		c.Remote.Grace = 10 * time.Minute
	})
	if _, err := p.Validate(context.Background(), "tok"); err != nil {
		t.Fatal(err)
	}
	f.set(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) })
	clk.Add(5 * time.Minute)
	id, err := p.Validate(context.Background(), "tok")
	if err != nil || !id.CacheHit || id.Username != "alice" {
		t.Fatalf("within grace: %v %+v", err, id)
	}
	clk.Add(10 * time.Minute)
	_, err = p.Validate(context.Background(), "tok")
	wantReason(t, err, authz.ErrUnavailable, authz.ReasonIdPUnavailable)
}

// TestCacheScopedByProvider: a token cached as active by provider A is
// still checked by provider B (catalogue K4).
func TestCacheScopedByProvider(t *testing.T) {
	t.Parallel()
	clk := newClock()
	a := newFakeAS(t, activeFor(clk))
	b := newFakeAS(t, jsonAnswer(`{"active":false}`))
	opts := RemoteOptions{Now: clk.Now}
	pa := newIntrospection(t, a, clk, func(c *IntrospectionConfig) { c.Name = "a"; c.Remote = opts })
	pb := newIntrospection(t, b, clk, func(c *IntrospectionConfig) { c.Name = "b"; c.Remote = opts })
	if _, err := pa.Validate(context.Background(), "shared"); err != nil {
		t.Fatal(err)
	}
	_, err := pb.Validate(context.Background(), "shared")
	wantReason(t, err, authz.ErrInvalidToken, authz.ReasonTokenInactive)
	if pa.cache.key("shared") == pb.cache.key("shared") {
		t.Fatal("cache keys are not scoped by provider")
	}
}

// TestIntrospectionWithoutClientBindingRefusedAtLoad: an authorization
// server reports active every token it issued, to any of its clients; a
// provider that checks neither client_id nor aud would accept them all
// (seams item 15), so it does not load without the explicit opt-in.
func TestIntrospectionWithoutClientBindingRefusedAtLoad(t *testing.T) {
	t.Parallel()
	cfg := IntrospectionConfig{Name: "x", Endpoint: "https://as.example.com/i", AuthMethod: AuthNone}
	if _, err := NewIntrospection(cfg); !errors.Is(err, ErrNoClientBinding) {
		t.Fatalf("err = %v, want ErrNoClientBinding", err)
	}
	for _, mod := range []func(*IntrospectionConfig){
		func(c *IntrospectionConfig) { c.ClientIDs = []string{"jira-cli"} },
		func(c *IntrospectionConfig) { c.Audiences = []string{"https://jira.example.test"} },
		func(c *IntrospectionConfig) { c.AllowAnyClient = true },
	} {
		c := cfg
		mod(&c)
		if _, err := NewIntrospection(c); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestIntrospectionConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  IntrospectionConfig
		want string
	}{
		{"plain http", IntrospectionConfig{Name: "x", Endpoint: "http://as.example.com/i", ClientID: "a", ClientSecret: "b"}, "http is only allowed for loopback"},
		{"no secret", IntrospectionConfig{Name: "x", Endpoint: "https://as.example.com/i", ClientID: "a"}, "needs a client id and a client secret"},
		{"bad method", IntrospectionConfig{Name: "x", Endpoint: "https://as.example.com/i", AuthMethod: "private_key_jwt"}, "unknown auth method"},
		{"none with secret", IntrospectionConfig{Name: "x", Endpoint: "https://as.example.com/i", AuthMethod: AuthNone, ClientSecret: "s"}, "sends no client secret"},
		{"no client binding", IntrospectionConfig{Name: "x", Endpoint: "https://as.example.com/i", AuthMethod: AuthNone}, "allow_any_client: true"},
		{"any client and client ids", IntrospectionConfig{Name: "x", Endpoint: "https://as.example.com/i", AuthMethod: AuthNone, ClientIDs: []string{"a"}, AllowAnyClient: true}, "contradict"},
		{"any client and audiences", IntrospectionConfig{Name: "x", Endpoint: "https://as.example.com/i", AuthMethod: AuthNone, Audiences: []string{"a"}, AllowAnyClient: true}, "contradict"},
	} {
		if _, err := NewIntrospection(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
