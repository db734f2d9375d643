package config

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/restguard/restguard/providers"
)

// Pool keeps long-lived provider state across configuration reloads:
//
//   - key sets, by their settings (issuer, discovery or JWKS URL, fetch
//     settings): a reload fetches no key set the running configuration
//     already holds, whichever providers use it now;
//   - providers whose configuration is unchanged, with their token caches.
//
// A provider that reads a secret file must re-read it on reload, so only
// providers without external secrets (kind jwt) are pooled. Key sets and
// providers that the installed configuration no longer uses are stopped
// and dropped by Retain. A pool serves builds with the same BuildOptions.
type Pool struct {
	ctx       context.Context
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
	return &Pool{ctx: ctx, providers: map[string]*BuiltProvider{}, keySets: map[providers.KeySetConfig]*keySetEntry{}}
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

// poolable says which providers may be reused.
func poolable(bp *BuiltProvider) bool { return bp.Kind == "jwt" }

// fingerprint identifies a provider's configuration: its YAML text. A
// change to any key gives a new provider.
func fingerprint(c *Config, i int) string {
	if c.root == nil {
		return ""
	}
	n := nodeAt(c.root, fmt.Sprintf("providers[%d]", i))
	if n == nil {
		return ""
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
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
		if !poolable(bp) {
			continue
		}
		fp := fingerprint(c, configIndex(c, bp.Name))
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
