// Package e2eutil runs the real restguard binary for end-to-end tests:
// built once per test binary, started as `restguard serve -config FILE`
// with loopback listeners on port 0, its bound addresses read from its own
// "restguard serving" log line, and stopped with SIGTERM at cleanup.
package e2eutil

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds ./cmd/restguard once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "restguard-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "restguard")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/restguard")
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Restguard is a running restguard process.
type Restguard struct {
	GRPC, HTTP, Admin string // bound addresses ("" when the listener is off)
	ConfigPath        string
	logs              *syncBuffer
	cmd               *exec.Cmd
}

// Logs returns everything the process wrote to stderr so far.
func (r *Restguard) Logs() string { return r.logs.String() }

// Reload sends SIGHUP.
func (r *Restguard) Reload() error { return r.cmd.Process.Signal(syscall.SIGHUP) }

// WaitLog waits (at most d) until the process has logged a line containing
// substr at least n times in all, and reports whether it did.
func (r *Restguard) WaitLog(substr string, n int, d time.Duration) bool {
	r.logs.mu.Lock()
	defer r.logs.mu.Unlock()
	deadline := time.Now().Add(d)
	for strings.Count(r.logs.b.String(), substr) < n {
		if !r.logs.wait(deadline) {
			return false
		}
	}
	return true
}

// Start writes configYAML to a file and runs `restguard serve` on it. The
// configuration should listen on 127.0.0.1:0 (or [::1]:0). Start waits until
// /readyz answers 200 (at most 30 s) and registers a cleanup that stops the
// process with SIGTERM and waits for it.
func Start(t testing.TB, configYAML string) *Restguard {
	t.Helper()
	bin := Binary(t)
	cfg := filepath.Join(t.TempDir(), "restguard.yaml")
	if err := os.WriteFile(cfg, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &Restguard{ConfigPath: cfg, logs: &syncBuffer{}}
	r.cmd = exec.Command(bin, "serve", "-config", cfg)
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serving := make(chan map[string]any, 1)
	ready := make(chan struct{}, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			// Decision lines are the volume (one per check): past
			// maxDecisionLog only the other lines are kept, so a long load
			// test neither grows this process without bound nor slows the
			// reading enough to block restguard's stderr.
			if !bytes.Contains(line, []byte(`"msg":"decision"`)) || r.logs.Len() < maxDecisionLog {
				r.logs.Write(append(append([]byte(nil), line...), '\n'))
			}
			if !bytes.Contains(line, []byte(`"msg":"restguard `)) {
				continue
			}
			var m map[string]any
			if json.Unmarshal(line, &m) != nil {
				continue
			}
			switch m["msg"] {
			case "restguard serving":
				select {
				case serving <- m:
				default:
				}
			case "restguard ready":
				select {
				case ready <- struct{}{}:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- r.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("restguard did not exit cleanly after SIGTERM: %v\n%s", err, r.Logs())
			}
		case <-time.After(20 * time.Second):
			_ = r.cmd.Process.Kill()
			<-done
			t.Errorf("restguard did not stop within 20s after SIGTERM")
		}
	})
	select {
	case m := <-serving:
		r.GRPC, _ = m["grpc"].(string)
		r.HTTP, _ = m["http"].(string)
		r.Admin, _ = m["admin"].(string)
	case <-time.After(30 * time.Second):
		t.Fatalf("restguard did not start:\n%s", r.Logs())
	}
	// restguard logs "restguard ready" once every provider is warm; /readyz
	// must agree.
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("restguard not ready after 30s:\n%s", r.Logs())
	}
	resp, err := http.Get("http://" + r.Admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("restguard logged ready but /readyz says %d", resp.StatusCode)
	}
	return r
}

// maxDecisionLog bounds how much of the decision log Logs keeps.
const maxDecisionLog = 8 << 20

// syncBuffer collects the process's log; writers signal waiters.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	return s.b.Write(p)
}

// wait releases s.mu until the next write or the deadline; it reports
// whether a write happened. Callers hold s.mu.
func (s *syncBuffer) wait(deadline time.Time) bool {
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	ch := s.changed
	s.mu.Unlock()
	defer s.mu.Lock()
	select {
	case <-ch:
		return true
	case <-time.After(time.Until(deadline)):
		return false
	}
}

// Len is the number of bytes kept.
func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Unavailable skips a test whose external component (an IdP binary, a
// proxy) is missing on this machine — unless RESTGUARD_E2E_REQUIRED=1, as
// .ci/run sets it, where a missing component fails the test: CI must never
// go green by skipping its end-to-end tests.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("RESTGUARD_E2E_REQUIRED") == "1" {
		t.Fatalf("end-to-end component missing (RESTGUARD_E2E_REQUIRED=1): %s", why)
	}
	t.Skip(why)
}
