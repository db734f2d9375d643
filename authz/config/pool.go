package config

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"gopkg.in/yaml.v3"
)

// Pool keeps long-lived providers across configuration reloads. A provider
// whose configuration text is unchanged is reused with its warm key set,
// token cache and HTTP client; the others are built new, and those no
// longer used are stopped once a reload succeeds. Only providers without
// external secrets (kind jwt) are pooled: a provider that reads a secret
// file must re-read it on reload.
type Pool struct {
	ctx     context.Context
	mu      sync.Mutex
	entries map[string]*poolEntry
}

type poolEntry struct {
	bp      *BuiltProvider
	cancel  context.CancelFunc
	started bool
}

// NewPool returns a pool whose providers run until ctx ends or they are
// released.
func NewPool(ctx context.Context) *Pool {
	return &Pool{ctx: ctx, entries: map[string]*poolEntry{}}
}

// Len is the number of pooled providers (tests).
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.entries)
}

// poolable says which providers may be reused.
func poolable(bp *BuiltProvider) bool { return bp.Kind == "jwt" && bp.Life != nil }

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
// The fresh ones it replaces have started nothing and are dropped.
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
		if e, ok := p.entries[fp]; ok {
			bp = e.bp
			provs.list[i] = bp
			provs.byName[bp.Name] = bp
		}
		fps[bp] = fp
	}
	return fps
}

// start runs a pooled provider's background work once, under the pool's
// context.
func (p *Pool) start(bp *BuiltProvider, fp string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.entries[fp]
	if !ok {
		e = &poolEntry{bp: bp}
		p.entries[fp] = e
	}
	if e.started {
		return
	}
	ctx, cancel := context.WithCancel(p.ctx)
	e.cancel, e.started = cancel, true
	bp.Life.Start(ctx)
}

// Retain stops the pooled providers that rt does not use. Call it after rt
// has been installed.
func (p *Pool) Retain(rt *Runtime) {
	keep := map[string]bool{}
	for _, fp := range rt.fingerprints {
		keep[fp] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for fp, e := range p.entries {
		if !keep[fp] {
			if e.cancel != nil {
				e.cancel()
			}
			delete(p.entries, fp)
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
