package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/restguard/restguard/cmd/restguard-load/internal/nullauthz"
)

// roleEnv tells a re-executed binary which role to play. The real binary
// reads its role from its arguments; a test binary re-executing itself
// needs the hint (see TestMain).
const roleEnv = "RESTGUARD_LOAD_ROLE"

// startTimeout bounds how long a server may take to come up.
const startTimeout = 30 * time.Second

// server is a server process the load tool started.
type server struct {
	name       string // "null" or "restguard"
	grpc, http string // bound addresses
	admin      string
	cmd        *exec.Cmd
	done       chan error // receives Wait's result
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM and waits (at most 20 s, then SIGKILL).
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// command prepares a child that dies with the load tool (Pdeathsig), so
// that nothing outlives a run.
func command(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	return cmd
}

// startNull runs `restguard-load null-server` as a child process, so that
// its CPU time can be read apart from the load tool's: the gRPC floor, or
// with http the forward-auth floor (a net/http endpoint that answers 200).
func startNull(http bool) (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"null-server", "-addr", "127.0.0.1:0"}
	if http {
		args = append(args, "-http")
	}
	cmd := command(exe, args...)
	cmd.Env = append(os.Environ(), roleEnv+"=null-server")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{name: "null", cmd: cmd, done: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() { s.done <- cmd.Wait() }()
	select {
	case line, ok := <-lines:
		addr, found := strings.CutPrefix(line, "listening ")
		if !ok || !found {
			s.stop()
			return nil, fmt.Errorf("null server: unexpected first line %q", line)
		}
		if http {
			s.http = addr
		} else {
			s.grpc = addr
		}
		return s, nil
	case <-time.After(startTimeout):
		s.stop()
		return nil, errors.New("null server did not start")
	}
}

// runNullServer is the `null-server` subcommand: serve until SIGTERM or
// SIGINT (the parent's death sends SIGTERM, see command).
func runNullServer(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("null-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	useHTTP := fs.Bool("http", false, "serve HTTP forward-auth instead of gRPC: a net/http endpoint that answers 200 to everything")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := requireLoopback(*addr); err != nil {
		fmt.Fprintln(stderr, "restguard-load null-server:", err)
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "restguard-load null-server:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *useHTTP {
		hs := nullauthz.NewHTTP()
		go func() {
			<-ctx.Done()
			_ = hs.Close()
		}()
		fmt.Fprintln(stdout, "listening", ln.Addr().String())
		if err := hs.Serve(ln); err != nil && ctx.Err() == nil {
			fmt.Fprintln(stderr, "restguard-load null-server:", err)
			return 1
		}
		return 0
	}
	g := nullauthz.New()
	go func() {
		<-ctx.Done()
		g.Stop()
	}()
	fmt.Fprintln(stdout, "listening", ln.Addr().String())
	if err := g.Serve(ln); err != nil && ctx.Err() == nil {
		fmt.Fprintln(stderr, "restguard-load null-server:", err)
		return 1
	}
	return 0
}

// genOptions shape the generated restguard configuration.
type genOptions struct {
	http          bool          // a forward-auth listener (style envoy)
	logLevel      string        // log.level
	allowedSample float64       // log.allowed_sample
	cacheSize     int           // the provider's cache size (0: restguard's default)
	pprof         bool          // admin.pprof, for -server-profile
	introspection bool          // the provider introspects (RFC 7662) instead of checking JWTs
	cacheTTL      time.Duration // with introspection: cache.ttl (0: restguard's default)
	assertionKey  string        // the identity assertion's signing key file ("": no assertion)
}

func (o *options) gen() genOptions {
	return genOptions{http: o.transport == "http", logLevel: o.logLevel, allowedSample: o.allowedSample, cacheSize: o.cacheSize,
		pprof: o.serverProfile != "", introspection: o.provider == "introspection", cacheTTL: o.cacheTTL,
		assertionKey: o.assertionKey}
}

// restguardConfig is the configuration the load tool gives restguard: its
// own IdP as the only provider, a public route, the REST API behind a
// group rule and an IP rule, Basic blocked everywhere.
func restguardConfig(p *idp, g genOptions) string {
	withHTTP, logLevel, allowedSample, cacheSize := g.http, g.logLevel, g.allowedSample, g.cacheSize
	httpListen, forwardAuth := "", ""
	if withHTTP {
		// The load tool calls the forward-auth listener as Envoy's
		// http_service does (-http-prefix + the original path).
		httpListen, forwardAuth = `, http: "127.0.0.1:0"`, "\nforward_auth: {style: envoy}"
	}
	cache := ""
	if cacheSize > 0 {
		cache = fmt.Sprintf("\n    cache: {size: %d}", cacheSize)
	}
	if g.pprof {
		forwardAuth += "\nadmin: {pprof: true}"
	}
	if g.assertionKey != "" {
		// Every allow of the rest-api rule carries a signed identity
		// assertion (issue 14): one ES256 signature per check.
		forwardAuth += fmt.Sprintf("\nassertion: {issuer: restguard-load, key_file: %q, audience: %q}", g.assertionKey, "https://jira.example.com")
	}
	provider := fmt.Sprintf(`issuer: %s
    audiences: [%s]
    algorithms: [RS256, ES256]`, p.Issuer, Audience)
	if g.introspection {
		// The tool's IdP answers introspection without client
		// authentication (it protects nothing) after -introspect-latency.
		provider = fmt.Sprintf(`kind: introspection
    introspection: {endpoint: %s, auth_method: none}
    audiences: [%s]`, p.IntrospectionURL(), Audience)
		if g.cacheTTL > 0 {
			cache += fmt.Sprintf("\n    cache: {ttl: %s}", g.cacheTTL)
			if cacheSize > 0 {
				cache = fmt.Sprintf("\n    cache: {size: %d, ttl: %s}", cacheSize, g.cacheTTL)
			}
		}
	}
	return fmt.Sprintf(`# written by restguard-load
listen: {grpc: "127.0.0.1:0", admin: "127.0.0.1:0"%s}%s
realm: load
log: {level: %s, allowed_sample: %g}
shutdown: {drain_delay: 0s}   # nothing to drain: the tool stops sending first
providers:
  - name: load
    %s
    username: {claims: [preferred_username, sub]}
    groups: {claim: groups}%s
rules:
  - name: public
    paths: ["/status", "/s/**"]
    action: pass
    block_basic: {enabled: true}
  - name: rest-api
    paths: ["/rest/**"]
    authenticate: [load]
    block_basic: {enabled: true}
    groups: {any_of: [jira-api-users]}
    ip: {allow: ["10.0.0.0/8", "127.0.0.0/8", "192.0.2.0/24", "198.18.0.0/15"]}
default:
  action: deny
  block_basic: {enabled: true}
upstream:
  groups_header: X-Forwarded-Groups
`, httpListen, forwardAuth, logLevel, allowedSample, provider, cache)
}

// writeAssertionKey writes a fresh ECDSA P-256 key (PKCS#8 PEM, signs
// ES256) as assertion-key.pem in dir, for -assertion.
func writeAssertionKey(dir string) (string, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "assertion-key.pem")
	return path, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// expandTemplate fills a user-supplied configuration template.
func expandTemplate(tmpl string, p *idp) string {
	return strings.NewReplacer("${ISSUER}", p.Issuer, "${JWKS_URI}", p.Issuer+"/jwks",
		"${INTROSPECTION_URL}", p.IntrospectionURL(), "${AUDIENCE}", Audience).Replace(tmpl)
}

// startRestguard writes configYAML and runs `bin serve -config FILE`,
// reading the bound addresses from its "restguard serving" log line and
// waiting for "restguard ready". Everything else it logs (the decision
// log) is read and dropped.
func startRestguard(bin, configYAML string) (*server, error) {
	dir, err := os.MkdirTemp("", "restguard-load-")
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "restguard.yaml")
	if err := os.WriteFile(cfg, []byte(configYAML), 0o600); err != nil {
		return nil, err
	}
	cmd := command(bin, "serve", "-config", cfg)
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{name: "restguard", cmd: cmd, done: make(chan error, 1)}
	serving := make(chan map[string]any, 1)
	ready := make(chan struct{})
	tail := &syncBuffer{} // the first lines, for error messages
	go func() {
		sc := bufio.NewScanner(errPipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		seenServing, seenReady := false, false
		for sc.Scan() {
			line := sc.Bytes()
			tail.Write(line)
			var m map[string]any
			if json.Unmarshal(line, &m) != nil {
				continue
			}
			// restguard may log "ready" before "serving": wait for both.
			switch m["msg"] {
			case "restguard serving":
				select {
				case serving <- m:
				default:
				}
				seenServing = true
			case "restguard ready":
				if !seenReady {
					close(ready)
				}
				seenReady = true
			}
			if seenServing && seenReady {
				break
			}
		}
		_, _ = io.Copy(io.Discard, errPipe) // the decision log
	}()
	go func() {
		s.done <- cmd.Wait()
		_ = os.RemoveAll(dir)
	}()
	fail := func(why string) (*server, error) {
		s.stop()
		return nil, fmt.Errorf("restguard %s:\n%s", why, tail.String())
	}
	timeout := time.After(startTimeout)
	select {
	case m := <-serving:
		s.grpc, _ = m["grpc"].(string)
		s.http, _ = m["http"].(string)
		s.admin, _ = m["admin"].(string)
	case <-s.done:
		return nil, fmt.Errorf("restguard exited at start:\n%s", tail.String())
	case <-timeout:
		return fail("did not start")
	}
	select {
	case <-ready:
		return s, nil
	case <-timeout:
		return fail("not ready")
	}
}

// syncBuffer collects a child's first log lines for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() < 8<<10 {
		b.b.Write(p)
		b.b.WriteByte('\n')
	}
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
