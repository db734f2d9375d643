package providers

import (
	"context"
	"time"
)

// Eviction names cached results to drop from a provider's in-process
// caches: the operator's revoke (restguard revoke), or a revocation another
// replica published. It carries no token: a token is named by its
// fingerprint (authz.Fingerprint), which every cached entry of the token
// records.
type Eviction struct {
	// Fingerprint, when set, names one token.
	Fingerprint string
	// User, when set, names every result of the users it matches (by the
	// username restguard reports, as the decision log shows it): a
	// revocation from another replica names a user by a keyed hash only.
	User func(username string) bool
	// All drops every cached result (a replica that missed revocations
	// while it was not subscribed).
	All bool
}

// Evicter is a provider with in-process caches that can drop entries.
// Evict returns how many entries it dropped.
type Evicter interface {
	Evict(Eviction) int
}

// SharedCache is the second-level cache the replicas of one deployment
// share (sharedcache.Cache satisfies it; this package does not import
// it). It stores opaque bytes under the in-process cache key, sealed with
// the token. Every error is a miss: the caller asks the provider.
type SharedCache interface {
	Get(ctx context.Context, key [32]byte, token string) (value []byte, ok bool, err error)
	Set(ctx context.Context, key [32]byte, token string, value []byte, ttl time.Duration, provider, username string) error
	Delete(ctx context.Context, key [32]byte) error
}
