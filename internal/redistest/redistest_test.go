package redistest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestStartStopRestart(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{TCP: true})
	if got := s.Do(t, "PING"); got != "PONG" {
		t.Fatalf("PING = %v", got)
	}
	s.Do(t, "SET", "restguard:x", "1")
	// The restricted user exists with the documented rules.
	rules := s.Do(t, "ACL", "GETUSER", User)
	if !strings.Contains(strings.ToLower(toString(rules)), "restguard:*") {
		t.Fatalf("ACL GETUSER %s = %v", User, rules)
	}
	s.Stop(t)
	if _, err := net.Dial("unix", s.Socket); err == nil {
		t.Fatal("socket still accepts after Stop")
	}
	if _, err := net.Dial("tcp", s.Addr); err == nil {
		t.Fatal("port still accepts after Stop")
	}
	s.Restart(t)
	if got := s.Do(t, "EXISTS", "restguard:x"); got != int64(0) {
		t.Fatalf("data survived a restart without persistence: EXISTS = %v", got)
	}
}

func TestTLSRequiresClientCertificate(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{TLS: true})
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cert, err := tls.LoadX509KeyPair(s.ClientCertFile, s.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", s.Addr, &tls.Config{RootCAs: pool, ServerName: s.ServerName, Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatalf("TLS with client certificate: %v", err)
	}
	if _, err := c.Write(encode("PING")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	c.Close()
	// Default user is off: an unauthenticated PING is refused, which still
	// proves the TLS session reached Redis.
	if !strings.HasPrefix(string(buf[:n]), "-NOAUTH") {
		t.Fatalf("reply %q", buf[:n])
	}
}

func toString(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			b.WriteString(x + " ")
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return b.String()
}

// TestRequireWithoutRedis runs this test binary again with an empty PATH:
// Start skips, or fails under RESTGUARD_E2E_REQUIRED=1.
func TestRequireWithoutRedis(t *testing.T) {
	if os.Getenv("REDISTEST_CHILD") == "1" {
		Start(t, Options{})
		t.Fatal("Start returned without redis-server on PATH")
	}
	t.Parallel()
	for _, tc := range []struct {
		required string
		want     string
		fail     bool
	}{
		{"", "--- SKIP: TestRequireWithoutRedis", false},
		{"1", "RESTGUARD_E2E_REQUIRED=1", true},
	} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestRequireWithoutRedis$", "-test.v")
		cmd.Env = append(os.Environ(), "PATH="+t.TempDir(), "REDISTEST_CHILD=1", "RESTGUARD_E2E_REQUIRED="+tc.required)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.fail || !strings.Contains(string(out), tc.want) {
			t.Errorf("RESTGUARD_E2E_REQUIRED=%q: err=%v\n%s", tc.required, err, out)
		}
	}
}
