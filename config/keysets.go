package config

import (
	"log/slog"

	"github.com/restguard/restguard/providers"
)

// keySets hands out the key sets of one build: providers whose key-set
// settings are equal (the same issuer with different audiences on
// different hosts) get one, so one fetch at startup, one refresh per
// interval and one refetch per rotation serve them all (seams item 17).
// A key set the running configuration already has is taken from the pool,
// so a reload fetches nothing it already holds.
type keySets struct {
	pool   *Pool
	logger *slog.Logger
	byCfg  map[providers.KeySetConfig]*providers.KeySet
	order  []*providers.KeySet // in order of first use
}

func newKeySets(pool *Pool, logger *slog.Logger) *keySets {
	return &keySets{pool: pool, logger: logger.With("component", "jwks"), byCfg: map[providers.KeySetConfig]*providers.KeySet{}}
}

// get returns the key set for jc's settings, or nil when they are invalid
// (NewJWT then reports them).
func (r *keySets) get(jc providers.JWTConfig) *providers.KeySet {
	c := jc.KeySetConfig()
	if ks := r.byCfg[c]; ks != nil {
		return ks
	}
	ks := r.pool.keySet(c)
	if ks == nil {
		jc.Logger = r.logger
		var err error
		if ks, err = providers.NewKeySet(jc); err != nil {
			return nil
		}
	}
	r.byCfg[c] = ks
	r.order = append(r.order, ks)
	return ks
}
