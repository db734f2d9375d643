// Package devidp is the throw-away identity provider of `restguard dev`:
// an ephemeral RSA key, an OIDC discovery document and a JWKS served on a
// loopback address, and a minter for test access tokens. It exists so that
// a newcomer sees restguard allow and deny within a minute, with no
// external service. It refuses to listen on anything but loopback, and
// its key lives only in memory for the life of the process.
package devidp

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// KeyID is the kid of the development signing key.
const KeyID = "restguard-dev"

// IdP is a running development identity provider.
type IdP struct {
	Issuer string
	key    *rsa.PrivateKey
	srv    *http.Server
	ln     net.Listener
}

// Start listens on addr (which must be a loopback address; port 0 picks a
// free one) and serves discovery and JWKS until ctx ends or Close.
func Start(ctx context.Context, addr string) (*IdP, error) {
	if err := requireLoopback(addr); err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	p := &IdP{Issuer: "http://" + ln.Addr().String(), key: key, ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		p.Close()
	}()
	return p, nil
}

// Close stops the server.
func (p *IdP) Close() { _ = p.srv.Close() }

func (p *IdP) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{
		"issuer":                                p.Issuer,
		"jwks_uri":                              p.Issuer + "/jwks",
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (p *IdP) jwks(w http.ResponseWriter, _ *http.Request) {
	pub := p.key.PublicKey
	writeJSON(w, map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": KeyID,
		"n": b64(pub.N.Bytes()),
		"e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// Mint signs an RS256 access token (typ at+jwt) with the given claims.
// iss, iat and exp (10 minutes) are filled in unless present.
func (p *IdP) Mint(claims map[string]any) (string, error) {
	now := time.Now()
	c := map[string]any{"iss": p.Issuer, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	header, err := json.Marshal(map[string]any{"alg": "RS256", "kid": KeyID, "typ": "at+jwt"})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signing := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + b64(sig), nil
}

func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("devidp: %w", err)
	}
	if host == "localhost" {
		return nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.IsLoopback() {
		return errors.New("devidp: the development identity provider listens on loopback only (127.0.0.1 or ::1)")
	}
	return nil
}

// RequireLoopback reports an error unless addr is a loopback host:port.
func RequireLoopback(addr string) error { return requireLoopback(addr) }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
