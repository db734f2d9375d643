package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/restguard/restguard/authz"
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

// sharedResults is a provider's result cache with a second level that the
// replicas share (SharedCache): a local miss asks it, and a hit fills the
// local level; every result stored goes to both. The shared level fails
// closed and never costs a check its answer:
//
//   - an error, a value that does not decode or one past its time is a
//     miss, and the provider is asked;
//   - a lookup gets at most a third of the time the check has left;
//   - storing happens after the answer is handed back, detached and
//     bounded (at most maxSharedSets at once; beyond that an answer is
//     simply not shared).
type sharedResults[V any] struct {
	local  *localResults[V]
	shared SharedCache
	scope  string // the provider's name: the user index is per provider
	codec  valueCodec[V]
	now    func() time.Time
	log    *slog.Logger

	sets    chan struct{}  // a slot per Set in progress
	pending sync.WaitGroup // Sets in progress (tests wait for them)
}

// maxSharedSets bounds the Sets in progress of one provider.
const maxSharedSets = 64

func (c *sharedResults[V]) Get(ctx context.Context, key [32]byte, token string, now time.Time) (*result[V], bool) {
	local, ok := c.local.Get(ctx, key, token, now)
	if ok && (local.err != nil || now.Before(local.fresh)) {
		return local, true
	}
	// A miss, or a value kept for its grace period only: another replica
	// may have a fresh answer.
	if d, has := ctx.Deadline(); has {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(d)/3))
		defer cancel()
	}
	if r, found := c.fromShared(ctx, key, token, now); found && (!ok || r.fresh.After(local.fresh)) {
		c.local.Set(ctx, key, token, r)
		return r, true
	}
	return local, ok
}

// Local answers from the in-process level only (a second look inside a
// flight, where the shared level was just asked).
func (c *sharedResults[V]) Local(key [32]byte, now time.Time) (*result[V], bool) {
	return c.local.Local(key, now)
}

func (c *sharedResults[V]) fromShared(ctx context.Context, key [32]byte, token string, now time.Time) (*result[V], bool) {
	b, ok, err := c.shared.Get(ctx, key, token)
	if err != nil || !ok {
		return nil, false
	}
	r, err := decodeResult(b, c.codec)
	if err != nil {
		c.log.Warn("shared cache: a value that does not decode; asking the provider", "provider", c.scope, "error", err.Error())
		return nil, false
	}
	if !now.Before(r.expires()) {
		return nil, false
	}
	c.local.name(token, r)
	if r.err == nil && c.local.revs.refuses(r.fp, c.scope, r.user, r.fetched) {
		return nil, false // revoked since it was fetched: put back, or stored late
	}
	return r, true
}

func (c *sharedResults[V]) Set(ctx context.Context, key [32]byte, token string, r *result[V]) {
	c.local.Set(ctx, key, token, r)
	if r.err == nil && c.local.revs.refuses(r.fp, c.scope, r.user, r.fetched) {
		return
	}
	ttl := r.expires().Sub(c.now())
	if ttl < time.Millisecond {
		return
	}
	b, err := encodeResult(r, c.codec)
	if err != nil {
		return
	}
	select {
	case c.sets <- struct{}{}:
	default:
		return // Redis is slow and Sets pile up: this answer stays local
	}
	c.pending.Add(1)
	go func() {
		defer func() { <-c.sets; c.pending.Done() }()
		// Errors are the shared cache's to count and log (its breaker
		// opens); its own call timeout bounds this.
		_ = c.shared.Set(context.WithoutCancel(ctx), key, token, b, ttl, c.scope, r.user)
	}()
}

func (c *sharedResults[V]) Len() int { return c.local.Len() }

// Evict drops local entries; the shared ones go through the shared cache's
// own index (sharedcache.Cache.Revoke).
func (c *sharedResults[V]) Evict(e Eviction) int { return c.local.Evict(e) }

// evictable is a result cache that can drop entries (both kinds are).
type evictable interface{ Evict(Eviction) int }

// evictResults drops entries of a provider's result cache.
func evictResults[V any](c resultCache[V], e Eviction) int {
	if ev, ok := c.(evictable); ok {
		return ev.Evict(e)
	}
	return 0
}

// valueCodec turns a cached value into bytes for the shared cache and
// back, and names its user (for the user index and eviction).
type valueCodec[V any] struct {
	encode func(V) ([]byte, error)
	decode func([]byte) (V, error)
	user   func(token string, v V) string
}

// wireResult is a result as the shared cache stores it (sealed by it).
type wireResult struct {
	V       int             `json:"v"`
	Fetched int64           `json:"t,omitempty"` // unix ms
	Fresh   int64           `json:"f"`           // unix ms
	Grace   int64           `json:"g,omitempty"` // unix ms, values only
	Err     *wireRefusal    `json:"e,omitempty"`
	Val     json.RawMessage `json:"d,omitempty"`
}

// wireRefusal is a definitive refusal: its class, reason and text (error
// texts never hold a token).
type wireRefusal struct {
	Class  string `json:"c"` // invalid_token, forbidden
	Reason string `json:"r"`
	Msg    string `json:"m"`
}

const wireResultVersion = 1

func encodeResult[V any](r *result[V], codec valueCodec[V]) ([]byte, error) {
	w := wireResult{V: wireResultVersion, Fresh: r.fresh.UnixMilli()}
	if !r.fetched.IsZero() {
		w.Fetched = r.fetched.UnixMilli()
	}
	if r.err != nil {
		ref := &wireRefusal{Msg: r.err.Error()}
		if re, ok := r.err.(*authz.ReasonError); ok {
			ref.Reason, ref.Msg = string(re.Reason), ""
			if re.Err != nil {
				ref.Msg = re.Err.Error()
			}
		}
		switch {
		case errors.Is(r.err, authz.ErrInvalidToken):
			ref.Class = "invalid_token"
		case errors.Is(r.err, authz.ErrForbidden):
			ref.Class = "forbidden"
		default:
			return nil, errors.New("not a definitive refusal")
		}
		w.Err = ref
	} else {
		b, err := codec.encode(r.val)
		if err != nil {
			return nil, err
		}
		w.Val, w.Grace = b, r.grace.UnixMilli()
	}
	return json.Marshal(w)
}

func decodeResult[V any](b []byte, codec valueCodec[V]) (*result[V], error) {
	var w wireResult
	if err := strictJSON(b, &w); err != nil {
		return nil, err
	}
	if w.V != wireResultVersion {
		return nil, fmt.Errorf("version %d", w.V)
	}
	r := &result[V]{fresh: time.UnixMilli(w.Fresh)}
	if w.Fetched != 0 {
		r.fetched = time.UnixMilli(w.Fetched)
	}
	switch {
	case w.Err != nil && w.Val == nil:
		class := authz.ErrInvalidToken
		switch w.Err.Class {
		case "invalid_token":
		case "forbidden":
			class = authz.ErrForbidden
		default:
			return nil, fmt.Errorf("refusal class %q", w.Err.Class)
		}
		switch {
		case w.Err.Reason == "":
			r.err = &refusal{class: class, msg: w.Err.Msg}
		case w.Err.Msg == "":
			r.err = &authz.ReasonError{Reason: authz.Reason(w.Err.Reason), Class: class}
		default:
			r.err = &authz.ReasonError{Reason: authz.Reason(w.Err.Reason), Class: class, Err: errors.New(w.Err.Msg)}
		}
	case w.Err == nil && w.Val != nil:
		v, err := codec.decode(w.Val)
		if err != nil {
			return nil, err
		}
		r.val, r.grace = v, time.UnixMilli(w.Grace)
		if r.grace.Before(r.fresh) {
			return nil, errors.New("grace before fresh")
		}
	default:
		return nil, errors.New("neither a value nor a refusal")
	}
	return r, nil
}

// strictJSON decodes one JSON value into v, refusing unknown fields and
// trailing data.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// wireIdentity is an identity as the shared cache stores it.
type wireIdentity struct {
	Username string   `json:"u"`
	Subject  string   `json:"s,omitempty"`
	Issuer   string   `json:"i,omitempty"`
	Provider string   `json:"p,omitempty"`
	ClientID string   `json:"c,omitempty"`
	Email    string   `json:"e,omitempty"`
	Groups   []string `json:"g,omitempty"`
	Scopes   []string `json:"sc,omitempty"`
	Expiry   int64    `json:"x,omitempty"` // unix ms; 0: unknown
	Via      string   `json:"v,omitempty"`
	KeyID    string   `json:"k,omitempty"`
}

// identityCodec is the codec of identities (remote providers, native
// tokens). CacheHit is not stored: the cache sets it on every hit.
var identityCodec = valueCodec[*authz.Identity]{
	encode: func(id *authz.Identity) ([]byte, error) {
		w := wireIdentity{Username: id.Username, Subject: id.Subject, Issuer: id.Issuer, Provider: id.Provider,
			ClientID: id.ClientID, Email: id.Email, Groups: id.Groups, Scopes: id.Scopes, Via: id.Via, KeyID: id.KeyID}
		if !id.Expiry.IsZero() {
			w.Expiry = id.Expiry.UnixMilli()
		}
		return json.Marshal(w)
	},
	decode: func(b []byte) (*authz.Identity, error) {
		var w wireIdentity
		if err := strictJSON(b, &w); err != nil {
			return nil, err
		}
		id := &authz.Identity{Username: w.Username, Subject: w.Subject, Issuer: w.Issuer, Provider: w.Provider,
			ClientID: w.ClientID, Email: w.Email, Groups: w.Groups, Scopes: w.Scopes, Via: w.Via, KeyID: w.KeyID}
		if w.Expiry != 0 {
			id.Expiry = time.UnixMilli(w.Expiry)
		}
		return id, nil
	},
	user: func(_ string, id *authz.Identity) string { return id.Username },
}

// refusal is a stored refusal that had no reason: its text and class.
type refusal struct {
	class error
	msg   string
}

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return e.class }
