package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/metrics"
	"github.com/restguard/restguard/providers"
	"github.com/restguard/restguard/sharedcache"
)

// startFleet opens the shared cache of the redis section, if any, and
// subscribes to revocations for the process's life. It does not connect:
// a replica starts, and becomes ready, while Redis is down.
func (s *service) startFleet(ctx context.Context, cfg *config.Config) error {
	s.redis = cfg
	sc, ok := cfg.SharedCache()
	if !ok {
		return nil
	}
	c, err := sharedcache.New(sc, s.log)
	if err != nil {
		return fmt.Errorf("%s: redis: %w", s.path, err)
	}
	s.shared = c
	// User revocations from other replicas name users by the shared
	// cache's keyed hash: record them the same way.
	s.revs = providers.NewRevocations(func(provider, username string) [32]byte { return c.UserID(provider, username) })
	s.metrics.SetSharedCache(func() metrics.SharedCacheStats {
		st := c.Stats()
		return metrics.SharedCacheStats{
			Hits: st.Hits, Misses: st.Misses, Rejected: st.Rejected, Errors: st.Errors, Timeouts: st.Timeouts,
			ShortCircuited: st.ShortCircuited, BreakerOpen: st.Breaker != sharedcache.BreakerClosed, BreakerOpens: st.BreakerOpens,
			Published: st.Published, Received: st.Received, Ignored: st.Ignored, Resubscribed: st.Resubscribed,
		}
	})
	go func() {
		// Subscribe reconnects by itself; it returns when ctx ends.
		if err := c.Subscribe(ctx, s.onRevocation); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("revocation subscription ended", "error", err.Error())
		}
	}()
	return nil
}

// stopFleet closes the shared cache's connections.
func (s *service) stopFleet() {
	if s.shared != nil {
		_ = s.shared.Close()
	}
}

// sameRedis refuses a reload that changes the redis section: the shared
// cache and its subscription are opened once.
func (s *service) sameRedis(cfg *config.Config) error {
	if s.redis == nil || config.SameRedis(s.redis, cfg) {
		return nil
	}
	return fmt.Errorf("%s: redis changed: the shared cache is opened at start, so a change needs a restart; the running configuration stays until then", s.path)
}

// sharedResults is the shared cache as the providers see it, or nil.
func (s *service) sharedResults() providers.SharedCache {
	if s.shared == nil {
		return nil
	}
	return s.shared
}
