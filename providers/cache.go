package providers

import (
	"crypto"
	"crypto/sha256"
	"sync/atomic"
	"time"
	"unsafe"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/restguard/restguard/authz"
)

// DefaultCacheSize is the verified-token cache size when none is configured.
const DefaultCacheSize = 10000

// tokenCache remembers tokens whose signature and claims were verified, so
// a repeated token skips the signature check. It stores only successes
// (security catalogue K5) and only the verification result, never policy
// outcomes (K3). Entries are keyed by the SHA-256 of the full token, never
// the raw token or a prefix (K1). It is safe for concurrent use.
type tokenCache struct {
	lru                     *lru.Cache[[32]byte, *cacheEntry]
	hits, misses, evictions atomic.Uint64
}

type cacheEntry struct {
	id     *authz.Identity
	expiry time.Time // the token's exp
	kid    string
	pub    crypto.PublicKey // the key that verified the token
	gen    uint64           // the key-set generation it was verified with
}

// newTokenCache returns nil (no caching) when size is negative.
func newTokenCache(size int) *tokenCache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = DefaultCacheSize
	}
	tc := &tokenCache{}
	c, err := lru.NewWithEvict[[32]byte, *cacheEntry](size, func([32]byte, *cacheEntry) { tc.evictions.Add(1) })
	if err != nil { // only for size <= 0, excluded above
		return nil
	}
	tc.lru = c
	return tc
}

// cacheKey hashes the token's bytes where they are: Sum256 only reads
// them, and []byte(token) copied about 1 KiB per check.
func cacheKey(token string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// get returns a copy of the cached identity if the entry is still valid:
// not expired (with leeway) and its key still in the current set. A key
// removed or replaced by a successful refresh revokes the tokens it
// verified (security catalogue J3). An entry is never renewed by a hit.
func (c *tokenCache) get(key [32]byte, ks *keySet, now time.Time, leeway time.Duration) (*authz.Identity, bool) {
	if c == nil || ks == nil {
		return nil, false
	}
	e, ok := c.lru.Get(key)
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	if !now.Before(e.expiry.Add(leeway)) {
		c.lru.Remove(key)
		c.misses.Add(1)
		return nil, false
	}
	if e.gen != ks.gen && !ks.has(e.kid, e.pub) {
		c.lru.Remove(key)
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	id := *e.id
	id.CacheHit = true
	return &id, true
}

func (c *tokenCache) add(key [32]byte, e *cacheEntry) {
	if c == nil {
		return
	}
	c.lru.Add(key, e)
}

func (c *tokenCache) len() int {
	if c == nil {
		return 0
	}
	return c.lru.Len()
}

// stats fills the cache part of a provider's statistics.
func (c *tokenCache) stats(st *authz.ProviderStats) {
	if c == nil {
		return
	}
	st.CacheHits, st.CacheMisses, st.CacheEvictions = c.hits.Load(), c.misses.Load(), c.evictions.Load()
	st.CacheSize = c.lru.Len()
}
