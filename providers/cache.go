package providers

import (
	"crypto"
	"crypto/sha256"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/restguard/restguard/authz"
)

// tokenCache remembers tokens whose signature and claims were verified, so
// a repeated token skips the signature check. It stores only successes
// (security catalogue K5) and only the verification result, never policy
// outcomes (K3). Entries are keyed by the SHA-256 of the full token, never
// the raw token or a prefix (K1), and live until the token's exp plus the
// leeway. It is safe for concurrent use; a nil *tokenCache caches nothing.
type tokenCache struct {
	lru                     *ttlLRU[[32]byte, *cacheEntry]
	hits, misses, evictions atomic.Uint64
}

type cacheEntry struct {
	id    *authz.Identity
	until time.Time // the token's exp plus the leeway
	kid   string
	pub   crypto.PublicKey // the key that verified the token
	gen   uint64           // the key-set generation it was verified with
}

func (e *cacheEntry) expires() time.Time { return e.until }

// newTokenCache returns nil (no caching) when size is negative; 0 is
// DefaultCacheSize.
func newTokenCache(size int) *tokenCache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = DefaultCacheSize
	}
	tc := &tokenCache{}
	tc.lru = newTTLLRU(size, func([32]byte, *cacheEntry) { tc.evictions.Add(1) })
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
func (c *tokenCache) get(key [32]byte, ks *keySet, now time.Time) (*authz.Identity, bool) {
	if c == nil || ks == nil {
		return nil, false
	}
	e, ok := c.lru.get(key, now)
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	if e.gen != ks.gen && !ks.has(e.kid, e.pub) {
		c.lru.remove(key)
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
	c.lru.add(key, e)
}

func (c *tokenCache) len() int {
	if c == nil {
		return 0
	}
	return c.lru.len()
}

// stats fills the cache part of a provider's statistics.
func (c *tokenCache) stats(st *authz.ProviderStats) {
	if c == nil {
		return
	}
	st.CacheHits, st.CacheMisses, st.CacheEvictions = c.hits.Load(), c.misses.Load(), c.evictions.Load()
	st.CacheSize = c.lru.len()
}
