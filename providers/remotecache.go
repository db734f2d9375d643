package providers

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/restguard/restguard/authz"
)

// remoteCache remembers what a remote provider said about a token and
// coalesces concurrent lookups of one token into one call (security
// catalogue K1-K6, H6, H7):
//
//   - keys are SHA-256 of the provider name and the full token, never the
//     token itself;
//   - it holds identities only, never a request's verdict (IP, path and
//     group policy run on every request);
//   - a positive entry lives until the earlier of CacheTTL and the token's
//     exp, which is re-checked on every hit; a hit never renews an entry;
//   - definitive refusals live for NegativeTTL in their own, smaller LRU;
//   - outages are never cached, and with Grace a positive entry whose TTL
//     ended may be served while the provider is down, never past exp;
//   - both LRUs are bounded (resultCache).
type remoteCache struct {
	scope   string // the provider name: keys are scoped by provider
	keys    string // the key scope: the name and the configuration's version
	results resultCache[*authz.Identity]
	flight  singleflight.Group
	ttl     time.Duration
	negTTL  time.Duration
	grace   time.Duration
	leeway  time.Duration
	// deadline bounds one fetch when the request has no earlier deadline.
	deadline time.Duration
	now      func() time.Time
	log      *slog.Logger

	hits, misses atomic.Uint64 // for metrics
}

// fetchFunc asks the provider about a token. A positive answer's
// Identity.Expiry is the token's exp (zero: unknown).
type fetchFunc func(ctx context.Context, token string) (*authz.Identity, error)

func newRemoteCache(scope string, o RemoteOptions) *remoteCache {
	c := &remoteCache{scope: scope, keys: o.keyScope(scope), ttl: o.CacheTTL, negTTL: o.NegativeTTL, grace: o.Grace, leeway: o.Leeway, deadline: o.Timeout, now: o.Now, log: o.Logger}
	size, refusals := max(o.CacheSize, 0), 0 // CacheSize < 0: no caching
	if size > 0 && o.NegativeTTL > 0 {
		refusals = refusalCacheSize(size)
	}
	c.results = newResultCache(size, refusals, scope, identityCodec, &o)
	return c
}

func (c *remoteCache) key(token string) [32]byte { return resultKey(c.keys, token) }

// cached returns a usable cached answer: a copy of a fresh identity, or
// the cached refusal. ok is false on a miss.
func (c *remoteCache) cached(ctx context.Context, k [32]byte, token string, now time.Time) (*authz.Identity, error, bool) {
	r, ok := c.results.Get(ctx, k, token, now)
	if !ok || !now.Before(r.fresh) {
		return nil, nil, false
	}
	if r.err != nil {
		return nil, r.err, true
	}
	return hit(r.val), nil, true
}

// cachedLocal is cached on the in-process level only.
func (c *remoteCache) cachedLocal(k [32]byte, now time.Time) (*authz.Identity, error, bool) {
	r, ok := c.results.Local(k, now)
	if !ok || !now.Before(r.fresh) {
		return nil, nil, false
	}
	if r.err != nil {
		return nil, r.err, true
	}
	return hit(r.val), nil, true
}

func hit(id *authz.Identity) *authz.Identity {
	cp := *id
	cp.CacheHit = true
	return &cp
}

// lookup answers from the cache or asks the provider through fetch, once
// for all concurrent callers with the same token.
func (c *remoteCache) lookup(ctx context.Context, token string, fetch fetchFunc) (*authz.Identity, error) {
	k := c.key(token)
	if id, err, ok := c.cached(ctx, k, token, c.now()); ok {
		c.hits.Add(1)
		return id, err
	}
	c.misses.Add(1)
	for attempt := 0; ; attempt++ {
		// The fetch outlives a caller that gives up (the others still
		// wait for it) but never the first caller's deadline, nor Timeout.
		// Deadlines are wall-clock time, like the request's.
		deadline := time.Now().Add(c.deadline)
		mine, hasMine := ctx.Deadline()
		if hasMine && mine.Before(deadline) {
			deadline = mine
		}
		ch := c.flight.DoChan(string(k[:]), func() (any, error) {
			// A caller that missed the cache just before the previous
			// flight stored its answer finds it here (in process: the
			// shared level was asked a moment ago).
			if id, err, ok := c.cachedLocal(k, c.now()); ok {
				return &flightOut{id: id, deadline: deadline}, err
			}
			fctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
			defer cancel()
			started := c.now()
			id, err := fetch(fctx, token)
			id, err = c.store(context.WithoutCancel(ctx), k, token, started, id, err)
			return &flightOut{id: id, deadline: deadline}, err
		})
		var r singleflight.Result
		select {
		case r = <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		out := r.Val.(*flightOut)
		if r.Err != nil {
			// A shared flight that ran out of its first caller's time says
			// nothing about the provider within ours: ask once more.
			if attempt == 0 && r.Shared && !errors.Is(r.Err, authz.ErrInvalidToken) && !time.Now().Before(out.deadline) && (!hasMine || mine.After(out.deadline)) {
				continue
			}
			return nil, r.Err
		}
		cp := *out.id
		return &cp, nil
	}
}

type flightOut struct {
	id       *authz.Identity
	deadline time.Time
}

// store records the fetch result and returns what the callers get.
func (c *remoteCache) store(ctx context.Context, k [32]byte, token string, started time.Time, id *authz.Identity, err error) (*authz.Identity, error) {
	now := c.now()
	switch {
	case err == nil && id == nil:
		return nil, authz.UnavailableError(authz.ReasonInternalError, errors.New("provider returned no identity"))
	case err == nil:
		fresh := now.Add(c.ttl)
		graceUntil := fresh.Add(c.grace)
		if !id.Expiry.IsZero() {
			end := id.Expiry.Add(c.leeway)
			fresh, graceUntil = earliest(fresh, end), earliest(graceUntil, end)
		}
		c.results.Set(ctx, k, token, &result[*authz.Identity]{val: id, fresh: fresh, grace: graceUntil, fetched: started})
		return id, nil
	case errors.Is(err, authz.ErrInvalidToken) || errors.Is(err, authz.ErrForbidden):
		// A definitive refusal: remember it briefly, and forget any
		// positive answer (the token was revoked).
		c.results.Set(ctx, k, token, &result[*authz.Identity]{err: err, fresh: now.Add(c.negTTL), fetched: started})
		return nil, err
	default:
		// An outage: never cached. Serve a positive answer within its
		// grace period instead, if there is one.
		if c.grace > 0 {
			if r, ok := c.results.Get(ctx, k, token, now); ok && r.err == nil && now.Before(r.grace) {
				c.log.Warn("identity provider unavailable; serving a cached identity within the grace period",
					"provider", c.scope, "error", err)
				return hit(r.val), nil
			}
		}
		return nil, err
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// stats fills the cache part of a provider's statistics.
func (c *remoteCache) stats(st *authz.ProviderStats) {
	st.CacheHits, st.CacheMisses = c.hits.Load(), c.misses.Load()
	st.CacheSize = c.results.Len()
}

// evict drops the entries e names.
func (c *remoteCache) evict(e Eviction) int { return evictResults(c.results, e) }
