package providers

import (
	"context"

	"crypto/sha256"
	"github.com/restguard/restguard/authz"
	"time"
)

// result is a remote provider's answer as it is cached: a value, or a
// definitive refusal. Outages are never results.
type result[V any] struct {
	val V
	// err is a definitive refusal (ErrInvalidToken, ErrForbidden); nil
	// for a value.
	err error
	// fresh: served without asking the provider until then.
	fresh time.Time
	// grace (values only, never before fresh): served while the provider
	// is unavailable until then.
	grace time.Time
	// fetched is when the provider was asked (before the call): an answer
	// fetched before a revocation is never stored after it (Revocations).
	fetched time.Time
	// fp and user name the entry for eviction (restguard revoke): the
	// token's fingerprint and the username of a value; set by the cache.
	fp, user string
}

// expires is when a cached result stops being of any use: a value when
// its grace ends, a refusal when it is no longer fresh.
func (r *result[V]) expires() time.Time {
	if r.err != nil {
		return r.fresh
	}
	return r.grace
}

// resultCache is the one place where the remote providers keep what the
// provider answered: introspection, userinfo and app binding
// (remoteCache), product-native tokens (AtlassianTokens) and directory
// users (Directory). key is resultKey over the provider name and the
// token (the directory: the username), never the token itself; token is
// passed along only so that a second-level cache can seal the value with
// it. Implementations are safe for concurrent use and fail closed: an
// error is a miss.
type resultCache[V any] interface {
	// Get returns the result under key if it is still of use at now: a
	// value until its grace ends, a refusal until it is no longer fresh.
	// Whether it is fresh is the caller's to check.
	// The result is shared: read it, never modify it.
	Get(ctx context.Context, key [32]byte, token string, now time.Time) (*result[V], bool)
	// Set stores r under key. A value drops a refusal stored under key,
	// and a refusal a value (the token was revoked).
	Set(ctx context.Context, key [32]byte, token string, r *result[V])
	// Local is Get on the in-process level only: the second look inside
	// a flight, right after Get missed.
	Local(key [32]byte, now time.Time) (*result[V], bool)
	// Len is the number of values held in this process (metrics).
	Len() int
}

// newResultCache returns a provider's result cache: values bounded to
// size entries, refusals to refusals entries (their own LRU, so that a
// flood of bad tokens cannot evict good answers); 0 disables either. With
// a shared cache (o.Shared), a local miss asks it, and every result stored
// is stored there too (sharedResults). codec turns values into bytes for
// it and names their user for eviction.
func newResultCache[V any](size, refusals int, scope string, codec valueCodec[V], o *RemoteOptions) resultCache[V] {
	local := &localResults[V]{
		values:   newTTLLRU[[32]byte, *result[V]](size, nil),
		refusals: newTTLLRU[[32]byte, *result[V]](refusals, nil),
		userOf:   codec.user,
		scope:    scope,
	}
	if o != nil {
		local.revs = o.Revocations
	}
	if o == nil || o.Shared == nil || size <= 0 {
		return local
	}
	return &sharedResults[V]{local: local, shared: o.Shared, scope: scope, codec: codec, now: o.Now, log: o.Logger,
		sets: make(chan struct{}, maxSharedSets)}
}

// resultKey is the cache key of a token (or a username) at one provider:
// SHA-256 over the provider name, a NUL and the token, so that providers
// never share entries (security catalogue K1, K4).
func resultKey(scope, token string) [32]byte {
	// One buffer on the stack for the usual sizes, and sha256.Sum256 rather
	// than a hash.Hash: a lookup allocates nothing for its key.
	var buf [512]byte
	return sha256.Sum256(append(append(append(buf[:0], scope...), 0), token...))
}

// refusalCacheSize is the size of a remote provider's refusal cache next
// to size values: a quarter as many, at least 1000.
func refusalCacheSize(size int) int { return max(size/4, 1000) }

// localResults is the in-process resultCache: two TTL-bounded LRUs.
type localResults[V any] struct {
	values   *ttlLRU[[32]byte, *result[V]] // until their grace ends
	refusals *ttlLRU[[32]byte, *result[V]] // until they are no longer fresh
	// userOf names a value's user (the token is the directory's username).
	userOf func(token string, v V) string
	scope  string       // the provider's name, for Revocations
	revs   *Revocations // nil: none
}

func (c *localResults[V]) Get(_ context.Context, key [32]byte, _ string, now time.Time) (*result[V], bool) {
	if r, ok := c.values.get(key, now); ok {
		return r, true
	}
	return c.refusals.get(key, now)
}

func (c *localResults[V]) Local(key [32]byte, now time.Time) (*result[V], bool) {
	return c.Get(context.Background(), key, "", now)
}

func (c *localResults[V]) Set(_ context.Context, key [32]byte, token string, r *result[V]) {
	c.name(token, r)
	if r.err != nil {
		c.values.remove(key)
		c.refusals.add(key, r)
		return
	}
	if c.revs.refuses(r.fp, c.scope, r.user, r.fetched) {
		// Fetched before a revocation that has happened since (a flight
		// that was under way): its callers get it, the cache does not.
		c.values.remove(key)
		return
	}
	c.refusals.remove(key)
	c.values.add(key, r)
}

// name sets the entry's fingerprint and user.
func (c *localResults[V]) name(token string, r *result[V]) {
	r.fp = authz.Fingerprint(token)
	if r.err == nil && c.userOf != nil {
		r.user = c.userOf(token, r.val)
	}
}

func (c *localResults[V]) Len() int { return c.values.len() }

// Evict drops the entries e names and returns how many.
func (c *localResults[V]) Evict(e Eviction) int {
	match := func(_ [32]byte, r *result[V]) bool {
		return e.All || e.Fingerprint != "" && r.fp == e.Fingerprint || e.User != nil && r.user != "" && e.User(r.user)
	}
	return c.values.removeIf(match) + c.refusals.removeIf(match)
}
