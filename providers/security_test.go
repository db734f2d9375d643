package providers

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/internal/idptest"
)

// refused validates tok and checks it is refused as invalid with one of
// the reasons.
func refused(t *testing.T, j *JWT, tok string, reasons ...authz.Reason) {
	t.Helper()
	_, err := j.Validate(context.Background(), tok)
	if err == nil {
		t.Fatal("token accepted")
	}
	var re *authz.ReasonError
	if !errors.As(err, &re) {
		t.Fatalf("error %v has no reason", err)
	}
	for _, r := range reasons {
		if re.Reason == r {
			wantReason(t, err, authz.ErrInvalidToken, r)
			noTokenInError(t, err, tok)
			return
		}
	}
	t.Fatalf("reason %s (%v), want one of %v", re.Reason, err, reasons)
}

func header(kid string, alg string, extra map[string]any) map[string]any {
	h := map[string]any{"alg": alg, "typ": "at+jwt"}
	if kid != "" {
		h["kid"] = kid
	}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

func TestBadSignatureRejected(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	for _, tok := range []string{p.Mint(t, nil), p.MintES256(t, nil)} {
		i := strings.LastIndexByte(tok, '.') + 20
		c := byte('A')
		if tok[i] == 'A' {
			c = 'B'
		}
		refused(t, j, tok[:i]+string(c)+tok[i+1:], authz.ReasonTokenInvalid)
	}
	// Header and payload of one token with the signature of another (K1).
	a, b := p.Mint(t, map[string]any{"sub": "admin"}), p.Mint(t, nil)
	refused(t, j, a[:strings.LastIndexByte(a, '.')]+b[strings.LastIndexByte(b, '.'):], authz.ReasonTokenInvalid)
}

func TestAlgNoneRejected(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	body := claimsJSON(t, p, nil)
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		tok := p.MintRaw(t, header("k1", alg, nil), body, alg, nil)
		refused(t, j, tok, authz.ReasonTokenMalformed) // empty signature segment
		refused(t, j, tok+"c2ln", authz.ReasonAlgorithmRejected)
	}
	for _, alg := range []any{"", nil, []string{"RS256"}, "RS256 ", "rs256"} {
		tok := p.MintRaw(t, map[string]any{"alg": alg, "kid": "k1"}, body, "RS256", p.RSAKey())
		refused(t, j, tok, authz.ReasonAlgorithmRejected)
	}
}

func TestHS256SignedWithPublicKeyRejected(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	der, err := x509.MarshalPKIXPublicKey(&p.RSAKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	for _, secret := range [][]byte{pemKey, pemKey[:len(pemKey)-1], der} {
		for _, alg := range []string{"HS256", "HS384", "HS512"} {
			refused(t, j, p.MintRaw(t, header("k1", alg, nil), claimsJSON(t, p, nil), alg, secret), authz.ReasonAlgorithmRejected)
		}
	}
}

func TestUnknownKidRejected(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	kx, _ := rsa.GenerateKey(rand.Reader, 2048)
	refused(t, j, p.MintWithKey(t, "k-unknown", kx, nil), authz.ReasonKeyUnknown)
	// Signed by an attacker key under a known kid.
	refused(t, j, p.MintWithKey(t, "k1", kx, nil), authz.ReasonTokenInvalid)
	// Without kid while the set has two keys.
	refused(t, j, p.MintRaw(t, header("", "RS256", nil), claimsJSON(t, p, nil), "RS256", p.RSAKey()), authz.ReasonKeyUnknown)
	// Injection-shaped kids are only map keys.
	for _, kid := range []string{"../../../../dev/null", "|sleep 10", "x' UNION SELECT '1';--", "a\r\nb", strings.Repeat("k", 4000)} {
		refused(t, j, p.MintRaw(t, header(kid, "RS256", nil), claimsJSON(t, p, nil), "RS256", kx), authz.ReasonKeyUnknown)
	}
	for _, kid := range []any{2, map[string]any{"a": 1}, ""} {
		refused(t, j, p.MintRaw(t, map[string]any{"alg": "RS256", "kid": kid}, claimsJSON(t, p, nil), "RS256", p.RSAKey()), authz.ReasonTokenMalformed)
	}
}

func TestSymmetricKeyInJWKSRejected(t *testing.T) {
	p := idptest.New(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	p.PublishExtra(map[string]any{"kty": "oct", "kid": "k9", "alg": "HS256", "k": base64.RawURLEncoding.EncodeToString(secret)})
	// Unsuitable keys are dropped too (C4).
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	strong, _ := rsa.GenerateKey(rand.Reader, 2048)
	p.PublishExtra(rsaJWK("k-weak", &weak.PublicKey, nil))
	p.PublishExtra(rsaJWK("k-enc", &strong.PublicKey, map[string]any{"use": "enc"}))
	p.PublishExtra(rsaJWK("k-ops", &strong.PublicKey, map[string]any{"key_ops": []string{"encrypt"}}))
	j, _ := newProvider(t, p, nil)
	if n := j.KeyCount(); n != 2 {
		t.Fatalf("usable keys %d, want 2 (k1, k2)", n)
	}
	refused(t, j, p.MintRaw(t, header("k9", "HS256", nil), claimsJSON(t, p, nil), "HS256", secret), authz.ReasonAlgorithmRejected)
	// Even with the algorithm check out of the way, k9 is not in the set.
	if got := j.candidates(j.current(j.now()), "HS256", "k9"); len(got) != 0 {
		t.Fatal("oct key usable")
	}
	refused(t, j, p.MintWithKey(t, "k-weak", weak, nil), authz.ReasonKeyUnknown)
	refused(t, j, p.MintWithKey(t, "k-enc", strong, nil), authz.ReasonKeyUnknown)
	refused(t, j, p.MintWithKey(t, "k-ops", strong, nil), authz.ReasonKeyUnknown)
}

func rsaJWK(kid string, pub *rsa.PublicKey, extra map[string]any) map[string]any {
	m := map[string]any{
		"kty": "RSA", "kid": kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": "AQAB",
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// canary is a server that must never be contacted.
func canary(t *testing.T, serve http.Handler) (string, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if serve != nil {
			serve.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &hits
}

func TestJKUNeverFetched(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	kx, _ := rsa.GenerateKey(rand.Reader, 2048)
	evilJWKS := map[string]any{"keys": []any{rsaJWK("kx", &kx.PublicKey, nil)}}
	url, hits := canary(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _ = json.NewEncoder(w).Encode(evilJWKS) }))
	body := claimsJSON(t, p, nil)
	for _, param := range []string{"jku", "x5u"} {
		refused(t, j, p.MintRaw(t, header("kx", "RS256", map[string]any{param: url + "/jwks"}), body, "RS256", kx), authz.ReasonKeyUnknown)
	}
	refused(t, j, p.MintRaw(t, header("k1", "RS256", map[string]any{"jwk": rsaJWK("k1", &kx.PublicKey, nil)}), body, "RS256", kx), authz.ReasonTokenInvalid)
	refused(t, j, p.MintRaw(t, header("kx", "RS256", map[string]any{"jwk": rsaJWK("kx", &kx.PublicKey, nil)}), body, "RS256", kx), authz.ReasonKeyUnknown)
	// A token validly signed by k1 that carries jku is accepted; jku ignored.
	mustValidate(t, j, p.MintRaw(t, header("k1", "RS256", map[string]any{"jku": url + "/jwks"}), body, "RS256", p.RSAKey()))
	if n := hits.Load(); n != 0 {
		t.Fatalf("canary got %d hits", n)
	}
}

func TestUnknownCritRejected(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	body := claimsJSON(t, p, nil)
	for _, extra := range []map[string]any{
		{"crit": []string{"x-unknown"}, "x-unknown": 1},
		{"crit": []string{}},
		{"crit": []string{"exp"}},
		{"crit": "b64"},
		{"b64": false, "crit": []string{"b64"}},
		{"b64": true},
		{"cty": "JWT"},
		{"zip": "DEF"},
		{"enc": "A256GCM"},
	} {
		refused(t, j, p.MintRaw(t, header("k1", "RS256", extra), body, "RS256", p.RSAKey()), authz.ReasonTokenInvalid)
	}
}

func TestReencodedSignatureRejected(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	tok := mintWithPlusSlash(t, p)
	mustValidate(t, j, tok)
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{
		"std base64 padded": base64.StdEncoding.EncodeToString(sig),
		"url base64 padded": base64.URLEncoding.EncodeToString(sig),
		"std base64 raw":    base64.RawStdEncoding.EncodeToString(sig),
		"bad character":     "*" + tok[i+2:],
		"space":             " " + tok[i+2:],
	} {
		t.Run(name, func(t *testing.T) {
			refused(t, j, tok[:i+1]+s, authz.ReasonTokenMalformed)
		})
	}
	// Non-canonical trailing bits: a different string for the same bytes.
	last := tok[len(tok)-1]
	alt := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", last) ^ 1
	mut := tok[:len(tok)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[alt])
	if _, err := j.Validate(context.Background(), mut); err == nil {
		t.Fatal("signature with non-canonical trailing bits accepted")
	}
}

// mintWithPlusSlash mints until the signature's std-base64 form differs
// from its url form (contains + or /), so re-encoding changes the string.
func mintWithPlusSlash(t *testing.T, p *idptest.IdP) string {
	for i := 0; ; i++ {
		tok := p.Mint(t, map[string]any{"jti": fmt.Sprint(i)})
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.ContainsAny(sig, "-_") {
			return tok
		}
	}
}

func TestJWSJSONSerialisationNotAccepted(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	tok := p.Mint(t, nil)
	parts := strings.Split(tok, ".")
	js := fmt.Sprintf(`{"payload":%q,"signatures":[{"protected":%q,"signature":%q}]}`, parts[1], parts[0], parts[2])
	_, err := j.Validate(context.Background(), js)
	wantReason(t, err, authz.ErrNotResponsible, authz.ReasonTokenMalformed)
	_, err = j.Validate(context.Background(), base64.RawURLEncoding.EncodeToString([]byte(js)))
	wantReason(t, err, authz.ErrNotResponsible, authz.ReasonTokenMalformed)
}

func TestDuplicateClaimRejected(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	exp := p.Defaults()["exp"]
	base := fmt.Sprintf(`"iss":%q,"aud":"restguard","exp":%d`, p.Issuer, exp)
	for _, payload := range []string{
		`{` + base + `,"sub":"admin","preferred_username":"x","sub":"bob"}`,
		`{` + base + `,"preferred_username":"admin","preferred_username":"bob"}`,
		`{` + base + `,"sub":"a","groups":["jira-api-users"],"groups":["nobody"]}`,
		`{"iss":"https://evil",` + base + `,"sub":"a"}`,
		`{` + base + `,"sub":"a","exp":1}`,
		`{` + base + `,"sub":"a","realm_access":{"roles":["x"],"roles":["y"]}}`,
	} {
		refused(t, j, p.MintRaw(t, header("k1", "RS256", nil), []byte(payload), "RS256", p.RSAKey()), authz.ReasonTokenMalformed)
	}
	// Duplicate header members.
	h := []byte(`{"alg":"none","kid":"k1","alg":"RS256"}`)
	refused(t, j, idptest.SignRaw(t, h, claimsJSON(t, p, nil), "RS256", p.RSAKey()), authz.ReasonTokenMalformed)
}

func TestPayloadOdditiesRejected(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	good := string(claimsJSON(t, p, nil))
	for name, payload := range map[string]string{
		"array":         `[]`,
		"string":        `"x"`,
		"null":          `null`,
		"trailing":      good + `}x`,
		"bom":           "\ufeff" + good,
		"deep nesting":  good[:len(good)-1] + `,"x":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`,
		"invalid utf-8": good[:len(good)-1] + `,"x":"` + "\xff" + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			tok := idptest.SignRaw(t, []byte(`{"alg":"RS256","kid":"k1"}`), []byte(payload), "RS256", p.RSAKey())
			if len(tok) > authz.MaxTokenBytes {
				t.Fatalf("test token too long: %d", len(tok))
			}
			refused(t, j, tok, authz.ReasonTokenMalformed)
		})
	}
}

func TestPsychicSignatureRejected(t *testing.T) {
	p := idptest.New(t)
	j, _ := newProvider(t, p, nil)
	tok := p.MintES256(t, nil)
	i := strings.LastIndexByte(tok, '.')
	zero := base64.RawURLEncoding.EncodeToString(make([]byte, 64))
	refused(t, j, tok[:i+1]+zero, authz.ReasonTokenInvalid)
	short := base64.RawURLEncoding.EncodeToString(make([]byte, 63))
	refused(t, j, tok[:i+1]+short, authz.ReasonTokenInvalid)
	// ES256 token signed with a P-384 key under k2.
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	refused(t, j, p.MintRaw(t, header("k2", "ES256", nil), claimsJSON(t, p, nil), "ES384", k384), authz.ReasonTokenInvalid)
}
