package catalogue

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/restguard/restguard/internal/e2eutil"
)

// proc is a restguard process started without waiting for readiness
// (e2eutil.Start waits for it; a process whose identity providers are down
// never becomes ready). It stops with SIGTERM at cleanup.
type proc struct {
	GRPC, Admin string
	cmd         *exec.Cmd
	mu          sync.Mutex
	logs        strings.Builder
}

func (p *proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// RSS is the process's resident set size in bytes, from /proc.
func (p *proc) RSS(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func startNoWait(t *testing.T, yaml string) *proc {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "restguard.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: exec.Command(e2eutil.Binary(t), "serve", "-config", cfg)}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	serving := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.Write(sc.Bytes())
			p.logs.WriteByte('\n')
			p.mu.Unlock()
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "restguard serving" {
				select {
				case serving <- m:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("restguard did not exit cleanly: %v", err)
			}
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
			t.Error("restguard did not stop within 20s of SIGTERM")
		}
	})
	select {
	case m := <-serving:
		p.GRPC, _ = m["grpc"].(string)
		p.Admin, _ = m["admin"].(string)
	case <-time.After(40 * time.Second):
		t.Fatalf("restguard did not start:\n%s", p.Logs())
	}
	return p
}

func readyz(admin string) int {
	resp, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
