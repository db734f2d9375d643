package sharedcache

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/internal/redistest"
)

// replica is one subscribed process: its revocations arrive on events.
type replica struct {
	c      *Cache
	events chan Revocation
	done   chan error
}

func subscribe(t *testing.T, c *Cache) *replica {
	t.Helper()
	r := &replica{c: c, events: make(chan Revocation, 64), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- c.Subscribe(ctx, func(rv Revocation) { r.events <- rv }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; !errors.Is(err, context.Canceled) {
			t.Errorf("Subscribe returned %v", err)
		}
	})
	return r
}

// next waits for the replica's next event.
func (r *replica) next(t *testing.T, within time.Duration) Revocation {
	t.Helper()
	select {
	case rv := <-r.events:
		return rv
	case <-time.After(within):
		t.Fatalf("no revocation event within %v", within)
		return Revocation{}
	}
}

func TestRevocationReachesEveryReplicaAndSurvivesRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, srv)
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// Two replicas and the one that revokes (also subscribed, as every
	// replica is), sharing the fleet secret.
	a, b := newCache(t, cfg, logger), newCache(t, cfg, logger)
	admin := newCache(t, cfg, logger)
	ra, rb := subscribe(t, a), subscribe(t, b)
	for _, r := range []*replica{ra, rb} {
		if ev := r.next(t, 10*time.Second); ev.Kind != Resync {
			t.Fatalf("first event %+v, want Resync (subscribed)", ev)
		}
	}
	ctx := ctxTimeout(t, 30*time.Second)

	// Replica a cached alice's result; revoking her on the admin replica
	// deletes it from Redis and reaches a and b.
	key := keyOf("corp", tokenA)
	if err := a.Set(ctx, key, tokenA, []byte(resultA), time.Minute, "corp", "alice.wonder"); err != nil {
		t.Fatal(err)
	}
	// Revoke returns once both subscribed replicas have applied it: an
	// operator's revoke is done everywhere when the command returns.
	res, err := admin.Revoke(ctx, admin.UserRevocation("corp", "alice.wonder"))
	if err != nil || res != (RevokeResult{Deleted: 1, Replicas: 2, Applied: 2}) {
		t.Fatalf("Revoke = %+v, %v; want 1 deleted, 2 replicas, 2 applied", res, err)
	}
	for name, r := range map[string]*replica{"a": ra, "b": rb} {
		ev := r.next(t, 10*time.Second)
		if ev.Kind != RevokeUser || ev.Provider != "corp" || ev.User != r.c.UserID("corp", "alice.wonder") {
			t.Fatalf("replica %s got %+v", name, ev)
		}
		if ev.User == r.c.UserID("corp", "bob") {
			t.Fatal("user ids collide")
		}
	}
	if _, ok, _ := b.Get(ctx, key, tokenA); ok {
		t.Fatal("revoked result still in the shared cache")
	}

	// Redis restarts: both replicas resubscribe by themselves and say so.
	srv.Kill(t)
	srv.Restart(t)
	for name, r := range map[string]*replica{"a": ra, "b": rb} {
		if ev := r.next(t, 15*time.Second); ev.Kind != Resync {
			t.Fatalf("replica %s after restart: %+v, want Resync", name, ev)
		}
	}
	fp := authz.Fingerprint(tokenB)
	if _, err := admin.Revoke(ctx, TokenRevocation(fp)); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*replica{"a": ra, "b": rb} {
		if ev := r.next(t, 10*time.Second); ev.Kind != RevokeToken || ev.Fingerprint != fp {
			t.Fatalf("replica %s after restart got %+v", name, ev)
		}
	}
	if st := ra.c.Stats(); st.Received != 2 || st.Resubscribed != 2 {
		t.Fatalf("replica a stats %+v", st)
	}
	if st := admin.Stats(); st.Published != 2 {
		t.Fatalf("admin stats %+v", st)
	}
	for _, secret := range []string{tokenA, tokenB, "alice", srv.Password} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log holds %q", secret)
		}
	}
}

// TestRevocationMessagesAreAuthenticated: a Redis user who may PUBLISH but
// lacks the fleet secret cannot make replicas drop their caches, and junk
// on the channel is dropped, not delivered.
func TestRevocationMessagesAreAuthenticated(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, srv)
	c := newCache(t, cfg, nil)
	r := subscribe(t, c)
	if ev := r.next(t, 10*time.Second); ev.Kind != Resync {
		t.Fatalf("first event %+v", ev)
	}
	outsiderCfg := cfg
	outsiderCfg.FleetSecretFile = secretFile(t)
	outsider := newCache(t, outsiderCfg, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	if err := outsider.Publish(ctx, outsider.UserRevocation("corp", "alice")); err != nil {
		t.Fatal(err)
	}
	for _, junk := range []string{"", "hello", "00.{}", strings.Repeat("a", 5000)} {
		srv.Do(t, "PUBLISH", c.channel, junk)
	}
	// Messages on one channel arrive in order: the genuine one comes
	// first in line after the forgeries were dropped.
	want := TokenRevocation(authz.Fingerprint(tokenA))
	if err := c.Publish(ctx, want); err != nil {
		t.Fatal(err)
	}
	if ev := r.next(t, 10*time.Second); ev.Kind != want.Kind || ev.Fingerprint != want.Fingerprint || !validID(ev.ID) {
		t.Fatalf("got %+v, want %+v with an id", ev, want)
	}
	if st := c.Stats(); st.Ignored != 5 || st.Received != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPublishRefusesInvalidRevocations(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	c := newCache(t, testConfig(t, srv), nil)
	ctx := ctxTimeout(t, 10*time.Second)
	for _, rv := range []Revocation{
		{},
		{Kind: Resync},
		TokenRevocation("not-hex-at-all!!"),
		TokenRevocation(strings.ToUpper(authz.Fingerprint(tokenA))),
		{Kind: RevokeUser, Provider: "corp"},
		{Kind: RevokeUser, User: c.UserID("corp", "alice")},
	} {
		if err := c.Publish(ctx, rv); !errors.Is(err, ErrInvalid) {
			t.Errorf("Publish(%+v) = %v", rv, err)
		}
		if _, err := c.Revoke(ctx, rv); !errors.Is(err, ErrInvalid) {
			t.Errorf("Revoke(%+v) = %v", rv, err)
		}
	}
}

// TestRevokeWithoutRedisSaysSo: the operator's revoke reports that other
// replicas were not reached; it is tried even with the circuit open.
func TestRevokeWithoutRedisSaysSo(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, srv)
	cfg.BreakerThreshold = 1
	cfg.BreakerInterval = time.Hour
	c := newCache(t, cfg, nil)
	srv.Stop(t)
	ctx := ctxTimeout(t, 10*time.Second)
	if _, _, err := c.Get(ctx, keyOf("corp", tokenA), tokenA); err == nil {
		t.Fatal("Get succeeded with Redis stopped")
	}
	if c.Stats().Breaker != BreakerOpen {
		t.Fatal("circuit not open")
	}
	_, err := c.Revoke(ctx, c.UserRevocation("corp", "alice"))
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("Revoke with Redis down: %v (want a real attempt that failed)", err)
	}
	srv.Restart(t)
	if _, err := c.Revoke(ctx, c.UserRevocation("corp", "alice")); err != nil {
		t.Fatalf("Revoke with the circuit open but Redis back: %v", err)
	}
}

// TestRevokeReportsReplicasThatDidNotApply: a replica that has not applied
// a revocation when the operator's deadline ends is reported as such
// (Applied < Replicas), not hidden behind a success.
func TestRevokeReportsReplicasThatDidNotApply(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, srv)
	fast := subscribe(t, newCache(t, cfg, nil))
	if ev := fast.next(t, 10*time.Second); ev.Kind != Resync {
		t.Fatalf("first event %+v", ev)
	}
	// The stuck replica applies nothing until released.
	stuck := newCache(t, cfg, nil)
	release := make(chan struct{})
	subscribed := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = stuck.Subscribe(ctx, func(rv Revocation) {
			if rv.Kind == Resync {
				subscribed <- struct{}{}
				return
			}
			<-release
		})
	}()
	t.Cleanup(func() { close(release); cancel(); <-done })
	<-subscribed

	admin := newCache(t, cfg, nil)
	rctx, rcancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer rcancel()
	res, err := admin.Revoke(rctx, TokenRevocation(authz.Fingerprint(tokenA)))
	if err != nil || res.Replicas != 2 || res.Applied != 1 {
		t.Fatalf("Revoke = %+v, %v; want 2 replicas, 1 applied", res, err)
	}
	if ev := fast.next(t, 10*time.Second); ev.Kind != RevokeToken {
		t.Fatalf("fast replica got %+v", ev)
	}
}

// TestForgedAcknowledgementsDoNotCount: someone who may write to Redis but
// lacks the fleet secret cannot make a revocation look applied by pushing
// acknowledgements of their own.
func TestForgedAcknowledgementsDoNotCount(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, srv)
	// A "replica" that never applies anything: subscribed (so Redis counts
	// it) but stuck, while the forger pushes junk acknowledgements.
	stuck := newCache(t, cfg, nil)
	release := make(chan struct{})
	subscribed := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = stuck.Subscribe(ctx, func(rv Revocation) {
			if rv.Kind == Resync {
				subscribed <- struct{}{}
				return
			}
			// The forger sees the id on the channel and answers for us.
			for range 3 {
				srv.Do(t, "RPUSH", "restguard:ack:"+rv.ID, "1")
			}
			<-release
		})
	}()
	t.Cleanup(func() { close(release); cancel(); <-done })
	<-subscribed
	admin := newCache(t, cfg, nil)
	rctx, rcancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer rcancel()
	res, err := admin.Revoke(rctx, TokenRevocation(authz.Fingerprint(tokenA)))
	if err != nil || res.Replicas != 1 || res.Applied != 0 {
		t.Fatalf("Revoke = %+v, %v; want 1 replica, 0 applied (forged acknowledgements ignored)", res, err)
	}
}

// TestCopiedAcknowledgementCountsOnce: a valid acknowledgement copied by a
// Redis writer does not stand in for a replica that never applied the
// revocation.
func TestCopiedAcknowledgementCountsOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, srv)
	// One replica applies and acknowledges; the forger copies its
	// acknowledgement; a second replica is stuck.
	fast := newCache(t, cfg, nil)
	stuck := newCache(t, cfg, nil)
	release := make(chan struct{})
	ready := make(chan struct{}, 2)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, c := range []*Cache{fast, stuck} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Subscribe(ctx, func(rv Revocation) {
				if rv.Kind == Resync {
					ready <- struct{}{}
					return
				}
				if c == stuck {
					<-release
					return
				}
				// After fast's own acknowledgement (pushed once this returns),
				// the forger duplicates it.
				go func() {
					v := c.ackValue(rv.ID)
					for range 3 {
						srv.Do(t, "RPUSH", "restguard:ack:"+rv.ID, v)
					}
				}()
			})
		}()
	}
	t.Cleanup(func() { close(release); cancel(); wg.Wait() })
	<-ready
	<-ready
	admin := newCache(t, cfg, nil)
	rctx, rcancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer rcancel()
	res, err := admin.Revoke(rctx, TokenRevocation(authz.Fingerprint(tokenA)))
	if err != nil || res.Replicas != 2 || res.Applied != 1 {
		t.Fatalf("Revoke = %+v, %v; want 2 replicas, 1 applied", res, err)
	}
}
