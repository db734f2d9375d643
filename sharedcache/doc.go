// Package sharedcache is the optional second-level cache of remote
// validation results (introspection, userinfo and app binding, Atlassian
// token checks, directory groups) that the replicas of one deployment share
// through Redis, with fleet-wide revocation over Redis pub/sub. It sits
// behind the in-process caches of providers/; it makes no decisions and
// knows nothing of identities: it stores the caller's bytes.
//
// # Contract for the caller
//
//   - Fail closed. A Get error is a miss, never an answer and never an
//     allow: ask the identity provider (or the in-process cache) as if
//     there were no shared cache. An error wraps ErrUnavailable;
//     ErrCircuitOpen is the one that costs nothing.
//   - Budget. Give Get and Set a context whose deadline leaves room for the
//     identity provider after it. Each call also stops after
//     Config.Timeout (50 ms by default), and after a few consecutive
//     failures the circuit opens: calls then fail at once, and one call per
//     interval probes Redis.
//   - TTL. Set's ttl is the caller's: never beyond the token's exp, and
//     never for an outage (only answers are cached, positive or negative,
//     with the same rules as the in-process cache). A hit's value is the
//     caller's own serialised result: re-check exp on it as on an
//     in-process hit.
//   - Keys. key is the in-process cache key, SHA-256 over the provider name
//     and the token; the token itself is passed only to seal and open the
//     value and never leaves the process.
//   - Revocation. Run Subscribe on a goroutine for the process's life and
//     drop in-process entries on each Revocation; on Resync drop everything
//     that cannot be re-verified. Revoke deletes the shared entries and
//     then publishes. Without Redis (or with the call failing) a revocation
//     acts on the local replica only, and the operator must be told.
//   - Plugging in. Get, Set and Delete take only standard types, so that
//     providers/ can declare the interface it needs (see the example) and
//     be handed a *Cache by the configuration package, without importing
//     this package or its Redis client. A nil interface value means no
//     shared cache.
//   - Nothing here logs or returns a token, a username or a value: errors
//     carry Redis's own messages and addresses only.
//
// # What Redis holds
//
//	<prefix>v:<hex store key>       sealed value (seal.go), PX = the caller's ttl
//	<prefix>t:<hex HMAC(fingerprint)> set of store keys of one token (authz.Fingerprint)
//	<prefix>u:<hex UserID>          set of store keys of one user
//	<prefix>ack:<revocation id>     acknowledgements of one revocation, for a minute
//	<prefix>revocations             the pub/sub channel
//
// A store key is an HMAC of the cache key under the fleet secret, the
// token index is named by an HMAC of the fingerprint and a UserID is an
// HMAC of provider and username: nothing in a key can be computed from a
// token or a guessed username without the fleet secret.
//
// Someone who reads the database learns neither tokens nor usernames nor
// the cached results without both the token and the fleet secret; they can
// see how many results are cached, which ones belong to one user (not who),
// and when they expire. The index sets need Redis 7.0 or later (PEXPIRE
// with NX and GT). docs/scaling.md has the operator's side: when to turn it
// on, the ACL, the costs and each failure.
package sharedcache
