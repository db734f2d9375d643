package sharedcache

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"time"
)

// The stored value (version 1):
//
//	0x01 | nonce (12) | AES-256-GCM( expiry (8, unix ms, big-endian) | value ) | tag (16)
//
// with associated data sealLabel | 0x00 | cache key. The AES key is
//
//	HKDF-SHA256(secret = token,
//	            salt   = HMAC-SHA256(fleet secret, saltLabel | cache key),
//	            info   = valueLabel)
//
// so reading a value needs the token (which Redis never sees) and the fleet
// secret (which Redis never sees either). The token alone is not enough on
// purpose: with a key derived from the token only, anyone who holds a valid
// token of their own and can write to Redis could seal a made-up result
// (any username, any groups) under their token's cache key and be let in
// as someone else; the fleet secret in the salt closes that. The cache key
// in the salt and in the associated data binds a value to its key (no
// swapping values between keys), and the expiry inside the sealed part
// bounds a replayed old value to its original lifetime, whatever TTL the
// Redis key is given.
const (
	sealVersion = 1
	sealLabel   = "restguard/sharedcache/v1/value"
	saltLabel   = "restguard/sharedcache/v1/salt"
	nonceSize   = 12
	tagSize     = 16
	sealed0     = 1 + nonceSize + 8 + tagSize // overhead of an empty value
)

var errUnsealed = errors.New("value does not open with this token")

// aead returns the value cipher for one token and cache key. It generates
// a random nonce per Seal (cipher.NewGCMWithRandomNonce): each key seals
// few values (one per Set of that token), far below the 2^32 random-nonce
// limit.
func (c *Cache) aead(key [32]byte, token string) (cipher.AEAD, error) {
	m := hmac.New(sha256.New, c.s.secret)
	m.Write([]byte(saltLabel))
	m.Write(key[:])
	salt := m.Sum(nil)
	k, err := hkdf.Key(sha256.New, []byte(token), salt, sealLabel, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

func associated(key [32]byte) []byte {
	ad := make([]byte, 0, len(sealLabel)+1+len(key))
	ad = append(ad, sealLabel...)
	ad = append(ad, 0)
	return append(ad, key[:]...)
}

// seal encrypts value for key and token, valid until expiry.
func (c *Cache) seal(key [32]byte, token string, value []byte, expiry time.Time) ([]byte, error) {
	a, err := c.aead(key, token)
	if err != nil {
		return nil, err
	}
	plain := make([]byte, 8, 8+len(value))
	binary.BigEndian.PutUint64(plain, uint64(expiry.UnixMilli()))
	plain = append(plain, value...)
	out := make([]byte, 1, sealed0+len(value))
	out[0] = sealVersion
	return a.Seal(out, nil, plain, associated(key)), nil
}

// open decrypts and authenticates a stored value and checks its embedded
// expiry against now. Any failure is errUnsealed: a wrong token, a wrong
// fleet secret, a value moved from another key, tampering or a replayed
// expired value all look the same to the caller (a miss).
func (c *Cache) open(key [32]byte, token string, blob []byte, now time.Time) ([]byte, error) {
	if len(blob) < sealed0 || blob[0] != sealVersion {
		return nil, errUnsealed
	}
	a, err := c.aead(key, token)
	if err != nil {
		return nil, err
	}
	plain, err := a.Open(nil, nil, blob[1:], associated(key))
	if err != nil || len(plain) < 8 {
		return nil, errUnsealed
	}
	expiry := time.UnixMilli(int64(binary.BigEndian.Uint64(plain[:8])))
	if !now.Before(expiry) {
		return nil, errUnsealed
	}
	return plain[8:], nil
}
