package sharedcache

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RevocationKind says what a Revocation names.
type RevocationKind string

// Revocation kinds.
const (
	// RevokeToken: every cached result of one token, by its fingerprint.
	RevokeToken RevocationKind = "token"
	// RevokeUser: every cached result of one user of one provider.
	RevokeUser RevocationKind = "user"
	// Resync is never published: Subscribe hands it to its callback each
	// time the subscription is (re)established, including the first time.
	// Revocations published while this replica was not subscribed were
	// lost, so the callback should drop what it cannot re-verify (for the
	// in-process caches: everything; they refill from Redis, where a
	// revocation has already deleted the shared entries, or from the
	// identity providers).
	Resync RevocationKind = "resync"
)

// Revocation names cached results to throw away on every replica. It
// carries no token and no username: a token is named by its fingerprint
// (authz.Fingerprint), a user by a UserID (keyed hash).
type Revocation struct {
	Kind        RevocationKind
	Fingerprint string // RevokeToken: authz.Fingerprint of the token
	Provider    string // RevokeUser: the provider's name
	User        UserID // RevokeUser: Cache.UserID(Provider, username)
	// ID names one publication (random, set by Publish): the replicas
	// acknowledge it under this name once they have applied it.
	ID string
}

// RevokeResult is what Revoke did.
type RevokeResult struct {
	// Deleted is the number of shared entries deleted.
	Deleted int
	// Replicas is the number of subscribed replicas the revocation was
	// delivered to (the revoking one included), as Redis counted them.
	Replicas int
	// Applied is how many of them acknowledged having dropped their
	// in-process entries before Revoke returned.
	Applied int
}

// ackTTL is how long a revocation's acknowledgements are kept in Redis:
// long enough for the slowest replica, short enough to leave no litter.
const ackTTL = time.Minute

// TokenRevocation names one token by its fingerprint: authz.Fingerprint(token)
// when the operator has the token, or the fingerprint a decision log shows.
func TokenRevocation(fingerprint string) Revocation {
	return Revocation{Kind: RevokeToken, Fingerprint: fingerprint}
}

// UserRevocation names every result of one user of a provider.
func (c *Cache) UserRevocation(provider, username string) Revocation {
	return Revocation{Kind: RevokeUser, Provider: provider, User: c.UserID(provider, username)}
}

func (r Revocation) validate() error {
	switch r.Kind {
	case RevokeToken:
		if !validFingerprint(r.Fingerprint) || r.Provider != "" || r.User != (UserID{}) {
			return fmt.Errorf("%w: a token revocation names a fingerprint (16 lowercase hex digits) only", ErrInvalid)
		}
	case RevokeUser:
		if r.Provider == "" || r.User == (UserID{}) || r.Fingerprint != "" {
			return fmt.Errorf("%w: a user revocation names a provider and a user only", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: revocation kind %q cannot be published", ErrInvalid, r.Kind)
	}
	return nil
}

// Revoke deletes the shared entries a revocation names, then publishes it
// so that every subscribed replica drops its in-process entries; in this
// order, so that no replica refills from a shared entry about to go. It
// then waits, until ctx ends, for every replica the message reached to
// acknowledge that it has applied it: when Revoke returns with Applied ==
// Replicas, no replica answers from a revoked entry any more. Like the
// other admin calls it tries Redis even while the circuit is open. On an
// error the caller still applies the revocation locally and tells the
// operator that other replicas were not reached; ctx ending before every
// acknowledgement arrived is not an error (compare Applied and Replicas).
func (c *Cache) Revoke(ctx context.Context, r Revocation) (RevokeResult, error) {
	var res RevokeResult
	if err := r.validate(); err != nil {
		return res, err
	}
	var err error
	if r.Kind == RevokeToken {
		res.Deleted, err = c.evictIndex(ctx, "revoke", c.tokenKey(r.Fingerprint))
	} else {
		res.Deleted, err = c.evictIndex(ctx, "revoke", c.userKey(r.User))
	}
	if err != nil {
		return res, err
	}
	r.ID = newRevocationID()
	if res.Replicas, err = c.publish(ctx, r); err != nil {
		return res, err
	}
	res.Applied = c.awaitAcks(ctx, r.ID, res.Replicas)
	return res, nil
}

// Publish broadcasts a revocation to every subscribed replica (Redis
// pub/sub: at most once, to whoever is subscribed now) without waiting for
// them. It does not touch the shared entries: Revoke does both.
func (c *Cache) Publish(ctx context.Context, r Revocation) error {
	if err := r.validate(); err != nil {
		return err
	}
	if r.ID == "" {
		r.ID = newRevocationID()
	}
	_, err := c.publish(ctx, r)
	return err
}

// publish sends r and returns how many subscribers Redis delivered it to.
func (c *Cache) publish(ctx context.Context, r Revocation) (int, error) {
	msg, err := c.encode(r)
	if err != nil {
		return 0, err
	}
	var n int64
	err = c.call(ctx, "publish", true, func(ctx context.Context) error {
		var err error
		n, err = c.rdb.Publish(ctx, c.channel, msg).Result()
		return err
	})
	if err == nil {
		c.st.published.Add(1)
	}
	return int(n), err
}

// awaitAcks waits until want replicas acknowledged revocation id, or ctx
// ends, and returns how many did. Each acknowledgement is one element of a
// list that the replica pushes after applying the revocation (ack).
func (c *Cache) awaitAcks(ctx context.Context, id string, want int) int {
	key := c.ackKey(id)
	got := 0
	seen := map[string]bool{}
	for got < want {
		wait := time.Second
		if d, ok := ctx.Deadline(); ok {
			wait = time.Until(d)
		}
		if wait < time.Millisecond {
			break
		}
		// BLPOP's own timeout ends the wait a little before ctx does, so
		// that the connection goes back to the pool in a known state.
		kv, err := c.rdb.BLPop(ctx, max(wait-5*time.Millisecond, time.Millisecond), key).Result()
		if err != nil {
			if !errors.Is(err, redis.Nil) && ctx.Err() == nil {
				c.log.Warn("revocation acknowledgements", "error", c.wrap("blpop", err).Error())
			}
			break
		}
		// Someone who may write to Redis but lacks the fleet secret must
		// not be able to make a revocation look applied, nor count one
		// replica's acknowledgement twice by copying it.
		replica, ok := c.checkAck(id, kv)
		if !ok || seen[replica] {
			c.st.ignored.Add(1)
			continue
		}
		seen[replica] = true
		got++
	}
	return got
}

// ack tells the revoking replica that this one applied revocation id.
func (c *Cache) ack(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), c.s.timeout)
	defer cancel()
	key := c.ackKey(id)
	err := c.call(ctx, "ack", true, func(ctx context.Context) error {
		return c.tx(ctx, func(p redis.Pipeliner) {
			p.RPush(ctx, key, c.ackValue(id))
			p.PExpire(ctx, key, ackTTL)
		})
	})
	if err != nil {
		c.log.Warn("revocation not acknowledged", "error", err.Error())
	}
}

func (c *Cache) ackKey(id string) string { return c.s.prefix + "ack:" + id }

// ackValue is this replica's acknowledgement of revocation id: its
// process nonce and an HMAC under the fleet secret over both, so that only
// a replica of the fleet can give one, and each counts once.
func (c *Cache) ackValue(id string) string {
	return c.replica + "." + c.ackMAC(id, c.replica)
}

func (c *Cache) ackMAC(id, replica string) string {
	m := hmac.New(sha256.New, c.s.secret)
	m.Write([]byte("restguard/sharedcache/v1/ack\x00"))
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(replica))
	return hex.EncodeToString(m.Sum(nil))
}

// checkAck checks one BLPOP answer (key, value) and returns the replica
// that gave it.
func (c *Cache) checkAck(id string, kv []string) (string, bool) {
	if len(kv) != 2 {
		return "", false
	}
	replica, mac, ok := strings.Cut(kv[1], ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(c.ackMAC(id, replica))) {
		return "", false
	}
	return replica, true
}

// newRevocationID returns 16 random bytes, hex.
func newRevocationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Subscribe hands every revocation published by any replica (itself
// included) to fn, and a Resync each time the subscription is
// (re)established, until ctx ends; it then returns ctx's error. It
// reconnects by itself after a Redis outage or restart. fn runs on
// Subscribe's goroutine, one message at a time, and should be quick.
// Messages that are malformed or not authenticated with the fleet secret
// are dropped and counted (Stats.Ignored).
func (c *Cache) Subscribe(ctx context.Context, fn func(Revocation)) error {
	ps := c.rdb.Subscribe(ctx, c.channel)
	defer ps.Close()
	ch := ps.ChannelWithSubscriptions(
		redis.WithChannelSize(256),
		// A dead connection that the kernel has not noticed yet is found
		// by this ping, and replaced.
		redis.WithChannelHealthCheckInterval(time.Second),
		redis.WithChannelPingTimeout(time.Second),
		// Bounds how long the client's reader waits on a full channel
		// (fn stalled) before dropping a message, and so how long it
		// outlives Close.
		redis.WithChannelSendTimeout(5*time.Second),
	)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-ch:
			if !ok {
				return fmt.Errorf("%w (subscribe): client closed", ErrUnavailable)
			}
			switch m := m.(type) {
			case *redis.Subscription:
				if m.Kind == "subscribe" && m.Channel == c.channel {
					c.st.resubscribed.Add(1)
					fn(Revocation{Kind: Resync})
				}
			case *redis.Message:
				r, err := c.decode(m.Payload)
				if err != nil {
					c.st.ignored.Add(1)
					c.log.Debug("revocation message dropped", "reason", err.Error())
					continue
				}
				c.st.received.Add(1)
				fn(r)
				c.ack(r.ID)
			}
		}
	}
}

// The message on the channel: hex(HMAC-SHA256(fleet secret, label | JSON))
// "." JSON. Only holders of the fleet secret can revoke; a Redis user who
// may PUBLISH cannot flood replicas with cache flushes.
const revocationLabel = "restguard/sharedcache/v1/revocation\x00"

type wireRevocation struct {
	V           int    `json:"v"`
	Kind        string `json:"kind"`
	Fingerprint string `json:"fp,omitempty"`
	Provider    string `json:"provider,omitempty"`
	User        string `json:"user,omitempty"`
	ID          string `json:"id"`
}

func (c *Cache) encode(r Revocation) (string, error) {
	w := wireRevocation{V: 1, Kind: string(r.Kind), Fingerprint: r.Fingerprint, Provider: r.Provider, ID: r.ID}
	if r.Kind == RevokeUser {
		w.User = r.User.String()
	}
	body, err := json.Marshal(w)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(c.mac(body)) + "." + string(body), nil
}

func (c *Cache) decode(msg string) (Revocation, error) {
	mac, body, ok := bytes.Cut([]byte(msg), []byte("."))
	if !ok || len(msg) > 4096 {
		return Revocation{}, errors.New("not a revocation message")
	}
	want, err := hex.DecodeString(string(mac))
	if err != nil || !hmac.Equal(want, c.mac(body)) {
		return Revocation{}, errors.New("not authenticated with this fleet secret")
	}
	var w wireRevocation
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil || w.V != 1 {
		return Revocation{}, errors.New("unknown message format")
	}
	if !validID(w.ID) {
		return Revocation{}, errors.New("bad revocation id")
	}
	r := Revocation{Kind: RevocationKind(w.Kind), Fingerprint: w.Fingerprint, Provider: w.Provider, ID: w.ID}
	if w.User != "" {
		u, err := hex.DecodeString(w.User)
		if err != nil || len(u) != len(r.User) {
			return Revocation{}, errors.New("bad user id")
		}
		copy(r.User[:], u)
	}
	if err := r.validate(); err != nil {
		return Revocation{}, errors.New("invalid revocation")
	}
	return r, nil
}

func (c *Cache) mac(body []byte) []byte {
	m := hmac.New(sha256.New, c.s.secret)
	m.Write([]byte(revocationLabel))
	m.Write(body)
	return m.Sum(nil)
}

// validID reports whether id is a revocation id: 32 lowercase hex digits.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
