package sharedcache

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/internal/redistest"
)

const (
	tokenA = "ory_at_Vf48mL0pZq1yT7cXw2e9RkdJ3uHs5nA8bC6dE4fG2hI"
	tokenB = "ory_at_Qz7tY5uI3oP1aS9dF2gH4jK6lZ8xC0vB7nM5qW3eR1tY"
	// A result as providers would serialise it: a username and groups.
	resultA = `{"sub":"alice.wonder","username":"alice.wonder","groups":["jira-administrators"],"exp":1900000000}`
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tcp := range []bool{false, true} {
		name := "unix socket"
		if tcp {
			name = "tcp"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, redistest.Options{TCP: tcp})
			cfg := testConfig(t, srv)
			if tcp {
				cfg.Address = srv.Addr
			}
			c := newCache(t, cfg, nil)
			ctx := ctxTimeout(t, 10*time.Second)
			key := keyOf("corp", tokenA)

			if _, ok, err := c.Get(ctx, key, tokenA); ok || err != nil {
				t.Fatalf("Get before Set: ok=%v err=%v", ok, err)
			}
			if err := c.Set(ctx, key, tokenA, []byte(resultA), time.Minute, "corp", "alice.wonder"); err != nil {
				t.Fatal(err)
			}
			v, ok, err := c.Get(ctx, key, tokenA)
			if err != nil || !ok || string(v) != resultA {
				t.Fatalf("Get = %q, %v, %v", v, ok, err)
			}
			// A negative result: no owner, empty value.
			kb := keyOf("corp", tokenB)
			if err := c.Set(ctx, kb, tokenB, nil, time.Minute, "", ""); err != nil {
				t.Fatal(err)
			}
			if v, ok, err := c.Get(ctx, kb, tokenB); err != nil || !ok || len(v) != 0 {
				t.Fatalf("negative entry: %q, %v, %v", v, ok, err)
			}
			if err := c.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := c.Get(ctx, key, tokenA); ok || err != nil {
				t.Fatalf("Get after Delete: ok=%v err=%v", ok, err)
			}
			st := c.Stats()
			if st.Hits != 2 || st.Misses != 2 || st.Errors != 0 || st.Breaker != BreakerClosed {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestRedisDumpRevealsNoTokenNorIdentity reads everything in the database
// as someone with a copy of it would, and finds neither the token nor the
// username nor the groups; the value does not open with another token, nor
// under another key, nor with another fleet secret.
func TestRedisDumpRevealsNoTokenNorIdentity(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, srv)
	c := newCache(t, cfg, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	key := keyOf("corp", tokenA)
	if err := c.Set(ctx, key, tokenA, []byte(resultA), time.Minute, "corp", "alice.wonder"); err != nil {
		t.Fatal(err)
	}

	a := admin(t, srv)
	keys, err := a.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 { // value, token index, user index
		t.Fatalf("keys %q", keys)
	}
	var dump bytes.Buffer
	var valueKey string
	for _, k := range keys {
		dump.WriteString(k + "\n")
		switch typ := a.Type(ctx, k).Val(); typ {
		case "string":
			valueKey = k
			dump.WriteString(a.Get(ctx, k).Val())
		case "set":
			for _, m := range a.SMembers(ctx, k).Val() {
				dump.WriteString(m)
			}
		default:
			t.Fatalf("unexpected %s %s", typ, k)
		}
		// DUMP is Redis's own serialisation (what an RDB file holds).
		dump.WriteString(a.Dump(ctx, k).Val())
	}
	for _, secret := range []string{tokenA, tokenA[7:], "alice", "wonder", "jira-administrators", "corp"} {
		if bytes.Contains(dump.Bytes(), []byte(secret)) {
			t.Errorf("the database holds %q in clear", secret)
		}
	}
	// Nor anything computable from the token or a guessed name without the
	// fleet secret: its fingerprint (in decision logs) or its cache key.
	ck := keyOf("corp", tokenA)
	for _, linkable := range []string{authz.Fingerprint(tokenA), hex.EncodeToString(ck[:]), string(ck[:])} {
		if strings.Contains(dump.String(), linkable) {
			t.Errorf("the database names the token by %q, which anyone with the token can compute", linkable)
		}
	}

	// Another token, whose key the attacker points at the stolen value.
	blob := a.Get(ctx, valueKey).Val()
	other := keyOf("corp", tokenB)
	a.Set(ctx, c.valueKey(other), blob, time.Minute)
	if _, ok, err := c.Get(ctx, other, tokenB); ok || err != nil {
		t.Fatalf("a value opened under another key with another token: ok=%v err=%v", ok, err)
	}
	// The right key, the wrong token.
	if _, ok, _ := c.Get(ctx, key, tokenB); ok {
		t.Fatal("a value opened with another token")
	}
	// The right key and token, another fleet secret.
	cfg2 := cfg
	cfg2.FleetSecretFile = secretFile(t)
	c2 := newCache(t, cfg2, nil)
	if _, ok, _ := c2.Get(ctx, key, tokenA); ok {
		t.Fatal("a value opened with another fleet secret")
	}
	// (Another fleet secret does not even find the value: keys are keyed
	// hashes under the secret.)
	if st, st2 := c.Stats(), c2.Stats(); st.Rejected != 2 || st2.Rejected != 0 || st2.Misses != 1 {
		t.Fatalf("rejected: %d, %d; misses with another secret: %d", st.Rejected, st2.Rejected, st2.Misses)
	}
	// And the genuine reader still reads it.
	if v, ok, _ := c.Get(ctx, key, tokenA); !ok || string(v) != resultA {
		t.Fatal("genuine Get failed")
	}
}

// TestForgedValueForOwnTokenRejected: someone who can write to Redis and
// holds a valid token of their own cannot seal a result of their choosing
// under that token's key without the fleet secret.
func TestForgedValueForOwnTokenRejected(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, srv)
	c := newCache(t, cfg, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	// The attacker's own process: same server, same token, their own secret.
	forger := cfg
	forger.FleetSecretFile = secretFile(t)
	f := newCache(t, forger, nil)
	key := keyOf("corp", tokenB)
	forged := []byte(`{"username":"admin","groups":["jira-administrators"]}`)
	if err := f.Set(ctx, key, tokenB, forged, time.Minute, "", ""); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Get(ctx, key, tokenB); ok || err != nil {
		t.Fatalf("forged value accepted: %q %v %v", v, ok, err)
	}
}

func TestTTLRespected(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, srv)
	now := time.Now()
	clock := func() time.Time { return now }
	cfg.Now = func() time.Time { return clock() }
	c := newCache(t, cfg, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	a := admin(t, srv)

	key := keyOf("corp", tokenA)
	ttl := 300 * time.Millisecond
	if err := c.Set(ctx, key, tokenA, []byte(resultA), ttl, "corp", "alice.wonder"); err != nil {
		t.Fatal(err)
	}
	pttl := a.PTTL(ctx, c.valueKey(key)).Val()
	if pttl <= 0 || pttl > ttl {
		t.Fatalf("PTTL %v, want (0, %v]", pttl, ttl)
	}
	// The indexes live at least as long as the entry.
	for _, k := range []string{c.tokenKey(authz.Fingerprint(tokenA)), c.userKey(c.UserID("corp", "alice.wonder"))} {
		if got := a.PTTL(ctx, k).Val(); got < pttl-10*time.Millisecond || got > ttl {
			t.Fatalf("index %s PTTL %v, entry %v", k, got, pttl)
		}
	}
	// A longer entry of the same user extends the user index (GT); a
	// shorter one does not shorten it.
	kb := keyOf("corp", tokenB)
	if err := c.Set(ctx, kb, tokenB, []byte("x"), time.Hour, "corp", "alice.wonder"); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, key, tokenA, []byte(resultA), ttl, "corp", "alice.wonder"); err != nil {
		t.Fatal(err)
	}
	if got := a.PTTL(ctx, c.userKey(c.UserID("corp", "alice.wonder"))).Val(); got < 59*time.Minute {
		t.Fatalf("user index PTTL %v after an hour-long entry", got)
	}
	// The expiry sealed into the value holds even if the Redis key's TTL
	// is removed (a replayed or PERSISTed value): one tick past it, a miss.
	a.Persist(ctx, c.valueKey(key))
	clock = func() time.Time { return now.Add(ttl) }
	if _, ok, _ := c.Get(ctx, key, tokenA); ok {
		t.Fatal("value served past its sealed expiry")
	}
	clock = time.Now
	// Redis itself drops the key after the TTL: poll the server.
	if err := c.Set(ctx, key, tokenA, []byte(resultA), ttl, "", ""); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	eventually(t, 10*time.Second, "key expired", func() bool { return a.Exists(ctx, c.valueKey(key)).Val() == 0 })
	if el := time.Since(start); el < ttl-50*time.Millisecond {
		t.Fatalf("key gone after %v, ttl %v", el, ttl)
	}
	if _, ok, err := c.Get(ctx, key, tokenA); ok || err != nil {
		t.Fatalf("Get after expiry: ok=%v err=%v", ok, err)
	}

	// ttl is capped at MaxTTL.
	cfg.MaxTTL = 2 * time.Second
	capped := newCache(t, cfg, nil)
	if err := capped.Set(ctx, key, tokenA, []byte(resultA), time.Hour, "", ""); err != nil {
		t.Fatal(err)
	}
	if got := a.PTTL(ctx, c.valueKey(key)).Val(); got > 2*time.Second {
		t.Fatalf("PTTL %v above MaxTTL", got)
	}
}

func TestSetRefusesBadArguments(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	c := newCache(t, testConfig(t, srv), nil)
	ctx := ctxTimeout(t, 10*time.Second)
	key := keyOf("corp", tokenA)
	for name, err := range map[string]error{
		"no token":   c.Set(ctx, key, "", []byte("x"), time.Minute, "", ""),
		"zero ttl":   c.Set(ctx, key, tokenA, []byte("x"), 0, "", ""),
		"huge value": c.Set(ctx, key, tokenA, make([]byte, MaxValue+1), time.Minute, "", ""),
	} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, _, err := c.Get(ctx, key, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("Get without token: %v", err)
	}
	if _, err := c.EvictToken(ctx, "ABC"); !errors.Is(err, ErrInvalid) {
		t.Errorf("EvictToken bad fingerprint: %v", err)
	}
	if n := len(admin(t, srv).Keys(ctx, "*").Val()); n != 0 {
		t.Fatalf("refused calls wrote %d keys", n)
	}
}

func TestEvictUser(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	c := newCache(t, testConfig(t, srv), nil)
	ctx := ctxTimeout(t, 10*time.Second)
	type entry struct {
		provider, token, user string
	}
	entries := []entry{
		{"corp", "alice-1", "alice"},
		{"corp", "alice-2", "alice"},
		{"github", "alice-3", "alice"}, // same name, other provider
		{"corp", "bob-1", "bob"},
		{"corp", "garbage", ""}, // a negative result
	}
	for _, e := range entries {
		if err := c.Set(ctx, keyOf(e.provider, e.token), e.token, []byte(e.user), time.Minute, e.provider, e.user); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.EvictUser(ctx, "corp", "alice")
	if err != nil || n != 2 {
		t.Fatalf("EvictUser = %d, %v; want 2", n, err)
	}
	for _, e := range entries {
		_, ok, err := c.Get(ctx, keyOf(e.provider, e.token), e.token)
		if err != nil {
			t.Fatal(err)
		}
		gone := e.provider == "corp" && e.user == "alice"
		if ok == gone {
			t.Errorf("%s/%s: cached=%v after evicting corp/alice", e.provider, e.token, ok)
		}
	}
	if n, err := c.EvictUser(ctx, "corp", "alice"); n != 0 || err != nil {
		t.Fatalf("second EvictUser = %d, %v", n, err)
	}
	if got := admin(t, srv).Exists(ctx, c.userKey(c.UserID("corp", "alice"))).Val(); got != 0 {
		t.Fatal("emptied user index still there")
	}
}

func TestEvictToken(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	c := newCache(t, testConfig(t, srv), nil)
	ctx := ctxTimeout(t, 10*time.Second)
	// One token cached under two providers' keys (userinfo and directory
	// groups, say), and another token.
	for _, p := range []string{"corp", "corp-groups"} {
		if err := c.Set(ctx, keyOf(p, tokenA), tokenA, []byte("a"), time.Minute, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Set(ctx, keyOf("corp", tokenB), tokenB, []byte("b"), time.Minute, "", ""); err != nil {
		t.Fatal(err)
	}
	n, err := c.EvictToken(ctx, authz.Fingerprint(tokenA))
	if err != nil || n != 2 {
		t.Fatalf("EvictToken = %d, %v; want 2", n, err)
	}
	if _, ok, _ := c.Get(ctx, keyOf("corp", tokenA), tokenA); ok {
		t.Fatal("revoked token still cached")
	}
	if _, ok, _ := c.Get(ctx, keyOf("corp", tokenB), tokenB); !ok {
		t.Fatal("other token evicted")
	}
}

// TestFlushedRedisIsAMiss: an operator's FLUSHALL (or a restart without
// persistence) empties the cache; calls answer misses, not errors.
func TestFlushedRedisIsAMiss(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	c := newCache(t, testConfig(t, srv), nil)
	ctx := ctxTimeout(t, 10*time.Second)
	key := keyOf("corp", tokenA)
	if err := c.Set(ctx, key, tokenA, []byte(resultA), time.Minute, "corp", "alice"); err != nil {
		t.Fatal(err)
	}
	srv.Do(t, "FLUSHALL")
	if _, ok, err := c.Get(ctx, key, tokenA); ok || err != nil {
		t.Fatalf("after FLUSHALL: ok=%v err=%v", ok, err)
	}
	if n, err := c.EvictUser(ctx, "corp", "alice"); n != 0 || err != nil {
		t.Fatalf("EvictUser after FLUSHALL = %d, %v", n, err)
	}
}

// TestOutageFailsFastOpensBreakerAndRecovers stops Redis mid-test: calls
// fail within the call timeout (not the caller's longer deadline), the
// circuit opens after the threshold and then refuses at once, and the
// cache works again once Redis is back.
func TestOutageFailsFastOpensBreakerAndRecovers(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, srv)
	cfg.Timeout = 100 * time.Millisecond
	cfg.BreakerThreshold = 3
	cfg.BreakerInterval = 200 * time.Millisecond
	var logs syncBuffer
	c := newCache(t, cfg, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	key := keyOf("corp", tokenA)
	if err := c.Set(ctxTimeout(t, 5*time.Second), key, tokenA, []byte(resultA), time.Minute, "corp", "alice.wonder"); err != nil {
		t.Fatal(err)
	}

	srv.Kill(t) // a crash: the socket file stays, nobody listens
	for i := range cfg.BreakerThreshold {
		start := time.Now()
		_, ok, err := c.Get(ctxTimeout(t, 5*time.Second), key, tokenA)
		el := time.Since(start)
		if ok || !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("call %d during the outage: ok=%v err=%v", i, ok, err)
		}
		if el > cfg.Timeout+400*time.Millisecond {
			t.Fatalf("call %d took %v; the call timeout is %v and the caller allowed 5s", i, el, cfg.Timeout)
		}
	}
	if st := c.Stats(); st.Breaker != BreakerOpen || st.BreakerOpens != 1 {
		t.Fatalf("after %d failures: %+v", cfg.BreakerThreshold, st)
	}
	// Open: refused without touching Redis.
	start := time.Now()
	for range 1000 {
		if _, _, err := c.Get(context.Background(), key, tokenA); !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("open circuit: %v", err)
		}
	}
	if el := time.Since(start); el > 100*time.Millisecond {
		t.Fatalf("1000 refused calls took %v", el)
	}
	if err := c.Set(context.Background(), key, tokenA, []byte(resultA), time.Minute, "", ""); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("Set with the circuit open: %v", err)
	}
	if st := c.Stats(); st.ShortCircuited != 1001 {
		t.Fatalf("short-circuited %d", st.ShortCircuited)
	}

	srv.Restart(t)
	// Poll through the cache until a probe finds Redis back.
	eventually(t, 10*time.Second, "cache usable after Redis came back", func() bool {
		_, _, err := c.Get(ctxTimeout(t, 5*time.Second), key, tokenA)
		return err == nil
	})
	if st := c.Stats(); st.Breaker != BreakerClosed {
		t.Fatalf("after recovery: %+v", st)
	}
	ctx := ctxTimeout(t, 5*time.Second)
	if err := c.Set(ctx, key, tokenA, []byte(resultA), time.Minute, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.Get(ctx, key, tokenA); !ok || err != nil {
		t.Fatalf("after recovery: ok=%v err=%v", ok, err)
	}
	out := logs.String()
	for _, want := range []string{"circuit open", "circuit closed"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	for _, secret := range []string{tokenA, "alice", srv.Password, resultA} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q", secret)
		}
	}
}

// TestSlowRedisTimesOut: a Redis that does not answer (CLIENT PAUSE holds
// every client) costs one call timeout, not the caller's whole deadline.
func TestSlowRedisTimesOut(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, srv)
	cfg.Timeout = 50 * time.Millisecond
	c := newCache(t, cfg, nil)
	key := keyOf("corp", tokenA)
	// Connect first, so that the pause holds a command, not a handshake.
	if _, _, err := c.Get(ctxTimeout(t, 5*time.Second), key, tokenA); err != nil {
		t.Fatal(err)
	}
	// Long enough for both calls below; it ends by itself (an UNPAUSE
	// would wait behind it).
	srv.Do(t, "CLIENT", "PAUSE", "1500", "ALL")
	start := time.Now()
	_, ok, err := c.Get(ctxTimeout(t, 5*time.Second), key, tokenA)
	el := time.Since(start)
	if ok || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("paused Redis: ok=%v err=%v", ok, err)
	}
	if el < cfg.Timeout || el > cfg.Timeout+400*time.Millisecond {
		t.Fatalf("call took %v with a %v timeout", el, cfg.Timeout)
	}
	if st := c.Stats(); st.Timeouts != 1 {
		t.Fatalf("timeouts %d", st.Timeouts)
	}
	// A caller's deadline shorter than the call timeout wins.
	start = time.Now()
	_, _, err = c.Get(ctxTimeout(t, 10*time.Millisecond), key, tokenA)
	if el := time.Since(start); err == nil || el > 300*time.Millisecond {
		t.Fatalf("caller deadline 10ms: err=%v after %v", err, el)
	}
}

// TestWrongPasswordFailsClosedWithoutLeaking: a wrong password is an
// outage to the checks (errors, then an open circuit), and the password
// appears in no error.
func TestWrongPasswordFailsClosedWithoutLeaking(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, srv)
	const wrong = "not-the-password-8c1f"
	cfg.PasswordFile = filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(cfg.PasswordFile, []byte(wrong+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.BreakerThreshold = 2
	c := newCache(t, cfg, nil)
	var errs []error
	for range 3 {
		_, ok, err := c.Get(ctxTimeout(t, 5*time.Second), keyOf("corp", tokenA), tokenA)
		if ok || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("wrong password: ok=%v err=%v", ok, err)
		}
		errs = append(errs, err)
	}
	errs = append(errs, c.Set(ctxTimeout(t, 5*time.Second), keyOf("corp", tokenA), tokenA, []byte(resultA), time.Minute, "corp", "alice"))
	_, err := c.Revoke(ctxTimeout(t, 5*time.Second), c.UserRevocation("corp", "alice"))
	errs = append(errs, err, c.Ping(ctxTimeout(t, 5*time.Second)))
	if !strings.Contains(errs[0].Error(), "WRONGPASS") {
		t.Errorf("first error %q does not say why", errs[0])
	}
	for _, err := range errs {
		if err == nil {
			t.Fatal("a call succeeded with a wrong password")
		}
		for _, secret := range []string{wrong, srv.Password, tokenA, "alice"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q holds %q", err, secret)
			}
		}
	}
	if st := c.Stats(); st.Breaker != BreakerOpen || st.Errors < 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestACLPrefixEnforced: a key prefix outside the ACL user's pattern is
// refused by Redis, and so is an error (never a silent miss).
func TestACLPrefixEnforced(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, srv)
	cfg.KeyPrefix = "other:"
	c := newCache(t, cfg, nil)
	if _, _, err := c.Get(ctxTimeout(t, 5*time.Second), keyOf("corp", tokenA), tokenA); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("key outside the ACL: %v", err)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{TLS: true})
	cfg := testConfig(t, srv)
	cfg.Address = srv.Addr
	cfg.TLS = TLSConfig{Enabled: true, CAFile: srv.CAFile, ServerName: srv.ServerName,
		CertFile: srv.ClientCertFile, KeyFile: srv.ClientKeyFile}
	c := newCache(t, cfg, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	key := keyOf("corp", tokenA)
	if err := c.Set(ctx, key, tokenA, []byte(resultA), time.Minute, "corp", "alice"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Get(ctx, key, tokenA); !ok || err != nil || string(v) != resultA {
		t.Fatalf("over TLS: %q %v %v", v, ok, err)
	}

	// The server requires a client certificate; without one, no session.
	noCert := cfg
	noCert.TLS.CertFile, noCert.TLS.KeyFile = "", ""
	if _, _, err := newCache(t, noCert, nil).Get(ctx, key, tokenA); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("without a client certificate: %v", err)
	}
	// A server name the certificate does not hold is refused.
	wrongName := cfg
	wrongName.TLS.ServerName = "redis.example.org"
	if _, _, err := newCache(t, wrongName, nil).Get(ctx, key, tokenA); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("wrong server name: %v", err)
	}
	// Plain text to a TLS port is refused.
	plain := cfg
	plain.TLS = TLSConfig{}
	if _, _, err := newCache(t, plain, nil).Get(ctx, key, tokenA); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("plain text to the TLS port: %v", err)
	}
}

// TestFullRedisStillServesReads: with maxmemory reached and noeviction (the
// policy docs/scaling.md recommends), writes fail and reads go on; the
// circuit stays closed.
func TestFullRedisStillServesReads(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, srv)
	cfg.BreakerThreshold = 1
	c := newCache(t, cfg, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	key := keyOf("corp", tokenA)
	if err := c.Set(ctx, key, tokenA, []byte(resultA), time.Minute, "corp", "alice"); err != nil {
		t.Fatal(err)
	}
	srv.Do(t, "CONFIG", "SET", "maxmemory-policy", "noeviction")
	srv.Do(t, "CONFIG", "SET", "maxmemory", "1") // below what Redis already uses
	for range 3 {
		err := c.Set(ctx, keyOf("corp", tokenB), tokenB, []byte(resultA), time.Minute, "corp", "bob")
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "OOM") {
			t.Fatalf("Set on a full Redis: %v", err)
		}
	}
	if v, ok, err := c.Get(ctx, key, tokenA); !ok || err != nil || string(v) != resultA {
		t.Fatalf("Get on a full Redis: %q %v %v", v, ok, err)
	}
	if st := c.Stats(); st.Breaker != BreakerClosed || st.Errors != 3 {
		t.Fatalf("stats %+v", st)
	}
	// Deleting frees memory and is allowed when full.
	if n, err := c.EvictUser(ctx, "corp", "alice"); n != 1 || err != nil {
		t.Fatalf("EvictUser on a full Redis: %d %v", n, err)
	}
}

// TestHungServerCostsOneTimeout: a server that accepts connections and
// never answers (a hung Redis, a black-holing proxy) costs one call
// timeout, handshake included, then the circuit opens.
func TestHungServerCostsOneTimeout(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	cfg := Config{Address: l.Addr().String(), FleetSecretFile: secretFile(t),
		Timeout: 50 * time.Millisecond, BreakerThreshold: 2, BreakerInterval: time.Hour}
	c := newCache(t, cfg, nil)
	// The caller allows a minute: a call that returns well before it was
	// ended by the call timeout, not by the caller's deadline. (How well
	// before depends on the machine's load; the bound is not the point.)
	for i := range 2 {
		start := time.Now()
		_, _, err := c.Get(ctxTimeout(t, time.Minute), keyOf("corp", tokenA), tokenA)
		el := time.Since(start)
		if !errors.Is(err, ErrUnavailable) || el > 20*time.Second {
			t.Fatalf("call %d: %v after %v", i, err, el)
		}
	}
	if st := c.Stats(); st.Breaker != BreakerOpen || st.Timeouts != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRotatedPasswordIsUsedWithoutARestart: the password file is read
// again for each new connection, so that a Secret updated in place (and
// the old password revoked in Redis) costs no restart.
func TestRotatedPasswordIsUsedWithoutARestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := testConfig(t, srv)
	pass := filepath.Join(t.TempDir(), "password")
	b, err := os.ReadFile(srv.PasswordFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pass, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.PasswordFile = pass
	c := newCache(t, cfg, nil)
	ctx := ctxTimeout(t, 10*time.Second)
	key := keyOf("corp", tokenA)
	if err := c.Set(ctx, key, tokenA, []byte(resultA), time.Minute, "corp", "alice"); err != nil {
		t.Fatal(err)
	}
	// The rotation: a new password in Redis and in the file, the old one
	// revoked, existing connections closed.
	srv.Do(t, "ACL", "SETUSER", redistest.User, "resetpass", ">rotated-password-0123456789")
	if err := os.WriteFile(pass, []byte("rotated-password-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Do(t, "CLIENT", "KILL", "USER", redistest.User)
	if _, ok, err := c.Get(ctx, key, tokenA); !ok || err != nil {
		t.Fatalf("after the rotation: ok=%v err=%v", ok, err)
	}
}
