package catalogue

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func rsaJWK(pub *rsa.PublicKey, kid string, extra map[string]any) map[string]any {
	m := map[string]any{
		"kty": "RSA", "kid": kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func genRSA(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// waitJWKSFetch sends probe until the IdP has served its JWKS more often
// than before (restguard refetches on an unknown kid at most once per
// min_refresh_interval, 1s for rot).
func (s *suite) waitRotFetch(t *testing.T, probe string) {
	t.Helper()
	before := s.rot.JWKSHits()
	if !eventually(15*time.Second, func() bool {
		s.checkGRPC(t, mustReq(t, in{path: "/rest/rot/x", headers: hdrs(bearer(probe))}))
		return s.rot.JWKSHits() > before
	}) {
		t.Fatal("restguard did not refetch rot's JWKS on an unknown kid")
	}
}

// unsuitableKeys is C4: symmetric, encryption-only, weak and
// encrypt-only keys in the fetched JWKS are never used.
func (s *suite) unsuitableKeys(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	enc, weak, ops, dupRSA := genRSA(t, 2048), genRSA(t, 1024), genRSA(t, 2048), genRSA(t, 2048)
	extras := []map[string]any{
		{"kty": "oct", "kid": "k9", "alg": "HS256", "k": base64.RawURLEncoding.EncodeToString(secret)},
		rsaJWK(&enc.PublicKey, "k-enc", map[string]any{"use": "enc"}),
		rsaJWK(&weak.PublicKey, "k-weak", map[string]any{"use": "sig", "alg": "RS256"}),
		rsaJWK(&ops.PublicKey, "k-ops", map[string]any{"key_ops": []string{"encrypt"}}),
		rsaJWK(&dupRSA.PublicKey, "k-dup", map[string]any{"use": "sig"}),
	}
	for _, e := range extras {
		s.rot.PublishExtra(e)
	}
	t.Cleanup(func() {
		for _, kid := range []string{"k9", "k-enc", "k-weak", "k-ops", "k-dup"} {
			s.rot.RemoveKey(kid)
		}
	})
	claims := p0(s.rot.Issuer, nil)
	rs := func(kid string, key *rsa.PrivateKey) string {
		return s.rot.MintWithKey(t, kid, key, claims)
	}
	s.waitRotFetch(t, rs("k9", s.kx.RSAKey()))
	if v, ok := metric(t, s.rg.Admin, `restguard_jwks_keys{provider="rot"}`); ok && v != 3 {
		t.Errorf("rot has %v usable keys, want 3 (k1, k2, k-dup RSA): the others must be filtered", v)
	}
	hs := s.rot.MintRaw(t, map[string]any{"alg": "HS256", "kid": "k9", "typ": "at+jwt"}, []byte(mustJSON(withoutNil(claims))), "HS256", secret)
	s.table(t, []cs{
		{name: "oct_key_hs256", r: in{path: "/rest/rot/x", headers: hdrs(bearer(hs))}, w: invalidToken("algorithm_rejected")},
		{name: "oct_kid_rs256", r: in{path: "/rest/rot/x", headers: hdrs(bearer(rs("k9", s.kx.RSAKey())))}, w: invalidToken("key_unknown")},
		{name: "use_enc", r: in{path: "/rest/rot/x", headers: hdrs(bearer(rs("k-enc", enc)))}, w: invalidToken("key_unknown")},
		{name: "rsa_1024", r: in{path: "/rest/rot/x", headers: hdrs(bearer(rs("k-weak", weak)))}, w: invalidToken("key_unknown")},
		{name: "key_ops_encrypt", r: in{path: "/rest/rot/x", headers: hdrs(bearer(rs("k-ops", ops)))}, w: invalidToken("key_unknown")},
		// A duplicate kid: the key is chosen by the alg's key type; a
		// signature by neither key is refused, one by the IdP's RSA key is
		// a legitimate token.
		{name: "dup_kid_foreign_signature", r: in{path: "/rest/rot/x", headers: hdrs(bearer(rs("k-dup", s.kx.RSAKey())))}, w: invalidToken("token_invalid")},
		{name: "dup_kid_rsa_signature", r: in{path: "/rest/rot/x", headers: hdrs(bearer(rs("k-dup", dupRSA)))}, w: allow("alice")},
	})
}

// unknownKidStorm is C5: a flood of tokens with random kids costs at most
// one JWKS refetch per min_refresh_interval, and valid traffic keeps
// being allowed.
func (s *suite) unknownKidStorm(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = s.kx.MintWithKey(t, "k-"+randHex(6), s.kx.RSAKey(), p0(s.a.Issuer, nil))
	}
	before := s.a.JWKSHits()
	var next atomic.Int64
	var wrong, valid atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				o := s.checkGRPC(t, mustReq(t, in{headers: hdrs(bearer(tokens[i]))}))
				if o.status != 401 || o.reason != "key_unknown" {
					wrong.Add(1)
				}
				if i%50 == 0 {
					o := s.checkGRPC(t, mustReq(t, in{headers: hdrs(bearer(s.t0(t, nil)))}))
					if o.status != 200 {
						t.Errorf("valid token refused during the flood: %d %s", o.status, o.reason)
					}
					valid.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	hits := s.a.JWKSHits() - before
	t.Logf("%d unknown-kid tokens and %d valid ones in %s: %d JWKS fetches", n, valid.Load(), time.Since(start), hits)
	if wrong.Load() != 0 {
		t.Errorf("%d unknown-kid tokens not refused with 401 key_unknown", wrong.Load())
	}
	if hits > 2 {
		t.Errorf("the flood caused %d JWKS fetches, want at most one per min_refresh_interval", hits)
	}
}

func mustJSON(v any) string {
	b, err := jsonMarshal(v)
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return string(b)
}
