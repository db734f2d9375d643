package config

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"

	"github.com/restguard/restguard/providers"
)

// Pool keeps long-lived provider state across configuration reloads:
//
//   - key sets, by their settings (issuer, discovery or JWKS URL, fetch
//     settings): a reload fetches no key set the running configuration
//     already holds, whichever providers use it now;
//   - providers (kinds jwt, introspection and userinfo) whose decoded
//     configuration and secret are unchanged, with their token caches,
//     HTTP clients and counters.
//
// Key sets and providers that the installed configuration no longer uses
// are stopped and dropped by Retain. A pool serves builds with the same
// BuildOptions.
type Pool struct {
	ctx       context.Context
	key       [32]byte // HMAC key of the fingerprints, random per pool
	mu        sync.Mutex
	providers map[string]*BuiltProvider // by fingerprint
	keySets   map[providers.KeySetConfig]*keySetEntry
}

type keySetEntry struct {
	ks     *providers.KeySet
	cancel context.CancelFunc
}

// NewPool returns a pool whose key sets refresh until ctx ends or they are
// released.
func NewPool(ctx context.Context) *Pool {
	p := &Pool{ctx: ctx, providers: map[string]*BuiltProvider{}, keySets: map[providers.KeySetConfig]*keySetEntry{}}
	_, _ = rand.Read(p.key[:]) // never fails (crypto/rand)
	return p
}

// Len is the number of pooled providers (tests).
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.providers)
}

// KeySets is the number of pooled key sets (tests).
func (p *Pool) KeySets() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.keySets)
}

// poolable says which providers may be reused. Their state is a token
// cache, an HTTP client and counters, all decided by their configuration
// and secret. The discovery kind is rebuilt: a reload reads its discovery
// document again (its key set is pooled all the same).
func poolable(bp *BuiltProvider) bool {
	switch bp.Kind {
	case providers.KindJWT, providers.KindIntrospection, providers.KindUserinfo:
		return true
	}
	return false
}

// fingerprint identifies what a provider was built from: its decoded
// configuration (every field of Provider, as JSON) and the SHA-256 of the
// secret it read, keyed with the pool's random key so that the secret's
// hash is not kept in a guessable form. Decoded, not the YAML text: a
// node that refers to an anchor prints as "*auds" whatever the anchor
// holds (seams item 18). "" when the configuration cannot be encoded: the
// provider is then never reused.
func (p *Pool) fingerprint(pc Provider, bp *BuiltProvider) string {
	b, err := json.Marshal(pc)
	if err != nil {
		return ""
	}
	m := hmac.New(sha256.New, p.key[:])
	m.Write(b)
	m.Write([]byte{0})
	m.Write(bp.secret[:])
	return hex.EncodeToString(m.Sum(nil))
}

// reuse swaps freshly built providers for pooled ones with the same
// configuration and returns the fingerprint of every poolable provider.
// The fresh ones it replaces have started nothing and are dropped. A
// pooled provider's key sets are the pool's, which the build's other
// providers got too.
func (p *Pool) reuse(c *Config, provs *builtProviders) map[*BuiltProvider]string {
	fps := map[*BuiltProvider]string{}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, bp := range provs.list {
		idx := configIndex(c, bp.Name)
		if !poolable(bp) || idx < 0 {
			continue
		}
		fp := p.fingerprint(c.Providers[idx], bp)
		if fp == "" {
			continue
		}
		if old, ok := p.providers[fp]; ok {
			bp = old
			provs.list[i] = bp
			provs.byName[bp.Name] = bp
		}
		fps[bp] = fp
	}
	return fps
}

// keySet returns the pooled key set with settings c, or nil. A nil pool
// has none.
func (p *Pool) keySet(c providers.KeySetConfig) *providers.KeySet {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.keySets[c]; e != nil {
		return e.ks
	}
	return nil
}

// start pools rt's providers and key sets and runs each key set's
// background refresh once, under the pool's context.
func (p *Pool) start(rt *Runtime) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for bp, fp := range rt.fingerprints {
		if _, ok := p.providers[fp]; !ok {
			p.providers[fp] = bp
		}
	}
	for _, ks := range rt.keySets {
		c := ks.Config()
		if e := p.keySets[c]; e != nil {
			if e.ks == ks {
				continue
			}
			e.cancel() // not expected: builds take pooled key sets
		}
		ctx, cancel := context.WithCancel(p.ctx)
		p.keySets[c] = &keySetEntry{ks: ks, cancel: cancel}
		ks.Start(ctx)
	}
}

// Retain stops and drops the pooled providers and key sets that rt does
// not use. Call it after rt has been installed.
func (p *Pool) Retain(rt *Runtime) {
	keep := map[string]bool{}
	for _, fp := range rt.fingerprints {
		keep[fp] = true
	}
	used := map[*providers.KeySet]bool{}
	for _, ks := range rt.keySets {
		used[ks] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for fp := range p.providers {
		if !keep[fp] {
			delete(p.providers, fp)
		}
	}
	for c, e := range p.keySets {
		if !used[e.ks] {
			e.cancel()
			delete(p.keySets, c)
		}
	}
}

func configIndex(c *Config, name string) int {
	for i, pc := range c.Providers {
		if pc.Name == name {
			return i
		}
	}
	return -1
}
