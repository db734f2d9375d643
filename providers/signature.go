package providers

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"unsafe"

	// Register the hash functions the algorithms use.
	_ "crypto/sha512"
)

// verifySignature checks a JWS signature (RFC 7518 §3) with the standard
// library, over the signing input the token already carries, with the
// signature bytes already decoded by splitCompact. The key has passed
// fits(alg, pub) and alg is on the provider's allowlist: the algorithm is
// the one we chose, never one a JWK or the token picks. Doing it here
// rather than through jws.Verify avoids re-parsing the token on every cold
// check (docs/performance.md).
func verifySignature(alg string, pub crypto.PublicKey, signingInput string, sig []byte) error {
	var h crypto.Hash
	switch alg {
	case "RS256", "PS256", "ES256":
		h = crypto.SHA256
	case "RS384", "PS384", "ES384":
		h = crypto.SHA384
	case "RS512", "PS512", "ES512":
		h = crypto.SHA512
	case "EdDSA":
		k, ok := pub.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize || !ed25519.Verify(k, []byte(signingInput), sig) {
			return errors.New("eddsa signature does not verify")
		}
		return nil
	default:
		return fmt.Errorf("algorithm %q not supported", alg)
	}
	var digest []byte
	if h == crypto.SHA256 {
		// The common case, without a hash object or a copy of the input.
		sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(signingInput), len(signingInput)))
		digest = sum[:]
	} else {
		hw := h.New()
		hw.Write([]byte(signingInput))
		digest = hw.Sum(nil)
	}

	switch alg[:2] {
	case "RS":
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return errors.New("not an rsa key")
		}
		return rsa.VerifyPKCS1v15(k, h, digest, sig)
	case "PS":
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return errors.New("not an rsa key")
		}
		// RFC 7518 §3.5: the salt is as long as the hash output.
		return rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
	case "ES":
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return errors.New("not an ecdsa key")
		}
		// RFC 7518 §3.4: R and S as fixed-length big-endian integers,
		// concatenated; no DER, no other length (security catalogue C9).
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return fmt.Errorf("ecdsa signature is %d bytes, want %d", len(sig), 2*size)
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, digest, r, s) {
			return errors.New("ecdsa signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("algorithm %q not supported", alg)
}
