package providers

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/restguard/restguard/authz"
)

// apiKeyHashPrefix marks the stored form of an API key.
const apiKeyHashPrefix = "sha256:"

// HashAPIKey returns the stored form of an API key: "sha256:" and the hex
// SHA-256 of the key. restguard never stores or configures a key itself.
// API keys must be random and long (at least 128 bits, e.g. 32 random
// bytes, base64url): then a fast hash is enough, because guessing a
// preimage is as hard as guessing the key.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return apiKeyHashPrefix + hex.EncodeToString(sum[:])
}

// ParseAPIKeyHash reads a stored key hash: "sha256:<64 hex>" or the bare
// 64 hex digits.
func ParseAPIKeyHash(s string) ([32]byte, error) {
	var h [32]byte
	raw := strings.TrimPrefix(s, apiKeyHashPrefix)
	b, err := hex.DecodeString(raw)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("api key hash %q is not %s followed by 64 hex digits", truncate(s), apiKeyHashPrefix)
	}
	copy(h[:], b)
	return h, nil
}

// APIKey is one configured key.
type APIKey struct {
	Name     string    // identifies the key in logs (Identity.Subject)
	Hash     string    // the stored form, see HashAPIKey
	Username string    // required
	Groups   []string  // optional
	Expires  time.Time // zero: never
}

// APIKeysConfig configures an API-key provider.
type APIKeysConfig struct {
	Name  string // provider name; required
	Keys  []APIKey
	Shape TokenShape // e.g. a key prefix, so that only such tokens are looked up
	Now   func() time.Time
}

// APIKeys validates static API keys presented as bearer tokens. Keys are
// looked up by their SHA-256, so the presented key is never compared byte
// by byte with a stored secret; the final comparison of the digests is
// constant-time. It implements authz.Validator and is safe for concurrent
// use (it is immutable).
type APIKeys struct {
	cfg    APIKeysConfig
	byHash map[[32]byte]*apiKeyEntry
}

type apiKeyEntry struct {
	hash [32]byte
	id   authz.Identity
}

// NewAPIKeys checks cfg and returns the provider.
func NewAPIKeys(cfg APIKeysConfig) (*APIKeys, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("api keys: "+format, args...)) }
	if cfg.Name == "" {
		bad("name is required")
	}
	if len(cfg.Keys) == 0 {
		bad("at least one key is required")
	}
	if err := cfg.Shape.Check(); err != nil {
		errs = append(errs, err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &APIKeys{cfg: cfg, byHash: map[[32]byte]*apiKeyEntry{}}
	names := map[string]bool{}
	for i, k := range cfg.Keys {
		h, err := ParseAPIKeyHash(k.Hash)
		if err != nil {
			bad("keys[%d]: %v", i, err)
			continue
		}
		switch {
		case k.Name == "":
			bad("keys[%d]: name is required", i)
		case names[k.Name]:
			bad("keys[%d]: duplicate key name %q", i, k.Name)
		}
		names[k.Name] = true
		if k.Username == "" {
			bad("keys[%d]: username is required", i)
		}
		if _, dup := p.byHash[h]; dup {
			bad("keys[%d]: the same key hash is configured twice", i)
		}
		p.byHash[h] = &apiKeyEntry{hash: h, id: authz.Identity{
			Username: k.Username, Subject: k.Name, Provider: cfg.Name, Groups: append([]string(nil), k.Groups...),
			Expiry: k.Expires, Via: "api_key",
		}}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// Validate looks the presented key up by its hash. An unknown key is not
// this provider's (the next provider of the rule may take it); an expired
// one is refused.
func (p *APIKeys) Validate(_ context.Context, token string) (*authz.Identity, error) {
	if err := p.cfg.Shape.admit(token); err != nil {
		return nil, err
	}
	h := sha256.Sum256([]byte(token))
	e, ok := p.byHash[h]
	if !ok || subtle.ConstantTimeCompare(e.hash[:], h[:]) != 1 {
		return nil, authz.NotResponsible(authz.ReasonTokenInvalid, errors.New("api keys: unknown key"))
	}
	if !e.id.Expiry.IsZero() && !p.cfg.Now().Before(e.id.Expiry) {
		return nil, authz.InvalidToken(authz.ReasonTokenExpired, fmt.Errorf("api keys: key %q expired", e.id.Subject))
	}
	id := e.id
	id.Groups = append([]string(nil), e.id.Groups...)
	return &id, nil
}

// Describe is a one-line summary for `restguard validate`.
func (p *APIKeys) Describe() string {
	return fmt.Sprintf("api keys: %d key(s), sha-256; tokens: %s", len(p.byHash), p.cfg.Shape)
}
