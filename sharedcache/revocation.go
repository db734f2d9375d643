package sharedcache

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
}

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
// returns how many shared entries were deleted. Like the other admin calls
// it tries Redis even while the circuit is open. On an error the caller
// still applies the revocation locally and tells the operator that other
// replicas were not reached.
func (c *Cache) Revoke(ctx context.Context, r Revocation) (int, error) {
	if err := r.validate(); err != nil {
		return 0, err
	}
	var n int
	var err error
	if r.Kind == RevokeToken {
		n, err = c.evictIndex(ctx, "revoke", c.tokenKey(r.Fingerprint))
	} else {
		n, err = c.evictIndex(ctx, "revoke", c.userKey(r.User))
	}
	if err != nil {
		return n, err
	}
	return n, c.Publish(ctx, r)
}

// Publish broadcasts a revocation to every subscribed replica (Redis
// pub/sub: at most once, to whoever is subscribed now). It does not touch
// the shared entries: Revoke does both.
func (c *Cache) Publish(ctx context.Context, r Revocation) error {
	if err := r.validate(); err != nil {
		return err
	}
	msg, err := c.encode(r)
	if err != nil {
		return err
	}
	err = c.call(ctx, "publish", true, func(ctx context.Context) error {
		return c.rdb.Publish(ctx, c.channel, msg).Err()
	})
	if err == nil {
		c.st.published.Add(1)
	}
	return err
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
}

func (c *Cache) encode(r Revocation) (string, error) {
	w := wireRevocation{V: 1, Kind: string(r.Kind), Fingerprint: r.Fingerprint, Provider: r.Provider}
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
	r := Revocation{Kind: RevocationKind(w.Kind), Fingerprint: w.Fingerprint, Provider: w.Provider}
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
