package main

import (
	"bytes"
	"crypto"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/restguard/restguard/assertion"
	"github.com/restguard/restguard/config"
)

// AssertionKeysPath is where the admin listener publishes the key set the
// products verify identity assertions with.
const AssertionKeysPath = "/.well-known/restguard-assertion-keys.json"

// keyRing is the published key set of identity assertions across reloads:
// the signing key, the keys the configuration publishes beside it (the next
// one of a rotation), and a signing key that a reload replaced, for
// rotation_overlap, so that assertions signed just before the reload still
// verify. It writes the set to the configured file whenever it changes and
// serves it on the admin listener.
type keyRing struct {
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	current  *assertion.Signer
	publish  []crypto.PublicKey
	previous []retired
	file     string
	json     []byte // the set as last published
	timer    *time.Timer
}

type retired struct {
	key   crypto.PublicKey
	until time.Time
}

// install takes the assertion keys of a newly installed configuration
// (nil: the section is off).
func (k *keyRing) install(keys *config.AssertionKeys) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	var next *assertion.Signer
	var overlap time.Duration
	k.publish, k.file = nil, ""
	if keys != nil {
		next, overlap, k.publish, k.file = keys.Signer, keys.Overlap, keys.Publish, keys.JWKSFile
	}
	if k.current != nil && (next == nil || next.KeyID() != k.current.KeyID()) {
		if overlap == 0 {
			overlap = config.DefaultRotationOverlap
		}
		k.previous = append(k.previous, retired{key: k.current.Public(), until: now.Add(overlap)})
	}
	k.current = next
	k.update(now)
}

// update drops retired keys past their time, republishes the set if it
// changed, and schedules the next drop. Callers hold k.mu.
func (k *keyRing) update(now time.Time) {
	var keys []crypto.PublicKey
	if k.current != nil {
		keys = append(keys, k.current.Public())
	}
	keys = append(keys, k.publish...)
	kept := k.previous[:0]
	var soonest time.Time
	for _, r := range k.previous {
		if now.Before(r.until) {
			kept = append(kept, r)
			keys = append(keys, r.key)
			if soonest.IsZero() || r.until.Before(soonest) {
				soonest = r.until
			}
		}
	}
	k.previous = kept
	set, err := assertion.NewKeySet(dedupeKeys(keys)...)
	if err != nil {
		k.log.Error("assertion key set not published", "error", err)
		return
	}
	if !bytes.Equal(set.JSON(), k.json) {
		k.json = set.JSON()
		if k.file != "" {
			if err := set.WriteFile(k.file); err != nil {
				k.log.Error("assertion key set not written", "file", k.file, "error", err)
			} else {
				k.log.Info("assertion key set written", "file", k.file, "keys", len(set.KeyIDs()))
			}
		}
	}
	if k.timer != nil {
		k.timer.Stop()
		k.timer = nil
	}
	if !soonest.IsZero() {
		k.timer = time.AfterFunc(soonest.Sub(now), func() {
			k.mu.Lock()
			defer k.mu.Unlock()
			k.update(k.now())
		})
	}
}

// stop cancels the pending drop of a retired key.
func (k *keyRing) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.timer != nil {
		k.timer.Stop()
	}
}

// ServeHTTP publishes the key set (404 while no assertion key is
// configured).
func (k *keyRing) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	k.mu.Lock()
	body := k.json
	k.mu.Unlock()
	if len(body) == 0 || bytes.Equal(body, []byte(`{"keys":[]}`)) {
		http.NotFound(w, nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=60")
	_, _ = w.Write(body)
}

func dedupeKeys(keys []crypto.PublicKey) []crypto.PublicKey {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	var out []crypto.PublicKey
	for _, k := range keys {
		dup := false
		for _, o := range out {
			if e, ok := o.(equaler); ok && e.Equal(k) {
				dup = true
			}
		}
		if !dup {
			out = append(out, k)
		}
	}
	return out
}
