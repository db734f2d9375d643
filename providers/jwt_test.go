package providers

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/internal/idptest"
)

func TestValidTokens(t *testing.T) {
	p := idptest.New(t)
	tests := []struct {
		name   string
		mod    func(*JWTConfig)
		mint   func(t *testing.T) string
		want   authz.Identity
		groups []string
		scopes []string
	}{
		{
			name: "rs256 preferred_username",
			mint: func(t *testing.T) string {
				return p.Mint(t, map[string]any{"groups": []string{"dev", "ops"}, "scope": "read write", "email": "a@example.test", "client_id": "cli"})
			},
			want:   authz.Identity{Username: "alice", Subject: "user-1", Email: "a@example.test", ClientID: "cli", KeyID: "k1"},
			groups: []string{"dev", "ops"}, scopes: []string{"read", "write"},
		},
		{
			name: "es256",
			mint: func(t *testing.T) string {
				return p.MintES256(t, map[string]any{"scp": []string{"a", "b"}, "azp": "web"})
			},
			want:   authz.Identity{Username: "alice", Subject: "user-1", ClientID: "web", KeyID: "k2"},
			scopes: []string{"a", "b"},
		},
		{
			name: "fallback to sub",
			mint: func(t *testing.T) string { return p.Mint(t, map[string]any{"preferred_username": nil, "sub": "Bob"}) },
			want: authz.Identity{Username: "Bob", Subject: "Bob", KeyID: "k1"},
		},
		{
			name: "empty preferred_username falls back",
			mint: func(t *testing.T) string { return p.Mint(t, map[string]any{"preferred_username": ""}) },
			want: authz.Identity{Username: "user-1", Subject: "user-1", KeyID: "k1"},
		},
		{
			name: "required presence, any value (seams 16)",
			mod:  func(c *JWTConfig) { c.RequiredClaims = map[string][]string{"acr": {}} },
			mint: func(t *testing.T) string { return p.Mint(t, map[string]any{"acr": "0"}) },
			want: authz.Identity{Username: "alice", Subject: "user-1", KeyID: "k1"},
		},
		{
			name: "verified email username",
			mod:  func(c *JWTConfig) { c.UsernameClaims = []string{"email"} },
			mint: func(t *testing.T) string {
				return p.Mint(t, map[string]any{"email": "Bob@corp.example", "email_verified": true})
			},
			want: authz.Identity{Username: "Bob@corp.example", Subject: "user-1", Email: "Bob@corp.example", KeyID: "k1"},
		},
		{
			name: "email_verified as the string true",
			mod:  func(c *JWTConfig) { c.UsernameClaims = []string{"email"} },
			mint: func(t *testing.T) string {
				return p.Mint(t, map[string]any{"email": "bob@corp.example", "email_verified": "true"})
			},
			want: authz.Identity{Username: "bob@corp.example", Subject: "user-1", Email: "bob@corp.example", KeyID: "k1"},
		},
		{
			name: "unverified email by explicit choice",
			mod:  func(c *JWTConfig) { c.UsernameClaims, c.AllowUnverifiedEmail = []string{"email"}, true },
			mint: func(t *testing.T) string {
				return p.Mint(t, map[string]any{"email": "bob@corp.example", "email_verified": false})
			},
			want: authz.Identity{Username: "bob@corp.example", Subject: "user-1", Email: "bob@corp.example", KeyID: "k1"},
		},
		{
			name: "lowercase then pattern",
			mod:  func(c *JWTConfig) { c.LowercaseUsername, c.UsernamePattern = true, "[a-z]+" },
			mint: func(t *testing.T) string { return p.Mint(t, map[string]any{"preferred_username": "ALICE"}) },
			want: authz.Identity{Username: "alice", Subject: "user-1", KeyID: "k1"},
		},
		{
			name: "lowercase and configured list",
			mod:  func(c *JWTConfig) { c.UsernameClaims = []string{"upn", "sub"}; c.LowercaseUsername = true },
			mint: func(t *testing.T) string { return p.Mint(t, map[string]any{"upn": "Carol@Corp"}) },
			want: authz.Identity{Username: "carol@corp", Subject: "user-1", KeyID: "k1"},
		},
		{
			name: "keycloak realm roles",
			mod:  func(c *JWTConfig) { c.GroupsClaim = "realm_access.roles" },
			mint: func(t *testing.T) string {
				return p.Mint(t, map[string]any{"realm_access": map[string]any{"roles": []string{"admin"}}})
			},
			want:   authz.Identity{Username: "alice", Subject: "user-1", KeyID: "k1"},
			groups: []string{"admin"},
		},
		{
			name:   "bare string group",
			mint:   func(t *testing.T) string { return p.Mint(t, map[string]any{"groups": "solo"}) },
			want:   authz.Identity{Username: "alice", Subject: "user-1", KeyID: "k1"},
			groups: []string{"solo"},
		},
		{
			name: "audience array containing ours",
			mint: func(t *testing.T) string {
				return p.Mint(t, map[string]any{"aud": []string{"other", idptest.Audience}})
			},
			want: authz.Identity{Username: "alice", Subject: "user-1", KeyID: "k1"},
		},
		{
			name: "cognito client_id",
			mod: func(c *JWTConfig) {
				c.Audiences, c.ClientIDClaim, c.ClientIDs = nil, "client_id", []string{"app1"}
				c.RequiredClaims = map[string][]string{"token_use": {"access"}}
			},
			mint: func(t *testing.T) string {
				return p.Mint(t, map[string]any{"aud": nil, "client_id": "app1", "token_use": "access", "username": "dave"})
			},
			want: authz.Identity{Username: "alice", Subject: "user-1", ClientID: "app1", KeyID: "k1"},
		},
		{
			name: "typ JWT allowed by default",
			mint: func(t *testing.T) string {
				return p.MintRaw(t, map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"}, claimsJSON(t, p, nil), "RS256", p.RSAKey())
			},
			want: authz.Identity{Username: "alice", Subject: "user-1", KeyID: "k1"},
		},
		{
			name: "typ application/AT+JWT strict",
			mod:  func(c *JWTConfig) { c.StrictTyp = true },
			mint: func(t *testing.T) string {
				return p.MintRaw(t, map[string]any{"alg": "RS256", "kid": "k1", "typ": "application/AT+JWT"}, claimsJSON(t, p, nil), "RS256", p.RSAKey())
			},
			want: authz.Identity{Username: "alice", Subject: "user-1", KeyID: "k1"},
		},
		{
			name: "exp within leeway",
			mint: func(t *testing.T) string {
				return p.Mint(t, map[string]any{"exp": time.Now().Add(-10 * time.Second).Unix()})
			},
			want: authz.Identity{Username: "alice", Subject: "user-1", KeyID: "k1"},
		},
		{
			name: "nbf zero and nbf within leeway",
			mint: func(t *testing.T) string {
				return p.Mint(t, map[string]any{"nbf": 0, "iat": time.Now().Add(20 * time.Second).Unix()})
			},
			want: authz.Identity{Username: "alice", Subject: "user-1", KeyID: "k1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, _ := newProvider(t, p, tc.mod)
			tok := tc.mint(t)
			id := mustValidate(t, j, tok)
			want := tc.want
			want.Issuer, want.Provider, want.Via = p.Issuer, "test-idp", "jwks"
			got := *id
			got.Groups, got.Scopes, want.Expiry = nil, nil, id.Expiry
			if !reflect.DeepEqual(got, want) {
				t.Errorf("identity\n got %+v\nwant %+v", *id, want)
			}
			if !slices.Equal(id.Groups, tc.groups) || !slices.Equal(id.Scopes, tc.scopes) {
				t.Errorf("groups %q scopes %q, want %q %q", id.Groups, id.Scopes, tc.groups, tc.scopes)
			}
			if id.Expiry.IsZero() || id.CacheHit {
				t.Errorf("expiry %v cachehit %v", id.Expiry, id.CacheHit)
			}
		})
	}
}

// claimsJSON marshals the default claims merged with extra.
func claimsJSON(t *testing.T, p *idptest.IdP, extra map[string]any) []byte {
	t.Helper()
	m := p.Defaults()
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRefusedClaims(t *testing.T) {
	p := idptest.New(t)
	now := time.Now()
	in := func(d time.Duration) int64 { return now.Add(d).Unix() }
	tests := []struct {
		name   string
		mod    func(*JWTConfig)
		claims map[string]any
		raw    func(t *testing.T) string
		class  error
		want   authz.Reason
	}{
		{name: "expired", claims: map[string]any{"exp": in(-time.Hour)}, want: authz.ReasonTokenExpired},
		{name: "expired beyond leeway", claims: map[string]any{"exp": in(-90 * time.Second)}, want: authz.ReasonTokenExpired},
		{name: "exp zero", claims: map[string]any{"exp": 0}, want: authz.ReasonTokenExpired},
		{name: "exp negative", claims: map[string]any{"exp": -1}, want: authz.ReasonTokenExpired},
		{name: "exp huge", claims: map[string]any{"exp": 1e300}, want: authz.ReasonTokenExpired},
		{name: "exp string", claims: map[string]any{"exp": "9999999999"}, want: authz.ReasonTokenExpired},
		{name: "exp date string", claims: map[string]any{"exp": "2099-01-01T00:00:00Z"}, want: authz.ReasonTokenExpired},
		{name: "exp missing", claims: map[string]any{"exp": nil}, want: authz.ReasonTokenExpired},
		{name: "nbf future", claims: map[string]any{"nbf": in(10 * time.Minute)}, want: authz.ReasonTokenNotYetValid},
		{name: "iat future", claims: map[string]any{"iat": in(24 * time.Hour)}, want: authz.ReasonTokenNotYetValid},
		{name: "nbf string", claims: map[string]any{"nbf": "0"}, want: authz.ReasonTokenInvalid},
		{name: "wrong audience", claims: map[string]any{"aud": "other"}, want: authz.ReasonAudienceMismatch},
		{name: "audience missing", claims: map[string]any{"aud": nil}, want: authz.ReasonAudienceMismatch},
		{name: "audience empty array", claims: map[string]any{"aud": []string{}}, want: authz.ReasonAudienceMismatch},
		{name: "audience case", claims: map[string]any{"aud": "RESTGUARD"}, want: authz.ReasonAudienceMismatch},
		{name: "audience number array", claims: map[string]any{"aud": []any{1, idptest.Audience}}, want: authz.ReasonAudienceMismatch},
		{
			name:   "cognito wrong client",
			mod:    func(c *JWTConfig) { c.Audiences, c.ClientIDClaim, c.ClientIDs = nil, "client_id", []string{"app1"} },
			claims: map[string]any{"client_id": "evil-client"}, want: authz.ReasonAudienceMismatch,
		},
		{
			name:   "cognito client missing",
			mod:    func(c *JWTConfig) { c.Audiences, c.ClientIDClaim, c.ClientIDs = nil, "client_id", []string{"app1"} },
			claims: map[string]any{}, want: authz.ReasonAudienceMismatch,
		},
		{
			name:   "required claim token_use wrong",
			mod:    func(c *JWTConfig) { c.RequiredClaims = map[string][]string{"token_use": {"access"}} },
			claims: map[string]any{"token_use": "id"}, want: authz.ReasonClaimMismatch,
		},
		{
			name:   "required presence, claim absent (seams 16)",
			mod:    func(c *JWTConfig) { c.RequiredClaims = map[string][]string{"acr": {}} },
			claims: map[string]any{}, want: authz.ReasonClaimMismatch,
		},
		{
			name: "required presence, claim null (seams 16)",
			mod:  func(c *JWTConfig) { c.RequiredClaims = map[string][]string{"acr": {}} },
			raw: func(t *testing.T) string {
				return p.MintRaw(t, map[string]any{"alg": "RS256", "kid": "k1", "typ": "at+jwt"}, []byte(strings.TrimSuffix(string(claimsJSON(t, p, nil)), "}")+`,"acr":null}`), "RS256", p.RSAKey())
			},
			want: authz.ReasonClaimMismatch,
		},
		{
			name:   "required claim missing",
			mod:    func(c *JWTConfig) { c.RequiredClaims = map[string][]string{"token_use": {"access"}} },
			claims: map[string]any{}, want: authz.ReasonClaimMismatch,
		},
		{name: "dpop-bound token as bearer", claims: map[string]any{"cnf": map[string]any{"jkt": "abc"}}, want: authz.ReasonTokenInvalid},
		{name: "username not a string", claims: map[string]any{"preferred_username": []string{"alice", "admin"}}, want: authz.ReasonUsernameMissing},
		{name: "no username", claims: map[string]any{"preferred_username": nil, "sub": nil}, want: authz.ReasonUsernameMissing},
		{
			name:   "email username not verified (seams 12)",
			mod:    func(c *JWTConfig) { c.UsernameClaims = []string{"email", "sub"} },
			claims: map[string]any{"email": "admin@corp.example", "email_verified": false}, want: authz.ReasonUsernameMissing,
		},
		{
			name:   "email username without email_verified (seams 12)",
			mod:    func(c *JWTConfig) { c.UsernameClaims = []string{"email"} },
			claims: map[string]any{"email": "admin@corp.example"}, want: authz.ReasonUsernameMissing,
		},
		{
			name:   "email username verified by a number (seams 12)",
			mod:    func(c *JWTConfig) { c.UsernameClaims = []string{"email"} },
			claims: map[string]any{"email": "admin@corp.example", "email_verified": 1}, want: authz.ReasonUsernameMissing,
		},
		{
			name:   "configured email claim not verified (seams 12)",
			mod:    func(c *JWTConfig) { c.UsernameClaims, c.EmailClaim = []string{"mail"}, "mail" },
			claims: map[string]any{"mail": "admin@corp.example"}, want: authz.ReasonUsernameMissing,
		},
		{
			name:   "username outside the pattern (seams 13)",
			mod:    func(c *JWTConfig) { c.UsernamePattern = "[a-z]+" },
			claims: map[string]any{"preferred_username": "${jndi:ldap://x/a}"}, class: authz.ErrForbidden, want: authz.ReasonUsernameRejected,
		},
		{
			name:   "pattern anchored at both ends (seams 13)",
			mod:    func(c *JWTConfig) { c.UsernamePattern = "alice|bob" },
			claims: map[string]any{"preferred_username": "bobby"}, class: authz.ErrForbidden, want: authz.ReasonUsernameRejected,
		},
		{
			name:   "lowercase of a dotted capital I (seams 11)",
			mod:    func(c *JWTConfig) { c.LowercaseUsername = true },
			claims: map[string]any{"preferred_username": "adm\u0130n"}, class: authz.ErrForbidden, want: authz.ReasonUsernameRejected,
		},
		{
			name:   "lowercase of the Kelvin sign (seams 11)",
			mod:    func(c *JWTConfig) { c.LowercaseUsername = true },
			claims: map[string]any{"preferred_username": "\u212Aate"}, class: authz.ErrForbidden, want: authz.ReasonUsernameRejected,
		},
		{name: "group element not a string", claims: map[string]any{"groups": []any{"dev", 1}}, want: authz.ReasonClaimMismatch},
		{name: "groups an object", claims: map[string]any{"groups": map[string]any{}}, want: authz.ReasonClaimMismatch},
		{name: "too many groups", claims: map[string]any{"groups": make([]string, maxGroups+1)}, want: authz.ReasonClaimMismatch},
		{name: "sub a number", claims: map[string]any{"sub": 123}, want: authz.ReasonTokenInvalid},
		{name: "wrong issuer", claims: map[string]any{"iss": "https://evil.example.test"}, class: authz.ErrNotResponsible, want: authz.ReasonIssuerUnknown},
		{name: "issuer trailing slash", claims: map[string]any{"iss": p.Issuer + "/"}, class: authz.ErrNotResponsible, want: authz.ReasonIssuerUnknown},
		{name: "issuer missing", claims: map[string]any{"iss": nil}, class: authz.ErrNotResponsible, want: authz.ReasonIssuerUnknown},
		{name: "issuer array", claims: map[string]any{"iss": []string{p.Issuer}}, class: authz.ErrNotResponsible, want: authz.ReasonIssuerUnknown},
		{
			name: "typ dpop+jwt refused", want: authz.ReasonTokenTypeInvalid,
			raw: func(t *testing.T) string {
				return p.MintRaw(t, map[string]any{"alg": "RS256", "kid": "k1", "typ": "dpop+jwt"}, claimsJSON(t, p, nil), "RS256", p.RSAKey())
			},
		},
		{
			name: "typ logout+jwt refused", want: authz.ReasonTokenTypeInvalid,
			raw: func(t *testing.T) string {
				return p.MintRaw(t, map[string]any{"alg": "RS256", "kid": "k1", "typ": "logout+jwt"}, claimsJSON(t, p, nil), "RS256", p.RSAKey())
			},
		},
		{
			name: "typ JWT refused when strict", want: authz.ReasonTokenTypeInvalid,
			mod: func(c *JWTConfig) { c.StrictTyp = true },
			raw: func(t *testing.T) string {
				return p.MintRaw(t, map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"}, claimsJSON(t, p, nil), "RS256", p.RSAKey())
			},
		},
		{
			name: "typ missing refused when strict", want: authz.ReasonTokenTypeInvalid,
			mod: func(c *JWTConfig) { c.StrictTyp = true },
			raw: func(t *testing.T) string {
				return p.MintRaw(t, map[string]any{"alg": "RS256", "kid": "k1"}, claimsJSON(t, p, nil), "RS256", p.RSAKey())
			},
		},
		{
			name: "alg not configured", want: authz.ReasonAlgorithmRejected,
			mod: func(c *JWTConfig) { c.Algorithms = []string{"RS256"} },
			raw: func(t *testing.T) string { return p.MintES256(t, nil) },
		},
		{
			name: "alg not bound to the key type", want: authz.ReasonAlgorithmRejected,
			raw: func(t *testing.T) string {
				return p.MintRaw(t, map[string]any{"alg": "ES256", "kid": "k1"}, claimsJSON(t, p, nil), "ES256", p.ECKey())
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, _ := newProvider(t, p, tc.mod)
			var tok string
			if tc.raw != nil {
				tok = tc.raw(t)
			} else {
				tok = p.Mint(t, tc.claims)
			}
			_, err := j.Validate(context.Background(), tok)
			class := tc.class
			if class == nil {
				class = authz.ErrInvalidToken
			}
			wantReason(t, err, class, tc.want)
			noTokenInError(t, err, tok)
			if j.cache.len() != 0 {
				t.Errorf("a refused token was cached")
			}
		})
	}
}

func TestCacheHitSkipsVerification(t *testing.T) {
	p := idptest.New(t)
	j, clk := newProvider(t, p, nil)
	tok := p.Mint(t, map[string]any{"exp": clk.Unix(time.Minute)})
	first := mustValidate(t, j, tok)
	second := mustValidate(t, j, tok)
	if first.CacheHit || !second.CacheHit {
		t.Fatalf("cache hit flags: first %v second %v", first.CacheHit, second.CacheHit)
	}
	if n := j.verifications.Load(); n != 1 {
		t.Fatalf("signature checked %d times, want 1", n)
	}
	if second.Username != "alice" || second.KeyID != "k1" {
		t.Fatalf("cached identity %+v", second)
	}
	// The hit re-checks exp: beyond exp+leeway the cached token is expired.
	clk.Add(time.Minute + j.cfg.Leeway)
	_, err := j.Validate(context.Background(), tok)
	wantReason(t, err, authz.ErrInvalidToken, authz.ReasonTokenExpired)
}

func TestCacheDisabled(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, func(c *JWTConfig) { c.CacheSize = -1 })
	tok := p.Mint(t, nil)
	mustValidate(t, j, tok)
	if id := mustValidate(t, j, tok); id.CacheHit || j.verifications.Load() != 2 {
		t.Fatalf("cache used although disabled")
	}
}

func TestCacheBounded(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, func(c *JWTConfig) { c.CacheSize = 2 })
	for i := range 5 {
		mustValidate(t, j, p.Mint(t, map[string]any{"jti": i}))
	}
	if n := j.cache.len(); n != 2 {
		t.Fatalf("cache holds %d entries, want 2", n)
	}
}

func TestNewJWTConfigErrors(t *testing.T) {
	ok := JWTConfig{Name: "n", Issuer: "https://idp.example.test", Audiences: []string{"a"}}
	tests := []struct {
		name string
		mod  func(*JWTConfig)
	}{
		{"hs256 algorithm", func(c *JWTConfig) { c.Algorithms = []string{"HS256"} }},
		{"none algorithm", func(c *JWTConfig) { c.Algorithms = []string{"none"} }},
		{"unknown algorithm", func(c *JWTConfig) { c.Algorithms = []string{"rs256"} }},
		{"no audience or client id", func(c *JWTConfig) { c.Audiences = nil }},
		{"client id claim without ids", func(c *JWTConfig) { c.Audiences, c.ClientIDClaim = nil, "client_id" }},
		{"http non-loopback jwks", func(c *JWTConfig) { c.JWKSURI = "http://idp.example.test/jwks" }},
		{"http non-loopback issuer discovery", func(c *JWTConfig) { c.Issuer = "http://10.0.0.1/realms/a" }},
		{"ftp jwks", func(c *JWTConfig) { c.JWKSURI = "ftp://idp.example.test/jwks" }},
		{"no name", func(c *JWTConfig) { c.Name = "" }},
		{"no issuer", func(c *JWTConfig) { c.Issuer = "" }},
		{"leeway too large", func(c *JWTConfig) { c.Leeway = 6 * time.Minute }},
		{"negative fetch timeout", func(c *JWTConfig) { c.FetchTimeout = -time.Second }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mod(&cfg)
			_, err := NewJWT(cfg)
			if err == nil {
				t.Fatal("config accepted")
			}
			if msg := err.Error(); msg[:5] != "jwt: " {
				t.Fatalf("message %q lacks the jwt: prefix", msg)
			}
		})
	}
	for _, u := range []string{"http://127.0.0.1:1/jwks", "http://[::1]:1/jwks", "http://localhost/jwks", "https://idp.example.test/jwks"} {
		cfg := ok
		cfg.JWKSURI = u
		j, err := NewJWT(cfg)
		if err != nil {
			t.Errorf("%s refused: %v", u, err)
			continue
		}
		if j.cfg.Leeway != DefaultLeeway || j.cfg.MaxBodyBytes != DefaultMaxBodyBytes || !slices.Equal(j.cfg.Algorithms, []string{"RS256", "ES256"}) {
			t.Errorf("defaults not applied: %+v", j.cfg)
		}
	}
	j, err := NewJWT(ok)
	if err != nil || j.cfg.DiscoveryURL != "https://idp.example.test/.well-known/openid-configuration" {
		t.Fatalf("discovery default: %v %q", err, j.cfg.DiscoveryURL)
	}
	if j.Ready() || j.KeyCount() != 0 || j.Name() != "n" || j.Issuer() != ok.Issuer {
		t.Fatal("fresh provider state wrong")
	}
}

func TestNotThreeSegmentsIsNotResponsible(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	for _, tok := range []string{"opaque-token", "a.b", "a.b.c.d", "a.b.c.d.e"} {
		_, err := j.Validate(context.Background(), tok)
		wantReason(t, err, authz.ErrNotResponsible, authz.ReasonTokenMalformed)
		if errors.Is(err, authz.ErrInvalidToken) {
			t.Fatalf("%q: also invalid", tok)
		}
	}
}

func TestStartStopsWithContext(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	ctx, cancel := context.WithCancel(context.Background())
	j.Start(ctx)
	j.Start(ctx) // a second call is a no-op
	cancel()
	<-j.keys.stopped
}

// TestMachineTokensNamedByTheirClient: a client-credentials token carries
// no user, so no username claim; username.clients names it by its client
// id. A token with a username claim is never renamed, and an unlisted
// client stays 401 username_missing (issue 12: machine tokens).
func TestMachineTokensNamedByTheirClient(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, func(c *JWTConfig) {
		c.UsernameClaims = []string{"preferred_username"}
		c.UsernameClients = map[string]string{"backup-svc": "svc-backup", "ci": "svc-ci"}
	})
	machine := func(extra map[string]any) string {
		claims := map[string]any{"preferred_username": nil, "sub": "backup-svc"}
		for k, v := range extra {
			claims[k] = v
		}
		return p.Mint(t, claims)
	}
	for _, c := range []struct {
		name, token, want string
		reason            authz.Reason
	}{
		{"cognito client_id", machine(map[string]any{"client_id": "backup-svc"}), "svc-backup", ""},
		{"keycloak azp", machine(map[string]any{"azp": "ci"}), "svc-ci", ""},
		{"okta cid", machine(map[string]any{"cid": "ci"}), "svc-ci", ""},
		{"entra v1 appid", machine(map[string]any{"appid": "backup-svc"}), "svc-backup", ""},
		{"first client claim decides", machine(map[string]any{"client_id": "unlisted", "azp": "backup-svc"}), "", authz.ReasonUsernameMissing},
		{"unlisted client", machine(map[string]any{"client_id": "other"}), "", authz.ReasonUsernameMissing},
		{"no client id", machine(nil), "", authz.ReasonUsernameMissing},
		{"a user token is never renamed", p.Mint(t, map[string]any{"client_id": "backup-svc"}), "alice", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, err := j.Validate(context.Background(), c.token)
			if c.reason != "" {
				var re *authz.ReasonError
				if !errors.As(err, &re) || re.Reason != c.reason {
					t.Fatalf("got %v, want %s", err, c.reason)
				}
				return
			}
			if err != nil || id.Username != c.want {
				t.Fatalf("got %v %v, want %s", id, err, c.want)
			}
		})
	}
}
