package validate

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// The container image: every base pinned by digest (or marked for make
// image-pin), the build stage cross-compiling on the builder's platform, the
// OCI labels set from build arguments the final stage declares, and the
// Makefile's multi-architecture recipe.

type dockerStage struct {
	from      string   // the FROM line
	comment   string   // the comment line right above it
	args      []string // ARG names declared in the stage
	labels    map[string]string
	instrs    []string // the stage's instructions, continuation lines joined
	platform  string
	imageName string
}

// parseDockerfile splits the Dockerfile into stages; continuation lines are
// joined, comments dropped (except the one above FROM).
func parseDockerfile(t *testing.T) []*dockerStage {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []*dockerStage
	var cur *dockerStage
	var pending, lastComment string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			lastComment = line
			continue
		}
		if line == "" {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			pending += cont + " "
			continue
		}
		instr := pending + line
		pending = ""
		word, rest, _ := strings.Cut(instr, " ")
		switch strings.ToUpper(word) {
		case "FROM":
			cur = &dockerStage{from: instr, comment: lastComment, labels: map[string]string{}}
			fields := strings.Fields(rest)
			for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
				if p, ok := strings.CutPrefix(fields[0], "--platform="); ok {
					cur.platform = p
				}
				fields = fields[1:]
			}
			if len(fields) > 0 {
				cur.imageName = fields[0]
			}
			stages = append(stages, cur)
		case "ARG":
			if cur != nil {
				for _, a := range strings.Fields(rest) {
					name, _, _ := strings.Cut(a, "=")
					cur.args = append(cur.args, name)
				}
			}
		case "LABEL":
			for _, m := range regexp.MustCompile(`([a-z0-9.]+)="([^"]*)"`).FindAllStringSubmatch(rest, -1) {
				cur.labels[m[1]] = m[2]
			}
		}
		if cur != nil {
			cur.instrs = append(cur.instrs, instr)
		}
		lastComment = ""
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile: %d stages", len(stages))
	}
	return stages
}

var digestRef = regexp.MustCompile(`^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$`)

func TestDockerfilePinned(t *testing.T) {
	for _, s := range parseDockerfile(t) {
		switch {
		case s.imageName == "scratch":
			// Not an image: nothing is pulled.
		case digestRef.MatchString(s.imageName):
		case s.comment == "# pinned by make image-pin":
			// Explicitly left to make image-pin where Docker runs.
		default:
			t.Errorf("%q: pin the base by digest (or mark it '# pinned by make image-pin')", s.from)
		}
	}
}

func TestDockerfileCrossCompiles(t *testing.T) {
	stages := parseDockerfile(t)
	build := stages[0]
	if build.platform != "$BUILDPLATFORM" {
		t.Errorf("build stage %q: --platform=$BUILDPLATFORM, so it runs natively and cross-compiles", build.from)
	}
	for _, a := range []string{"TARGETOS", "TARGETARCH"} {
		if !slices.Contains(build.args, a) {
			t.Errorf("build stage: ARG %s missing (BuildKit sets it only when declared)", a)
		}
	}
	goBuild := ""
	for _, in := range build.instrs {
		if strings.Contains(in, "go build") {
			goBuild = in
		}
	}
	if !strings.Contains(goBuild, "GOOS=$TARGETOS") || !strings.Contains(goBuild, "GOARCH=$TARGETARCH") || !strings.Contains(goBuild, "CGO_ENABLED=0") {
		t.Errorf("go build must cross-compile statically from TARGETOS/TARGETARCH: %q", goBuild)
	}
	// golang images set GOTOOLCHAIN=local: the pinned Go must satisfy go.mod.
	b, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.ParseLax("go.mod", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^golang:(\d+\.\d+(?:\.\d+)?)`).FindStringSubmatch(build.imageName)
	if m == nil {
		t.Fatalf("build stage %q is not a golang image with a version tag", build.imageName)
	}
	if semver.Compare("v"+m[1], "v"+mf.Go.Version) < 0 {
		t.Errorf("golang:%s is older than go.mod's go %s (the image refuses to switch toolchains)", m[1], mf.Go.Version)
	}
}

func TestDockerfileLabels(t *testing.T) {
	stages := parseDockerfile(t)
	final := stages[len(stages)-1]
	want := map[string]string{
		"org.opencontainers.image.source":   "SOURCE",
		"org.opencontainers.image.revision": "REVISION",
		"org.opencontainers.image.version":  "VERSION",
		"org.opencontainers.image.created":  "CREATED",
	}
	if _, err := os.Stat(filepath.Join("..", "..", "LICENSE")); err == nil {
		want["org.opencontainers.image.licenses"] = ""
	}
	for key, arg := range want {
		v, ok := final.labels[key]
		if !ok {
			t.Errorf("final stage: no LABEL %s", key)
			continue
		}
		if arg == "" {
			continue
		}
		// A build argument is empty in a stage that does not declare it.
		if v != "${"+arg+"}" || !slices.Contains(final.args, arg) {
			t.Errorf("LABEL %s=%q: want ${%s} with ARG %s declared in the final stage", key, v, arg, arg)
		}
	}
	if final.labels["org.opencontainers.image.title"] == "" {
		t.Error("no org.opencontainers.image.title")
	}
}

// TestMakefileImageTargets: the image targets pass the label arguments, and
// image-multiarch builds both architectures with buildx.
func TestMakefileImageTargets(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	mk := string(b)
	recipe := func(target string) string {
		i := strings.Index(mk, "\n"+target+":")
		if i < 0 {
			t.Fatalf("Makefile: no target %s", target)
		}
		body := mk[i+len(target)+2:]
		if j := strings.Index(body, "\n\n"); j >= 0 {
			body = body[:j]
		}
		return body
	}
	for _, arg := range []string{"VERSION", "REVISION", "CREATED"} {
		if !strings.Contains(mk, "--build-arg "+arg+"=") {
			t.Errorf("Makefile: no --build-arg %s", arg)
		}
	}
	multi := recipe("image-multiarch")
	if !strings.Contains(multi, "docker buildx build") || !strings.Contains(multi, "--platform $(PLATFORMS)") || !strings.Contains(mk, "PLATFORMS  ?= linux/amd64,linux/arm64") {
		t.Errorf("image-multiarch: docker buildx build --platform linux/amd64,linux/arm64:\n%s", multi)
	}
	if !strings.Contains(recipe("image-pin"), "docker buildx imagetools inspect") {
		t.Error("image-pin must resolve the digest with docker buildx imagetools inspect")
	}
}
