package providers

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestTTLLRUExpiresAndBounds: an entry is served until its time, then
// removed (and counted as leaving); the size bounds the entries; a nil
// cache (size 0) holds nothing.
func TestTTLLRUExpiresAndBounds(t *testing.T) {
	t.Parallel()
	left := 0
	c := newTTLLRU(2, func(string, until) { left++ })
	now := time.Unix(1_000_000, 0)
	c.add("a", until(now.Add(time.Second)))
	if v, ok := c.get("a", now); !ok || v != until(now.Add(time.Second)) {
		t.Fatalf("fresh entry: %v %v", v, ok)
	}
	if _, ok := c.get("a", now.Add(time.Second)); ok {
		t.Fatal("entry served at its expiry")
	}
	if c.len() != 0 || left != 1 {
		t.Fatalf("after expiry: len %d, left %d; want 0, 1", c.len(), left)
	}
	for _, k := range []string{"x", "y", "z"} {
		c.add(k, until(now.Add(time.Hour)))
	}
	if _, ok := c.get("x", now); ok || c.len() != 2 || left != 2 {
		t.Fatalf("bound: x present %v, len %d, left %d; want false, 2, 2", ok, c.len(), left)
	}
	off := newTTLLRU[string, until](0, nil)
	off.add("a", until(now.Add(time.Hour)))
	if _, ok := off.get("a", now); ok || off.len() != 0 {
		t.Fatal("a disabled cache held an entry")
	}
}

// until is a test value that expires at its own time.
type until time.Time

func (u until) expires() time.Time { return time.Time(u) }

// TestResultCacheValueAndRefusalReplaceEachOther: a refusal drops the
// value of a revoked token, and a later value drops the refusal; a value
// is kept through its grace, a refusal only while fresh.
func TestResultCacheValueAndRefusalReplaceEachOther(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newResultCache(10, 10, "p", valueCodec[string]{}, nil)
	now := time.Unix(1_000_000, 0)
	k := resultKey("p", "tok")
	c.Set(ctx, k, "tok", &result[string]{val: "alice", fresh: now.Add(time.Minute), grace: now.Add(time.Hour)})
	if r, ok := c.Get(ctx, k, "tok", now.Add(30*time.Minute)); !ok || r.val != "alice" || now.Add(30*time.Minute).Before(r.fresh) {
		t.Fatalf("value in its grace: %+v %v", r, ok)
	}
	refused := errors.New("revoked")
	c.Set(ctx, k, "tok", &result[string]{err: refused, fresh: now.Add(time.Minute)})
	if r, ok := c.Get(ctx, k, "tok", now); !ok || r.err != refused || c.Len() != 0 {
		t.Fatalf("refusal: %+v %v, %d values", r, ok, c.Len())
	}
	if _, ok := c.Get(ctx, k, "tok", now.Add(time.Minute)); ok {
		t.Fatal("refusal served after it stopped being fresh")
	}
	c.Set(ctx, k, "tok", &result[string]{err: refused, fresh: now.Add(time.Minute)})
	c.Set(ctx, k, "tok", &result[string]{val: "alice", fresh: now.Add(time.Minute), grace: now.Add(time.Minute)})
	if r, ok := c.Get(ctx, k, "tok", now); !ok || r.err != nil || r.val != "alice" {
		t.Fatalf("value after a refusal: %+v %v", r, ok)
	}
	if resultKey("p", "tok") == resultKey("q", "tok") {
		t.Fatal("keys are not scoped by provider")
	}
}
