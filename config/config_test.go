package config_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/internal/idptest"
)

var update = flag.Bool("update", false, "rewrite the golden .err files")

// loadAndBuild is what `restguard validate` and `serve` do.
func loadAndBuild(path string) error {
	c, err := config.Load(path)
	if err != nil {
		return err
	}
	_, err = config.Build(c, config.BuildOptions{})
	return err
}

// TestBadConfigs: every fixture in testdata/bad fails with exactly the
// messages (and line numbers) of its golden .err file.
func TestBadConfigs(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatal("no fixtures", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			err := loadAndBuild(f)
			if err == nil {
				t.Fatal("loaded without error")
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

func TestThreeErrorsAllReportedWithLines(t *testing.T) {
	t.Parallel()
	err := loadAndBuild("testdata/bad/three_errors.yaml")
	for _, want := range []string{
		`three_errors.yaml:5: providers[0]: unknown key "audience" (did you mean "audiences"?)`,
		`three_errors.yaml:13: rules[0].ip.allow[1]: invalid CIDR "10.0.0.300/8"`,
		`three_errors.yaml:9: rules[0].authenticate[0]: unknown provider "crop"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// yamlBlock finds fenced YAML blocks that declare themselves a restguard
// configuration.
var yamlBlock = regexp.MustCompile("(?s)```yaml\n(# restguard config.*?)```")

// TestDocsExamplesLoad keeps every configuration example in the README, in
// docs/ and in examples/ loading and building.
func TestDocsExamplesLoad(t *testing.T) {
	t.Parallel()
	docs, _ := filepath.Glob("../docs/*.md")
	docs = append(docs, "../README.md")
	n := 0
	for _, d := range docs {
		data, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range yamlBlock.FindAllSubmatch(data, -1) {
			n++
			name := filepath.Base(d) + "#" + string(rune('1'+i))
			c, err := config.Parse(name, m[1])
			if err == nil {
				_, err = config.Build(c, config.BuildOptions{})
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	if n < 3 {
		t.Errorf("found only %d configuration examples in the docs", n)
	}
	examples, _ := filepath.Glob("../examples/*.yaml")
	more, _ := filepath.Glob("../examples/*/restguard.yaml")
	examples = append(examples, more...)
	for _, f := range examples {
		if strings.HasSuffix(f, ".cases.yaml") {
			continue // policy tests, run by cmd/restguard's TestExampleCases
		}
		if err := loadAndBuild(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if len(examples) == 0 {
		t.Error("no examples/*.yaml")
	}
}

func TestDefaultsApplied(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("min.yaml", []byte("realm: jira\n"))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := config.Build(c, config.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rt.Rules[len(rt.Rules)-1]; got.Name != "default" || got.Action != "deny" {
		t.Errorf("default rule = %+v, want deny", got)
	}
	if rt.Engine.Realm() != "jira" {
		t.Errorf("realm = %q", rt.Engine.Realm())
	}
}

// FuzzParse: the loader never panics, and every error it reports is a
// positioned *config.Error.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/bad/*.yaml")
	seeds = append(seeds, "../examples/restguard.yaml")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("rules: [{name: a, paths: ['/**'], action: pass}]"))
	f.Add([]byte("&a [*a, *a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.yaml", data)
		if err == nil {
			_, err = config.Build(c, config.BuildOptions{})
		}
		if err == nil {
			return
		}
		for _, e := range leaves(err) {
			var ce *config.Error
			if !errors.As(e, &ce) || ce.File == "" {
				t.Fatalf("error without position: %v", e)
			}
		}
	})
}

func leaves(err error) []error {
	var multi interface{ Unwrap() []error }
	if errors.As(err, &multi) && multi.(error) == err {
		var out []error
		for _, e := range multi.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// TestDegradedStartReadiness: a provider whose keys cannot load holds back
// readiness, unless it is allowed to start degraded.
func TestDegradedStartReadiness(t *testing.T) {
	t.Parallel()
	idp := idptest.New(t)
	idp.SetJWKSFault(func(w http.ResponseWriter, _ *http.Request) bool {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	})
	for _, degraded := range []bool{false, true} {
		c, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`
providers: [{name: idp, issuer: %q, audiences: [restguard], degraded_start: %v}]
rules: [{name: api, paths: ["/rest/**"], authenticate: [idp]}]
`, idp.Issuer, degraded)))
		if err != nil {
			t.Fatal(err)
		}
		rt, err := config.Build(c, config.BuildOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.Refresh(context.Background()); err == nil {
			t.Fatal("refresh succeeded against a failing JWKS")
		}
		if rt.Ready() != degraded {
			t.Errorf("degraded_start %v: ready = %v", degraded, rt.Ready())
		}
	}
}
