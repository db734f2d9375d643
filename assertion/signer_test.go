package assertion

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSignerLoadsPEMForms(t *testing.T) {
	t.Parallel()
	pkcs8 := newTestSigner(t, "es256.pem")
	sec1 := newTestSigner(t, "es256-sec1.pem")
	if pkcs8.KeyID() != sec1.KeyID() || pkcs8.Algorithm() != AlgES256 {
		t.Errorf("PKCS#8 and SEC1 forms of one key: kid %q vs %q, alg %q", pkcs8.KeyID(), sec1.KeyID(), pkcs8.Algorithm())
	}
	ed := newTestSigner(t, "ed25519.pem")
	if ed.Algorithm() != AlgEdDSA || ed.KeyID() == pkcs8.KeyID() {
		t.Errorf("Ed25519 signer: alg %q kid %q", ed.Algorithm(), ed.KeyID())
	}
}

func TestSignerRejectsUnsupportedKeys(t *testing.T) {
	t.Parallel()
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	sec1P384, _ := x509.MarshalECPrivateKey(p384)
	es, _ := os.ReadFile(filepath.Join("testdata", "es256.pem"))
	ed, _ := os.ReadFile(filepath.Join("testdata", "ed25519.pem"))
	tests := map[string][]byte{
		"empty":               nil,
		"not PEM":             []byte("hello"),
		"RSA":                 pkcs8(rsaKey),
		"P-384 PKCS#8":        pkcs8(p384),
		"P-384 SEC1":          pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1P384}),
		"public key":          pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}),
		"garbage PKCS#8":      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
		"encrypted":           pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}),
		"two keys":            append(append([]byte{}, es...), ed...),
		"parameters only":     []byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"),
		"certificate instead": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
	}
	for name, data := range tests {
		if _, err := ParsePrivateKeyPEM(data); err == nil {
			t.Errorf("%s: ParsePrivateKeyPEM = nil error", name)
		} else if strings.Contains(err.Error(), "MIG") {
			t.Errorf("%s: error shows key material: %v", name, err)
		}
	}
	if _, err := NewSigner(p384); err == nil {
		t.Error("NewSigner(P-384) = nil error")
	}
	if _, err := NewSigner(rsaKey); err == nil {
		t.Error("NewSigner(RSA) = nil error")
	}
	if _, err := LoadSigner(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Error("LoadSigner(missing) = nil error")
	}
}

func TestSignedHeaderIsExactlyTheFormat(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"es256.pem", "ed25519.pem"} {
		s := newTestSigner(t, name)
		h, _, sig := splitToken(mustSign(t, s, validClaims(t)))
		hb, _ := decodeSegment(h)
		want := `{"alg":"` + s.Algorithm() + `","kid":"` + s.KeyID() + `","typ":"restguard-assertion+jwt"}`
		if string(hb) != want {
			t.Errorf("%s header = %s, want %s", name, hb, want)
		}
		if raw, _ := decodeSegment(sig); len(raw) != 64 {
			t.Errorf("%s signature is %d bytes, want 64", name, len(raw))
		}
	}
}

func TestSignedPayloadRoundTrips(t *testing.T) {
	t.Parallel()
	es, _, ks := testKeys(t)
	c := validClaims(t)
	c.Subject = "zoë \"the\" admin\\\n\t\u0001"
	c.Groups = []string{"a\"b", "ünï</script>", "\u2028"}
	c.Email = ""
	tok := mustSign(t, es, c)
	got, err := newTestVerifier(t, ks, nil).Verify(tok, "GET", testPath, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != c.Subject || strings.Join(got.Groups, "|") != strings.Join(c.Groups, "|") || got.Email != "" {
		t.Errorf("round trip: %+v", got)
	}
	// encoding/json reads the same payload the same way.
	_, p, _ := splitToken(tok)
	pb, _ := decodeSegment(p)
	var m map[string]any
	if err := json.Unmarshal(pb, &m); err != nil || m["sub"] != c.Subject {
		t.Errorf("encoding/json: %v, sub %q", err, m["sub"])
	}
	if _, ok := m["email"]; ok {
		t.Error("empty email was written")
	}
}

func TestSignRefusesClaimsEveryVerifierRefuses(t *testing.T) {
	t.Parallel()
	es := newTestSigner(t, "es256.pem")
	tests := map[string]func(*Claims){
		"no issuer":         func(c *Claims) { c.Issuer = "" },
		"no audience":       func(c *Claims) { c.Audience = "" },
		"no subject":        func(c *Claims) { c.Subject = "" },
		"lifetime 61 s":     func(c *Claims) { c.Expiry = c.IssuedAt + 61 },
		"exp equals iat":    func(c *Claims) { c.Expiry = c.IssuedAt },
		"negative iat":      func(c *Claims) { c.IssuedAt, c.Expiry = -10, 10 },
		"lower-case space":  func(c *Claims) { c.Method = "GE T" },
		"no method":         func(c *Claims) { c.Method = "" },
		"no target":         func(c *Claims) { c.Target = "" },
		"short jti":         func(c *Claims) { c.ID = "abc" },
		"invalid UTF-8 sub": func(c *Claims) { c.Subject = "a\xff" },
		"invalid group":     func(c *Claims) { c.Groups = []string{"\xc3"} },
	}
	for name, edit := range tests {
		c := validClaims(t)
		edit(&c)
		if tok, err := es.Sign(c); err == nil {
			t.Errorf("%s: Sign = %q, want an error", name, tok)
		}
	}
}

func TestSignUsesFreshJTIs(t *testing.T) {
	t.Parallel()
	es := newTestSigner(t, "es256.pem")
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		_, p, _ := splitToken(mustSign(t, es, validClaims(t)))
		pb, _ := decodeSegment(p)
		m, err := parseJSONObject(pb)
		if err != nil {
			t.Fatal(err)
		}
		jti := m["jti"].(string)
		if raw, ok := decodeSegment(jti); !ok || len(raw) != 16 || seen[jti] {
			t.Fatalf("jti %q: decoded %v, seen %v", jti, ok, seen[jti])
		}
		seen[jti] = true
	}
	c := validClaims(t)
	c.ID = NewID()
	_, p, _ := splitToken(mustSign(t, es, c))
	if pb, _ := decodeSegment(p); !strings.Contains(string(pb), `"jti":"`+c.ID+`"`) {
		t.Errorf("given jti %s not used: %s", c.ID, pb)
	}
	if a, b := NewID(), NewID(); a == b || len(a) != 22 {
		t.Errorf("NewID() = %q, %q", a, b)
	}
}

func TestDERConversionsRoundTrip(t *testing.T) {
	t.Parallel()
	k := loadKey(t, "es256.pem").(*ecdsa.PrivateKey)
	for i := 0; i < 200; i++ {
		digest := make([]byte, 32)
		_, _ = rand.Read(digest)
		der, err := ecdsa.SignASN1(rand.Reader, k, digest)
		if err != nil {
			t.Fatal(err)
		}
		raw := make([]byte, 64)
		if !derToRaw(der, raw) {
			t.Fatalf("derToRaw(%x) failed", der)
		}
		if back := rawToDER(raw); string(back) != string(der) {
			t.Fatalf("rawToDER(derToRaw(%x)) = %x", der, back)
		}
	}
	for _, bad := range [][]byte{nil, {0x30, 0}, {0x31, 6, 2, 1, 1, 2, 1, 1}, {0x30, 6, 2, 1, 1, 2, 1, 1, 0}} {
		if derToRaw(bad, make([]byte, 64)) {
			t.Errorf("derToRaw(%x) = true", bad)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	for _, name := range []string{"es256.pem", "ed25519.pem"} {
		s := newTestSigner(b, name)
		c := validClaims(b)
		b.Run(s.Algorithm(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	es, ed, ks := testKeys(b)
	for _, s := range []*Signer{es, ed} {
		b.Run(s.Algorithm(), func(b *testing.B) {
			v, _ := NewVerifier(VerifierConfig{Keys: ks, Issuer: testIssuer, Audience: testAudience,
				Now: (&clock{testNow}).now, ReplayCapacity: 1 << 30})
			toks := make([]string, 0, 4096)
			for i := 0; i < cap(toks); i++ {
				toks = append(toks, mustSign(b, s, validClaims(b)))
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// Past the pre-signed tokens the replay cache answers
				// "replayed" after full verification, which costs the same.
				_, _ = v.Verify(toks[i%len(toks)], "GET", testPath, "")
				i++
			}
		})
	}
}

func BenchmarkTarget(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Target("GET", "/rest/api/2/search", "jql=project%3DABC&maxResults=50"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLoadPublicKeyFromPublicOrPrivatePEM(t *testing.T) {
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(priv)
	pkix, _ := x509.MarshalPKIXPublicKey(priv.Public())
	privFile := filepath.Join(dir, "priv.pem")
	pubFile := filepath.Join(dir, "pub.pem")
	_ = os.WriteFile(privFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600)
	_ = os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}), 0o600)
	a, err := LoadPublicKey(privFile)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadPublicKey(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	if !a.(ed25519.PublicKey).Equal(b) || !b.(ed25519.PublicKey).Equal(priv.Public()) {
		t.Error("the two files name different keys")
	}
	rsaPub := filepath.Join(dir, "rsa.pem")
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	_ = os.WriteFile(rsaPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
	if _, err := LoadPublicKey(rsaPub); err == nil {
		t.Error("an RSA public key was accepted")
	}
}
