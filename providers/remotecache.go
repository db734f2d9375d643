package providers

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
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
//   - both LRUs are bounded.
type remoteCache struct {
	scope  string // the provider name: keys are scoped by provider
	pos    *lru.Cache[[32]byte, *posEntry]
	neg    *lru.Cache[[32]byte, *negEntry]
	flight singleflight.Group
	ttl    time.Duration
	negTTL time.Duration
	grace  time.Duration
	leeway time.Duration
	// deadline bounds one fetch when the request has no earlier deadline.
	deadline time.Duration
	now      func() time.Time
	log      *slog.Logger

	hits, misses atomic.Uint64 // for metrics
}

type posEntry struct {
	id         *authz.Identity
	fresh      time.Time // served without asking until then
	graceUntil time.Time // served while the provider is down until then
}

type negEntry struct {
	err   error
	until time.Time
}

// fetchFunc asks the provider about a token. A positive answer's
// Identity.Expiry is the token's exp (zero: unknown).
type fetchFunc func(ctx context.Context, token string) (*authz.Identity, error)

func newRemoteCache(scope string, o RemoteOptions) *remoteCache {
	c := &remoteCache{scope: scope, ttl: o.CacheTTL, negTTL: o.NegativeTTL, grace: o.Grace, leeway: o.Leeway, deadline: o.Timeout, now: o.Now, log: o.Logger}
	if o.CacheSize >= 0 {
		size := o.CacheSize
		if size == 0 {
			size = DefaultCacheSize
		}
		c.pos, _ = lru.New[[32]byte, *posEntry](size)
		if o.NegativeTTL > 0 {
			c.neg, _ = lru.New[[32]byte, *negEntry](max(size/4, 1000))
		}
	}
	return c
}

func (c *remoteCache) key(token string) [32]byte {
	h := sha256.New()
	h.Write([]byte(c.scope))
	h.Write([]byte{0})
	h.Write([]byte(token))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// cached returns a usable cached answer: a copy of a fresh identity, or
// the cached refusal. ok is false on a miss.
func (c *remoteCache) cached(k [32]byte, now time.Time) (*authz.Identity, error, bool) {
	if c.pos != nil {
		if e, ok := c.pos.Get(k); ok && now.Before(e.fresh) {
			return hit(e.id), nil, true
		}
	}
	if c.neg != nil {
		if e, ok := c.neg.Get(k); ok {
			if now.Before(e.until) {
				return nil, e.err, true
			}
			c.neg.Remove(k)
		}
	}
	return nil, nil, false
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
	if id, err, ok := c.cached(k, c.now()); ok {
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
			// flight stored its answer finds it here.
			if id, err, ok := c.cached(k, c.now()); ok {
				return &flightOut{id: id, deadline: deadline}, err
			}
			fctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
			defer cancel()
			id, err := fetch(fctx, token)
			id, err = c.store(k, id, err)
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
func (c *remoteCache) store(k [32]byte, id *authz.Identity, err error) (*authz.Identity, error) {
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
		if c.pos != nil {
			c.pos.Add(k, &posEntry{id: id, fresh: fresh, graceUntil: graceUntil})
		}
		if c.neg != nil {
			c.neg.Remove(k)
		}
		return id, nil
	case errors.Is(err, authz.ErrInvalidToken) || errors.Is(err, authz.ErrForbidden):
		// A definitive refusal: remember it briefly, and forget any
		// positive answer (the token was revoked).
		if c.pos != nil {
			c.pos.Remove(k)
		}
		if c.neg != nil {
			c.neg.Add(k, &negEntry{err: err, until: now.Add(c.negTTL)})
		}
		return nil, err
	default:
		// An outage: never cached. Serve a positive answer within its
		// grace period instead, if there is one.
		if c.pos != nil && c.grace > 0 {
			if e, ok := c.pos.Peek(k); ok && now.Before(e.graceUntil) {
				c.log.Warn("identity provider unavailable; serving a cached identity within the grace period",
					"provider", c.scope, "error", err)
				return hit(e.id), nil
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

// len is the number of positive entries (tests).
func (c *remoteCache) len() int {
	if c.pos == nil {
		return 0
	}
	return c.pos.Len()
}

// stats fills the cache part of a provider's statistics.
func (c *remoteCache) stats(st *authz.ProviderStats) {
	st.CacheHits, st.CacheMisses = c.hits.Load(), c.misses.Load()
	st.CacheSize = c.len()
}
