// Package authenticator_test builds and tests the Java reference
// authenticators (test.sh) from `go test ./...`, so the shared test vectors
// are checked in both languages by the same command. Without a JDK 17+ on
// PATH the test skips, unless RESTGUARD_E2E_REQUIRED=1 (as .ci/run sets it),
// where a missing JDK fails it.
package authenticator_test

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/restguard/restguard/internal/e2eutil"
)

func TestJavaAuthenticators(t *testing.T) {
	for _, tool := range []string{"javac", "java", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			e2eutil.Unavailable(t, tool+" is not on PATH (install openjdk-17-jdk-headless)")
		}
	}
	if major := javacMajor(t); major < 17 {
		e2eutil.Unavailable(t, "javac is older than 17 (found "+strconv.Itoa(major)+")")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "test.sh")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		t.Fatalf("test.sh: %v\n%s", err, out.String())
	}
	if !regexp.MustCompile(`(?m)^\d+ passed, 0 failed$`).Match(out.Bytes()) {
		t.Fatalf("test.sh exited 0 without a passing summary:\n%s", out.String())
	}
	t.Logf("%s", lastLine(out.Bytes()))
}

// javacMajor returns the major version javac reports ("javac 17.0.15" → 17).
func javacMajor(t *testing.T) int {
	out, err := exec.Command("javac", "-version").CombinedOutput()
	if err != nil {
		t.Fatalf("javac -version: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`javac (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("javac -version: unexpected output %q", out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}
