package providers

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// maxKeys bounds the keys of one JWKS; a set with more is refused.
const maxKeys = 256

// minRSABits is the smallest RSA modulus accepted (security catalogue C4).
const minRSABits = 2048

// maxRSABits bounds the work one signature check can cost.
const maxRSABits = 16384

// publicKey is one usable verification key from the JWKS.
type publicKey struct {
	kid string
	alg string // the JWK's declared alg, "" when absent
	pub crypto.PublicKey
}

// keySet is an immutable, filtered key set. A refresh builds a new one.
type keySet struct {
	gen     uint64 // increases with every successful fetch
	fetched time.Time
	keys    []*publicKey
	byKID   map[string][]*publicKey
}

func (s *keySet) lookup(kid string) []*publicKey {
	if s == nil {
		return nil
	}
	return s.byKID[kid]
}

// has reports whether the set still holds exactly this key under kid.
func (s *keySet) has(kid string, pub crypto.PublicKey) bool {
	for _, k := range s.lookup(kid) {
		if eq, ok := k.pub.(interface{ Equal(crypto.PublicKey) bool }); ok && eq.Equal(pub) {
			return true
		}
	}
	return false
}

// current returns the key set if it may still be used: loaded, and the
// last successful fetch no older than MaxStale (security catalogue J2).
func (j *JWT) current(now time.Time) *keySet {
	ks := j.keys.Load()
	if ks == nil || now.Sub(ks.fetched) > j.cfg.MaxStale {
		return nil
	}
	return ks
}

// Refresh fetches the key set now: the discovery document first when no
// JWKS URI is configured or discovered yet, then the JWKS. Use it at
// startup before reporting ready. A failed fetch keeps the previous set
// (until MaxStale); a successfully parsed set replaces it, even when it
// holds no usable key.
func (j *JWT) Refresh(ctx context.Context) error {
	ch := j.flight.DoChan("refresh", func() (any, error) {
		j.fetchMu.Lock()
		defer j.fetchMu.Unlock()
		return nil, j.fetch(context.WithoutCancel(ctx))
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refreshOnMiss fetches the key set for an unknown kid or a missing set,
// at most once per MinRefreshInterval. Concurrent callers share one fetch.
// The fetch runs detached from the request's cancellation (bounded by
// FetchTimeout), so a short request deadline cannot waste it.
func (j *JWT) refreshOnMiss(ctx context.Context) {
	ch := j.flight.DoChan("miss", func() (any, error) {
		j.fetchMu.Lock()
		defer j.fetchMu.Unlock()
		now := j.now()
		j.mu.Lock()
		if !j.lastAttempt.IsZero() && now.Sub(j.lastAttempt) < j.cfg.MinRefreshInterval {
			j.mu.Unlock()
			return nil, nil
		}
		j.mu.Unlock()
		return nil, j.fetch(context.WithoutCancel(ctx))
	})
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// Start runs the background refresh until ctx is done. It refreshes every
// RefreshInterval, or every MinRefreshInterval while no usable key set is
// loaded. Only the first call starts a goroutine.
func (j *JWT) Start(ctx context.Context) {
	if !j.started.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer close(j.stopped)
		timer := time.NewTimer(j.nextRefresh())
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
				_ = j.Refresh(ctx) // logged by fetch
				timer.Reset(j.nextRefresh())
			}
		}
	}()
}

func (j *JWT) nextRefresh() time.Duration {
	if j.Ready() {
		return j.cfg.RefreshInterval
	}
	return j.cfg.MinRefreshInterval
}

// Ready reports whether a usable, non-stale key set with at least one key
// is loaded.
func (j *JWT) Ready() bool {
	ks := j.current(j.now())
	return ks != nil && len(ks.keys) > 0
}

// KeyCount is the number of usable keys in the current set.
func (j *JWT) KeyCount() int {
	ks := j.current(j.now())
	if ks == nil {
		return 0
	}
	return len(ks.keys)
}

// fetch runs one discovery (if needed) and JWKS fetch and installs the
// result. Callers hold j.fetchMu, so an older fetch never overwrites a
// newer set.
func (j *JWT) fetch(ctx context.Context) error {
	now := j.now()
	j.mu.Lock()
	j.lastAttempt = now
	uri := j.jwksURI
	j.mu.Unlock()

	err := func() error {
		if uri == "" {
			u, err := j.discover(ctx)
			if err != nil {
				return err
			}
			j.mu.Lock()
			j.jwksURI = u
			j.mu.Unlock()
			uri = u
		}
		body, err := j.get(ctx, uri)
		if err != nil {
			return fmt.Errorf("jwks: %w", err)
		}
		keys, err := parseKeySet(body)
		if err != nil {
			return fmt.Errorf("jwks: %w", err)
		}
		j.install(keys, j.now())
		return nil
	}()
	if err != nil {
		j.refreshErrors.Add(1)
		j.log.Warn("jwks refresh failed", "provider", j.cfg.Name, "issuer", j.cfg.Issuer, "error", err)
	} else {
		j.refreshOK.Add(1)
	}
	return err
}

func (j *JWT) install(keys []*publicKey, now time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.gen++
	ks := &keySet{gen: j.gen, fetched: now, keys: keys, byKID: map[string][]*publicKey{}}
	for _, k := range keys {
		ks.byKID[k.kid] = append(ks.byKID[k.kid], k)
	}
	j.lastSuccess = now
	j.keys.Store(ks)
}

// discover reads the OpenID discovery document and returns its jwks_uri.
func (j *JWT) discover(ctx context.Context) (string, error) {
	body, err := j.get(ctx, j.cfg.DiscoveryURL)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", errors.New("discovery: document is not a json object")
	}
	var issuer, uri string
	if err := json.Unmarshal(doc["issuer"], &issuer); err != nil || issuer != j.cfg.Issuer {
		return "", fmt.Errorf("discovery: issuer %q does not match the configured issuer", truncate(issuer))
	}
	if err := json.Unmarshal(doc["jwks_uri"], &uri); err != nil || uri == "" {
		return "", errors.New("discovery: no jwks_uri")
	}
	if err := checkURL(uri); err != nil {
		return "", fmt.Errorf("discovery: jwks_uri: %w", err)
	}
	return uri, nil
}

// get fetches url: status 200 required, body bounded by MaxBodyBytes.
func (j *JWT) get(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, j.cfg.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, j.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > j.cfg.MaxBodyBytes {
		return nil, fmt.Errorf("body larger than %d bytes", j.cfg.MaxBodyBytes)
	}
	return body, nil
}

// parseKeySet parses a JWKS document and keeps only keys usable for
// signature verification.
func parseKeySet(body []byte) ([]*publicKey, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, errors.New("not a json object")
	}
	var list []json.RawMessage
	if raw, ok := top["keys"]; !ok || len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &list) != nil {
		return nil, errors.New(`no "keys" array`)
	}
	if len(list) > maxKeys {
		return nil, fmt.Errorf("more than %d keys", maxKeys)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	keys := make([]*publicKey, 0, set.Len())
	for i := range set.Len() {
		k, _ := set.Key(i)
		if pk := usableKey(k); pk != nil {
			keys = append(keys, pk)
		}
	}
	return keys, nil
}

// usableKey returns the verification key of k, or nil when k must not be
// used: symmetric (a remote JWKS never supplies an HMAC secret, security
// catalogue C4), use other than "sig", key_ops without "verify", weak RSA,
// an EC point not on its curve, or an unknown key type.
func usableKey(k jwk.Key) *publicKey {
	if k.KeyType() == jwa.OctetSeq {
		return nil
	}
	if use := k.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return nil
	}
	if ops := k.KeyOps(); ops != nil {
		verify := false
		for _, op := range ops {
			verify = verify || op == jwk.KeyOpVerify
		}
		if !verify {
			return nil
		}
	}
	pubKey, err := k.PublicKey()
	if err != nil {
		return nil
	}
	var raw any
	if err := pubKey.Raw(&raw); err != nil {
		return nil
	}
	pk := &publicKey{kid: k.KeyID()}
	if a := k.Algorithm(); a != nil {
		pk.alg = a.String()
	}
	switch p := raw.(type) {
	case *rsa.PublicKey:
		if bits := p.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil
		}
		pk.pub = p
	case *ecdsa.PublicKey:
		// Round-trip through the uncompressed encoding: that checks the
		// point is on the curve.
		b, err := p.Bytes()
		if err != nil {
			return nil
		}
		checked, err := ecdsa.ParseUncompressedPublicKey(p.Curve, b)
		if err != nil {
			return nil
		}
		pk.pub = checked
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return nil
		}
		pk.pub = p
	default:
		return nil
	}
	return pk
}

// fits reports whether key type and size suit alg (RFC 8725 §3.1: the
// algorithm is bound to the key, never chosen by the token alone).
func fits(alg string, pub crypto.PublicKey) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		p, ok := pub.(*rsa.PublicKey)
		return ok && p.N.BitLen() >= minRSABits
	case "ES256":
		return curveIs(pub, elliptic.P256())
	case "ES384":
		return curveIs(pub, elliptic.P384())
	case "ES512":
		return curveIs(pub, elliptic.P521())
	case "EdDSA":
		_, ok := pub.(ed25519.PublicKey)
		return ok
	default:
		return false
	}
}

func curveIs(pub crypto.PublicKey, c elliptic.Curve) bool {
	p, ok := pub.(*ecdsa.PublicKey)
	return ok && p.Curve == c
}
