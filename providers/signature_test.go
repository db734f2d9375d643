package providers

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

// TestVerifySignatureEveryAlgorithm signs with the standard library and
// checks verifySignature accepts exactly the right signature for each
// allowed algorithm, and nothing re-encoded or of the wrong shape.
func TestVerifySignatureEveryAlgorithm(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecKeys := map[string]*ecdsa.PrivateKey{}
	for alg, c := range map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()} {
		if ecKeys[alg], err = ecdsa.GenerateKey(c, rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	const input = "eyJhbGciOiJ4In0.eyJzdWIiOiJhbGljZSJ9"
	hashOf := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}
	digest := func(h crypto.Hash) []byte { w := h.New(); w.Write([]byte(input)); return w.Sum(nil) }

	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			var pub crypto.PublicKey
			var sig, wrongShape []byte
			switch alg[:2] {
			case "RS":
				h := hashOf[alg[2:]]
				sig, _ = rsa.SignPKCS1v15(rand.Reader, rsaKey, h, digest(h))
				wrongShape, _ = rsa.SignPSS(rand.Reader, rsaKey, h, digest(h), nil) // PSS where PKCS#1 v1.5 is due
				pub = &rsaKey.PublicKey
			case "PS":
				h := hashOf[alg[2:]]
				sig, _ = rsa.SignPSS(rand.Reader, rsaKey, h, digest(h), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
				wrongShape, _ = rsa.SignPSS(rand.Reader, rsaKey, h, digest(h), &rsa.PSSOptions{SaltLength: 7}) // RFC 7518 §3.5 fixes the salt length
				pub = &rsaKey.PublicKey
			case "ES":
				k := ecKeys[alg]
				h := hashOf[alg[2:]]
				r, s, _ := ecdsa.Sign(rand.Reader, k, digest(h))
				size := (k.Curve.Params().BitSize + 7) / 8
				sig = make([]byte, 2*size)
				r.FillBytes(sig[:size])
				s.FillBytes(sig[size:])
				wrongShape, _ = ecdsa.SignASN1(rand.Reader, k, digest(h)) // DER, not R||S
				pub = &k.PublicKey
			case "Ed":
				sig = ed25519.Sign(edPriv, []byte(input))
				wrongShape = append(append([]byte(nil), sig...), 0)
				pub = edPub
			}
			if err := verifySignature(alg, pub, input, sig); err != nil {
				t.Fatalf("valid signature refused: %v", err)
			}
			if err := verifySignature(alg, pub, input+"x", sig); err == nil {
				t.Fatal("signature accepted over another input")
			}
			if err := verifySignature(alg, pub, input, wrongShape); err == nil {
				t.Fatal("signature of the wrong shape accepted")
			}
			flipped := append([]byte(nil), sig...)
			flipped[len(flipped)/2] ^= 1
			if err := verifySignature(alg, pub, input, flipped); err == nil {
				t.Fatal("tampered signature accepted")
			}
		})
	}
	if err := verifySignature("HS256", &rsaKey.PublicKey, input, []byte("x")); err == nil {
		t.Fatal("HS256 accepted")
	}
	if err := verifySignature("ES256", &rsaKey.PublicKey, input, make([]byte, 64)); err == nil {
		t.Fatal("an RSA key accepted for ES256")
	}
	if err := verifySignature("ES256", &ecKeys["ES256"].PublicKey, input, make([]byte, 64)); err == nil {
		t.Fatal("r = s = 0 accepted (psychic signature)")
	}
}
