package providers

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"golang.org/x/sync/singleflight"
)

// maxKeys bounds the keys of one JWKS; a set with more is refused.
const maxKeys = 256

// minRSABits is the smallest RSA modulus accepted (security catalogue C4).
const minRSABits = 2048

// maxRSABits bounds the work one signature check can cost.
const maxRSABits = 16384

// publicKey is one usable verification key from the JWKS.
type publicKey struct {
	kid string
	alg string // the JWK's declared alg, "" when absent
	pub crypto.PublicKey
}

// keySet is an immutable, filtered key set. A refresh builds a new one.
type keySet struct {
	gen     uint64 // increases with every successful fetch
	fetched time.Time
	keys    []*publicKey
	byKID   map[string][]*publicKey
}

func (s *keySet) lookup(kid string) []*publicKey {
	if s == nil {
		return nil
	}
	return s.byKID[kid]
}

// has reports whether the set still holds exactly this key under kid.
func (s *keySet) has(kid string, pub crypto.PublicKey) bool {
	for _, k := range s.lookup(kid) {
		if eq, ok := k.pub.(interface{ Equal(crypto.PublicKey) bool }); ok && eq.Equal(pub) {
			return true
		}
	}
	return false
}

// KeySetConfig is what decides a key set: where its keys come from and
// how they are fetched. It is comparable: JWT providers whose settings
// are equal (after defaults) may share one KeySet (JWTConfig.KeySet).
type KeySetConfig struct {
	Issuer       string // the discovery document's issuer must equal it
	DiscoveryURL string // used when JWKSURI is empty
	JWKSURI      string
	// RefreshInterval: background refresh after the last fetch;
	// MinRefreshInterval: at most one unknown-kid fetch per interval, and
	// the retry interval while no usable set is loaded.
	RefreshInterval, MinRefreshInterval time.Duration
	MaxStale                            time.Duration
	FetchTimeout                        time.Duration
	MaxBodyBytes                        int64
}

// KeySetConfig returns the key-set settings of c with the defaults
// applied (invalid values are reported by NewJWT and NewKeySet).
func (c JWTConfig) KeySetConfig() KeySetConfig {
	prepareKeySet(&c, func(string, ...any) {})
	return KeySetConfig{
		Issuer: c.Issuer, DiscoveryURL: c.DiscoveryURL, JWKSURI: c.JWKSURI,
		RefreshInterval: c.RefreshInterval, MinRefreshInterval: c.MinRefreshInterval,
		MaxStale: c.MaxStale, FetchTimeout: c.FetchTimeout, MaxBodyBytes: c.MaxBodyBytes,
	}
}

// KeySet is one issuer's JWKS: fetched at startup (Refresh), refreshed in
// the background (Start), refetched on an unknown kid at most once per
// MinRefreshInterval. Several JWT providers may share one (the same issuer
// with different audiences on different hosts): they then see one fetch at
// startup, one refresh per interval and one refetch per rotation. It is
// safe for concurrent use.
type KeySet struct {
	cfg    KeySetConfig
	client fetcher // bounded by FetchTimeout and MaxBodyBytes per document
	log    *slog.Logger
	now    func() time.Time
	// wait sleeps d or until ctx ends (false); tests replace it to drive
	// the background refresh with an injected clock.
	wait func(ctx context.Context, d time.Duration) bool

	keys    atomic.Pointer[keySet]
	flight  singleflight.Group
	started atomic.Bool
	stopped chan struct{} // closed when the Start goroutine returns

	fetchMu sync.Mutex // serialises fetches

	mu          sync.Mutex    // guards the fields below
	jwksURI     string        // configured or discovered
	meta        *oidcMetadata // the last discovery document (nil: none fetched)
	metaGen     uint64        // counts discovery documents fetched
	gen         uint64
	startedAt   time.Time
	lastAttempt time.Time // start of the last fetch: rate-limits unknown-kid fetches
	lastFetch   time.Time // end of the last fetch, whatever its outcome: schedules the next refresh
	lastSuccess time.Time // also keySet.fetched; kept for status reporting

	refreshOK, refreshErrors atomic.Uint64 // JWKS fetches by outcome
}

// NewKeySet returns the key set a JWT provider configured with c fetches
// (its KeySetConfig, HTTPClient, Logger and Now). It does no network I/O.
func NewKeySet(c JWTConfig) (*KeySet, error) {
	var errs []error
	prepareKeySet(&c, func(format string, args ...any) { errs = append(errs, fmt.Errorf("jwt: "+format, args...)) })
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	k := &KeySet{cfg: c.KeySetConfig(), log: c.Logger, now: c.Now, wait: sleep, stopped: make(chan struct{}), jwksURI: c.JWKSURI}
	k.client = fetcher{client: newClient(c.HTTPClient), timeout: k.cfg.FetchTimeout, maxBody: k.cfg.MaxBodyBytes}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if k.now == nil {
		k.now = time.Now
	}
	return k, nil
}

// Config is the key set's configuration, with defaults.
func (k *KeySet) Config() KeySetConfig { return k.cfg }

// current returns the key set if it may still be used: loaded, and the
// last successful fetch no older than MaxStale (security catalogue J2).
func (k *KeySet) current(now time.Time) *keySet {
	ks := k.keys.Load()
	if ks == nil || now.Sub(ks.fetched) > k.cfg.MaxStale {
		return nil
	}
	return ks
}

// Refresh fetches the key set now: the discovery document first when no
// JWKS URI is configured or discovered yet, then the JWKS. Use it at
// startup before reporting ready. A failed fetch keeps the previous set
// (until MaxStale); a successfully parsed set replaces it, even when it
// holds no usable key.
func (k *KeySet) Refresh(ctx context.Context) error {
	ch := k.flight.DoChan("refresh", func() (any, error) {
		k.fetchMu.Lock()
		defer k.fetchMu.Unlock()
		return nil, k.fetch(context.WithoutCancel(ctx))
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refreshOnMiss fetches the key set for an unknown kid or a missing set,
// at most once per MinRefreshInterval. Concurrent callers share one fetch.
// The fetch runs detached from the request's cancellation (bounded by
// FetchTimeout), so a short request deadline cannot waste it.
func (k *KeySet) refreshOnMiss(ctx context.Context) {
	ch := k.flight.DoChan("miss", func() (any, error) {
		k.fetchMu.Lock()
		defer k.fetchMu.Unlock()
		now := k.now()
		k.mu.Lock()
		if !k.lastAttempt.IsZero() && now.Sub(k.lastAttempt) < k.cfg.MinRefreshInterval {
			k.mu.Unlock()
			return nil, nil
		}
		k.mu.Unlock()
		return nil, k.fetch(context.WithoutCancel(ctx))
	})
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

// Start runs the background refresh until ctx is done: RefreshInterval
// after the last fetch (whoever ran it: Refresh at startup, an unknown
// kid, or this loop), MinRefreshInterval while no usable key set is
// loaded. Start does not fetch itself before MinRefreshInterval has
// passed, so that Start followed by Refresh at startup is one fetch, and
// the next one comes a whole RefreshInterval later (seams item 17). Only
// the first call starts a goroutine.
func (k *KeySet) Start(ctx context.Context) {
	if !k.started.CompareAndSwap(false, true) {
		return
	}
	k.mu.Lock()
	k.startedAt = k.now()
	k.mu.Unlock()
	go func() {
		defer close(k.stopped)
		for k.wait(ctx, k.untilDue(k.now())) {
			k.refreshIfDue(ctx)
		}
	}()
}

// untilDue is the time left until the next background refresh.
func (k *KeySet) untilDue(now time.Time) time.Duration {
	interval := k.cfg.MinRefreshInterval
	if k.ready(now) {
		interval = k.cfg.RefreshInterval
	}
	k.mu.Lock()
	base := k.lastFetch
	if base.IsZero() {
		base = k.startedAt
	}
	k.mu.Unlock()
	return base.Add(interval).Sub(now)
}

// refreshIfDue fetches unless another fetch made it unnecessary while the
// loop slept; it decides under fetchMu, so a fetch in progress is waited
// for and counted.
func (k *KeySet) refreshIfDue(ctx context.Context) {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	if k.untilDue(k.now()) > 0 {
		return
	}
	_ = k.fetch(ctx) // logged by fetch
}

// sleep waits d, or until ctx ends (then it reports false).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Ready reports whether a usable, non-stale key set with at least one key
// is loaded.
func (k *KeySet) Ready() bool { return k.ready(k.now()) }

func (k *KeySet) ready(now time.Time) bool {
	ks := k.current(now)
	return ks != nil && len(ks.keys) > 0
}

// KeyCount is the number of usable keys in the current set.
func (k *KeySet) KeyCount() int {
	ks := k.current(k.now())
	if ks == nil {
		return 0
	}
	return len(ks.keys)
}

// fetch runs one discovery (if needed) and JWKS fetch and installs the
// result. Callers hold k.fetchMu, so an older fetch never overwrites a
// newer set.
func (k *KeySet) fetch(ctx context.Context) error {
	now := k.now()
	k.mu.Lock()
	k.lastAttempt = now
	uri := k.jwksURI
	k.mu.Unlock()

	err := func() error {
		if uri == "" {
			md, err := k.discover(ctx)
			if err != nil {
				return err
			}
			if md.jwksErr != nil {
				return fmt.Errorf("discovery: %w", md.jwksErr)
			}
			uri = md.jwksURI
		}
		obj, body, err := k.getJSON(ctx, uri)
		if err != nil {
			return fmt.Errorf("jwks: %w", err)
		}
		keys, err := parseKeySet(obj, body)
		if err != nil {
			return fmt.Errorf("jwks: %w", err)
		}
		k.install(keys, k.now())
		return nil
	}()
	k.mu.Lock()
	k.lastFetch = k.now()
	k.mu.Unlock()
	if err != nil {
		k.refreshErrors.Add(1)
		k.log.Warn("jwks refresh failed", "issuer", k.cfg.Issuer, "error", err)
	} else {
		k.refreshOK.Add(1)
	}
	return err
}

func (k *KeySet) install(keys []*publicKey, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gen++
	ks := &keySet{gen: k.gen, fetched: now, keys: keys, byKID: map[string][]*publicKey{}}
	for _, pk := range keys {
		ks.byKID[pk.kid] = append(ks.byKID[pk.kid], pk)
	}
	k.lastSuccess = now
	k.keys.Store(ks)
}

// discover fetches the OpenID discovery document (strictly: see
// parseDiscovery) and records it, and its jwks_uri when none is known yet
// and it is usable. Callers hold fetchMu.
func (k *KeySet) discover(ctx context.Context) (*oidcMetadata, error) {
	doc, _, err := k.getJSON(ctx, k.cfg.DiscoveryURL)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	md, err := parseDiscovery(doc, k.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.meta, k.metaGen = md, k.metaGen+1
	if k.jwksURI == "" && md.jwksErr == nil {
		k.jwksURI = md.jwksURI
	}
	k.mu.Unlock()
	return md, nil
}

// discoveryGen counts the discovery documents fetched so far (see
// metadata).
func (k *KeySet) discoveryGen() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.metaGen
}

// metadata returns a discovery document fetched after the first since
// documents: the one this key set fetched for its jwks_uri if it is recent
// enough, or a new one. It waits for a fetch in progress, so that a
// provider starting up together with its key set reads the document once.
func (k *KeySet) metadata(ctx context.Context, since uint64) (*oidcMetadata, error) {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	k.mu.Lock()
	md, gen := k.meta, k.metaGen
	k.mu.Unlock()
	if md != nil && gen > since {
		return md, nil
	}
	return k.discover(ctx)
}

// getJSON fetches a JSON document: status 200, a body within
// MaxBodyBytes, and a strictly decoded JSON object (answer.object). It
// returns the object and the body.
func (k *KeySet) getJSON(ctx context.Context, url string) (map[string]any, []byte, error) {
	req, err := newRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	a, err := k.client.fetch(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	if a.status != http.StatusOK {
		return nil, nil, fmt.Errorf("status %d", a.status)
	}
	obj, err := a.object()
	if err != nil {
		return nil, nil, err
	}
	return obj, a.body, nil
}

// parseKeySet parses a JWKS document (doc is body, strictly decoded) and
// keeps only keys usable for signature verification.
func parseKeySet(doc map[string]any, body []byte) ([]*publicKey, error) {
	list, ok := doc["keys"].([]any)
	if !ok {
		return nil, errors.New(`no "keys" array`)
	}
	if len(list) > maxKeys {
		return nil, fmt.Errorf("more than %d keys", maxKeys)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	keys := make([]*publicKey, 0, set.Len())
	for i := range set.Len() {
		k, _ := set.Key(i)
		if pk := usableKey(k); pk != nil {
			keys = append(keys, pk)
		}
	}
	return keys, nil
}

// usableKey returns the verification key of k, or nil when k must not be
// used: symmetric (a remote JWKS never supplies an HMAC secret, security
// catalogue C4), use other than "sig", key_ops without "verify", weak RSA,
// an EC point not on its curve, or an unknown key type.
func usableKey(k jwk.Key) *publicKey {
	if k.KeyType() == jwa.OctetSeq {
		return nil
	}
	if use := k.KeyUsage(); use != "" && use != string(jwk.ForSignature) {
		return nil
	}
	if ops := k.KeyOps(); ops != nil {
		verify := false
		for _, op := range ops {
			verify = verify || op == jwk.KeyOpVerify
		}
		if !verify {
			return nil
		}
	}
	pubKey, err := k.PublicKey()
	if err != nil {
		return nil
	}
	var raw any
	if err := pubKey.Raw(&raw); err != nil {
		return nil
	}
	pk := &publicKey{kid: k.KeyID()}
	if a := k.Algorithm(); a != nil {
		pk.alg = a.String()
	}
	switch p := raw.(type) {
	case *rsa.PublicKey:
		if bits := p.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil
		}
		pk.pub = p
	case *ecdsa.PublicKey:
		// Round-trip through the uncompressed encoding: that checks the
		// point is on the curve.
		b, err := p.Bytes()
		if err != nil {
			return nil
		}
		checked, err := ecdsa.ParseUncompressedPublicKey(p.Curve, b)
		if err != nil {
			return nil
		}
		pk.pub = checked
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return nil
		}
		pk.pub = p
	default:
		return nil
	}
	return pk
}

// fits reports whether key type and size suit alg (RFC 8725 §3.1: the
// algorithm is bound to the key, never chosen by the token alone).
func fits(alg string, pub crypto.PublicKey) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		p, ok := pub.(*rsa.PublicKey)
		return ok && p.N.BitLen() >= minRSABits
	case "ES256":
		return curveIs(pub, elliptic.P256())
	case "ES384":
		return curveIs(pub, elliptic.P384())
	case "ES512":
		return curveIs(pub, elliptic.P521())
	case "EdDSA":
		_, ok := pub.(ed25519.PublicKey)
		return ok
	default:
		return false
	}
}

func curveIs(pub crypto.PublicKey, c elliptic.Curve) bool {
	p, ok := pub.(*ecdsa.PublicKey)
	return ok && p.Curve == c
}
