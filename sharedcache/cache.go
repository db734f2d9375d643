package sharedcache

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	// The Redis client: github.com/redis/go-redis/v9 rather than
	// github.com/redis/rueidis. Both are kept by Redis Inc. and speak TLS,
	// ACL users and RESP2/3. go-redis is the one the shared cache's needs
	// fit without working around the client: NewClient never dials, so a
	// replica starts while Redis is down; every command honours the
	// context deadline (ContextTimeoutEnabled) besides its own read/write
	// and dial timeouts, and MaxRetries=-1 makes one call one attempt; its
	// PubSub reconnects and resubscribes by itself and, through
	// ChannelWithSubscriptions, says when it did, which is when revocations
	// may have been missed. rueidis builds against fewer modules (only
	// golang.org/x/sys, which we already have; go-redis adds
	// go.uber.org/atomic, with cespare/xxhash and x/sys already here), but
	// its NewClient dials eagerly and fails while Redis is down, it turns on
	// client-side caching and auto-pipelining that a cache of encrypted
	// one-shot values gains nothing from, and its Receive leaves
	// resubscription to the caller. Only this package may import it
	// (Makefile deps-check).
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/restguard/restguard/authz"
)

// Errors. Every failure to reach or use Redis wraps ErrUnavailable; the
// caller treats it as a miss (see the package documentation).
var (
	ErrUnavailable = errors.New("sharedcache: unavailable")
	// ErrCircuitOpen: the call was refused without touching Redis because
	// recent calls failed. It wraps ErrUnavailable.
	ErrCircuitOpen = fmt.Errorf("%w: circuit open", ErrUnavailable)
	// ErrInvalid: the caller's arguments were refused (no Redis call).
	ErrInvalid = errors.New("sharedcache: invalid argument")
)

// Cache is a Redis-backed second-level cache of remote validation results,
// shared by every replica, with a user index and revocation broadcast. It is
// safe for concurrent use. Create it once per process (it owns a connection
// pool) and Close it at shutdown.
type Cache struct {
	s       *settings
	rdb     *redis.Client
	br      *breaker
	log     *slog.Logger
	now     func() time.Time
	channel string
	st      counters
	replica string // a random name of this process, for acknowledgements
}

type counters struct {
	hits, misses, rejected, errors, timeouts, shortCircuited atomic.Uint64
	published, received, ignored, resubscribed               atomic.Uint64
}

// UserID is a keyed hash of a provider and a username under the fleet
// secret: what the user index and user revocations carry instead of the
// name. Without the fleet secret it cannot be turned back into a name;
// with it, a guessed name can be checked (usernames are guessable), so the
// fleet secret is a secret like the Redis password.
type UserID [32]byte

// String is the hex form used in keys and messages.
func (u UserID) String() string { return hex.EncodeToString(u[:]) }

// New checks the configuration, reads its files and returns a Cache. It
// does not connect: the first call does, so a replica starts while Redis
// is down. logger gets the circuit breaker's state changes and, at Debug,
// the Redis client's own messages; nil discards them.
func New(cfg Config, logger *slog.Logger) (*Cache, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// go-redis has one process-wide logger (atomic); its messages (dial
	// failures, pubsub reconnects) name addresses and errors, never keys,
	// values or credentials. Send them to Debug: the breaker logs outages.
	redis.SetLogger(redisLogger{logger.With("component", "go-redis")})
	logger = logger.With("component", "sharedcache")
	c := &Cache{s: s, log: logger, now: cfg.Now, channel: s.prefix + "revocations", replica: newRevocationID()}
	if c.now == nil {
		c.now = time.Now
	}
	c.br = newBreaker(s.threshold, s.interval, s.maxIntvl, c.now)
	c.br.changed = c.breakerChanged
	c.rdb = redis.NewClient(&redis.Options{
		Network: s.network,
		Addr:    s.addr,
		// The ACL files are read again on every new connection, so that a
		// rotated password (a Kubernetes Secret updated in place) is used
		// without a restart; the last readable values stay otherwise.
		CredentialsProvider: newCredentials(cfg.UsernameFile, cfg.PasswordFile, s.username, s.password, logger).get,
		DB:                  s.db,
		TLSConfig:           s.tls,
		// RESP2: the widest server support (proxies, older servers); no
		// push notifications are needed.
		Protocol:        2,
		DisableIdentity: true, // no CLIENT SETINFO: one command fewer in the ACL
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
		DialTimeout:           s.dial,
		DialerRetries:         1, // the breaker retries, not the pool
		ReadTimeout:           s.timeout,
		WriteTimeout:          s.timeout,
		PoolTimeout:           s.timeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
	})
	return c, nil
}

// Close releases the connections. Subscribe calls return.
func (c *Cache) Close() error { return c.rdb.Close() }

// Get returns the value stored under key if it opens with token. ok is
// false on a miss: no entry, an entry that does not open with this token
// (or this fleet secret), or one past the expiry sealed into it. A non-nil
// error means Redis could not answer (it wraps ErrUnavailable): the caller
// treats it as a miss, never as an answer.
func (c *Cache) Get(ctx context.Context, key [32]byte, token string) (value []byte, ok bool, err error) {
	if token == "" {
		return nil, false, fmt.Errorf("%w: empty token", ErrInvalid)
	}
	var blob []byte
	err = c.call(ctx, "get", false, func(ctx context.Context) error {
		var err error
		blob, err = c.rdb.Get(ctx, c.valueKey(key)).Bytes()
		return err
	})
	if errors.Is(err, redis.Nil) {
		c.st.misses.Add(1)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if len(blob) > sealed0+MaxValue {
		c.st.rejected.Add(1)
		c.st.misses.Add(1)
		return nil, false, nil
	}
	value, err = c.open(key, token, blob, c.now())
	if err != nil {
		c.st.rejected.Add(1)
		c.st.misses.Add(1)
		return nil, false, nil
	}
	c.st.hits.Add(1)
	return value, true, nil
}

// Set stores value under key, sealed with token, for ttl, and indexes it
// by the token's fingerprint and, when username is not empty, by provider
// and username (the name the caller maps the identity to, after its
// transforms; empty for a negative result). The caller
// chooses ttl and must never give more than the token has left before its
// exp; ttl is capped at MaxTTL. Outages are never to be stored (that is the
// caller's side: it only calls Set with answers).
func (c *Cache) Set(ctx context.Context, key [32]byte, token string, value []byte, ttl time.Duration, provider, username string) error {
	switch {
	case token == "":
		return fmt.Errorf("%w: empty token", ErrInvalid)
	case len(value) > MaxValue:
		return fmt.Errorf("%w: value of %d bytes exceeds %d", ErrInvalid, len(value), MaxValue)
	case ttl < time.Millisecond:
		return fmt.Errorf("%w: ttl %v is below 1ms", ErrInvalid, ttl)
	}
	ttl = min(ttl, c.s.maxTTL)
	blob, err := c.seal(key, token, value, c.now().Add(ttl))
	if err != nil {
		return fmt.Errorf("sharedcache: set: %w", err)
	}
	ms := strconv.FormatInt(ttl.Milliseconds(), 10)
	sk := c.storeKey(key)
	member := string(sk[:])
	tk := c.tokenKey(authz.Fingerprint(token))
	var uk string
	if username != "" {
		uk = c.userKey(c.UserID(provider, username))
	}
	return c.call(ctx, "set", false, func(ctx context.Context) error {
		return c.tx(ctx, func(p redis.Pipeliner) {
			p.Set(ctx, c.storedValueKey(sk), blob, ttl)
			// An index lives as long as its longest entry: NX gives a new
			// set a TTL, GT extends it (Redis >= 7.0).
			for _, ik := range []string{tk, uk} {
				if ik == "" {
					continue
				}
				p.SAdd(ctx, ik, member)
				p.Do(ctx, "PEXPIRE", ik, ms, "NX")
				p.Do(ctx, "PEXPIRE", ik, ms, "GT")
			}
		})
	})
}

// Delete removes the entry under key (the index keeps a stale member until
// it expires, which costs nothing but its bytes).
func (c *Cache) Delete(ctx context.Context, key [32]byte) error {
	return c.call(ctx, "delete", false, func(ctx context.Context) error {
		return c.rdb.Del(ctx, c.valueKey(key)).Err()
	})
}

// EvictUser removes every shared entry indexed under provider and username
// and returns how many there were. It does not tell other replicas: Revoke
// does both.
func (c *Cache) EvictUser(ctx context.Context, provider, username string) (int, error) {
	return c.evictIndex(ctx, "evict user", c.userKey(c.UserID(provider, username)))
}

// EvictToken removes the shared entries of the token with this fingerprint
// (authz.Fingerprint: 16 lowercase hex digits, as decision logs show it) and
// returns how many there were. It does not tell other replicas: Revoke does
// both.
func (c *Cache) EvictToken(ctx context.Context, fingerprint string) (int, error) {
	if !validFingerprint(fingerprint) {
		return 0, fmt.Errorf("%w: fingerprint is not 16 lowercase hex digits", ErrInvalid)
	}
	return c.evictIndex(ctx, "evict token", c.tokenKey(fingerprint))
}

// evictIndex deletes the entries an index set names, then removes those
// members from it (not the set: a member added meanwhile stays indexed),
// in one round trip per 500 members.
// Admin calls try Redis even while the circuit is open.
func (c *Cache) evictIndex(ctx context.Context, op, index string) (int, error) {
	var members []string
	err := c.call(ctx, op, true, func(ctx context.Context) error {
		var err error
		members, err = c.rdb.SMembers(ctx, index).Result()
		return err
	})
	if err != nil || len(members) == 0 {
		return 0, err
	}
	evicted := 0
	for start := 0; start < len(members); start += 500 {
		batch := members[start:min(start+500, len(members))]
		keys := make([]string, 0, len(batch))
		drop := make([]any, 0, len(batch))
		for _, m := range batch {
			if len(m) != 32 {
				continue
			}
			var sk [32]byte
			copy(sk[:], m)
			keys = append(keys, c.storedValueKey(sk))
			drop = append(drop, m)
		}
		if len(keys) == 0 {
			continue
		}
		var del *redis.IntCmd
		err := c.call(ctx, op, true, func(ctx context.Context) error {
			// A plain pipeline, not MULTI: Redis refuses to queue any
			// command in a transaction when it is over maxmemory, and
			// eviction is what frees memory.
			_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				del = p.Del(ctx, keys...)
				p.SRem(ctx, index, drop...)
				return nil
			})
			return err
		})
		if err != nil {
			return evicted, err
		}
		evicted += int(del.Val())
	}
	return evicted, nil
}

// tx runs commands in one MULTI/EXEC round trip. When Redis refuses a
// queued command (OOM, NOPERM), EXEC only says EXECABORT: return the
// command's own error, which says why.
func (c *Cache) tx(ctx context.Context, fn func(redis.Pipeliner)) error {
	cmds, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		fn(p)
		return nil
	})
	if err != nil && redis.HasErrorPrefix(err, "EXECABORT") {
		for _, cmd := range cmds {
			if e := cmd.Err(); e != nil && !redis.HasErrorPrefix(e, "EXECABORT") {
				return e
			}
		}
	}
	return err
}

// Ping asks Redis for an answer within the call timeout, without the
// breaker: for diagnostics (restguard validate, a status page), not for
// readiness (a Redis outage must not take replicas out of rotation).
func (c *Cache) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.s.timeout)
	defer cancel()
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return c.wrap("ping", err)
	}
	return nil
}

// UserID returns the keyed hash of a provider and username.
func (c *Cache) UserID(provider, username string) UserID {
	m := hmac.New(sha256.New, c.s.secret)
	m.Write([]byte("restguard/sharedcache/v1/user\x00"))
	m.Write([]byte(provider))
	m.Write([]byte{0})
	m.Write([]byte(username))
	var u UserID
	m.Sum(u[:0])
	return u
}

// call runs one Redis round trip under the breaker and the call timeout
// and classifies its outcome. admin calls go to Redis even while the
// circuit is open (an operator's revoke should try); their outcome moves
// the breaker only when they happen to be the probe.
func (c *Cache) call(ctx context.Context, op string, admin bool, fn func(context.Context) error) error {
	probe, ok := c.br.allow()
	if !ok && !admin {
		c.st.shortCircuited.Add(1)
		return fmt.Errorf("%w (%s)", ErrCircuitOpen, op)
	}
	if err := ctx.Err(); err != nil {
		c.br.done(probe, neutral)
		return fmt.Errorf("%w (%s): %w", ErrUnavailable, op, err)
	}
	cctx, cancel := context.WithTimeout(ctx, c.s.timeout)
	err := fn(cctx)
	cancel()
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		c.br.done(probe, success)
		return err
	case errors.Is(ctx.Err(), context.Canceled):
		// The caller gave up: that says nothing about Redis.
		c.br.done(probe, neutral)
		return fmt.Errorf("%w (%s): %w", ErrUnavailable, op, ctx.Err())
	case redis.IsOOMError(err) || redis.IsReadOnlyError(err):
		// A full Redis (maxmemory with noeviction) or a read-only replica
		// refuses writes but still answers reads: writes fail, the
		// circuit stays closed for the reads.
		c.br.done(probe, success)
		return c.wrap(op, err)
	}
	// A deadline, the caller's or ours, counts against Redis: a Redis that
	// cannot answer within what the check can spare is, for the check,
	// down.
	c.br.done(probe, failure)
	return c.wrap(op, err)
}

// wrap counts a failure and wraps it. Redis's errors name commands and
// addresses, never keys' meaning, values or passwords.
func (c *Cache) wrap(op string, err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		c.st.timeouts.Add(1)
		return fmt.Errorf("%w (%s): timed out: %w", ErrUnavailable, op, err)
	}
	c.st.errors.Add(1)
	return fmt.Errorf("%w (%s): %w", ErrUnavailable, op, err)
}

func (c *Cache) breakerChanged(e breakerEvent, wait time.Duration) {
	switch e {
	case breakerOpened:
		c.log.Warn("shared cache unavailable: circuit open, checks go to the identity providers",
			"retry_in", wait.String())
	case probeFailed:
		c.log.Warn("shared cache still unavailable", "retry_in", wait.String())
	case breakerClosed:
		c.log.Info("shared cache available again: circuit closed")
	}
}

// storeKey is the name Redis knows a cache key by: a keyed hash under the
// fleet secret. The cache key is SHA-256 over the provider and the token
// (for the directory: the username), so without this step someone who
// reads the database could test guessed usernames, or a token they hold,
// against the keys.
func (c *Cache) storeKey(key [32]byte) (sk [32]byte) {
	m := hmac.New(sha256.New, c.s.secret)
	m.Write([]byte("restguard/sharedcache/v1/key\x00"))
	m.Write(key[:])
	m.Sum(sk[:0])
	return sk
}

func (c *Cache) valueKey(key [32]byte) string { return c.storedValueKey(c.storeKey(key)) }

// storedValueKey is the value key of a store key (an index member).
func (c *Cache) storedValueKey(sk [32]byte) string {
	return c.s.prefix + "v:" + hex.EncodeToString(sk[:])
}

// tokenKey is the index of one token's entries, named by a keyed hash of
// its fingerprint, so that a fingerprint from a log does not tell whether
// the token is cached.
func (c *Cache) tokenKey(fingerprint string) string {
	m := hmac.New(sha256.New, c.s.secret)
	m.Write([]byte("restguard/sharedcache/v1/token\x00"))
	m.Write([]byte(fingerprint))
	return c.s.prefix + "t:" + hex.EncodeToString(m.Sum(nil))
}

func (c *Cache) userKey(u UserID) string { return c.s.prefix + "u:" + u.String() }

func validFingerprint(fp string) bool {
	if len(fp) != 16 {
		return false
	}
	for _, r := range fp {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

// redisLogger sends go-redis's messages to slog at Debug.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, fmt.Sprintf(format, v...))
}
