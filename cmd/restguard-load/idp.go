package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Audience is the aud of every token the load tool mints.
const Audience = "restguard-load"

// Key ids of the two signing keys.
const (
	rsaKID = "load-rs256"
	ecKID  = "load-es256"
)

// idp is the load tool's identity provider on 127.0.0.1: OpenID discovery,
// a JWKS with an RSA-2048 (RS256) and a P-256 (ES256) key, and an RFC 7662
// introspection endpoint that answers active for the opaque tokens it
// issued, after a configurable delay. It counts the calls it serves.
type idp struct {
	Issuer  string
	rsaKey  *rsa.PrivateKey
	ecKey   *ecdsa.PrivateKey
	latency time.Duration // added to every introspection answer
	srv     *http.Server

	mu     sync.Mutex
	opaque map[string]int // issued opaque token -> user number

	jwksHits, discoveryHits, introspectHits atomic.Int64
}

// startIdP generates the keys and serves on a free loopback port until
// close.
func startIdP(latency time.Duration) (*idp, error) {
	p := &idp{latency: latency, opaque: map[string]int{}}
	var err error
	if p.rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, fmt.Errorf("idp: %w", err)
	}
	if p.ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, fmt.Errorf("idp: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("idp: %w", err)
	}
	p.Issuer = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.serveDiscovery)
	mux.HandleFunc("GET /jwks", p.serveJWKS)
	mux.HandleFunc("POST /introspect", p.serveIntrospect)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *idp) close() { _ = p.srv.Close() }

// IntrospectionURL is the RFC 7662 endpoint.
func (p *idp) IntrospectionURL() string { return p.Issuer + "/introspect" }

func (p *idp) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	p.discoveryHits.Add(1)
	writeJSON(w, map[string]any{
		"issuer":                                p.Issuer,
		"jwks_uri":                              p.Issuer + "/jwks",
		"introspection_endpoint":                p.IntrospectionURL(),
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
	})
}

func (p *idp) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	p.jwksHits.Add(1)
	b64 := base64.RawURLEncoding.EncodeToString
	ec, _ := p.ecKey.PublicKey.ECDH() // P-256 always converts
	raw := ec.Bytes()                 // 0x04 || X || Y
	writeJSON(w, map[string]any{"keys": []map[string]any{
		{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": rsaKID,
			"n": b64(p.rsaKey.N.Bytes()), "e": b64(big.NewInt(int64(p.rsaKey.E)).Bytes())},
		{"kty": "EC", "use": "sig", "alg": "ES256", "kid": ecKID, "crv": "P-256",
			"x": b64(raw[1:33]), "y": b64(raw[33:])},
	}})
}

// serveIntrospect answers RFC 7662 requests. Client authentication is
// accepted as sent: this IdP measures, it does not protect anything.
func (p *idp) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	p.introspectHits.Add(1)
	if p.latency > 0 {
		t := time.NewTimer(p.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	tok := r.PostForm.Get("token")
	p.mu.Lock()
	user, ok := p.opaque[tok]
	p.mu.Unlock()
	if !ok {
		writeJSON(w, map[string]any{"active": false})
		return
	}
	now := time.Now()
	writeJSON(w, map[string]any{
		"active":             true,
		"iss":                p.Issuer,
		"aud":                Audience,
		"client_id":          "restguard-load",
		"token_type":         "Bearer",
		"scope":              "openid profile",
		"sub":                "user-" + strconv.Itoa(user),
		"username":           "user" + strconv.Itoa(user),
		"preferred_username": "user" + strconv.Itoa(user),
		"groups":             []string{"jira-api-users", "employees"},
		"iat":                now.Unix(),
		"exp":                now.Add(time.Hour).Unix(),
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// claims are the payload of a minted JWT for user number n.
func (p *idp) claims(n int, now time.Time, ttl time.Duration) map[string]any {
	return map[string]any{
		"iss":                p.Issuer,
		"aud":                Audience,
		"sub":                "user-" + strconv.Itoa(n),
		"preferred_username": "user" + strconv.Itoa(n),
		"email":              "user" + strconv.Itoa(n) + "@example.com",
		"groups":             []string{"jira-api-users", "employees"},
		"jti":                "load-" + strconv.Itoa(n) + "-" + strconv.FormatInt(now.UnixNano(), 36),
		"iat":                now.Unix(),
		"exp":                now.Add(ttl).Unix(),
	}
}

// mint signs claims as a compact JWS (typ at+jwt) with the RSA key (RS256)
// or the EC key (ES256).
func (p *idp) mint(claims map[string]any, es256 bool) (string, error) {
	alg, kid := "RS256", rsaKID
	if es256 {
		alg, kid = "ES256", ecKID
	}
	h, err := json.Marshal(map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"})
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	b64 := base64.RawURLEncoding.EncodeToString
	input := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	if es256 {
		r, s, err := ecdsa.Sign(rand.Reader, p.ecKey, sum[:])
		if err != nil {
			return "", err
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	} else if sig, err = rsa.SignPKCS1v15(rand.Reader, p.rsaKey, crypto.SHA256, sum[:]); err != nil {
		return "", err
	}
	return input + "." + b64(sig), nil
}

// issueOpaque returns a new random opaque token (no dots, so JWT providers
// pass it on) that introspection reports active for user n.
func (p *idp) issueOpaque(n int) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	p.mu.Lock()
	p.opaque[tok] = n
	p.mu.Unlock()
	return tok
}

// idpCalls is what the IdP served, for the report.
type idpCalls struct {
	Discovery  int64 `json:"discovery"`
	JWKS       int64 `json:"jwks"`
	Introspect int64 `json:"introspect"`
}

func (p *idp) calls() idpCalls {
	return idpCalls{Discovery: p.discoveryHits.Load(), JWKS: p.jwksHits.Load(), Introspect: p.introspectHits.Load()}
}
