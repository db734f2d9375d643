package idptest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestServesDiscoveryAndJWKS(t *testing.T) {
	p := New(t)
	if p.URL != p.Issuer || !strings.HasPrefix(p.URL, "http://127.0.0.1:") {
		t.Fatalf("url %q issuer %q", p.URL, p.Issuer)
	}
	_, doc := getJSON(t, p.DiscoveryURL())
	if doc["issuer"] != p.Issuer || doc["jwks_uri"] != p.JWKSURL() {
		t.Fatalf("discovery %v", doc)
	}
	resp, err := http.Get(p.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	set, err := jwk.ParseReader(resp.Body)
	if err != nil || set.Len() != 2 {
		t.Fatalf("jwks: %v, %d keys", err, set.Len())
	}
	if p.JWKSHits() != 1 || p.DiscoveryHits() != 1 {
		t.Fatalf("hits %d %d", p.JWKSHits(), p.DiscoveryHits())
	}
	// Tokens verify with the published keys.
	for kid, tok := range map[string]string{"k1": p.Mint(t, nil), "k2": p.MintES256(t, nil)} {
		key, ok := set.LookupKeyID(kid)
		if !ok {
			t.Fatalf("no %s", kid)
		}
		if _, err := jws.Verify([]byte(tok), jws.WithKey(key.Algorithm(), key)); err != nil {
			t.Fatalf("%s token does not verify: %v", kid, err)
		}
	}
}

func TestMintDefaultsAndOverrides(t *testing.T) {
	p := New(t)
	tok := p.Mint(t, map[string]any{"sub": nil, "groups": []string{"g"}, "aud": "x"})
	parts := strings.Split(tok, ".")
	var h, c map[string]any
	for i, dst := range []*map[string]any{&h, &c} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
	if h["alg"] != "RS256" || h["kid"] != "k1" || h["typ"] != "at+jwt" {
		t.Fatalf("header %v", h)
	}
	if _, ok := c["sub"]; ok || c["aud"] != "x" || c["iss"] != p.Issuer || c["preferred_username"] != "alice" || c["exp"] == nil {
		t.Fatalf("claims %v", c)
	}
}

func TestRotationAndFaults(t *testing.T) {
	p := New(t)
	k3 := p.AddKey(t, "k3")
	p.RemoveKey("k1")
	p.PublishExtra(map[string]any{"kty": "oct", "kid": "k9", "k": "AAAA"})
	keys := p.JWKS()["keys"].([]any)
	if len(keys) != 3 {
		t.Fatalf("%d keys", len(keys))
	}
	tok := p.MintWithKey(t, "k3", k3, nil)
	if _, err := jws.Verify([]byte(tok), jws.WithKey(jwa.RS256, &k3.PublicKey)); err != nil {
		t.Fatal(err)
	}
	p.SetJWKSFault(func(w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	if code, _ := getJSON(t, p.JWKSURL()); code != http.StatusInternalServerError {
		t.Fatalf("fault not applied: %d", code)
	}
	p.SetJWKSFault(nil)
	if code, _ := getJSON(t, p.JWKSURL()); code != http.StatusOK {
		t.Fatalf("fault not cleared: %d", code)
	}
}

func TestMintRawAlgorithms(t *testing.T) {
	p := New(t)
	for _, alg := range []string{"RS256", "RS512", "PS256"} {
		tok := p.MintRaw(t, map[string]any{"alg": alg}, []byte(`{}`), alg, p.RSAKey())
		if _, err := jws.Verify([]byte(tok), jws.WithKey(jwa.SignatureAlgorithm(alg), &p.RSAKey().PublicKey)); err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
	}
	tok := p.MintRaw(t, map[string]any{"alg": "HS256"}, []byte(`{}`), "HS256", []byte("secret"))
	if _, err := jws.Verify([]byte(tok), jws.WithKey(jwa.HS256, []byte("secret"))); err != nil {
		t.Fatal(err)
	}
	if tok := p.MintRaw(t, map[string]any{"alg": "none"}, []byte(`{}`), "none", nil); !strings.HasSuffix(tok, ".") {
		t.Fatalf("none token %q has a signature", tok)
	}
}
