package validate

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// buildRestguard builds the restguard binary of this repository into a
// temporary directory.
func buildRestguard(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "restguard")
	build := exec.Command("go", "build", "-o", bin, "./cmd/restguard")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// needsEnv marks a configuration block of the docs that reads secrets from
// environment variables: the configuration tests (config.TestDocsExamplesLoad,
// "# restguard config") cannot load it without them, so this test does,
// with placeholders.
var needsEnv = regexp.MustCompile(`^# needs ([A-Z][A-Z0-9_]*(?:, [A-Z][A-Z0-9_]*)*) in the environment$`)

// TestDocsConfigsWithSecretsLoad loads every "# needs … in the environment"
// block of the docs through `restguard validate`, with the variables set
// to placeholders (and fails without them, naming each: the secret is
// referenced, never written). Every YAML block of docs/migrating.md is a
// configuration some test loads.
func TestDocsConfigsWithSecretsLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds restguard")
	}
	bin := buildRestguard(t)
	dir := t.TempDir()
	loaded := 0
	for _, doc := range docFiles(t) {
		for _, f := range fences(t, doc) {
			if f.lang != "yaml" {
				continue
			}
			first := f.firstLine()
			m := needsEnv.FindStringSubmatch(first)
			if m == nil {
				if rel(doc) == "docs/migrating.md" && !strings.HasPrefix(first, "# restguard config") {
					t.Errorf("%s: every YAML block of the migration guide is a configuration a test loads: start it with \"# restguard config\" or \"# needs NAME in the environment\"", f.where())
				}
				continue
			}
			vars := strings.Split(m[1], ", ")
			file := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(f.where())+".yaml")
			if err := os.WriteFile(file, []byte(f.body), 0o600); err != nil {
				t.Fatal(err)
			}
			loaded++
			env := withoutVars(os.Environ(), vars)
			without := exec.Command(bin, "validate", "-config", file)
			without.Env = env
			out, err := without.CombinedOutput()
			if err == nil {
				t.Errorf("%s: loads without %v: the block needs no secret from the environment", f.where(), vars)
			}
			for _, v := range vars {
				if !strings.Contains(string(out), "environment variable "+v+" is not set") {
					t.Errorf("%s: without %s, validate does not name it:\n%s", f.where(), v, out)
				}
			}
			with := exec.Command(bin, "validate", "-config", file)
			with.Env = env
			for _, v := range vars {
				with.Env = append(with.Env, v+"=placeholder-"+strings.ToLower(v))
			}
			if out, err := with.CombinedOutput(); err != nil {
				t.Errorf("%s: %v\n%s", f.where(), err, out)
			}
		}
	}
	if loaded < 3 {
		t.Errorf("loaded %d configuration blocks with secrets, want at least 3", loaded)
	}
}

func withoutVars(env, vars []string) []string {
	var out []string
	for _, e := range env {
		name, _, _ := strings.Cut(e, "=")
		keep := true
		for _, v := range vars {
			if name == v {
				keep = false
			}
		}
		if keep {
			out = append(out, e)
		}
	}
	return out
}
