package providers

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultCacheSize is the size of a provider's cache when none is
// configured: verified JWTs, remote answers, product-native tokens,
// directory users.
const DefaultCacheSize = 10000

// ttlLRU is the one bounded cache of this package: a least-recently-used
// map (golang-lru) whose values say when they stop being served. An entry
// is never renewed by a hit, and one found past its time is removed. It is
// safe for concurrent use. A nil *ttlLRU is a disabled cache: it holds
// nothing and every lookup misses.
type ttlLRU[K comparable, V expiring] struct {
	lru *lru.Cache[K, V]
}

// expiring is a cached value that knows when it stops being served. The
// time is the value's own (no wrapper per entry: a verified-token cache
// holds 100 000 of them).
type expiring interface {
	expires() time.Time
}

// newTTLLRU returns a cache of size entries, or nil (disabled) when size
// is not positive. onEvict, when set, is called for each entry that leaves
// the cache other than by being replaced: evicted for room, expired, or
// removed.
func newTTLLRU[K comparable, V expiring](size int, onEvict func(K, V)) *ttlLRU[K, V] {
	if size <= 0 {
		return nil
	}
	c, err := lru.NewWithEvict[K, V](size, onEvict)
	if err != nil { // only for size <= 0, excluded above
		return nil
	}
	return &ttlLRU[K, V]{lru: c}
}

// get returns the value under k if its time has not come at now.
func (c *ttlLRU[K, V]) get(k K, now time.Time) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	v, ok := c.lru.Get(k)
	if !ok {
		return zero, false
	}
	if !now.Before(v.expires()) {
		c.lru.Remove(k)
		return zero, false
	}
	return v, true
}

// add stores v under k, replacing any entry.
func (c *ttlLRU[K, V]) add(k K, v V) {
	if c == nil {
		return
	}
	c.lru.Add(k, v)
}

// remove drops the entry under k, if any.
func (c *ttlLRU[K, V]) remove(k K) {
	if c == nil {
		return
	}
	c.lru.Remove(k)
}

// len is the number of entries, expired ones not yet found included.
func (c *ttlLRU[K, V]) len() int {
	if c == nil {
		return 0
	}
	return c.lru.Len()
}

// removeIf drops every entry for which drop is true and returns how many.
// It walks the whole cache (an operator's revocation, not a request).
func (c *ttlLRU[K, V]) removeIf(drop func(K, V) bool) int {
	if c == nil {
		return 0
	}
	n := 0
	for _, k := range c.lru.Keys() {
		if v, ok := c.lru.Peek(k); ok && drop(k, v) {
			if c.lru.Remove(k) {
				n++
			}
		}
	}
	return n
}
