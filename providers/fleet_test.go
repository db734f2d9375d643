package providers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/internal/redistest"
	"github.com/restguard/restguard/sharedcache"
)

// flushShared waits until p's answers are in the shared cache (they are
// stored after the answer is handed back).
func flushShared(p *Introspection) {
	if sr, ok := p.cache.results.(*sharedResults[*authz.Identity]); ok {
		sr.pending.Wait()
	}
}

// fleetCacheB is a shared cache on srv with a fresh fleet secret.
func fleetCacheB(tb testing.TB, srv *redistest.Server) *sharedcache.Cache {
	tb.Helper()
	return fleetCache(tb, srv, fleetSecret(tb))
}

// fleetCache is one replica's shared cache on srv, with the fleet's secret.
func fleetCache(t testing.TB, srv *redistest.Server, secret string) *sharedcache.Cache {
	t.Helper()
	c, err := sharedcache.New(sharedcache.Config{
		Address: "unix:" + srv.Socket, UsernameFile: srv.UserFile, PasswordFile: srv.PasswordFile,
		// Generous: a loaded two-core machine must not turn Redis into a
		// miss here (the outage tests set their own).
		FleetSecretFile: secret, Timeout: 5 * time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func fleetSecret(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	p := filepath.Join(t.TempDir(), "fleet-secret")
	if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(b)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSharedCacheSparesTheProviderAcrossReplicas: what one replica learnt
// from the authorization server, answers and refusals alike, another
// replica reuses through Redis: the server is asked once per token for the
// fleet. With Redis gone, each replica asks the server again and answers
// correctly (fail closed: never an answer without one).
func TestSharedCacheSparesTheProviderAcrossReplicas(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	secret := fleetSecret(t)
	clk := newClock()
	f := newFakeAS(t, func(w http.ResponseWriter, r *http.Request) {
		if r.PostForm.Get("token") == "revoked-token" {
			jsonAnswer(`{"active":false}`)(w, r)
			return
		}
		activeFor(clk)(w, r)
	})
	replica := func() *Introspection {
		c := fleetCache(t, srv, secret)
		return newIntrospection(t, f, clk, func(cfg *IntrospectionConfig) { cfg.Remote.Shared = c })
	}
	a, b := replica(), replica()
	ctx := context.Background()

	idA, err := a.Validate(ctx, "opaque-token-1")
	if err != nil {
		t.Fatal(err)
	}
	flushShared(a)
	idB, err := b.Validate(ctx, "opaque-token-1")
	if err != nil {
		t.Fatal(err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d calls for one token on two replicas, want 1", n)
	}
	if !idB.CacheHit {
		t.Error("replica b's answer is not marked as a cache hit")
	}
	if !sameIdentity(idA, idB) {
		t.Errorf("the shared answer differs:\n a %+v\n b %+v", idA, idB)
	}
	// A refusal is shared too, with its reason.
	_, errA := a.Validate(ctx, "revoked-token")
	flushShared(a)
	_, errB := b.Validate(ctx, "revoked-token")
	if !errors.Is(errB, authz.ErrInvalidToken) || reasonOf(errB) != reasonOf(errA) {
		t.Fatalf("shared refusal: %v, want %v", errB, errA)
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("%d calls after a refusal on two replicas, want 2", n)
	}

	// Redis stops: replica b asks the server for what it has not seen, and
	// keeps serving what it holds in process.
	srv.Stop(t)
	if _, err := b.Validate(ctx, "opaque-token-2"); err != nil {
		t.Fatalf("with Redis down: %v", err)
	}
	if _, err := b.Validate(ctx, "revoked-token"); !errors.Is(err, authz.ErrInvalidToken) {
		t.Fatalf("with Redis down, a refused token: %v", err)
	}
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("%d calls with Redis down, want 3", n)
	}
}

// TestEvictDropsTheNamedEntries: a revocation by fingerprint drops one
// token's answer, one by user every answer naming that user, and the next
// check asks the server again.
func TestEvictDropsTheNamedEntries(t *testing.T) {
	t.Parallel()
	clk := newClock()
	f := newFakeAS(t, activeFor(clk))
	p := newIntrospection(t, f, clk, nil)
	ctx := context.Background()
	for i := range 3 {
		if _, err := p.Validate(ctx, fmt.Sprintf("opaque-token-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.Evict(Eviction{Fingerprint: authz.Fingerprint("opaque-token-0")}); n != 1 {
		t.Fatalf("evicted %d by fingerprint, want 1", n)
	}
	if n := p.Evict(Eviction{User: func(u string) bool { return u == "bob" }}); n != 0 {
		t.Fatalf("evicted %d entries of another user", n)
	}
	before := f.calls.Load()
	for i := range 3 {
		if _, err := p.Validate(ctx, fmt.Sprintf("opaque-token-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load() - before; n != 1 {
		t.Fatalf("%d calls after evicting one token, want 1", n)
	}
	if n := p.Evict(Eviction{User: func(u string) bool { return u == "alice" }}); n != 3 {
		t.Fatalf("evicted %d of alice's entries, want 3", n)
	}
	if n := p.Evict(Eviction{All: true}); n != 0 {
		t.Fatalf("evicted %d after everything was gone", n)
	}
}

// TestSharedResultsRoundTrip: what a replica stores decodes to the same
// result on another, for values and both kinds of refusal.
func TestSharedResultsRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(time.Now().UnixMilli())
	id := &authz.Identity{Username: "alice", Subject: "s", Issuer: "https://as", Provider: "as", ClientID: "cli",
		Email: "a@example.com", Groups: []string{"g1", "g2"}, Scopes: []string{"read"}, Expiry: now.Add(time.Hour), Via: "introspection"}
	for _, r := range []*result[*authz.Identity]{
		{val: id, fresh: now.Add(time.Minute), grace: now.Add(2 * time.Minute)},
		{err: authz.InvalidToken(authz.ReasonTokenInactive, errors.New("introspect: inactive")), fresh: now.Add(5 * time.Second)},
		{err: authz.ForbiddenError(authz.ReasonAudienceMismatch, errors.New("client x")), fresh: now.Add(5 * time.Second)},
	} {
		b, err := encodeResult(r, identityCodec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeResult(b, identityCodec)
		if err != nil {
			t.Fatal(err)
		}
		if !sameIdentity(got.val, r.val) || !got.fresh.Equal(r.fresh) || !got.grace.Equal(r.grace) {
			t.Errorf("round trip %+v -> %+v", r, got)
		}
		if (r.err == nil) != (got.err == nil) || r.err != nil && (r.err.Error() != got.err.Error() ||
			errors.Is(got.err, authz.ErrInvalidToken) != errors.Is(r.err, authz.ErrInvalidToken) ||
			reasonOf(got.err) != reasonOf(r.err)) {
			t.Errorf("refusal %v came back as %v", r.err, got.err)
		}
	}
	// Directory entries: a user with groups, an inactive one, an unknown one.
	for _, e := range []*dirEntry{{exists: true, groups: []string{"jira-users"}}, {exists: true, inactive: true}, {}} {
		b, err := encodeResult(&result[*dirEntry]{val: e, fresh: now, grace: now}, dirCodec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeResult(b, dirCodec)
		if err != nil || !reflect.DeepEqual(got.val, e) {
			t.Errorf("directory entry %+v came back as %+v, %v", e, got, err)
		}
	}
	// An outage is never stored.
	if _, err := encodeResult(&result[*authz.Identity]{err: authz.UnavailableError(authz.ReasonIdPUnavailable, errors.New("x"))}, identityCodec); err == nil {
		t.Error("an outage was encoded for the shared cache")
	}
}

// FuzzDecodeResult: whatever Redis hands back (a value that opened with
// the token, so written by a holder of the fleet secret), decoding never
// panics, and what it accepts encodes back to the same result.
func FuzzDecodeResult(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"f":1,"g":2,"d":{"u":"alice","g":["a"],"x":5}}`,
		`{"v":1,"f":1,"e":{"c":"invalid_token","r":"token_inactive","m":"inactive"}}`,
		`{"v":1,"f":1,"e":{"c":"forbidden","r":"","m":"x"}}`,
		`{"v":1,"f":1,"e":{"c":"unavailable","r":"idp_unavailable","m":"x"}}`,
		`{"v":1,"f":2,"g":1,"d":{"u":"alice"}}`,
		`{"v":1,"f":1,"d":{"u":"alice"},"e":{"c":"forbidden"}}`,
		`{"v":2}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeResult(b, identityCodec)
		if err != nil {
			return
		}
		if r.err == nil && r.val == nil {
			t.Fatal("accepted a result with neither value nor refusal")
		}
		if r.err != nil && !errors.Is(r.err, authz.ErrInvalidToken) && !errors.Is(r.err, authz.ErrForbidden) {
			t.Fatalf("accepted a refusal of another class: %v", r.err)
		}
		again, err := encodeResult(r, identityCodec)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := decodeResult(again, identityCodec)
		if err != nil || !sameIdentity(r2.val, r.val) || !r2.fresh.Equal(r.fresh) {
			t.Fatalf("round trip: %+v -> %+v, %v", r, r2, err)
		}
	})
}

func reasonOf(err error) authz.Reason {
	var re *authz.ReasonError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}

// sameIdentity compares identities as the engine reads them: an empty list
// is no list, times are instants, and CacheHit is the cache's own mark.
func sameIdentity(a, b *authz.Identity) bool {
	if a == nil || b == nil {
		return a == b
	}
	norm := func(id authz.Identity) authz.Identity {
		if len(id.Groups) == 0 {
			id.Groups = nil
		}
		if len(id.Scopes) == 0 {
			id.Scopes = nil
		}
		id.Expiry = time.UnixMilli(id.Expiry.UnixMilli())
		id.CacheHit = false
		return id
	}
	return reflect.DeepEqual(norm(*a), norm(*b))
}

// TestSlowRedisNeverCostsTheCheckItsAnswer: with Redis paused, a check
// whose provider answers in time is answered in time: the shared lookup
// gets a third of what the check has left, and storing happens after the
// answer is handed back.
func TestSlowRedisNeverCostsTheCheckItsAnswer(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	clk := newClock()
	f := newFakeAS(t, activeFor(clk))
	c := fleetCache(t, srv, fleetSecret(t))
	p := newIntrospection(t, f, clk, func(cfg *IntrospectionConfig) { cfg.Remote.Shared = c })
	srv.Do(t, "CLIENT", "PAUSE", "3000", "ALL")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := p.Validate(ctx, "opaque-token-1"); err != nil {
		t.Fatalf("with Redis paused, the check failed although the provider answered: %v", err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d provider calls, want 1", n)
	}
}

// TestGraceDoesNotHideTheSharedAnswer: with cache.grace, a replica whose
// own answer is past its TTL (kept only for outages) first looks for a
// fresher one in Redis: the fleet still asks the provider once per TTL.
func TestGraceDoesNotHideTheSharedAnswer(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	secret := fleetSecret(t)
	clk := newClock()
	f := newFakeAS(t, activeFor(clk))
	replica := func() *Introspection {
		c := fleetCache(t, srv, secret)
		return newIntrospection(t, f, clk, func(cfg *IntrospectionConfig) {
			cfg.Remote.Shared, cfg.Remote.CacheTTL, cfg.Remote.Grace = c, 10*time.Second, 10*time.Minute
		})
	}
	a, b := replica(), replica()
	ctx := context.Background()
	for _, p := range []*Introspection{a, b} {
		if _, err := p.Validate(ctx, "opaque-token-1"); err != nil {
			t.Fatal(err)
		}
		flushShared(p)
	}
	clk.Add(11 * time.Second) // past the TTL, within the grace
	for _, p := range []*Introspection{a, b} {
		if _, err := p.Validate(ctx, "opaque-token-1"); err != nil {
			t.Fatal(err)
		}
		flushShared(p)
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("%d provider calls for two TTLs on two replicas, want 2", n)
	}
}

// TestAnswerFetchedBeforeARevocationIsNeverCached: a check that was asking
// the provider while the token was revoked gets its answer, but the cache
// does not keep it: the next check asks again.
func TestAnswerFetchedBeforeARevocationIsNeverCached(t *testing.T) {
	t.Parallel()
	clk := newClock()
	release := make(chan struct{})
	asked := make(chan struct{}, 1)
	f := newFakeAS(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- struct{}{}:
			<-release // the first call waits for the revocation
		default:
		}
		activeFor(clk)(w, r)
	})
	revs := NewRevocations(nil)
	p := newIntrospection(t, f, clk, func(cfg *IntrospectionConfig) { cfg.Remote.Revocations = revs })
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { _, err := p.Validate(ctx, "opaque-token-1"); done <- err }()
	<-asked
	revs.Token(authz.Fingerprint("opaque-token-1"))
	p.Evict(Eviction{Fingerprint: authz.Fingerprint("opaque-token-1")})
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := p.Validate(ctx, "opaque-token-1"); err != nil {
		t.Fatal(err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("%d provider calls, want 2: the answer fetched during the revocation was cached", n)
	}
	// Answers fetched after the revocation (and its margin) are cached.
	clk.Add(revocationMargin + time.Second)
	revs.now = clk.Now
	for range 2 {
		if _, err := p.Validate(ctx, "opaque-token-2"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("%d provider calls, want 3: another token's answer was not cached", n)
	}
}

// TestRevokedValuePutBackIntoRedisIsRefused: someone who may write to Redis
// (but lacks the fleet secret) saves a cached value, lets the revocation
// delete it, and writes it back: the value still opens (it is genuine), but
// the replicas know it was fetched before the revocation.
func TestRevokedValuePutBackIntoRedisIsRefused(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	secret := fleetSecret(t)
	clk := newClock()
	f := newFakeAS(t, activeFor(clk))
	replica := func() (*Introspection, *Revocations) {
		c := fleetCache(t, srv, secret)
		revs := NewRevocations(func(p, u string) [32]byte { return c.UserID(p, u) })
		return newIntrospection(t, f, clk, func(cfg *IntrospectionConfig) { cfg.Remote.Shared, cfg.Remote.Revocations = c, revs }), revs
	}
	a, _ := replica()
	b, revsB := replica()
	ctx := context.Background()
	if _, err := a.Validate(ctx, "opaque-token-1"); err != nil {
		t.Fatal(err)
	}
	flushShared(a)
	keys, _ := srv.Do(t, "KEYS", "restguard:v:*").([]any)
	if len(keys) != 1 {
		t.Fatalf("keys %v", keys)
	}
	saved, _ := srv.Do(t, "GET", keys[0].(string)).(string)
	// The revocation: recorded on b, the shared entry deleted.
	revsB.Token(authz.Fingerprint("opaque-token-1"))
	srv.Do(t, "DEL", keys[0].(string))
	srv.Do(t, "SET", keys[0].(string), saved, "PX", "60000")
	if _, err := b.Validate(ctx, "opaque-token-1"); err != nil {
		t.Fatal(err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("%d provider calls, want 2: replica b served the value put back after the revocation", n)
	}
}
