package providers

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Revocations is one process's record of recent revocations (restguard
// revoke, or one another replica published), so that an answer fetched
// before a revocation is never stored or served after it, whichever way it
// arrives: a fetch that was in flight while the revocation dropped the
// caches, or a value someone who may write to Redis put back. Entries are
// named as the caches name them: a token by its fingerprint, a user by a
// keyed hash of provider and username (UserKey).
//
// It is consulted where an answer enters a cache (a fetch's result, a
// shared-cache hit), never on an in-process hit: the revocation itself
// dropped those. A nil *Revocations records nothing and refuses nothing.
type Revocations struct {
	userKey func(provider, username string) [32]byte
	now     func() time.Time

	mu     sync.Mutex
	tokens map[string]time.Time   // fingerprint → when revoked (plus margin)
	users  map[[32]byte]time.Time // user key → when revoked (plus margin)
	order  []tombstone            // oldest first, for expiry and the bound
	// floor: answers fetched before it are refused whatever they name; it
	// rises when a tombstone is dropped (expired or over the bound), so
	// that forgetting is always on the safe side.
	floor time.Time
}

type tombstone struct {
	token string
	user  [32]byte
	at    time.Time
}

const (
	// revocationMargin is added to a revocation's time: answers fetched
	// up to this long after it are refused too, which covers clock skew
	// between replicas (a fetched time set by another replica's clock).
	revocationMargin = 2 * time.Second
	// revocationKeep is how long a revocation is remembered: longer than
	// any cached answer lives (the shared cache caps entries at 24 h).
	revocationKeep = 25 * time.Hour
	// maxRevocations bounds the record.
	maxRevocations = 100000
)

// NewRevocations returns an empty record. userKey names a user (the shared
// cache's UserID when there is one, so that revocations from other
// replicas match); nil uses SHA-256 of provider and username.
func NewRevocations(userKey func(provider, username string) [32]byte) *Revocations {
	if userKey == nil {
		userKey = func(provider, username string) [32]byte {
			return sha256.Sum256([]byte(provider + "\x00" + username))
		}
	}
	return &Revocations{userKey: userKey, now: time.Now, tokens: map[string]time.Time{}, users: map[[32]byte]time.Time{}}
}

// UserKey names a user of a provider (or product) as User expects it.
func (r *Revocations) UserKey(provider, username string) [32]byte {
	return r.userKey(provider, username)
}

// Token records the revocation of a token (by fingerprint), now.
func (r *Revocations) Token(fingerprint string) {
	if r != nil {
		r.add(tombstone{token: fingerprint})
	}
}

// User records the revocation of a user (by UserKey), now.
func (r *Revocations) User(key [32]byte) {
	if r != nil {
		r.add(tombstone{user: key})
	}
}

func (r *Revocations) add(t tombstone) {
	t.at = r.now().Add(revocationMargin)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(t.at)
	if t.token != "" {
		r.tokens[t.token] = t.at
	} else {
		r.users[t.user] = t.at
	}
	r.order = append(r.order, t)
	for len(r.order) > maxRevocations {
		r.drop()
	}
}

// expire drops tombstones older than revocationKeep. Callers hold r.mu.
func (r *Revocations) expire(now time.Time) {
	for len(r.order) > 0 && now.Sub(r.order[0].at) > revocationKeep {
		r.drop()
	}
}

// drop forgets the oldest tombstone and raises the floor to it. Callers
// hold r.mu.
func (r *Revocations) drop() {
	t := r.order[0]
	r.order = r.order[1:]
	if t.at.After(r.floor) {
		r.floor = t.at
	}
	if t.token != "" {
		if r.tokens[t.token].Equal(t.at) {
			delete(r.tokens, t.token)
		}
	} else if r.users[t.user].Equal(t.at) {
		delete(r.users, t.user)
	}
}

// refuses reports whether an answer fetched at fetched, about the token
// with this fingerprint and (if known) this user of provider, was revoked
// since.
func (r *Revocations) refuses(fingerprint, provider, username string, fetched time.Time) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	empty := len(r.order) == 0 && r.floor.IsZero()
	var tokenAt, floor time.Time
	var users bool
	if !empty {
		tokenAt, floor, users = r.tokens[fingerprint], r.floor, len(r.users) > 0
	}
	r.mu.Unlock()
	if empty {
		return false
	}
	if fetched.Before(floor) || fetched.Before(tokenAt) {
		return true
	}
	if !users || username == "" {
		return false
	}
	key := r.userKey(provider, username) // outside the lock: an HMAC
	r.mu.Lock()
	userAt := r.users[key]
	r.mu.Unlock()
	return fetched.Before(userAt)
}
