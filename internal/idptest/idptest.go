// Package idptest is a real HTTP identity provider for tests: an
// httptest.Server on 127.0.0.1 that serves OpenID discovery and a JWKS,
// signs tokens with its own keys, counts hits and injects faults.
//
// The API is shared by the tests of several packages; keep it stable.
//
//	p := idptest.New(t)
//	tok := p.Mint(t, map[string]any{"groups": []string{"dev"}})
//
// Endpoints: GET /.well-known/openid-configuration (issuer, jwks_uri) and
// GET /jwks. Every helper is safe for concurrent use.
package idptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Audience is the default aud of minted tokens.
const Audience = "restguard"

// IdP is a test identity provider. URL and Issuer are equal.
type IdP struct {
	URL    string
	Issuer string

	srv   *httptest.Server
	rsaK  *rsa.PrivateKey
	ecK   *ecdsa.PrivateKey
	jwks  atomic.Int64
	disco atomic.Int64

	mu        sync.Mutex
	published []published      // in publication order
	extra     []map[string]any // raw JWKs from PublishExtra
	jwksFault func(http.ResponseWriter, *http.Request) bool
	discFault func(http.ResponseWriter, *http.Request) bool
	now       func() time.Time
}

type published struct {
	kid string
	alg string
	pub crypto.PublicKey
}

// New starts an IdP with an RSA-2048 key "k1" (RS256) and an EC P-256 key
// "k2" (ES256). t.Cleanup closes the server.
func New(t testing.TB) *IdP {
	t.Helper()
	p := &IdP{now: time.Now}
	var err error
	if p.rsaK, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatalf("idptest: rsa key: %v", err)
	}
	if p.ecK, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatalf("idptest: ec key: %v", err)
	}
	p.published = []published{{"k1", "RS256", &p.rsaK.PublicKey}, {"k2", "ES256", &p.ecK.PublicKey}}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.serveDiscovery)
	mux.HandleFunc("GET /jwks", p.serveJWKS)
	p.srv = httptest.NewServer(mux) // listens on 127.0.0.1
	p.URL, p.Issuer = p.srv.URL, p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// JWKSURL is the URL of the key set.
func (p *IdP) JWKSURL() string { return p.URL + "/jwks" }

// DiscoveryURL is the URL of the discovery document.
func (p *IdP) DiscoveryURL() string { return p.URL + "/.well-known/openid-configuration" }

// RSAKey is the private key of "k1".
func (p *IdP) RSAKey() *rsa.PrivateKey { return p.rsaK }

// ECKey is the private key of "k2".
func (p *IdP) ECKey() *ecdsa.PrivateKey { return p.ecK }

// SetNow sets the clock used for the default iat and exp (nil: time.Now).
func (p *IdP) SetNow(now func() time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now == nil {
		now = time.Now
	}
	p.now = now
}

// Defaults are the claims every minted token carries unless overridden:
// iss, aud "restguard", sub "user-1", preferred_username "alice", iat now,
// exp now+5m.
func (p *IdP) Defaults() map[string]any {
	p.mu.Lock()
	now := p.now()
	p.mu.Unlock()
	return map[string]any{
		"iss":                p.Issuer,
		"aud":                Audience,
		"sub":                "user-1",
		"preferred_username": "alice",
		"iat":                now.Unix(),
		"exp":                now.Add(5 * time.Minute).Unix(),
	}
}

// Mint signs the default claims merged with claims using k1 (RS256), header
// {"alg":"RS256","kid":"k1","typ":"at+jwt"}. A claim set to nil is removed.
func (p *IdP) Mint(t testing.TB, claims map[string]any) string {
	t.Helper()
	return p.MintWithKey(t, "k1", p.rsaK, claims)
}

// MintES256 is Mint with k2 (ES256).
func (p *IdP) MintES256(t testing.TB, claims map[string]any) string {
	t.Helper()
	return p.MintWithKey(t, "k2", p.ecK, claims)
}

// MintWithKey signs the merged claims with key under kid: RS256 for RSA,
// ES256/384/512 for EC keys by curve.
func (p *IdP) MintWithKey(t testing.TB, kid string, key crypto.Signer, claims map[string]any) string {
	t.Helper()
	alg := "RS256"
	if k, ok := key.(*ecdsa.PrivateKey); ok {
		alg = map[int]string{256: "ES256", 384: "ES384", 521: "ES512"}[k.Curve.Params().BitSize]
	}
	payload, err := json.Marshal(p.merge(claims))
	if err != nil {
		t.Fatalf("idptest: claims: %v", err)
	}
	return p.MintRaw(t, map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"}, payload, alg, key)
}

func (p *IdP) merge(claims map[string]any) map[string]any {
	m := p.Defaults()
	for k, v := range claims {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

// MintRaw builds a compact JWS from any header and raw payload bytes (for
// duplicate-member and attack tests), signed with alg by key: a
// crypto.Signer (RSA, ECDSA, Ed25519) or []byte for HS*. Alg "none" (any
// case) gives an empty signature. The header is sent as given.
func (p *IdP) MintRaw(t testing.TB, header map[string]any, payloadJSON []byte, alg string, key any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatalf("idptest: header: %v", err)
	}
	return SignRaw(t, h, payloadJSON, alg, key)
}

// SignRaw signs raw header and payload bytes (both base64url-encoded as
// given, so duplicate header members can be tested too).
func SignRaw(t testing.TB, headerJSON, payloadJSON []byte, alg string, key any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(headerJSON) + "." + enc.EncodeToString(payloadJSON)
	sig, err := sign([]byte(input), alg, key)
	if err != nil {
		t.Fatalf("idptest: sign %s: %v", alg, err)
	}
	return input + "." + enc.EncodeToString(sig)
}

func sign(input []byte, alg string, key any) ([]byte, error) {
	if len(alg) == 4 && (alg[0]|0x20) == 'n' && (alg[1]|0x20) == 'o' && (alg[2]|0x20) == 'n' && (alg[3]|0x20) == 'e' {
		return nil, nil
	}
	hashes := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}
	if alg == "EdDSA" {
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("key %T is not a signer", key)
		}
		return s.Sign(rand.Reader, input, crypto.Hash(0))
	}
	if len(alg) != 5 {
		return nil, fmt.Errorf("unsupported alg %q", alg)
	}
	h, ok := hashes[alg[2:]]
	if !ok {
		return nil, fmt.Errorf("unsupported alg %q", alg)
	}
	if alg[:2] == "HS" {
		secret, ok := key.([]byte)
		if !ok {
			return nil, fmt.Errorf("HS needs a []byte key, got %T", key)
		}
		newHash := map[crypto.Hash]func() hash.Hash{crypto.SHA256: sha256.New, crypto.SHA384: sha512.New384, crypto.SHA512: sha512.New}[h]
		m := hmac.New(newHash, secret)
		m.Write(input)
		return m.Sum(nil), nil
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key %T is not a signer", key)
	}
	d := h.New()
	d.Write(input)
	digest := d.Sum(nil)
	switch alg[:2] {
	case "RS":
		return s.Sign(rand.Reader, digest, h)
	case "PS":
		return s.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
	case "ES":
		der, err := s.Sign(rand.Reader, digest, h)
		if err != nil {
			return nil, err
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &rs); err != nil {
			return nil, err
		}
		size := map[string]int{"256": 32, "384": 48, "512": 66}[alg[2:]]
		out := make([]byte, 2*size)
		rs.R.FillBytes(out[:size])
		rs.S.FillBytes(out[size:])
		return out, nil
	default:
		return nil, fmt.Errorf("unsupported alg %q", alg)
	}
}

// AddKey generates and publishes another RSA-2048 key under kid (RS256)
// and returns it; sign with MintWithKey.
func (p *IdP) AddKey(t testing.TB, kid string) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("idptest: rsa key: %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.published = append(p.published, published{kid, "RS256", &k.PublicKey})
	return k
}

// RemoveKey stops publishing every key with kid (and extra JWKs with it).
func (p *IdP) RemoveKey(kid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	keep := p.published[:0]
	for _, k := range p.published {
		if k.kid != kid {
			keep = append(keep, k)
		}
	}
	p.published = keep
	extra := p.extra[:0]
	for _, e := range p.extra {
		if e["kid"] != kid {
			extra = append(extra, e)
		}
	}
	p.extra = extra
}

// PublishExtra adds a raw JWK (for example an oct key) to the served set.
func (p *IdP) PublishExtra(jwk map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.extra = append(p.extra, jwk)
}

// SetJWKSFault installs f in front of /jwks: when f returns true it has
// answered the request (500, HTML, a hang until r.Context() is done, a huge
// body). nil clears it. Hits are counted either way.
func (p *IdP) SetJWKSFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.jwksFault = f
}

// SetDiscoveryFault is SetJWKSFault for the discovery document.
func (p *IdP) SetDiscoveryFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.discFault = f
}

// JWKSHits counts requests to /jwks.
func (p *IdP) JWKSHits() int64 { return p.jwks.Load() }

// DiscoveryHits counts requests to the discovery document.
func (p *IdP) DiscoveryHits() int64 { return p.disco.Load() }

// JWKS returns the key set as served.
func (p *IdP) JWKS() map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := []any{}
	for _, k := range p.published {
		keys = append(keys, publicJWK(k))
	}
	for _, e := range p.extra {
		keys = append(keys, e)
	}
	return map[string]any{"keys": keys}
}

func (p *IdP) serveJWKS(w http.ResponseWriter, r *http.Request) {
	p.jwks.Add(1)
	p.mu.Lock()
	f := p.jwksFault
	p.mu.Unlock()
	if f != nil && f(w, r) {
		return
	}
	writeJSON(w, p.JWKS())
}

func (p *IdP) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	p.disco.Add(1)
	p.mu.Lock()
	f := p.discFault
	p.mu.Unlock()
	if f != nil && f(w, r) {
		return
	}
	writeJSON(w, map[string]any{
		"issuer":                                p.Issuer,
		"jwks_uri":                              p.JWKSURL(),
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func publicJWK(k published) map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]any{"kid": k.kid, "alg": k.alg, "use": "sig"}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64(pub.N.Bytes())
		m["e"] = b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, _ := pub.Bytes() // 0x04 || X || Y
		size := (len(raw) - 1) / 2
		m["kty"] = "EC"
		m["crv"] = pub.Curve.Params().Name
		m["x"] = b64(raw[1 : 1+size])
		m["y"] = b64(raw[1+size:])
	}
	return m
}
