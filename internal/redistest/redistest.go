// Package redistest runs a real redis-server (Debian's package) for tests:
// loopback only, a unix socket in a private temporary directory, optionally
// a TCP port and a TLS port taken from the kernel, no persistence
// (--save "" --appendonly no), and users from an ACL file: "admin" for the
// test's own inspection and "restguard" with only the rights the shared
// cache needs (ACL). The server is stopped at cleanup.
//
//	srv := redistest.Start(t, redistest.Options{})
//	// connect to srv.Socket as srv.User with the password in srv.PasswordFile
//
// Tests skip when redis-server is not on PATH, unless
// RESTGUARD_E2E_REQUIRED=1 (then they fail). The package speaks just enough
// of the Redis protocol for its own readiness checks and Do, so that it
// needs no client module.
package redistest

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// User is the name of the restricted ACL user the code under test logs in as.
const User = "restguard"

// ACL is the restricted user's rule set: keys and channels under
// "restguard:" and the commands the shared cache sends, nothing else. It is
// the rule docs/scaling.md recommends; tests run against it so that the
// recommendation is known to be enough.
const ACL = "resetkeys resetchannels -@all ~restguard:* &restguard:* " +
	"+hello +auth +ping +select +get +set +del +sadd +srem +smembers +pexpire " +
	"+multi +exec +discard +publish +subscribe +unsubscribe +rpush +blpop"

// Options choose the listeners. The unix socket is always there.
type Options struct {
	TCP bool // a plain TCP port on 127.0.0.1 (Addr)
	// TLS serves TLS on a TCP port on 127.0.0.1 (Addr) with a certificate
	// from a CA made for this server, and requires a client certificate
	// signed by it (ClientCertFile, ClientKeyFile). Plain TCP is then off.
	TLS bool
}

// Server is a running (or stopped, between Stop and Restart) redis-server.
type Server struct {
	Socket       string // unix socket path
	Addr         string // 127.0.0.1:port when Options.TCP or Options.TLS
	User         string // the restricted user (User)
	UserFile     string // a file holding User
	PasswordFile string // a file holding the restricted user's password
	Password     string // the same password, for tests that check it never leaks

	// TLS material (Options.TLS): PEM files and the name in the server
	// certificate (which also holds 127.0.0.1).
	CAFile, ClientCertFile, ClientKeyFile, ServerName string

	adminPass string
	dir       string
	args      []string
	logFile   string
	proc      *os.Process
	done      chan struct{}
}

// Available reports whether redis-server is on PATH.
func Available() bool {
	_, err := exec.LookPath("redis-server")
	return err == nil
}

// Require skips the test when redis-server is missing, or fails it when
// RESTGUARD_E2E_REQUIRED=1.
func Require(t testing.TB) {
	t.Helper()
	if Available() {
		return
	}
	if os.Getenv("RESTGUARD_E2E_REQUIRED") == "1" {
		t.Fatal("redis-server is not on PATH (RESTGUARD_E2E_REQUIRED=1); install Debian's redis-server")
	}
	t.Skip("redis-server is not on PATH; install Debian's redis-server (RESTGUARD_E2E_REQUIRED=1 turns this into a failure)")
}

// Start starts a redis-server for the test and stops it at cleanup.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	Require(t)
	// A unix socket path must fit in 108 bytes, which t.TempDir() under a
	// long test name may not: use a short directory of our own.
	dir, err := os.MkdirTemp("", "rtr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{
		Socket:    filepath.Join(dir, "redis.sock"),
		User:      User,
		Password:  randomHex(t, 16),
		adminPass: randomHex(t, 16),
		dir:       dir,
		logFile:   filepath.Join(dir, "redis.log"),
	}
	s.UserFile = s.write(t, "user", User+"\n")
	s.PasswordFile = s.write(t, "password", s.Password+"\n")
	acl := fmt.Sprintf("user default off\nuser admin on #%s ~* &* +@all\nuser %s on #%s %s\n",
		sha256Hex(s.adminPass), User, sha256Hex(s.Password), ACL)
	aclFile := s.write(t, "users.acl", acl)

	base := []string{
		"--bind", "127.0.0.1", "--protected-mode", "yes",
		"--unixsocket", s.Socket, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--aclfile", aclFile, "--logfile", s.logFile, "--daemonize", "no",
	}
	if o.TLS {
		s.writeTLS(t)
		base = append(base, "--tls-cert-file", filepath.Join(dir, "server.crt"),
			"--tls-key-file", filepath.Join(dir, "server.key"),
			"--tls-ca-cert-file", s.CAFile, "--tls-auth-clients", "yes")
	}
	t.Cleanup(func() { s.stop(syscall.SIGTERM) })

	// --port 0 means "no TCP listener" to redis-server, not "any port":
	// take a free port from the kernel, hand it over, retry on a race.
	for attempt := 0; ; attempt++ {
		s.args = append([]string(nil), base...)
		switch {
		case o.TLS:
			port := freePort(t)
			s.Addr = net.JoinHostPort("127.0.0.1", port)
			s.args = append(s.args, "--port", "0", "--tls-port", port)
		case o.TCP:
			port := freePort(t)
			s.Addr = net.JoinHostPort("127.0.0.1", port)
			s.args = append(s.args, "--port", port)
		default:
			s.args = append(s.args, "--port", "0")
		}
		err := s.launch()
		if err == nil {
			return s
		}
		if attempt < 5 && strings.Contains(s.logTail(), "in use") {
			continue
		}
		t.Fatalf("redis-server did not start: %v\n%s", err, s.logTail())
	}
}

// Stop shuts the server down (SIGTERM) and waits for it to exit; the
// socket and port are then closed. Restart brings it back.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

// Kill ends the server with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if err := s.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// Restart starts the server again with the same socket, port, users and
// certificates. Its data is gone (no persistence).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.running() {
		t.Fatal("redistest: Restart while running")
	}
	if err := s.launch(); err != nil {
		t.Fatalf("redis-server did not restart: %v\n%s", err, s.logTail())
	}
}

// Do runs one command as the admin user over the unix socket and returns
// its reply: string, int64, []any, nil, or an error for an error reply.
func (s *Server) Do(t testing.TB, args ...string) any {
	t.Helper()
	r, err := s.do(5*time.Second, args...)
	if err != nil {
		t.Fatalf("redistest: %s: %v", args[0], err)
	}
	return r
}

// Admin returns the admin user's name and password, for tests that inspect
// the database with a real client.
func (s *Server) Admin() (user, password string) { return "admin", s.adminPass }

func (s *Server) launch() error {
	cmd := exec.Command("redis-server", s.args...)
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		return err
	}
	s.proc = cmd.Process
	s.done = make(chan struct{})
	done := s.done
	go func() { _ = cmd.Wait(); close(done) }()
	// Bounded polling of the external process: ready when it answers PING
	// on the socket as admin (and, with TCP, once the port accepts).
	deadline := time.Now().Add(15 * time.Second)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		select {
		case <-done:
			return errors.New("redis-server exited")
		default:
		}
		if r, err := s.do(time.Second, "PING"); err == nil && r == "PONG" && s.portOpen() {
			return nil
		}
		if time.Now().After(deadline) {
			_ = s.stop(syscall.SIGKILL)
			return errors.New("redis-server not ready after 15s")
		}
		time.Sleep(delay)
	}
}

func (s *Server) portOpen() bool {
	if s.Addr == "" {
		return true
	}
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func (s *Server) running() bool {
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

func (s *Server) stop(sig syscall.Signal) error {
	if !s.running() {
		return nil
	}
	_ = s.proc.Signal(sig)
	select {
	case <-s.done:
		return nil
	case <-time.After(10 * time.Second):
		_ = s.proc.Kill()
		<-s.done
		return errors.New("redistest: redis-server ignored the signal for 10s; killed")
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logFile)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (s *Server) write(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(s.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// do sends one command in the Redis protocol (RESP2) over the socket,
// logged in as admin.
func (s *Server) do(timeout time.Duration, args ...string) (any, error) {
	c, err := net.DialTimeout("unix", s.Socket, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	rd := bufio.NewReader(c)
	if _, err := c.Write(encode("AUTH", "admin", s.adminPass)); err != nil {
		return nil, err
	}
	if r, err := readReply(rd); err != nil {
		return nil, err
	} else if e, ok := r.(error); ok {
		return nil, e
	}
	if _, err := c.Write(encode(args...)); err != nil {
		return nil, err
	}
	r, err := readReply(rd)
	if err != nil {
		return nil, err
	}
	if e, ok := r.(error); ok {
		return nil, e
	}
	return r, nil
}

func encode(args ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return []byte(b.String())
}

// readReply reads one RESP2 reply. An error reply comes back as an error
// value, not as the second result.
func readReply(rd *bufio.Reader) (any, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("redistest: empty reply line")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return errors.New(line[1:]), nil
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = readReply(rd); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("redistest: unexpected reply %q", line)
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return port
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// WaitKeys waits (at most within) until at least n keys match pattern,
// for tests whose code under test writes to Redis after answering: there
// is no event to wait on in another process, so it polls the server.
func (s *Server) WaitKeys(t testing.TB, pattern string, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		keys, _ := s.Do(t, "KEYS", pattern).([]any)
		if len(keys) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: %d keys match %q after %v, want %d", len(keys), pattern, within, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
