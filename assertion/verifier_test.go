package assertion

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestValidAssertionAccepted(t *testing.T) {
	t.Parallel()
	es, ed, ks := testKeys(t)
	for _, s := range []*Signer{es, ed} {
		t.Run(s.Algorithm(), func(t *testing.T) {
			t.Parallel()
			v := newTestVerifier(t, ks, nil)
			want := validClaims(t)
			got, err := v.Verify(mustSign(t, s, want), "GET", testPath, "")
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Subject != "alice" || got.Email != want.Email || len(got.Groups) != 1 || got.Groups[0] != "jira-users" ||
				got.IssuedAt != want.IssuedAt || got.Expiry != want.Expiry || len(got.ID) != 22 {
				t.Errorf("claims = %+v", got)
			}
		})
	}
}

func TestReplayedAssertionRefused(t *testing.T) {
	t.Parallel()
	es, _, ks := testKeys(t)
	v := newTestVerifier(t, ks, nil)
	tok := mustSign(t, es, validClaims(t))
	if _, err := v.Verify(tok, "GET", testPath, ""); err != nil {
		t.Fatalf("first use: %v", err)
	}
	_, err := v.Verify(tok, "GET", testPath, "")
	if ReasonOf(err) != ReasonReplayed {
		t.Fatalf("second use: %v, want replayed", err)
	}

	// The same jti in a different assertion (another endpoint) is a replay too.
	c := validClaims(t)
	c.ID = "AAAAAAAAAAAAAAAAAAAAAA"
	if _, err := v.Verify(mustSign(t, es, c), "GET", testPath, ""); err != nil {
		t.Fatal(err)
	}
	c.Target, _ = Target("GET", "/rest/api/2/serverInfo", "")
	if _, err := v.Verify(mustSign(t, es, c), "GET", "/rest/api/2/serverInfo", ""); ReasonOf(err) != ReasonReplayed {
		t.Fatalf("reused jti: %v, want replayed", err)
	}
}

func TestRefusedAssertionDoesNotBurnItsJTI(t *testing.T) {
	t.Parallel()
	// A failed check must not record the jti, or anyone who sees an
	// assertion could spoil it by sending it to the wrong endpoint first.
	es, _, ks := testKeys(t)
	v := newTestVerifier(t, ks, nil)
	tok := mustSign(t, es, validClaims(t))
	if _, err := v.Verify(tok, "GET", "/rest/api/2/other", ""); ReasonOf(err) != ReasonWrongTarget {
		t.Fatalf("wrong endpoint: %v", err)
	}
	if _, err := v.Verify(tok, "GET", testPath, ""); err != nil {
		t.Fatalf("right endpoint after a refusal: %v", err)
	}
}

func TestAssertionForAnotherEndpointRefused(t *testing.T) {
	t.Parallel()
	es, _, ks := testKeys(t)
	sign := func(path, query string) string {
		c := validClaims(t)
		c.Target, _ = Target("GET", path, query)
		return mustSign(t, es, c)
	}
	tests := []struct {
		name                  string
		signedPath, signedQry string
		path, query           string
		want                  Reason
	}{
		{"same endpoint", testPath, "", testPath, "", ""},
		{"another path", testPath, "", "/rest/api/2/user", "", ReasonWrongTarget},
		{"context path added", testPath, "", "/jira" + testPath, "", ReasonWrongTarget},
		{"query added", testPath, "", testPath, "expand=groups", ReasonWrongTarget},
		{"query dropped", testPath, "expand=groups", testPath, "", ReasonWrongTarget},
		{"another query", "/rest/api/2/search", "jql=project%3DA", "/rest/api/2/search", "jql=project%3DB", ReasonWrongTarget},
		{"query reordered", "/rest/api/2/user", "a=1&b=2", "/rest/api/2/user", "b=2&a=1", ReasonWrongTarget},
		{"query decoded", "/rest/api/2/search", "jql=a%20b", "/rest/api/2/search", "jql=a b", ReasonWrongTarget},
		{"same query", "/rest/api/2/search", "jql=a%20b", "/rest/api/2/search", "jql=a%20b", ""},
		{"trailing slash is another resource", testPath, "", testPath + "/", "", ReasonWrongTarget},
		{"dot segment resolved", testPath, "", "/rest/api/2/./myself", "", ""},
		{"path parameter stripped", testPath, "", "/rest;jsessionid=x/api/2/myself", "", ""},
		{"double slash merged", testPath, "", "/rest//api/2/myself", "", ""},
		{"encoded unreserved decoded", testPath, "", "/%72est/api/2/myself", "", ""},
		{"dotdot resolved", testPath, "", "/rest/api/2/x/../myself", "", ""},
		{"dotdot semicolon resolved", testPath, "", "/rest/api/2/x/..;/myself", "", ""},
		{"encoded slash is another path", testPath, "", "/rest/api/2%2Fmyself", "", ReasonWrongTarget},
		{"unnormalisable path", testPath, "", "/../rest/api/2/myself", "", ReasonWrongTarget},
		{"absolute form", testPath, "", "http://jira.example.com" + testPath, "", ReasonWrongTarget},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := newTestVerifier(t, ks, nil)
			_, err := v.Verify(sign(tc.signedPath, tc.signedQry), "GET", tc.path, tc.query)
			if ReasonOf(err) != tc.want || (tc.want == "") != (err == nil) {
				t.Errorf("Verify = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAssertionForAnotherMethodRefused(t *testing.T) {
	t.Parallel()
	es, _, ks := testKeys(t)
	for _, method := range []string{"POST", "PUT", "DELETE", "get", "HEAD", ""} {
		v := newTestVerifier(t, ks, nil)
		_, err := v.Verify(mustSign(t, es, validClaims(t)), method, testPath, "")
		if ReasonOf(err) != ReasonWrongMethod {
			t.Errorf("GET assertion on %q: %v, want wrong_method", method, err)
		}
	}
}

func TestAssertionOutsideItsLifetimeRefused(t *testing.T) {
	t.Parallel()
	es, _, ks := testKeys(t)
	now := testNow.Unix()
	tests := []struct {
		name     string
		iat, exp int64
		want     Reason
	}{
		{"fresh", now, now + 60, ""},
		{"issued within leeway in the future", now + 5, now + 30, ""},
		{"issued beyond leeway in the future", now + 6, now + 30, ReasonNotYetValid},
		{"expired within leeway", now - 30, now - 4, ""},
		{"expired at the leeway", now - 30, now - 5, ReasonExpired},
		{"long expired", now - 600, now - 560, ReasonExpired},
		{"lifetime 60 s", now - 10, now + 50, ""},
		{"lifetime 61 s", now - 10, now + 51, ReasonLifetimeTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := claimsMap(t)
			m["iat"], m["exp"] = tc.iat, tc.exp
			tok := signRaw(t, es.ec, headerFor(es), payloadJSON(t, m))
			_, err := newTestVerifier(t, ks, nil).Verify(tok, "GET", testPath, "")
			if ReasonOf(err) != tc.want || (tc.want == "") != (err == nil) {
				t.Errorf("Verify = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAssertionForAnotherProductOrIssuerRefused(t *testing.T) {
	t.Parallel()
	es, _, ks := testKeys(t)
	tests := []struct {
		name string
		edit func(*Claims)
		want Reason
	}{
		{"another product", func(c *Claims) { c.Audience = "https://confluence.example.com" }, ReasonWrongAudience},
		{"audience with trailing slash", func(c *Claims) { c.Audience += "/" }, ReasonWrongAudience},
		{"another deployment", func(c *Claims) { c.Issuer = "restguard-staging" }, ReasonWrongIssuer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := validClaims(t)
			tc.edit(&c)
			_, err := newTestVerifier(t, ks, nil).Verify(mustSign(t, es, c), "GET", testPath, "")
			if ReasonOf(err) != tc.want {
				t.Errorf("Verify = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestForgedAssertionRefused(t *testing.T) {
	t.Parallel()
	es, ed, ks := testKeys(t)
	other := newTestSigner(t, "unpublished-es256.pem")
	good := mustSign(t, es, validClaims(t))
	h, p, s := splitToken(good)
	payload := payloadJSON(t, claimsMap(t))
	flip := func(seg string) string {
		b, _ := decodeSegment(seg)
		b[len(b)/2] ^= 1
		return b64.EncodeToString(b)
	}
	tamperedPayload := strings.Replace(payload, `"alice"`, `"admin"`, 1)
	rawDER := func() string {
		sig, _ := decodeSegment(s)
		return b64.EncodeToString(rawToDER(sig))
	}
	tests := []struct {
		name  string
		token string
		want  Reason
	}{
		{"unsigned header alone", h, ReasonMalformed},
		{"two segments", h + "." + p, ReasonMalformed},
		{"four segments", good + "." + s, ReasonMalformed},
		{"padding", good + "=", ReasonMalformed},
		{"standard base64 alphabet", h + "." + strings.ReplaceAll(strings.ReplaceAll(p, "-", "+"), "_", "/") + "+/." + s, ReasonMalformed},
		{"newline inside a segment", h + "." + p[:10] + "\n" + p[10:] + "." + s, ReasonMalformed},
		{"too long", h + "." + strings.Repeat("A", MaxTokenBytes) + "." + s, ReasonMalformed},
		{"empty", "", ReasonMalformed},
		{"tampered payload", h + "." + b64.EncodeToString([]byte(tamperedPayload)) + "." + s, ReasonBadSignature},
		{"tampered signature", h + "." + p + "." + flip(s), ReasonBadSignature},
		{"signature in DER form", h + "." + p + "." + rawDER(), ReasonBadSignature},
		{"empty signature", h + "." + p + ".", ReasonBadSignature},
		{"signed by an unpublished key", mustSign(t, other, validClaims(t)), ReasonUnknownKey},
		{"kid of a published key, signed by another", signRaw(t, other.ec, headerFor(es), payload), ReasonBadSignature},
		{"alg none", b64.EncodeToString([]byte(`{"alg":"none","kid":"`+es.KeyID()+`","typ":"`+Type+`"}`)) + "." + p + ".", ReasonBadHeader},
		{"alg HS256", signRaw(t, es.ec, `{"alg":"HS256","kid":"`+es.KeyID()+`","typ":"`+Type+`"}`, payload), ReasonBadHeader},
		{"alg EdDSA on the EC key", signRaw(t, ed.ed, `{"alg":"EdDSA","kid":"`+es.KeyID()+`","typ":"`+Type+`"}`, payload), ReasonBadHeader},
		{"alg ES256 on the Ed25519 key", signRaw(t, es.ec, `{"alg":"ES256","kid":"`+ed.KeyID()+`","typ":"`+Type+`"}`, payload), ReasonBadHeader},
		{"typ JWT", signRaw(t, es.ec, `{"alg":"ES256","kid":"`+es.KeyID()+`","typ":"JWT"}`, payload), ReasonBadHeader},
		{"no typ", signRaw(t, es.ec, `{"alg":"ES256","kid":"`+es.KeyID()+`"}`, payload), ReasonBadHeader},
		{"no kid", signRaw(t, es.ec, `{"alg":"ES256","typ":"`+Type+`","x":"y"}`, payload), ReasonBadHeader},
		{"extra jku member", signRaw(t, es.ec, `{"alg":"ES256","kid":"`+es.KeyID()+`","typ":"`+Type+`","jku":"https://evil.example"}`, payload), ReasonBadHeader},
		{"extra crit member", signRaw(t, es.ec, `{"alg":"ES256","crit":["exp"],"kid":"`+es.KeyID()+`","typ":"`+Type+`"}`, payload), ReasonBadHeader},
		{"kid not a string", signRaw(t, es.ec, `{"alg":"ES256","kid":7,"typ":"`+Type+`"}`, payload), ReasonBadHeader},
		{"duplicate alg", signRaw(t, es.ec, `{"alg":"none","alg":"ES256","kid":"`+es.KeyID()+`","typ":"`+Type+`"}`, payload), ReasonMalformed},
		{"header not an object", signRaw(t, es.ec, `["ES256"]`, payload), ReasonMalformed},
		{"header members reordered", signRaw(t, es.ec, `{ "typ":"`+Type+`", "kid":"`+es.KeyID()+`", "alg":"ES256" }`, payload), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := newTestVerifier(t, ks, nil).Verify(tc.token, "GET", testPath, "")
			if ReasonOf(err) != tc.want || (tc.want == "") != (err == nil) {
				t.Errorf("Verify = %v, want %q", err, tc.want)
			}
		})
	}
}

func splitToken(tok string) (h, p, s string) {
	parts := strings.Split(tok, ".")
	return parts[0], parts[1], parts[2]
}

func TestMalformedClaimsRefused(t *testing.T) {
	t.Parallel()
	es, _, ks := testKeys(t)
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	del := func(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }
	tests := []struct {
		name string
		edit func(map[string]any)
		raw  string // payload used instead of the edited map when set
		want Reason
	}{
		{"unknown members ignored", set("x-extra", map[string]any{"a": []any{1.5e3, nil, true}}), "", ""},
		{"no groups or email", func(m map[string]any) { delete(m, "groups"); delete(m, "email") }, "", ""},
		{"empty groups", set("groups", []string{}), "", ""},
		{"iat as a string", set("iat", "1767225600"), "", ReasonMalformed},
		{"iat as a float", nil, strings.Replace(payloadJSON(t, claimsMap(t)), `"iat":1767225600`, `"iat":1767225600.0`, 1), ReasonMalformed},
		{"iat with exponent", nil, strings.Replace(payloadJSON(t, claimsMap(t)), `"iat":1767225600`, `"iat":1.7672256e9`, 1), ReasonMalformed},
		{"negative iat", set("iat", -1), "", ReasonMalformed},
		{"exp beyond 2^53", set("exp", int64(1)<<53), "", ReasonMalformed},
		{"exp before iat", set("exp", testNow.Unix()-1), "", ReasonMalformed},
		{"exp equal to iat", set("exp", testNow.Unix()), "", ReasonMalformed},
		{"no exp", del("exp"), "", ReasonMalformed},
		{"no iss", del("iss"), "", ReasonMalformed},
		{"aud as an array", set("aud", []string{testAudience}), "", ReasonMalformed},
		{"no jti", del("jti"), "", ReasonMalformed},
		{"short jti", set("jti", "AAAA"), "", ReasonMalformed},
		{"padded jti", set("jti", "AAAAAAAAAAAAAAAAAAAAAA=="), "", ReasonMalformed},
		{"no htm", del("htm"), "", ReasonMalformed},
		{"rth as a number", set("rth", 5), "", ReasonMalformed},
		{"groups as a string", set("groups", "jira-users"), "", ReasonMalformed},
		{"groups with a number", set("groups", []any{"a", 1}), "", ReasonMalformed},
		{"groups null", set("groups", nil), "", ReasonMalformed},
		{"email as a number", set("email", 1), "", ReasonMalformed},
		{"sub as a number", set("sub", 1), "", ReasonMalformed},
		{"sub empty", set("sub", ""), "", ReasonNoSubject},
		{"no sub", del("sub"), "", ReasonNoSubject},
		{"duplicate sub", nil, strings.Replace(payloadJSON(t, claimsMap(t)), `"sub":"alice"`, `"sub":"alice","sub":"admin"`, 1), ReasonMalformed},
		{"claims an array", nil, `[1]`, ReasonMalformed},
		{"trailing garbage", nil, payloadJSON(t, claimsMap(t)) + "x", ReasonMalformed},
		{"nesting too deep", set("x", deep(20)), "", ReasonMalformed},
		{"nesting at the limit", set("x", deep(14)), "", ""},
		{"invalid UTF-8", nil, strings.Replace(payloadJSON(t, claimsMap(t)), `"alice"`, "\"al\xffce\"", 1), ReasonMalformed},
		{"lone surrogate escape", nil, strings.Replace(payloadJSON(t, claimsMap(t)), `"alice"`, `"al\udc00ce"`, 1), ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			payload := tc.raw
			if payload == "" {
				m := claimsMap(t)
				tc.edit(m)
				payload = payloadJSON(t, m)
			}
			_, err := newTestVerifier(t, ks, nil).Verify(signRaw(t, es.ec, headerFor(es), payload), "GET", testPath, "")
			if ReasonOf(err) != tc.want || (tc.want == "") != (err == nil) {
				t.Errorf("Verify = %v, want %q", err, tc.want)
			}
		})
	}
}

// deep returns n nested arrays.
func deep(n int) any {
	var v any = []any{}
	for i := 1; i < n; i++ {
		v = []any{v}
	}
	return v
}

func TestReplayCacheForgetsOnlyAfterExpiryPlusLeeway(t *testing.T) {
	t.Parallel()
	es, _, ks := testKeys(t)
	c := &clock{testNow}
	v := newTestVerifier(t, ks, c)
	claims := validClaims(t) // exp = now + 30
	tok := mustSign(t, es, claims)
	if _, err := v.Verify(tok, "GET", testPath, ""); err != nil {
		t.Fatal(err)
	}
	c.t = testNow.Add(34 * time.Second) // exp + leeway - 1: still remembered
	if _, err := v.Verify(tok, "GET", testPath, ""); ReasonOf(err) != ReasonReplayed {
		t.Fatalf("at exp+leeway-1: %v, want replayed", err)
	}
	c.t = testNow.Add(35 * time.Second) // exp + leeway: expired, and forgotten
	if _, err := v.Verify(tok, "GET", testPath, ""); ReasonOf(err) != ReasonExpired {
		t.Fatalf("at exp+leeway: %v, want expired", err)
	}
	// Expired entries are dropped when the next jti is remembered.
	fresh := validClaims(t)
	fresh.IssuedAt, fresh.Expiry = c.t.Unix(), c.t.Unix()+30
	if _, err := v.Verify(mustSign(t, es, fresh), "GET", testPath, ""); err != nil {
		t.Fatal(err)
	}
	if n := len(v.replay.seen); n != 1 {
		t.Errorf("replay cache holds %d entries, want only the fresh one", n)
	}
}

func TestFullReplayCacheFailsClosed(t *testing.T) {
	t.Parallel()
	es, _, ks := testKeys(t)
	c := &clock{testNow}
	v, err := NewVerifier(VerifierConfig{Keys: ks, Issuer: testIssuer, Audience: testAudience, Now: c.now, ReplayCapacity: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := v.Verify(mustSign(t, es, validClaims(t)), "GET", testPath, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Verify(mustSign(t, es, validClaims(t)), "GET", testPath, ""); ReasonOf(err) != ReasonReplayCacheFull {
		t.Fatalf("third: %v, want replay_cache_full", err)
	}
	c.t = testNow.Add(35 * time.Second) // the first two expire and are forgotten
	claims := validClaims(t)
	claims.IssuedAt, claims.Expiry = c.t.Unix(), c.t.Unix()+30
	if _, err := v.Verify(mustSign(t, es, claims), "GET", testPath, ""); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestRotatedKeySetTakesEffect(t *testing.T) {
	t.Parallel()
	es, ed, _ := testKeys(t)
	onlyEd, _ := NewKeySet(ed.Public())
	v := newTestVerifier(t, onlyEd, nil)
	if _, err := v.Verify(mustSign(t, es, validClaims(t)), "GET", testPath, ""); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("before rotation: %v, want unknown_key", err)
	}
	both, _ := NewKeySet(es.Public(), ed.Public())
	v.SetKeys(both)
	if _, err := v.Verify(mustSign(t, es, validClaims(t)), "GET", testPath, ""); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
}

func TestVerifyRequestReadsTheRequestLine(t *testing.T) {
	t.Parallel()
	es, _, ks := testKeys(t)
	sign := func(method, path, query string) string {
		c := validClaims(t)
		c.Method = method
		c.Target, _ = Target(method, path, query)
		return mustSign(t, es, c)
	}
	tests := []struct {
		name    string
		method  string
		target  string // request-target as sent
		headers []string
		want    error
	}{
		{"plain", "GET", testPath, []string{sign("GET", testPath, "")}, nil},
		{"query", "GET", "/rest/api/2/search?jql=a%20b", []string{sign("GET", "/rest/api/2/search", "jql=a%20b")}, nil},
		{"path parameter", "POST", "/rest;jsessionid=1/api/2/issue", []string{sign("POST", "/rest/api/2/issue", "")}, nil},
		{"no header", "GET", testPath, nil, ErrNoAssertion},
		{"two headers", "GET", testPath, []string{sign("GET", testPath, ""), sign("GET", testPath, "")}, &Error{Reason: ReasonMalformed}},
		{"empty header", "GET", testPath, []string{""}, &Error{Reason: ReasonMalformed}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tc.method, tc.target, nil)
			for _, h := range tc.headers {
				r.Header.Add("x-restguard-assertion", h)
			}
			_, err := newTestVerifier(t, ks, nil).VerifyRequest(r)
			if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
				t.Errorf("VerifyRequest = %v, want %v", err, tc.want)
			}
		})
	}

	// A request built in process has no RequestURI: the URL is used.
	r, _ := http.NewRequest("GET", "http://jira.example.com/rest/api/2/search?jql=a%20b", nil)
	r.Header.Set(HeaderName, sign("GET", "/rest/api/2/search", "jql=a%20b"))
	if _, err := newTestVerifier(t, ks, nil).VerifyRequest(r); err != nil {
		t.Errorf("client-side request: %v", err)
	}
}

func TestRefusalsLeakNothing(t *testing.T) {
	t.Parallel()
	// Errors name the reason, never the assertion, its claims or a key.
	es, _, ks := testKeys(t)
	c := validClaims(t)
	c.Subject = "secret-user-name"
	c.Audience = "https://secret-audience.example"
	tok := mustSign(t, es, c)
	h, p, s := splitToken(tok)
	for _, bad := range []string{tok, h + "." + p + "." + s[:len(s)-4] + "AAAA", h + "." + p, tok + "=", h + "." + p + "x." + s} {
		_, err := newTestVerifier(t, ks, nil).Verify(bad, "GET", testPath, "")
		if err == nil {
			t.Fatal("want a refusal")
		}
		msg := err.Error()
		for _, secret := range []string{h, p, s, "secret-user-name", "secret-audience", es.KeyID()} {
			if strings.Contains(msg, secret) {
				t.Errorf("error %q contains %q", msg, secret)
			}
		}
	}
}

func TestNewVerifierRejectsIncompleteConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []VerifierConfig{
		{Audience: testAudience},
		{Issuer: testIssuer},
		{Issuer: testIssuer, Audience: testAudience, Leeway: -time.Second},
		{Issuer: testIssuer, Audience: testAudience, Leeway: 1500 * time.Millisecond},
		{Issuer: testIssuer, Audience: testAudience, ReplayCapacity: -1},
	} {
		if _, err := NewVerifier(cfg); err == nil {
			t.Errorf("NewVerifier(%+v) = nil error", cfg)
		}
	}
}

func TestVerifierWithoutKeysRefusesEverything(t *testing.T) {
	t.Parallel()
	es, _, _ := testKeys(t)
	_, err := newTestVerifier(t, nil, nil).Verify(mustSign(t, es, validClaims(t)), "GET", testPath, "")
	if ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("Verify with no key set = %v, want unknown_key", err)
	}
}
