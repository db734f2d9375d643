package assertion

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestThumbprintIsRFC7638(t *testing.T) {
	t.Parallel()
	// RFC 8037 Appendix A.3: the thumbprint of the Ed25519 key of A.2.
	x, _ := decodeSegment("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if got, want := thumbprintOKP(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("Ed25519 thumbprint = %s, want %s", got, want)
	}
	// EC: the canonical JSON of RFC 7638 §3.2 built independently with
	// encoding/json, whose map keys come out sorted and unspaced.
	k := loadKey(t, "es256.pem").(*ecdsa.PrivateKey)
	px, py := ecCoordinates(&k.PublicKey)
	doc, _ := json.Marshal(map[string]string{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(px), "y": b64.EncodeToString(py)})
	sum := sha256.Sum256(doc)
	if got, want := newTestSigner(t, "es256.pem").KeyID(), b64.EncodeToString(sum[:]); got != want {
		t.Errorf("EC thumbprint = %s, want %s", got, want)
	}
}

func TestKeySetRoundTripsThroughJWKS(t *testing.T) {
	t.Parallel()
	es, ed, ks := testKeys(t)
	back, err := ParseKeySet(ks.JSON())
	if err != nil {
		t.Fatalf("ParseKeySet(own JSON): %v", err)
	}
	if got := strings.Join(back.KeyIDs(), ","); got != es.KeyID()+","+ed.KeyID() {
		t.Errorf("kids = %s", got)
	}
	if string(back.JSON()) != string(ks.JSON()) {
		t.Errorf("re-encoded JWKS differs:\n%s\n%s", back.JSON(), ks.JSON())
	}
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(ks.JSON(), &doc); err != nil || len(doc.Keys) != 2 {
		t.Fatalf("encoding/json: %v, %d keys", err, len(doc.Keys))
	}
	if k := doc.Keys[0]; k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || k["kid"] != es.KeyID() {
		t.Errorf("EC JWK = %v", k)
	}
	if k := doc.Keys[1]; k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["kid"] != ed.KeyID() {
		t.Errorf("OKP JWK = %v", k)
	}
	if pub, alg, ok := back.Lookup(ed.KeyID()); !ok || alg != AlgEdDSA || !pub.(ed25519.PublicKey).Equal(ed.Public()) {
		t.Errorf("Lookup(ed) = %v %v %v", pub, alg, ok)
	}
	if _, _, ok := back.Lookup("nope"); ok {
		t.Error("Lookup(unknown) = ok")
	}
}

func TestKeySetDeduplicatesAndRejectsOtherKeys(t *testing.T) {
	t.Parallel()
	es, _, _ := testKeys(t)
	ks, err := NewKeySet(es.Public(), es.Public())
	if err != nil || len(ks.KeyIDs()) != 1 {
		t.Errorf("duplicate keys: %v, %v", err, ks)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for _, k := range []any{&p384.PublicKey, "key", ed25519.PublicKey{1, 2}, (*ecdsa.PublicKey)(nil)} {
		if _, err := NewKeySet(k); err == nil {
			t.Errorf("NewKeySet(%T) = nil error", k)
		}
	}
}

func TestTamperedKeySetRefused(t *testing.T) {
	t.Parallel()
	es, ed, ks := testKeys(t)
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	_ = json.Unmarshal(ks.JSON(), &doc)
	ecJWK, okpJWK := doc.Keys[0], doc.Keys[1]
	with := func(base map[string]any, k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range base {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	enc := func(keys ...map[string]any) string {
		b, _ := json.Marshal(map[string]any{"keys": keys})
		return string(b)
	}
	otherX := b64.EncodeToString(make([]byte, 32))
	tests := map[string]string{
		"not JSON":               "keys",
		"not an object":          `[1]`,
		"no keys":                `{}`,
		"keys not an array":      `{"keys":{}}`,
		"key not an object":      `{"keys":[1]}`,
		"private key material":   enc(with(okpJWK, "d", "AAAA")),
		"kid not the thumbprint": enc(with(ecJWK, "kid", ed.KeyID())),
		"no kid":                 enc(with(ecJWK, "kid", nil)),
		"duplicate kid":          enc(ecJWK, ecJWK),
		"RSA key":                enc(map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "x"}),
		"P-384":                  enc(with(ecJWK, "crv", "P-384")),
		"alg swapped":            enc(with(ecJWK, "alg", "EdDSA")),
		"alg not a string":       enc(with(ecJWK, "alg", 1)),
		"use enc":                enc(with(ecJWK, "use", "enc")),
		"point not on the curve": enc(with(with(ecJWK, "x", otherX), "kid", "irrelevant")),
		"short Ed25519 x":        enc(with(okpJWK, "x", "AAAA")),
		"padded x":               enc(with(okpJWK, "x", okpJWK["x"].(string)+"=")),
		"duplicate member":       `{"keys":[],"keys":[]}`,
		"too large":              `{"keys":[],"x":"` + strings.Repeat("a", maxKeySetBytes) + `"}`,
	}
	for name, doc := range tests {
		if _, err := ParseKeySet([]byte(doc)); err == nil {
			t.Errorf("%s: ParseKeySet = nil error", name)
		}
	}
	// Members the format does not use are ignored; alg and use are optional.
	extra := with(with(with(ecJWK, "key_ops", []string{"verify"}), "alg", nil), "use", nil)
	if got, err := ParseKeySet([]byte(enc(extra))); err != nil || got.KeyIDs()[0] != es.KeyID() {
		t.Errorf("JWK with extra members: %v", err)
	}
}

func TestKeySetWriteFileIsAtomicAndPublic(t *testing.T) {
	t.Parallel()
	es, ed, ks := testKeys(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "jwks.json")
	if err := ks.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	onlyEd, _ := NewKeySet(ed.Public())
	if err := onlyEd.WriteFile(path); err != nil { // replaces the previous file
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("stat: %v, mode %v", err, fi.Mode())
	}
	got, err := LoadKeySet(path)
	if err != nil || len(got.KeyIDs()) != 1 || got.KeyIDs()[0] != ed.KeyID() {
		t.Fatalf("LoadKeySet: %v %v", err, got.KeyIDs())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only jwks.json (no temporary files)", len(entries))
	}
	if err := ks.WriteFile(filepath.Join(dir, "missing", "jwks.json")); err == nil {
		t.Error("WriteFile into a missing directory = nil error")
	}
	if _, err := LoadKeySet(filepath.Join(dir, "none.json")); err == nil {
		t.Error("LoadKeySet(missing) = nil error")
	}
	_ = es
}

func TestKeySetServesJWKS(t *testing.T) {
	t.Parallel()
	_, _, ks := testKeys(t)
	srv := httptest.NewServer(ks)
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET: %d %s %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	for method, want := range map[string]int{"HEAD": 200, "POST": 405, "DELETE": 405} {
		req, _ := http.NewRequest(method, srv.URL, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", method, resp.StatusCode, want)
		}
	}
}
