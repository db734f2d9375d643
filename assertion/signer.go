package assertion

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Signer mints assertions with one private key: ES256 for an ECDSA P-256
// key, EdDSA for an Ed25519 key. The protected header is encoded once, at
// construction. A Signer is safe for concurrent use.
type Signer struct {
	alg    string
	kid    string
	prefix string // base64url(header) + "."
	ec     *ecdsa.PrivateKey
	ed     ed25519.PrivateKey
	pub    crypto.PublicKey
}

// NewSigner returns a Signer for an *ecdsa.PrivateKey on P-256 or an
// ed25519.PrivateKey.
func NewSigner(key crypto.Signer) (*Signer, error) {
	s := &Signer{}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k == nil || k.Curve != elliptic.P256() {
			return nil, errors.New("assertion: ECDSA signing key is not on P-256")
		}
		s.alg, s.ec, s.pub = AlgES256, k, &k.PublicKey
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, errors.New("assertion: invalid Ed25519 signing key")
		}
		s.alg, s.ed, s.pub = AlgEdDSA, k, k.Public()
	default:
		return nil, fmt.Errorf("assertion: unsupported signing key type %T (want ECDSA P-256 or Ed25519)", key)
	}
	pk, err := newPublicKey(s.pub)
	if err != nil {
		return nil, fmt.Errorf("assertion: signing key: %w", err)
	}
	s.kid = pk.kid
	header := `{"alg":"` + s.alg + `","kid":"` + s.kid + `","typ":"` + Type + `"}`
	s.prefix = b64.EncodeToString([]byte(header)) + "."
	return s, nil
}

// LoadSigner reads a PEM private key file (see ParsePrivateKeyPEM) and
// returns its Signer.
func LoadSigner(path string) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("assertion: signing key: %w", err)
	}
	key, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, err
	}
	return NewSigner(key)
}

// ParsePrivateKeyPEM parses exactly one private key from PEM: PKCS#8
// "PRIVATE KEY" (ECDSA P-256 or Ed25519) or SEC1 "EC PRIVATE KEY"
// (P-256). "EC PARAMETERS" blocks, which `openssl ecparam -genkey` writes
// before the key, are skipped. Encrypted keys, other key types or curves,
// and files with more than one key are errors. Errors never include key
// bytes.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	var key crypto.Signer
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "EC PARAMETERS" {
			continue
		}
		if key != nil {
			return nil, errors.New("assertion: signing key: more than one PEM block")
		}
		if _, encrypted := block.Headers["Proc-Type"]; encrypted {
			return nil, errors.New("assertion: signing key: encrypted PEM is not supported")
		}
		switch block.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, errors.New("assertion: signing key: invalid PKCS#8 private key")
			}
			switch k := k.(type) {
			case *ecdsa.PrivateKey:
				key = k
			case ed25519.PrivateKey:
				key = k
			default:
				return nil, fmt.Errorf("assertion: signing key: unsupported PKCS#8 key type %T", k)
			}
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, errors.New("assertion: signing key: invalid SEC1 EC private key")
			}
			key = k
		default:
			return nil, fmt.Errorf("assertion: signing key: unsupported PEM block %q", block.Type)
		}
	}
	if key == nil {
		return nil, errors.New("assertion: signing key: no PEM private key found")
	}
	if k, ok := key.(*ecdsa.PrivateKey); ok && k.Curve != elliptic.P256() {
		return nil, errors.New("assertion: signing key: ECDSA key is not on P-256")
	}
	return key, nil
}

// Algorithm returns "ES256" or "EdDSA".
func (s *Signer) Algorithm() string { return s.alg }

// KeyID returns the kid: the RFC 7638 thumbprint of the public key.
func (s *Signer) KeyID() string { return s.kid }

// Public returns the public key, for a KeySet.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

var (
	errNoIssuer      = errors.New("assertion: sign: empty iss")
	errNoAudience    = errors.New("assertion: sign: empty aud")
	errNoSubject     = errors.New("assertion: sign: empty sub")
	errLifetime      = errors.New("assertion: sign: exp - iat must be between 1 and 60 seconds")
	errTimes         = errors.New("assertion: sign: iat or exp out of range")
	errNoBinding     = errors.New("assertion: sign: htm is not an HTTP token, or rth is empty")
	errBadJTI        = errors.New("assertion: sign: jti is not 16 bytes of canonical base64url")
	errInvalidString = errors.New("assertion: sign: a claim is not valid UTF-8")
)

// Sign returns the compact JWS of c. When c.ID is empty it gets a fresh
// jti (16 random bytes). Sign refuses claims every verifier would refuse:
// an empty iss, aud or sub, a lifetime outside 1..60 s, a method that is
// not an HTTP token, an empty target, a malformed jti, invalid UTF-8.
func (s *Signer) Sign(c Claims) (string, error) {
	switch {
	case c.Issuer == "":
		return "", errNoIssuer
	case c.Audience == "":
		return "", errNoAudience
	case c.Subject == "":
		return "", errNoSubject
	case c.IssuedAt < 0 || c.Expiry > maxSafeInteger:
		return "", errTimes
	case c.Expiry <= c.IssuedAt || c.Expiry-c.IssuedAt > int64(MaxLifetime/time.Second):
		return "", errLifetime
	case !isToken(c.Method) || c.Target == "":
		return "", errNoBinding
	}
	var jti [22]byte // base64url of 16 bytes
	if c.ID == "" {
		newID(&jti)
	} else if raw, ok := decodeSegment(c.ID); !ok || len(raw) != jtiBytes {
		return "", errBadJTI
	} else {
		copy(jti[:], c.ID)
	}

	// One buffer holds the payload JSON first, then the whole token:
	// prefix || base64url(payload) || "." || base64url(signature).
	var stack [1024]byte
	payload, ok := s.appendPayload(stack[:0], &c, jti[:])
	if !ok {
		return "", errInvalidString
	}
	sigLen := ed25519.SignatureSize // 64 for both algorithms
	tok := make([]byte, 0, len(s.prefix)+b64.EncodedLen(len(payload))+1+b64.EncodedLen(sigLen))
	tok = append(tok, s.prefix...)
	tok = b64.AppendEncode(tok, payload)
	signed := tok // header.payload, the JWS signing input

	var sig [64]byte
	if s.ec != nil {
		digest := sha256.Sum256(signed)
		der, err := ecdsa.SignASN1(rand.Reader, s.ec, digest[:])
		if err != nil {
			return "", fmt.Errorf("assertion: sign: %w", err)
		}
		if !derToRaw(der, sig[:]) {
			return "", errors.New("assertion: sign: unexpected ECDSA signature encoding")
		}
	} else {
		copy(sig[:], ed25519.Sign(s.ed, signed))
	}
	tok = append(tok, '.')
	tok = b64.AppendEncode(tok, sig[:])
	return string(tok), nil
}

// NewID returns a fresh jti: 16 random bytes, base64url. Sign draws one
// itself when Claims.ID is empty; a caller that wants to log the jti sets
// it from NewID first.
func NewID() string {
	var jti [22]byte
	newID(&jti)
	return string(jti[:])
}

func newID(jti *[22]byte) {
	var raw [jtiBytes]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails (Go 1.24+)
	b64.Encode(jti[:], raw[:])
}

// appendPayload writes the claims JSON; members in a fixed order, groups
// and email omitted when empty.
func (s *Signer) appendPayload(b []byte, c *Claims, jti []byte) ([]byte, bool) {
	ok := true
	str := func(name, v string) {
		b = append(b, name...)
		var good bool
		b, good = appendJSONString(b, v)
		ok = ok && good
	}
	str(`{"iss":`, c.Issuer)
	str(`,"aud":`, c.Audience)
	str(`,"sub":`, c.Subject)
	if c.Groups != nil {
		b = append(b, `,"groups":[`...)
		for i, g := range c.Groups {
			if i > 0 {
				b = append(b, ',')
			}
			var good bool
			b, good = appendJSONString(b, g)
			ok = ok && good
		}
		b = append(b, ']')
	}
	if c.Email != "" {
		str(`,"email":`, c.Email)
	}
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.IssuedAt, 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, c.Expiry, 10)
	b = append(b, `,"jti":"`...)
	b = append(b, jti...)
	b = append(b, '"')
	str(`,"htm":`, c.Method)
	str(`,"rth":`, c.Target)
	return append(b, '}'), ok
}

// derToRaw converts an ASN.1 DER ECDSA-Sig-Value (SEQUENCE of two
// INTEGERs) to the JWS form: r and s as 32-byte big-endian, concatenated
// (RFC 7518 §3.4).
func derToRaw(der []byte, out []byte) bool {
	if len(der) < 8 || der[0] != 0x30 || int(der[1]) != len(der)-2 {
		return false
	}
	rest := der[2:]
	for i := 0; i < 2; i++ {
		if len(rest) < 2 || rest[0] != 0x02 {
			return false
		}
		n := int(rest[1])
		if n == 0 || len(rest) < 2+n {
			return false
		}
		v := rest[2 : 2+n]
		for len(v) > 0 && v[0] == 0 {
			v = v[1:]
		}
		if len(v) > 32 {
			return false
		}
		dst := out[i*32 : (i+1)*32]
		clear(dst)
		copy(dst[32-len(v):], v)
		rest = rest[2+n:]
	}
	return len(rest) == 0
}

// rawToDER converts a JWS ES256 signature (r || s, 32 bytes each) to ASN.1
// DER, the form crypto/ecdsa verifies. The Java verifier does the same
// conversion for SHA256withECDSA.
func rawToDER(sig []byte) []byte {
	integer := func(b []byte) []byte {
		for len(b) > 1 && b[0] == 0 {
			b = b[1:]
		}
		if b[0]&0x80 != 0 {
			return append([]byte{0x02, byte(len(b) + 1), 0}, b...)
		}
		return append([]byte{0x02, byte(len(b))}, b...)
	}
	r, s := integer(sig[:32]), integer(sig[32:])
	der := make([]byte, 0, 2+len(r)+len(s))
	der = append(der, 0x30, byte(len(r)+len(s)))
	return append(append(der, r...), s...)
}

// LoadPublicKey reads the public key to publish from a PEM file: a
// "PUBLIC KEY" (PKIX: ECDSA P-256 or Ed25519), or a private key (see
// ParsePrivateKeyPEM), whose public half is taken. It is how the next key
// of a rotation is published before restguard signs with it.
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("assertion: public key: %w", err)
	}
	if block, _ := pem.Decode(data); block != nil && block.Type == "PUBLIC KEY" {
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, errors.New("assertion: public key: invalid PKIX public key")
		}
		if _, err := NewKeySet(k); err != nil {
			return nil, err
		}
		return k, nil
	}
	key, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, err
	}
	return key.Public(), nil
}
