package providers

import (
	"fmt"
	"testing"
	"time"
)

// TestRevocationsForgetOnTheSafeSide: a revocation forgotten (expired, or
// pushed out by the bound) raises the floor, so that answers fetched before
// it stay refused whatever they name; answers fetched later are kept.
func TestRevocationsForgetOnTheSafeSide(t *testing.T) {
	t.Parallel()
	clk := newClock()
	r := NewRevocations(nil)
	r.now = clk.Now
	before := clk.Now()
	r.Token("0123456789abcdef")
	r.User(r.UserKey("corp", "alice"))
	if !r.refuses("0123456789abcdef", "corp", "", before) || !r.refuses("ffffffffffffffff", "corp", "alice", before) {
		t.Fatal("a revoked token or user fetched before the revocation is not refused")
	}
	if r.refuses("ffffffffffffffff", "corp", "bob", before) || r.refuses("0123456789abcdef", "corp", "", clk.Now().Add(revocationMargin+time.Second)) {
		t.Fatal("refused another user, or an answer fetched after the revocation")
	}
	// A day later the revocations expire (at the next one): the floor keeps
	// refusing what was fetched before them.
	clk.Add(revocationKeep + time.Hour)
	r.Token("1111111111111111")
	if len(r.tokens) != 1 || len(r.users) != 0 {
		t.Fatalf("expired revocations kept: %d tokens, %d users", len(r.tokens), len(r.users))
	}
	if !r.refuses("ffffffffffffffff", "corp", "bob", before) {
		t.Fatal("an answer fetched before a forgotten revocation is served")
	}
	// The bound: the oldest is forgotten, on the safe side.
	for i := range maxRevocations + 1 {
		r.Token(fmt.Sprintf("%016x", i))
	}
	if len(r.order) != maxRevocations {
		t.Fatalf("%d revocations kept, bound %d", len(r.order), maxRevocations)
	}
}
