package assertion

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"
)

// Test fixtures: the committed test-only keys (testdata/README.md) and a
// fixed clock.

const (
	testIssuer   = "restguard-test"
	testAudience = "https://jira.example.com"
	testPath     = "/rest/api/2/myself"
)

var testNow = time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z

func loadKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	s, err := LoadSigner(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	if s.ec != nil {
		return s.ec
	}
	return s.ed
}

func newTestSigner(t testing.TB, name string) *Signer {
	t.Helper()
	s, err := LoadSigner(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return s
}

// testKeys returns signers for the two published test keys and their
// key set.
func testKeys(t testing.TB) (es, ed *Signer, ks *KeySet) {
	t.Helper()
	es, ed = newTestSigner(t, "es256.pem"), newTestSigner(t, "ed25519.pem")
	ks, err := NewKeySet(es.Public(), ed.Public())
	if err != nil {
		t.Fatal(err)
	}
	return es, ed, ks
}

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestVerifier(t testing.TB, ks *KeySet, c *clock) *Verifier {
	t.Helper()
	if c == nil {
		c = &clock{testNow}
	}
	v, err := NewVerifier(VerifierConfig{Keys: ks, Issuer: testIssuer, Audience: testAudience, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// validClaims are claims for GET testPath issued at testNow.
func validClaims(t testing.TB) Claims {
	t.Helper()
	rth, err := Target("GET", testPath, "")
	if err != nil {
		t.Fatal(err)
	}
	return Claims{
		Issuer:   testIssuer,
		Audience: testAudience,
		Subject:  "alice",
		Groups:   []string{"jira-users"},
		Email:    "alice@example.com",
		IssuedAt: testNow.Unix(),
		Expiry:   testNow.Unix() + 30,
		Method:   "GET",
		Target:   rth,
	}
}

func mustSign(t testing.TB, s *Signer, c Claims) string {
	t.Helper()
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return tok
}

// signRaw builds a compact JWS from arbitrary header and payload bytes,
// signed by key with the algorithm of its type, so tests can produce
// assertions no Signer would.
func signRaw(t testing.TB, key crypto.Signer, header, payload string) string {
	t.Helper()
	in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	var sig []byte
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		d := sha256.Sum256([]byte(in))
		der, err := ecdsa.SignASN1(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		if !derToRaw(der, sig) {
			t.Fatal("derToRaw failed")
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(in))
	}
	return in + "." + b64.EncodeToString(sig)
}

// headerFor is the format's header for a signer.
func headerFor(s *Signer) string {
	return `{"alg":"` + s.Algorithm() + `","kid":"` + s.KeyID() + `","typ":"` + Type + `"}`
}

// payloadJSON encodes claims with encoding/json, for tests that edit them.
func payloadJSON(t testing.TB, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// claimsMap is validClaims as a map, with a fixed jti.
func claimsMap(t testing.TB) map[string]any {
	c := validClaims(t)
	return map[string]any{
		"iss": c.Issuer, "aud": c.Audience, "sub": c.Subject, "groups": c.Groups, "email": c.Email,
		"iat": c.IssuedAt, "exp": c.Expiry, "jti": "AAAAAAAAAAAAAAAAAAAAAA", "htm": c.Method, "rth": c.Target,
	}
}
