package redistest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
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
