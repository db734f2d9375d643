package main

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/restguard/restguard/assertion"
	"github.com/restguard/restguard/config"
)

func newTestSigner(t *testing.T) *assertion.Signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := assertion.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAssertionKeyRotationOverlap: a reload that switches the signing key
// keeps the old public key published for rotation_overlap (assertions
// signed just before the reload still verify), the next key of a rotation
// is published before it signs, and the file the products read follows
// every change (issue 14 §1).
func TestAssertionKeyRotationOverlap(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	file := filepath.Join(t.TempDir(), "jwks.json")
	k := &keyRing{log: slog.New(slog.DiscardHandler), now: func() time.Time { return now }}
	defer k.stop()
	a, b := newTestSigner(t), newTestSigner(t)
	published := func() []string {
		t.Helper()
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := assertion.ParseKeySet(data)
		if err != nil {
			t.Fatal(err)
		}
		ids := ks.KeyIDs()
		slices.Sort(ids)
		return ids
	}
	want := func(ids ...string) []string { slices.Sort(ids); return ids }

	// Step 1: signing with a, b published ahead of the rotation.
	k.install(&config.AssertionKeys{Signer: a, Publish: []crypto.PublicKey{b.Public()}, Overlap: 10 * time.Minute, JWKSFile: file})
	if got := published(); !slices.Equal(got, want(a.KeyID(), b.KeyID())) {
		t.Fatalf("step 1: %v", got)
	}
	// Step 2: a reload signs with b; a stays published for the overlap.
	k.install(&config.AssertionKeys{Signer: b, Overlap: 10 * time.Minute, JWKSFile: file})
	if got := published(); !slices.Equal(got, want(a.KeyID(), b.KeyID())) {
		t.Fatalf("step 2: the replaced key is gone at once: %v", got)
	}
	// Step 3: past the overlap, only b.
	now = now.Add(10*time.Minute + time.Second)
	k.mu.Lock()
	k.update(now)
	k.mu.Unlock()
	if got := published(); !slices.Equal(got, want(b.KeyID())) {
		t.Fatalf("step 3: %v", got)
	}
	// The admin endpoint serves the same set.
	rec := httptest.NewRecorder()
	k.ServeHTTP(rec, httptest.NewRequest("GET", AssertionKeysPath, nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", rec.Code, body)
	}
	if ks, err := assertion.ParseKeySet(body); err != nil || !slices.Equal(ks.KeyIDs(), []string{b.KeyID()}) {
		t.Errorf("served %s (%v)", body, err)
	}
	// The section removed: nothing signs, b stays published for the overlap.
	k.install(nil)
	if _, ok := func() (any, bool) { k.mu.Lock(); defer k.mu.Unlock(); return nil, len(k.previous) == 1 }(); !ok {
		t.Error("a key removed with the section is not kept for the overlap")
	}
}
