package sharedcache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// offline is a Cache for sealing only (New does not connect).
func offline(t testing.TB, secret string) *Cache {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Address: "127.0.0.1:1", FleetSecretFile: p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSealTamperingAndMisuse(t *testing.T) {
	t.Parallel()
	c := offline(t, strings.Repeat("k", 32))
	now := time.Unix(1_800_000_000, 0)
	key := keyOf("corp", tokenA)
	blob, err := c.seal(key, tokenA, []byte(resultA), now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.open(key, tokenA, blob, now); err != nil || string(got) != resultA {
		t.Fatalf("open: %q %v", got, err)
	}
	// Two seals of the same value differ (random nonce).
	again, _ := c.seal(key, tokenA, []byte(resultA), now.Add(time.Minute))
	if string(again) == string(blob) {
		t.Fatal("deterministic sealing")
	}
	// Every single-bit flip is detected.
	for i := range blob {
		for bit := range 8 {
			bad := append([]byte(nil), blob...)
			bad[i] ^= 1 << bit
			if _, err := c.open(key, tokenA, bad, now); err == nil {
				t.Fatalf("flip of byte %d bit %d accepted", i, bit)
			}
		}
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"truncated": blob[:len(blob)-1],
		"short":     blob[:sealed0-1],
	} {
		if _, err := c.open(key, tokenA, b, now); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := c.open(keyOf("other", tokenA), tokenA, blob, now); err == nil {
		t.Error("opened under another key")
	}
	if _, err := c.open(key, tokenA, blob, now.Add(time.Minute)); err == nil {
		t.Error("opened at its expiry")
	}
	if _, err := offline(t, strings.Repeat("j", 32)).open(key, tokenA, blob, now); err == nil {
		t.Error("opened with another fleet secret")
	}
}
