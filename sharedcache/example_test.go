package sharedcache_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/sharedcache"
)

// SecondLevel is the interface a provider can declare for the shared cache
// without importing this package; *sharedcache.Cache satisfies it.
type SecondLevel interface {
	Get(ctx context.Context, key [32]byte, token string) ([]byte, bool, error)
	Set(ctx context.Context, key [32]byte, token string, value []byte, ttl time.Duration, provider, username string) error
	Delete(ctx context.Context, key [32]byte) error
}

var _ SecondLevel = (*sharedcache.Cache)(nil)

// How a remote provider uses the shared cache behind its in-process cache.
// (Compiled, not run: it needs a Redis.)
func Example() {
	ctx := context.Background()
	cache, err := sharedcache.New(sharedcache.Config{
		Address:         "unix:/run/redis/redis.sock",
		UsernameFile:    "/etc/restguard/redis-user",
		PasswordFile:    "/etc/restguard/redis-password",
		FleetSecretFile: "/etc/restguard/fleet-secret",
	}, slog.Default())
	if err != nil {
		panic(err) // main reports the configuration error and exits
	}
	defer cache.Close()

	// One subscriber for the process's life: drop in-process entries.
	go func() {
		_ = cache.Subscribe(ctx, func(r sharedcache.Revocation) {
			switch r.Kind {
			case sharedcache.RevokeToken: // drop entries whose token fingerprint is r.Fingerprint
			case sharedcache.RevokeUser: // drop entries of provider r.Provider whose cache.UserID(...) == r.User
			case sharedcache.Resync: // messages may have been lost: drop what cannot be re-verified
			}
		})
	}()

	// A check, after an in-process miss. The key is the provider's own.
	provider, token := "corp", "ory_at_…"
	key := sha256.Sum256([]byte(provider + "\x00" + token))
	lookupCtx, cancel := context.WithTimeout(ctx, 30*time.Millisecond) // leave time for the IdP
	value, ok, err := cache.Get(lookupCtx, key, token)
	cancel()
	switch {
	case err != nil:
		// Fail closed: an error is a miss. Ask the provider.
		_ = errors.Is(err, sharedcache.ErrCircuitOpen) // cheap when the circuit is open
	case ok:
		_ = value // decode, re-check exp, use
		return
	}
	// ... ask the provider; on an answer (never on an outage):
	answer := []byte(`{"username":"alice","groups":["jira-users"]}`)
	ttl := time.Minute // never beyond the token's exp
	_ = cache.Set(ctx, key, token, answer, ttl, provider, "alice")

	// restguard revoke, on any replica:
	_, _ = cache.Revoke(ctx, sharedcache.TokenRevocation(authz.Fingerprint(token)))
	_, _ = cache.Revoke(ctx, cache.UserRevocation("corp", "alice"))
}
