package config

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/restguard/restguard/assertion"
	"github.com/restguard/restguard/authz"
)

// CaseResult is the outcome of one case: passed when Problems is empty.
type CaseResult struct {
	Case     *Case
	Where    string   // file:line of the case
	Problems []string // what differed, one line each
	Decision authz.Decision
}

// RunCases builds c as serve does, with a test issuer standing in for the
// identity providers, and runs every case through the real engine. An
// error means the configuration does not build or a case cannot be set up
// (an unknown provider, a provider kind the test issuer cannot answer).
func RunCases(ctx context.Context, c *Config, cs *Cases) ([]CaseResult, error) {
	iss, err := newTestIssuer(c)
	if err != nil {
		return nil, err
	}
	rt, err := Build(c, BuildOptions{HTTPClient: &http.Client{Transport: iss, Timeout: 5 * time.Second}})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rt.Start(ctx)
	if err := rt.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("restguard test: %w", err)
	}
	providers := map[string]*BuiltProvider{}
	for _, bp := range rt.Providers {
		providers[bp.Name] = bp
	}
	userHeader := strings.ToLower(or(c.Upstream.UserHeader, DefaultUserHeader))
	var out []CaseResult
	for i := range cs.Cases {
		cse := &cs.Cases[i]
		req, err := caseRequest(cse, providers, iss)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", cs.Where(cse), cse.Name, err)
		}
		d := rt.Engine.Check(ctx, req)
		problems := compare(cse.Expect, &d, userHeader)
		if cse.Expect.Assertion != "" {
			problems = append(problems, checkAssertion(rt, cse, req, &d)...)
		}
		out = append(out, CaseResult{Case: cse, Where: cs.Where(cse), Problems: problems, Decision: d})
	}
	return out, nil
}

// caseRequest builds the request of a case with its credential.
func caseRequest(c *Case, providers map[string]*BuiltProvider, iss *testIssuer) (*authz.Request, error) {
	r := c.Request
	path, query, _ := strings.Cut(r.Path, "?")
	req := &authz.Request{ID: "case", Method: or(r.Method, http.MethodGet), Host: r.Host, Path: path, Query: query, Header: http.Header{}}
	for name, values := range r.Headers {
		for _, v := range values {
			req.Header.Add(name, v)
		}
	}
	src, err := netip.ParseAddr(or(r.Client, "127.0.0.1"))
	if err != nil {
		return nil, fmt.Errorf("request.client %q is not an IP address", r.Client)
	}
	req.Source = src
	switch {
	case c.Token != nil:
		bp := providers[c.Token.Provider]
		if bp == nil {
			return nil, fmt.Errorf("token.provider: no provider named %q", c.Token.Provider)
		}
		tok, err := iss.mint(bp, c.Token.Claims)
		if err != nil {
			return nil, fmt.Errorf("token for %s: %w", bp.Name, err)
		}
		req.Header.Add("Authorization", "Bearer "+tok)
	case c.Bearer != "":
		req.Header.Add("Authorization", "Bearer "+c.Bearer)
	case c.Basic != "":
		req.Header.Add("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.Basic)))
	case c.Native == "pat":
		// Jira, Confluence and Bamboo: 33 bytes "<digits>:<random>".
		req.Header.Add("Authorization", "Bearer "+base64.StdEncoding.EncodeToString([]byte("123456789012:"+randomHex(10))))
	case c.Native == "bitbucket":
		req.Header.Add("Authorization", "Bearer BBDC-"+randomHex(20))
	}
	return req, nil
}

// compare lists what differs between the expectation and the decision.
func compare(want CaseExpect, d *authz.Decision, userHeader string) []string {
	var out []string
	if want.Status != 0 && d.HTTPStatus() != want.Status {
		out = append(out, fmt.Sprintf("status %d, want %d", d.HTTPStatus(), want.Status))
	}
	if want.Verdict != "" && d.Verdict.String() != want.Verdict {
		out = append(out, fmt.Sprintf("verdict %s, want %s", d.Verdict, want.Verdict))
	}
	if want.Reason != "" && string(d.Reason) != want.Reason {
		out = append(out, fmt.Sprintf("reason %s, want %s", d.Reason, want.Reason))
	}
	set := map[string]string{}
	for _, h := range d.UpstreamHeaders {
		set[strings.ToLower(h.Name)] = h.Value
	}
	switch user, ok := set[userHeader]; {
	case want.User == "":
	case want.User == "-" && ok:
		out = append(out, fmt.Sprintf("user %q, want no identity header", user))
	case want.User != "-" && user != want.User:
		out = append(out, fmt.Sprintf("user %q, want %q", user, want.User))
	}
	for _, name := range sortedKeys(want.Headers) {
		if got, ok := set[strings.ToLower(name)]; !ok || got != want.Headers[name] {
			out = append(out, fmt.Sprintf("upstream %s %q, want %q", name, got, want.Headers[name]))
		}
	}
	for _, name := range want.Removed {
		if !slices.Contains(d.RemoveHeaders, strings.ToLower(name)) {
			out = append(out, fmt.Sprintf("%s not removed", name))
		}
	}
	if len(out) > 0 && d.Detail != "" {
		out = append(out, "detail: "+d.Detail)
	}
	return out
}

// checkAssertion verifies the identity assertion of an allow as the
// product would, for the case's request.
func checkAssertion(rt *Runtime, c *Case, req *authz.Request, d *authz.Decision) []string {
	if rt.Assertion == nil || rt.Config.Assertion == nil {
		return []string{"expect.assertion: the configuration has no assertion section"}
	}
	header := or(rt.Config.Assertion.Header, assertion.HeaderName)
	var value string
	for _, h := range d.UpstreamHeaders {
		if strings.EqualFold(h.Name, header) {
			value = h.Value
		}
	}
	if value == "" {
		return []string{"no identity assertion upstream"}
	}
	ks, err := assertion.NewKeySet(rt.Assertion.Signer.Public())
	if err != nil {
		return []string{err.Error()}
	}
	v, err := assertion.NewVerifier(assertion.VerifierConfig{Keys: ks, Issuer: rt.Config.Assertion.Issuer, Audience: c.Expect.Assertion})
	if err != nil {
		return []string{err.Error()}
	}
	claims, err := v.Verify(value, req.Method, req.Path, req.Query)
	if err != nil {
		return []string{"the identity assertion does not verify: " + string(assertion.ReasonOf(err))}
	}
	if c.Expect.User != "" && c.Expect.User != "-" && claims.Subject != c.Expect.User {
		return []string{fmt.Sprintf("the identity assertion names %q, want %q", claims.Subject, c.Expect.User)}
	}
	return nil
}

// testIssuer is the identity provider of a test run: its keys stand in for
// every JWT provider's key set, and it answers introspection and userinfo
// calls for the opaque tokens it minted. It is an http.RoundTripper: the
// providers' HTTP client reaches it for every URL, so no network is used.
type testIssuer struct {
	rsaKey    *rsa.PrivateKey
	ecKey     *ecdsa.PrivateKey
	discovery map[string]string // discovery URL → issuer, where it differs from the URL

	mu     sync.Mutex
	opaque map[string]map[string]any // minted opaque token → its claims
}

func newTestIssuer(c *Config) (*testIssuer, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	t := &testIssuer{rsaKey: rk, ecKey: ek, discovery: map[string]string{}, opaque: map[string]map[string]any{}}
	for _, p := range c.Providers {
		if p.DiscoveryURL != "" && p.Issuer != "" {
			t.discovery[p.DiscoveryURL] = p.Issuer
		}
	}
	return t, nil
}

const (
	testRSAKid = "restguard-test-rs256"
	testECKid  = "restguard-test-es256"
)

// mint returns a token bp accepts unless claims say otherwise.
func (t *testIssuer) mint(bp *BuiltProvider, extra map[string]any) (string, error) {
	f := bp.Facts
	now := time.Now().Unix()
	claims := map[string]any{"sub": "test-subject", "iat": now, "exp": now + 300, "jti": randomHex(8)}
	if f.Issuer != "" {
		claims["iss"] = f.Issuer
	}
	if f.Audience != "" {
		claims["aud"] = f.Audience
	}
	if f.ClientID != "" {
		claims[or(f.ClientIDClaim, "client_id")] = f.ClientID
	}
	for k, v := range f.Required {
		claims[k] = v
	}
	for k, v := range extra {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	switch f.Kind {
	case "jwt":
		return t.signJWT(f.Algorithms, claims)
	case "introspection", "userinfo":
		if f.Binding {
			return "", fmt.Errorf("the test issuer cannot answer %s's app-binding check: give the case a literal bearer token", bp.Name)
		}
		tok := t.opaqueToken(f)
		if f.Kind == "introspection" {
			claims["active"] = true
		}
		t.mu.Lock()
		t.opaque[tok] = claims
		t.mu.Unlock()
		return tok, nil
	default:
		return "", fmt.Errorf("the test issuer cannot mint tokens for a provider of kind %s: give the case a literal bearer token", bp.Kind)
	}
}

func (t *testIssuer) opaqueToken(f TokenFacts) string {
	tok := randomHex(16)
	if len(f.Shape.Prefixes) > 0 {
		tok = f.Shape.Prefixes[0] + tok
	}
	for f.Shape.MinLength > 0 && len(tok) < f.Shape.MinLength {
		tok += "0"
	}
	return tok
}

func (t *testIssuer) signJWT(algs []string, claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	alg, kid := "RS256", testRSAKid
	switch {
	case slices.Contains(algs, "RS256"):
	case slices.Contains(algs, "ES256"):
		alg, kid = "ES256", testECKid
	default:
		return "", fmt.Errorf("the test issuer signs RS256 or ES256, the provider accepts %s", strings.Join(algs, ", "))
	}
	header, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": "at+jwt"})
	input := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	if alg == "RS256" {
		sig, err = rsa.SignPKCS1v15(rand.Reader, t.rsaKey, crypto.SHA256, sum[:])
	} else {
		var r, s *big.Int
		if r, s, err = ecdsa.Sign(rand.Reader, t.ecKey, sum[:]); err == nil {
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		}
	}
	if err != nil {
		return "", err
	}
	return input + "." + b64(sig), nil
}

// RoundTrip answers every call a provider makes during a test run.
func (t *testIssuer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	u := *r.URL
	u.RawQuery = ""
	switch {
	case strings.HasSuffix(u.Path, "/.well-known/openid-configuration"):
		iss, ok := t.discovery[u.String()]
		if !ok {
			iss = strings.TrimSuffix(u.String(), "/.well-known/openid-configuration")
		}
		base := u.Scheme + "://" + u.Host + "/restguard-test"
		return jsonResponse(r, http.StatusOK, map[string]any{
			"issuer": iss, "jwks_uri": base + "/jwks",
			"introspection_endpoint": base + "/introspect", "userinfo_endpoint": base + "/userinfo",
		})
	case r.Method == http.MethodPost:
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		form, _ := url.ParseQuery(string(body))
		if claims, ok := t.lookup(form.Get("token")); ok {
			return jsonResponse(r, http.StatusOK, claims)
		}
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			if claims, ok := t.lookup(tok); ok { // userinfo by POST (Slack)
				return jsonResponse(r, http.StatusOK, claims)
			}
		}
		return jsonResponse(r, http.StatusOK, map[string]any{"active": false})
	case strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "):
		if claims, ok := t.lookup(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")); ok {
			return jsonResponse(r, http.StatusOK, claims)
		}
		return jsonResponse(r, http.StatusUnauthorized, map[string]any{"error": "invalid_token"})
	default:
		return jsonResponse(r, http.StatusOK, t.jwks())
	}
}

func (t *testIssuer) lookup(tok string) (map[string]any, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.opaque[tok]
	return c, ok
}

func (t *testIssuer) jwks() map[string]any {
	var x, y []byte
	if k, err := t.ecKey.PublicKey.ECDH(); err == nil {
		point := k.Bytes() // 0x04 || X || Y
		x, y = point[1:33], point[33:]
	}
	return map[string]any{"keys": []any{
		map[string]any{"kty": "RSA", "kid": testRSAKid, "use": "sig", "alg": "RS256",
			"n": b64(t.rsaKey.N.Bytes()), "e": b64(big.NewInt(int64(t.rsaKey.E)).Bytes())},
		map[string]any{"kty": "EC", "kid": testECKid, "use": "sig", "alg": "ES256", "crv": "P-256", "x": b64(x), "y": b64(y)},
	}}
}

func jsonResponse(r *http.Request, status int, v any) (*http.Response, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: r,
	}, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
