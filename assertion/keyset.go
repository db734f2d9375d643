package assertion

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
)

// maxKeySetBytes bounds a JWKS a verifier loads.
const maxKeySetBytes = 64 << 10

// KeySet is an immutable set of public keys, published as a JWKS
// (RFC 7517). Each key's kid is its RFC 7638 thumbprint, so a kid names
// exactly one key everywhere. Several keys are published at once so that a
// rotated-out key stays valid for the overlap. A KeySet is safe for
// concurrent use; build a new one to change it.
type KeySet struct {
	keys []publicKey // in the order given, duplicates removed
	json []byte      // the JWKS document, computed once
}

type publicKey struct {
	kid string
	alg string
	ec  *ecdsa.PublicKey
	ed  ed25519.PublicKey
}

// NewKeySet builds a key set from public keys: *ecdsa.PublicKey on P-256
// (published for ES256) or ed25519.PublicKey (EdDSA). Duplicates are kept
// once, in their first position.
func NewKeySet(keys ...crypto.PublicKey) (*KeySet, error) {
	ks := &KeySet{}
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		pk, err := newPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("assertion: key %d: %w", i, err)
		}
		if seen[pk.kid] {
			continue
		}
		seen[pk.kid] = true
		ks.keys = append(ks.keys, pk)
	}
	ks.json = ks.encode()
	return ks, nil
}

func newPublicKey(k crypto.PublicKey) (publicKey, error) {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if k == nil || k.Curve != elliptic.P256() {
			return publicKey{}, errors.New("ECDSA key is not on P-256")
		}
		if _, err := k.Bytes(); err != nil {
			return publicKey{}, errors.New("invalid ECDSA public key")
		}
		x, y := ecCoordinates(k)
		return publicKey{kid: thumbprintEC(x, y), alg: AlgES256, ec: k}, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return publicKey{}, errors.New("invalid Ed25519 public key")
		}
		return publicKey{kid: thumbprintOKP(k), alg: AlgEdDSA, ed: k}, nil
	default:
		return publicKey{}, fmt.Errorf("unsupported key type %T (want ECDSA P-256 or Ed25519)", k)
	}
}

// ecCoordinates returns the 32-byte X and Y of a P-256 public key.
func ecCoordinates(k *ecdsa.PublicKey) (x, y []byte) {
	b, _ := k.Bytes() // 0x04 || X || Y, checked by the caller
	return b[1:33], b[33:65]
}

// thumbprintEC is the RFC 7638 §3.2 thumbprint of an EC P-256 key: the
// required members crv, kty, x, y in lexicographic order, no whitespace.
func thumbprintEC(x, y []byte) string {
	doc := `{"crv":"P-256","kty":"EC","x":"` + b64.EncodeToString(x) + `","y":"` + b64.EncodeToString(y) + `"}`
	sum := sha256.Sum256([]byte(doc))
	return b64.EncodeToString(sum[:])
}

// thumbprintOKP is the RFC 7638 thumbprint of an OKP key (RFC 8037 §2:
// members crv, kty, x).
func thumbprintOKP(x []byte) string {
	doc := `{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(x) + `"}`
	sum := sha256.Sum256([]byte(doc))
	return b64.EncodeToString(sum[:])
}

func (ks *KeySet) encode() []byte {
	b := []byte(`{"keys":[`)
	for i, k := range ks.keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, k.jwk()...)
	}
	return append(b, "]}\n"...)
}

// jwk is the key's JWK with kid, alg and use. All values are base64url or
// fixed words, so no escaping is needed.
func (k publicKey) jwk() string {
	if k.ec != nil {
		x, y := ecCoordinates(k.ec)
		return `{"kty":"EC","crv":"P-256","x":"` + b64.EncodeToString(x) + `","y":"` + b64.EncodeToString(y) +
			`","kid":"` + k.kid + `","alg":"ES256","use":"sig"}`
	}
	return `{"kty":"OKP","crv":"Ed25519","x":"` + b64.EncodeToString(k.ed) + `","kid":"` + k.kid + `","alg":"EdDSA","use":"sig"}`
}

// KeyIDs returns the kids in the set, in order.
func (ks *KeySet) KeyIDs() []string {
	ids := make([]string, len(ks.keys))
	for i, k := range ks.keys {
		ids[i] = k.kid
	}
	return ids
}

// Lookup returns the public key with the given kid and the algorithm it is
// bound to.
func (ks *KeySet) Lookup(kid string) (key crypto.PublicKey, alg string, ok bool) {
	k, ok := ks.lookup(kid)
	if !ok {
		return nil, "", false
	}
	if k.ec != nil {
		return k.ec, k.alg, true
	}
	return k.ed, k.alg, true
}

func (ks *KeySet) lookup(kid string) (publicKey, bool) {
	if ks == nil {
		return publicKey{}, false
	}
	for _, k := range ks.keys { // a handful of keys: a scan beats a map
		if k.kid == kid {
			return k, true
		}
	}
	return publicKey{}, false
}

// JSON returns the JWKS document. The caller must not modify it.
func (ks *KeySet) JSON() []byte { return ks.json }

// ServeHTTP serves the JWKS document to GET and HEAD requests.
func (ks *KeySet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(ks.json)))
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(ks.json)
}

// WriteFile writes the JWKS to path atomically: to a temporary file in the
// same directory, synced, then renamed over path, so a reader (the
// product's verifier reloading on change) sees the old or the new
// document, never a partial one. The file is world-readable (0644): it
// holds public keys only.
func (ks *KeySet) WriteFile(path string) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("assertion: write key set: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(ks.json); err != nil {
		return fmt.Errorf("assertion: write key set: %w", err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("assertion: write key set: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("assertion: write key set: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("assertion: write key set: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("assertion: write key set: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil { // make the rename durable; best effort
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// LoadKeySet reads and parses a JWKS file (see ParseKeySet).
func LoadKeySet(path string) (*KeySet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("assertion: load key set: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeySetBytes+1))
	if err != nil {
		return nil, fmt.Errorf("assertion: load key set: %w", err)
	}
	return ParseKeySet(data)
}

// ParseKeySet parses a JWKS document strictly, as a verifier must: an
// object with a "keys" array of EC P-256 or OKP Ed25519 public keys. Each
// key must carry a kid equal to its RFC 7638 thumbprint; "alg" and "use",
// when present, must be the key type's ("ES256"/"EdDSA", "sig"). A key
// with private material ("d"), another key type or curve, a duplicate kid,
// or an invalid point fails the whole document: the set comes from
// restguard, so anything else is a broken or tampered file. Members other
// than those are ignored.
func ParseKeySet(data []byte) (*KeySet, error) {
	if len(data) > maxKeySetBytes {
		return nil, fmt.Errorf("assertion: key set larger than %d bytes", maxKeySetBytes)
	}
	doc, err := parseJSONObject(data)
	if err != nil {
		return nil, errors.New("assertion: key set is not a JSON object")
	}
	arr, ok := doc["keys"].([]any)
	if !ok {
		return nil, errors.New(`assertion: key set has no "keys" array`)
	}
	ks := &KeySet{}
	seen := make(map[string]bool, len(arr))
	for i, v := range arr {
		k, err := parseJWK(v)
		if err != nil {
			return nil, fmt.Errorf("assertion: key set: keys[%d]: %w", i, err)
		}
		if seen[k.kid] {
			return nil, fmt.Errorf("assertion: key set: keys[%d]: duplicate kid", i)
		}
		seen[k.kid] = true
		ks.keys = append(ks.keys, k)
	}
	ks.json = ks.encode()
	return ks, nil
}

func parseJWK(v any) (publicKey, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return publicKey{}, errors.New("not an object")
	}
	if _, ok := m["d"]; ok {
		return publicKey{}, errors.New("holds private key material")
	}
	str := func(name string) (string, bool) {
		s, ok := m[name].(string)
		return s, ok
	}
	kty, _ := str("kty")
	crv, _ := str("crv")
	kid, ok := str("kid")
	if !ok {
		return publicKey{}, errors.New("no kid")
	}
	var (
		pk  publicKey
		err error
	)
	switch {
	case kty == "EC" && crv == "P-256":
		pk, err = parseECJWK(m)
	case kty == "OKP" && crv == "Ed25519":
		x, ok := str("x")
		raw, dec := decodeSegment(x)
		if !ok || !dec || len(raw) != ed25519.PublicKeySize {
			return publicKey{}, errors.New("invalid Ed25519 x")
		}
		pk = publicKey{kid: thumbprintOKP(raw), alg: AlgEdDSA, ed: ed25519.PublicKey(raw)}
	default:
		return publicKey{}, errors.New("not an EC P-256 or OKP Ed25519 key")
	}
	if err != nil {
		return publicKey{}, err
	}
	if kid != pk.kid {
		return publicKey{}, errors.New("kid is not the key's RFC 7638 thumbprint")
	}
	if alg, ok := m["alg"]; ok && alg != pk.alg {
		return publicKey{}, errors.New("alg does not match the key type")
	}
	if use, ok := m["use"]; ok && use != "sig" {
		return publicKey{}, errors.New(`use is not "sig"`)
	}
	return pk, nil
}

func parseECJWK(m map[string]any) (publicKey, error) {
	xs, _ := m["x"].(string)
	ys, _ := m["y"].(string)
	x, okx := decodeSegment(xs)
	y, oky := decodeSegment(ys)
	if !okx || !oky || len(x) != 32 || len(y) != 32 {
		return publicKey{}, errors.New("invalid EC coordinates")
	}
	point := make([]byte, 0, 65)
	point = append(append(append(point, 4), x...), y...)
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return publicKey{}, errors.New("EC point is not on P-256")
	}
	return publicKey{kid: thumbprintEC(x, y), alg: AlgES256, ec: k}, nil
}
