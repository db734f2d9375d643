package validate

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// demoMarker identifies the README's sample of `make run`.
const demoMarker = "demo (each line is one CheckRequest through the gRPC server"

// TestReadmeDemoOutput runs `restguard dev` as `make run` does (log level
// info, stdout and stderr) and holds the README's sample to it: every line
// of the sample, with … standing for any text, is a line the demo printed,
// and every row of the demo's table is in the sample as printed. Volatile
// parts are mapped to the README's values first: the listen addresses (the
// test listens on 127.0.0.1:0, the demo's defaults are 9001 and 9003) and
// the temporary directory.
func TestReadmeDemoOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs restguard")
	}
	sample := readmeDemoSample(t)

	bin := buildRestguard(t)

	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "dev", "-grpc", "127.0.0.1:0", "-admin", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdoutPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read stdout until the demo says it is running, then stop it the way
	// a user does (Ctrl-C) and read the rest.
	var stdout []string
	sc := bufio.NewScanner(stdoutPipe)
	running := false
	for sc.Scan() {
		stdout = append(stdout, sc.Text())
		if !running && strings.HasPrefix(sc.Text(), "restguard is running") {
			running = true
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("restguard dev: %v\nstdout:\n%s\nstderr:\n%s", err, strings.Join(stdout, "\n"), stderr.String())
	}
	if !running {
		t.Fatalf("the demo never said it was running\nstdout:\n%s\nstderr:\n%s", strings.Join(stdout, "\n"), stderr.String())
	}

	// The volatile parts, as the README writes them.
	var grpcAddr, adminAddr string
	for _, l := range stdout {
		f := strings.Fields(l)
		switch {
		case len(f) == 3 && f[0] == "gRPC" && f[1] == "ext_authz":
			grpcAddr = f[2]
		case len(f) == 2 && f[0] == "admin":
			adminAddr = strings.TrimSuffix(strings.TrimPrefix(f[1], "http://"), "/readyz")
		}
	}
	if grpcAddr == "" || adminAddr == "" {
		t.Fatalf("no listen addresses in the demo's output:\n%s", strings.Join(stdout, "\n"))
	}
	tmpReal, _ := filepath.EvalSymlinks(tmp)
	norm := strings.NewReplacer(grpcAddr, "127.0.0.1:9001", adminAddr, "127.0.0.1:9003", tmp, "/tmp", tmpReal, "/tmp")
	var printed []string
	for _, l := range append(stdout, strings.Split(stderr.String(), "\n")...) {
		printed = append(printed, strings.TrimRight(norm.Replace(l), " "))
	}

	for _, l := range sample {
		if l == "" {
			continue
		}
		re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(l), "…", ".*") + "$")
		found := false
		for _, p := range printed {
			if re.MatchString(p) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("README.md's sample of make run shows a line the demo does not print:\n  %s", l)
		}
	}

	rows := demoRows(stdout)
	if len(rows) < 5 {
		t.Fatalf("the demo printed %d table rows:\n%s", len(rows), strings.Join(stdout, "\n"))
	}
	for _, r := range rows {
		r = strings.TrimRight(r, " ")
		if !containsLine(sample, r) && !slices.ContainsFunc(sample, func(l string) bool {
			// A sample line with … (the assertion) stands for the row.
			return strings.Contains(l, "…") && regexp.MustCompile("^"+strings.ReplaceAll(regexp.QuoteMeta(l), "…", ".*")+"$").MatchString(r)
		}) {
			t.Errorf("the demo prints a row README.md's sample lacks (or shows differently):\n  %s", r)
		}
	}
	if t.Failed() {
		t.Logf("the demo printed, on stdout:\n%s\non stderr:\n%s", strings.Join(stdout, "\n"), stderr.String())
	}
}

// readmeDemoSample returns the lines of the README's text block that shows
// the demo, trailing spaces removed.
func readmeDemoSample(t *testing.T) []string {
	t.Helper()
	for _, f := range fences(t, filepath.Join(repoRoot, "README.md")) {
		if f.lang == "text" && strings.Contains(f.body, demoMarker) {
			var out []string
			for _, l := range strings.Split(strings.TrimSuffix(f.body, "\n"), "\n") {
				out = append(out, strings.TrimRight(l, " "))
			}
			return out
		}
	}
	t.Fatalf("README.md: no text block with %q", demoMarker)
	return nil
}

// demoRows are the table's lines: after the "demo (" heading, up to the
// first empty line.
func demoRows(stdout []string) []string {
	var rows []string
	in := false
	for _, l := range stdout {
		switch {
		case strings.HasPrefix(l, "demo ("):
			in = true
		case in && strings.TrimSpace(l) == "":
			return rows
		case in:
			rows = append(rows, l)
		}
	}
	return rows
}

func containsLine(lines []string, l string) bool {
	for _, x := range lines {
		if x == l {
			return true
		}
	}
	return false
}
