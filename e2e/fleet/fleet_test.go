// Package fleet runs three real restguard processes that share one real
// Redis (Debian's redis-server) and one counting authorization server: the
// shared cache spares the server across replicas, a Redis outage costs
// calls and nothing else, a revocation reaches every replica before the
// next check, and the database holds no token and no identity in clear
// (issue 15).
package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/e2eutil"
	"github.com/restguard/restguard/internal/redistest"
)

// idp is an introspection endpoint that counts its calls. A token
// "tok-<n>" is active for user "user-<n>" unless it was revoked at the
// provider; one ending in "-inactive" never is.
type idp struct {
	srv     *httptest.Server
	calls   atomic.Int64
	mu      sync.Mutex
	revoked map[string]bool
}

func newIdP(t *testing.T) *idp {
	p := &idp{revoked: map[string]bool{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.calls.Add(1)
		tok := r.PostFormValue("token")
		p.mu.Lock()
		revoked := p.revoked[tok]
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if revoked || strings.HasSuffix(tok, "-inactive") || !strings.HasPrefix(tok, "tok-") {
			_, _ = w.Write([]byte(`{"active":false}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"active": true, "sub": "s-" + tok, "username": userOf(tok),
			"exp": time.Now().Add(time.Hour).Unix(),
		})
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) revoke(tok string) {
	p.mu.Lock()
	p.revoked[tok] = true
	p.mu.Unlock()
}

func userOf(tok string) string { return "user-" + strings.TrimPrefix(tok, "tok-") }

func secretFile(t *testing.T, dir, name string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(b)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type replica struct {
	*e2eutil.Restguard
	c *envoy.Client
}

// check sends one request with token to r and returns the user restguard
// hands upstream ("" on a denial) and the status.
func (r replica) check(t *testing.T, token string) (string, int) {
	t.Helper()
	req, err := envoy.NewCheckRequest(envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + token}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := r.c.Check(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	res := envoy.ReadResponse(resp)
	if !res.Allowed {
		return "", res.Status
	}
	for _, h := range res.Headers {
		if v, ok := strings.CutPrefix(h, "x-forwarded-user: "); ok {
			return v, res.Status
		}
	}
	t.Fatalf("allowed without a user: %v", res.Headers)
	return "", 0
}

// expect checks token on r: allowed as its user, or refused with 401.
func (r replica) expect(t *testing.T, token string, active bool) {
	t.Helper()
	user, status := r.check(t, token)
	switch {
	case active && user != userOf(token):
		t.Errorf("%s: got user %q status %d, want %s", token, user, status, userOf(token))
	case !active && (user != "" || status != http.StatusUnauthorized):
		t.Errorf("%s: got user %q status %d, want 401: a refused token must never pass", token, user, status)
	}
}

func TestFleetSharesOneCache(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	p := newIdP(t)
	dir := t.TempDir()
	fleet, admin := secretFile(t, dir, "fleet-secret"), secretFile(t, dir, "admin-secret")
	cfg := fmt.Sprintf(`
listen: {grpc: "127.0.0.1:0", admin: "127.0.0.1:0"}
check_timeout: 2s
log: {allowed_sample: 0}
providers:
  - name: corp
    kind: introspection
    introspection: {endpoint: %q, auth_method: none}
    allow_any_client: true
    cache: {ttl: 10m}
rules:
  - {name: rest, paths: ["/rest/**"], authenticate: [corp]}
redis:
  address: "unix:%s"
  username_file: %q
  password_file: %q
  fleet_secret_file: %q
  timeout: 500ms
admin: {secret_file: %q}
`, p.srv.URL+"/introspect", srv.Socket, srv.UserFile, srv.PasswordFile, fleet, admin)
	var rs []replica
	for range 3 {
		r := e2eutil.Start(t, cfg)
		c, err := envoy.Dial(r.GRPC)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		rs = append(rs, replica{r, c})
	}
	// Every replica subscribes to revocations before the first one.
	for _, r := range rs {
		subscribed(t, r, 1)
	}

	// 1. 1,000 distinct tokens, round-robin: three passes, token i going
	// to replica (i+pass) mod 3, so that each replica sees each token once
	// and every token is first seen by each replica in turn. One call per
	// token for the fleet, not one per replica. (A replica stores an answer
	// in Redis just after answering; the passes leave it that moment.)
	each := func(from, to int, name func(int) string, active func(int) bool) {
		t.Helper()
		for pass := range 3 {
			for i := from; i < to; i++ {
				rs[(i+pass)%3].expect(t, name(i), active(i))
			}
		}
	}
	tok := func(i int) string { return fmt.Sprintf("tok-%04d", i) }
	each(0, 1000, tok, func(int) bool { return true })
	if n := p.calls.Load(); n > 1000 {
		t.Fatalf("%d provider calls for 1,000 tokens on 3 replicas, want at most 1,000", n)
	}
	t.Logf("phase 1: %d provider calls for 3,000 checks of 1,000 tokens", p.calls.Load())

	// 2. What Redis holds: no token and no identity in clear, nor the
	// fingerprint a decision log would show.
	dump := redisDump(t, srv)
	for i := range 1000 {
		for _, s := range []string{tok(i), userOf(tok(i)), "s-" + tok(i)} {
			if bytes.Contains(dump, []byte(s)) {
				t.Fatalf("the Redis database holds %q in clear", s)
			}
		}
	}

	// 3. Redis stops halfway through another 1,000 tokens (every tenth
	// one inactive): every check is still answered correctly, none
	// passes that should not, and the calls rise.
	tok2 := func(i int) string {
		if i%10 == 0 {
			return fmt.Sprintf("tok-%04d-inactive", i)
		}
		return fmt.Sprintf("tok-%04d", i)
	}
	active2 := func(i int) bool { return i%10 != 0 }
	before := p.calls.Load()
	each(1000, 1500, tok2, active2)
	half := p.calls.Load() - before
	srv.Stop(t)
	each(1500, 2000, tok2, active2)
	outage := p.calls.Load() - before - half
	if half > 500 || outage <= 500 || outage > 1500 {
		t.Fatalf("provider calls: %d for 500 tokens with Redis, %d for 500 without (want <= 500, then more, at most 1,500)", half, outage)
	}
	t.Logf("phase 3: %d provider calls for 500 tokens with Redis, %d for 500 tokens without", half, outage)
	// The outage shows in the metrics and not in readiness: the replicas
	// stay in rotation.
	for _, r := range rs {
		m := scrape(t, r.Admin)
		if !strings.Contains(m, "\nrestguard_shared_cache_circuit_open 1\n") || !strings.Contains(m, "\nrestguard_ready 1\n") {
			t.Errorf("%s during the outage: want the circuit open and the replica ready:\n%s", r.Admin, grep(m, "restguard_shared_cache_circuit_open", "restguard_ready"))
		}
		if resp, err := http.Get("http://" + r.Admin + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s: /readyz during a Redis outage: %v %v", r.Admin, resp, err)
		} else {
			resp.Body.Close()
		}
	}

	// 4. Redis is back; a token revoked at the provider and then with
	// restguard revoke on one replica is refused by all three at once.
	srv.Restart(t)
	for _, r := range rs {
		subscribed(t, r, 2)
	}
	const victim = "tok-9001"
	for _, r := range rs {
		r.expect(t, victim, true)
	}
	p.revoke(victim)
	out := revoke(t, rs[0].Admin, admin, victim, "-token-stdin")
	if !strings.Contains(out, "on every replica: 3 of 3 acknowledged") {
		t.Fatalf("revoke: %s", out)
	}
	for _, r := range rs {
		r.expect(t, victim, false)
	}
	// A user, by name, from another replica.
	const leaver = "tok-9002"
	for _, r := range rs {
		r.expect(t, leaver, true)
	}
	p.revoke(leaver)
	out = revoke(t, rs[2].Admin, admin, "", "-provider", "corp", "-user", userOf(leaver))
	if !strings.Contains(out, "on every replica: 3 of 3 acknowledged") {
		t.Fatalf("revoke user: %s", out)
	}
	for _, r := range rs {
		r.expect(t, leaver, false)
	}
	for _, r := range rs {
		if strings.Contains(r.Logs(), victim) {
			t.Fatal("a token reached a log")
		}
	}
}

// revoke runs the restguard revoke command against admin and returns its
// output; it fails the test on a non-zero exit.
func revoke(t *testing.T, admin, secret, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(e2eutil.Binary(t), append([]string{"revoke", "-admin", "http://" + admin, "-secret-file", secret}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("restguard revoke: %v\n%s", err, out)
	}
	return string(out)
}

// redisDump is every key, value, set member and DUMP serialisation in the
// database, as someone who reads it (or its RDB file) would see them.
func redisDump(t *testing.T, srv *redistest.Server) []byte {
	t.Helper()
	var b bytes.Buffer
	keys, _ := srv.Do(t, "KEYS", "*").([]any)
	if len(keys) < 1000 {
		t.Fatalf("%d keys in Redis after 1,000 tokens: the shared cache is not used", len(keys))
	}
	for _, k := range keys {
		key := k.(string)
		b.WriteString(key + "\n")
		switch srv.Do(t, "TYPE", key) {
		case "string":
			v, _ := srv.Do(t, "GET", key).(string)
			b.WriteString(v + "\n" + hex.EncodeToString([]byte(v)) + "\n")
		case "set":
			ms, _ := srv.Do(t, "SMEMBERS", key).([]any)
			for _, m := range ms {
				b.WriteString(m.(string) + "\n")
			}
		}
		d, _ := srv.Do(t, "DUMP", key).(string)
		b.WriteString(d + "\n")
	}
	return b.Bytes()
}

func scrape(t *testing.T, admin string) string {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return b.String()
}

func grep(s string, prefixes ...string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				out = append(out, line)
			}
		}
	}
	return strings.Join(out, "\n")
}

// subscribed waits (at most 30 s) until r has logged its n-th
// subscription to revocations.
func subscribed(t *testing.T, r replica, n int) {
	t.Helper()
	if !r.WaitLog(`"msg":"subscribed to revocations"`, n, 30*time.Second) {
		t.Fatalf("replica %s did not subscribe to revocations (%d) within 30s:\n%s", r.Admin, n, r.Logs())
	}
}
