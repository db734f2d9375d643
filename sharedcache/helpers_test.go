package sharedcache

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/restguard/restguard/internal/redistest"
)

// testConfig is a Config for srv's unix socket as the restricted user, with
// a fresh fleet secret unless secretFile is given.
func testConfig(t testing.TB, srv *redistest.Server) Config {
	t.Helper()
	return Config{
		Address:         "unix:" + srv.Socket,
		UsernameFile:    srv.UserFile,
		PasswordFile:    srv.PasswordFile,
		FleetSecretFile: secretFile(t),
		// Generous for a loaded two-core CI machine under -race; the
		// outage tests set their own.
		Timeout: 500 * time.Millisecond,
	}
}

func secretFile(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "fleet-secret")
	if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(b)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newCache(t testing.TB, cfg Config, logger *slog.Logger) *Cache {
	t.Helper()
	c, err := New(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// keyOf is the providers' cache key: SHA-256 over provider, 0, token.
func keyOf(provider, token string) [32]byte {
	h := sha256.New()
	h.Write([]byte(provider))
	h.Write([]byte{0})
	h.Write([]byte(token))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// admin is a go-redis client logged in as the test server's admin user,
// for reading the database as an attacker with a dump would.
func admin(t testing.TB, srv *redistest.Server) *redis.Client {
	t.Helper()
	user, pass := srv.Admin()
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: srv.Socket, Username: user, Password: pass, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventually polls cond (a question to the external Redis process or to
// our counters) until it holds or the bound passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for delay := time.Millisecond; !cond(); delay = min(2*delay, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(delay)
	}
}
