package providers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/restguard/restguard/authz"
)

// TestUserinfoWithoutAppBindingNeedsExplicitOptIn: without a binding, any
// token of the provider for any application would authenticate
// (catalogue I1), so it must be asked for in the configuration.
func TestUserinfoWithoutAppBindingNeedsExplicitOptIn(t *testing.T) {
	t.Parallel()
	_, err := NewUserinfo(UserinfoConfig{Name: "u", URL: "https://sso.example.com/userinfo"})
	if !errors.Is(err, ErrNoAppBinding) {
		t.Fatalf("err = %v, want ErrNoAppBinding", err)
	}
	if _, err := NewUserinfo(UserinfoConfig{Name: "u", URL: "https://sso.example.com/userinfo", AllowAnyClient: true}); err != nil {
		t.Fatal(err)
	}
}

// TestUserinfoFaults: 401 refuses; 5xx, 429 and non-JSON are outages; an
// answer without a subject or a usable username refuses (catalogue I2).
func TestUserinfoFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		h      http.HandlerFunc
		class  error
		reason authz.Reason
	}{
		{"401", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusUnauthorized) }, authz.ErrInvalidToken, authz.ReasonTokenInvalid},
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 500) }, authz.ErrUnavailable, authz.ReasonIdPUnavailable},
		{"429", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusTooManyRequests) }, authz.ErrUnavailable, authz.ReasonIdPUnavailable},
		{"403 rate limit", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-RateLimit-Remaining", "0")
			http.Error(w, "no", http.StatusForbidden)
		}, authz.ErrUnavailable, authz.ReasonIdPUnavailable},
		{"html", func(w http.ResponseWriter, r *http.Request) { _, _ = writeBody(w, "<html></html>") }, authz.ErrUnavailable, authz.ReasonIdPUnavailable},
		{"unusable username", jsonAnswer(`{"sub":"u-1","preferred_username":true}`), authz.ErrInvalidToken, authz.ReasonUsernameMissing},
		// OIDC Core §5.3.2: sub is always returned (seams item 16).
		{"no sub", jsonAnswer(`{"preferred_username":"alice"}`), authz.ErrInvalidToken, authz.ReasonClaimMismatch},
		{"empty sub", jsonAnswer(`{"sub":"","preferred_username":"alice"}`), authz.ErrInvalidToken, authz.ReasonClaimMismatch},
		{"sub an object", jsonAnswer(`{"sub":{"id":"u-1"},"preferred_username":"alice"}`), authz.ErrInvalidToken, authz.ReasonClaimMismatch},
		{"signed userinfo", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/jwt")
			_, _ = writeBody(w, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln")
		}, authz.ErrUnavailable, authz.ReasonIdPUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAS(t, tc.h)
			u, err := NewUserinfo(UserinfoConfig{Name: "u", URL: f.srv.URL + "/userinfo", AllowAnyClient: true})
			if err != nil {
				t.Fatal(err)
			}
			_, err = u.Validate(context.Background(), "opaque-user-token")
			wantReason(t, err, tc.class, tc.reason)
			noTokenInError(t, err, "opaque-user-token")
		})
	}
}

// TestUserinfoIdentityAttributes: seams item 12. Integer ids (GitHub's
// numeric user id) are usernames by their decimal text; other numbers are
// not; an e-mail address needs its verification flag.
func TestUserinfoIdentityAttributes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		mapping    IdentityMapping
		want       string
		reason     authz.Reason
	}{
		{"integer id", `{"sub":"s","id":583231}`, IdentityMapping{UsernameClaims: []string{"id"}}, "583231", ""},
		{"fractional id", `{"sub":"s","id":1.5}`, IdentityMapping{UsernameClaims: []string{"id"}}, "", authz.ReasonUsernameMissing},
		{"negative id", `{"sub":"s","id":-1}`, IdentityMapping{UsernameClaims: []string{"id"}}, "", authz.ReasonUsernameMissing},
		{"exponent id", `{"sub":"s","id":1e3}`, IdentityMapping{UsernameClaims: []string{"id"}}, "", authz.ReasonUsernameMissing},
		{"verified email", `{"sub":"s","email":"a@x.example","email_verified":true}`, IdentityMapping{UsernameClaims: []string{"email"}}, "a@x.example", ""},
		{"unverified email", `{"sub":"s","email":"a@x.example","email_verified":false}`, IdentityMapping{UsernameClaims: []string{"email", "sub"}}, "", authz.ReasonUsernameMissing},
		{"nested email, preset flag", `{"sub":"s","user":{"email":"a@x.example","verified":true}}`, IdentityMapping{UsernameClaims: []string{"user.email"}, EmailVerifiedClaim: "user.verified"}, "a@x.example", ""},
		{"nested email unverified", `{"sub":"s","user":{"email":"a@x.example","verified":false}}`, IdentityMapping{UsernameClaims: []string{"user.email"}, EmailVerifiedClaim: "user.verified"}, "", authz.ReasonUsernameMissing},
		{"unverified by choice", `{"sub":"s","email":"a@x.example"}`, IdentityMapping{UsernameClaims: []string{"email"}, AllowUnverifiedEmail: true}, "a@x.example", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAS(t, jsonAnswer(tc.body))
			u, err := NewUserinfo(UserinfoConfig{Name: "u", URL: f.srv.URL + "/userinfo", AllowAnyClient: true, Mapping: tc.mapping})
			if err != nil {
				t.Fatal(err)
			}
			id, err := u.Validate(context.Background(), "opaque-user-token")
			if tc.reason != "" {
				wantReason(t, err, authz.ErrInvalidToken, tc.reason)
				return
			}
			if err != nil || id.Username != tc.want {
				t.Fatalf("%+v %v, want %q", id, err, tc.want)
			}
		})
	}
}

// TestRequiredClaimPresence: an empty list of accepted values requires
// the claim to be present and not null, whatever its value (seams item
// 16), for userinfo and introspection answers alike.
func TestRequiredClaimPresence(t *testing.T) {
	t.Parallel()
	required := map[string][]string{"team": {}, "org.id": {}}
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{"present", `{"team":"blue","org":{"id":7}}`, true},
		{"false and empty still present", `{"team":false,"org":{"id":""}}`, true},
		{"absent", `{"org":{"id":7}}`, false},
		{"null", `{"team":null,"org":{"id":7}}`, false},
		{"nested absent", `{"team":"blue","org":{}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := `"sub":"u-1","preferred_username":"alice","username":"alice","active":true,`
			body := "{" + base + tc.body[1:]
			for _, kind := range []string{"userinfo", "introspection"} {
				f := newFakeAS(t, jsonAnswer(body))
				var v authz.Validator
				var err error
				if kind == "userinfo" {
					v, err = NewUserinfo(UserinfoConfig{Name: "u", URL: f.srv.URL + "/userinfo", AllowAnyClient: true, RequiredClaims: required})
				} else {
					v, err = NewIntrospection(IntrospectionConfig{Name: "i", Endpoint: f.srv.URL + "/introspect", AuthMethod: AuthNone, AllowAnyClient: true, RequiredClaims: required})
				}
				if err != nil {
					t.Fatal(err)
				}
				_, err = v.Validate(context.Background(), "opaque-user-token")
				if tc.ok && err != nil {
					t.Errorf("%s: %v", kind, err)
				}
				if !tc.ok {
					wantReason(t, err, authz.ErrInvalidToken, authz.ReasonClaimMismatch)
				}
			}
		})
	}
}

func TestLooksLikeJWT(t *testing.T) {
	t.Parallel()
	for tok, want := range map[string]bool{
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln": true,
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.":     false,
		"ory_at_abc.def.ghi":                        false, // first segment is not a JSON object
		"a.b":                                       false,
		"eyJhbGciOiJSUzI1NiJ9.e.e.e.e":              false, // JWE-like: opaque
		strings.Repeat("A", 43):                     false,
	} {
		if got := LooksLikeJWT(tok); got != want {
			t.Errorf("LooksLikeJWT(%q) = %v, want %v", tok, got, want)
		}
	}
}

func TestAPIKeysLookupAndExpiry(t *testing.T) {
	t.Parallel()
	clk := newClock()
	p, err := NewAPIKeys(APIKeysConfig{Name: "k", Now: clk.Now, Keys: []APIKey{
		{Name: "a", Hash: HashAPIKey("key-a-0123456789"), Username: "svc-a", Groups: []string{"g"}},
		{Name: "b", Hash: strings.TrimPrefix(HashAPIKey("key-b-0123456789"), "sha256:"), Username: "svc-b", Expires: clk.Now().Add(-1)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := p.Validate(context.Background(), "key-a-0123456789")
	if err != nil || id.Username != "svc-a" || id.Via != "api_key" || id.Subject != "a" {
		t.Fatalf("%v %+v", err, id)
	}
	id.Groups[0] = "mutated"
	if id2, _ := p.Validate(context.Background(), "key-a-0123456789"); id2.Groups[0] != "g" {
		t.Fatal("a returned identity shares state with the provider")
	}
	_, err = p.Validate(context.Background(), "key-b-0123456789")
	wantReason(t, err, authz.ErrInvalidToken, authz.ReasonTokenExpired)
	_, err = p.Validate(context.Background(), "key-c-0123456789")
	wantReason(t, err, authz.ErrNotResponsible, authz.ReasonTokenInvalid)
	if _, err := NewAPIKeys(APIKeysConfig{Name: "k", Keys: []APIKey{{Name: "a", Hash: "sha256:abc", Username: "x"}}}); err == nil {
		t.Fatal("a malformed hash was accepted")
	}
}
