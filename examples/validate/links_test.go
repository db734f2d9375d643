package validate

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// repoFiles is the set of files in the repository (git ls-files, so that a
// file that exists only in someone's working tree does not count), with
// every directory that holds one.
func repoFiles(t *testing.T) map[string]bool {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := map[string]bool{}
	for _, f := range strings.Split(string(out), "\x00") {
		if f == "" {
			continue
		}
		// A file added by this change but not committed yet still counts:
		// git ls-files lists the index, and a deleted one no longer exists.
		if _, err := os.Stat(filepath.Join(repoRoot, f)); err != nil {
			continue
		}
		files[f] = true
		for d := filepath.Dir(f); d != "."; d = filepath.Dir(d) {
			files[filepath.ToSlash(d)] = true
		}
	}
	if len(files) < 50 {
		t.Fatalf("git ls-files found only %d files", len(files))
	}
	return files
}

var (
	mdLink     = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)
	inlineCode = regexp.MustCompile("`([^`\n]+)`")
	heading    = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
)

// TestDocsReferToExistingFiles: every relative link of the README, docs/*.md
// and the examples' READMEs, and every file path they name in backticks,
// exists in the repository; a link's #fragment names a heading of its page.
func TestDocsReferToExistingFiles(t *testing.T) {
	files := repoFiles(t)
	checked := 0
	for _, doc := range docFiles(t) {
		docRel := rel(doc)
		dir := filepath.ToSlash(filepath.Dir(docRel))
		for i, line := range outsideFences(t, doc) {
			where := docRel + ":" + itoa(int32(i+1))
			// Links.
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				path, frag, _ := strings.Cut(target, "#")
				resolved := docRel
				if path != "" {
					resolved = filepath.ToSlash(filepath.Clean(filepath.Join(dir, path)))
				}
				checked++
				if !files[resolved] {
					t.Errorf("%s: link to %s: no such file in the repository", where, target)
					continue
				}
				if frag != "" && strings.HasSuffix(resolved, ".md") && !headingSlugs(t, filepath.Join(repoRoot, resolved))[frag] {
					t.Errorf("%s: link to %s: %s has no heading #%s", where, target, resolved, frag)
				}
			}
			// File paths in backticks: tokens that start with a top-level
			// entry of the repository or of the page's directory, and any
			// *.md name.
			for _, m := range inlineCode.FindAllStringSubmatch(stripLinks(line), -1) {
				tok := strings.TrimSuffix(m[1], "/")
				if !pathLike(tok) {
					continue
				}
				first, _, _ := strings.Cut(tok, "/")
				inRoot, inDir := files[first], files[dir+"/"+first]
				if !inRoot && !inDir && !strings.HasSuffix(tok, ".md") {
					continue
				}
				checked++
				if !files[filepath.ToSlash(filepath.Clean(filepath.Join(dir, tok)))] && !files[filepath.ToSlash(filepath.Clean(tok))] {
					t.Errorf("%s: `%s`: no such file or directory in the repository", where, m[1])
				}
			}
		}
	}
	if checked < 100 {
		t.Errorf("checked only %d references", checked)
	}
}

// pathLike: a token without spaces or pattern characters, naming a file
// or a directory with at least one slash, or a *.md page.
func pathLike(tok string) bool {
	if tok == "" || strings.ContainsAny(tok, " *{}<>$=:@…?,|\\\"'()[]") || strings.HasPrefix(tok, "/") || strings.HasPrefix(tok, "-") {
		return false
	}
	return strings.Contains(tok, "/") || strings.HasSuffix(tok, ".md")
}

// stripLinks removes link targets, so that a backticked link text is not
// read twice.
func stripLinks(line string) string {
	return mdLink.ReplaceAllStringFunc(line, func(s string) string {
		return s[:strings.Index(s, "](")+1]
	})
}

// headingSlugs are the anchors GitHub gives a page's headings: lower-case,
// punctuation removed, spaces to hyphens, repeats numbered.
func headingSlugs(t *testing.T, file string) map[string]bool {
	t.Helper()
	slugs := map[string]bool{}
	seen := map[string]int{}
	for _, l := range outsideFences(t, file) {
		m := heading.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		s := b.String()
		if n := seen[s]; n > 0 {
			slugs[s+"-"+itoa(int32(n))] = true
		} else {
			slugs[s] = true
		}
		seen[s]++
	}
	return slugs
}

// TestLinkCheckFindsMissingFiles: the reference test can fail.
func TestLinkCheckFindsMissingFiles(t *testing.T) {
	for tok, want := range map[string]bool{
		"examples/envoy/envoy.yaml": true,
		"reference/atlassian.md":    true,
		"security-catalogue.md":     true,
		"application/json":          true, // path-like, skipped later: not a top-level entry
		"/rest/**":                  false,
		"X-Forwarded-User":          false,
		"examples/*/restguard.yaml": false,
		"http://localhost:8080/x":   false,
	} {
		if got := pathLike(tok); got != want {
			t.Errorf("pathLike(%q) = %v, want %v", tok, got, want)
		}
	}
	slugs := headingSlugs(t, filepath.Join(repoRoot, "docs", "deploy.md"))
	for _, s := range []string{"envoy", "http_service-instead-of-grpc", "forward-auth-nginx-caddy-traefik", "kubernetes-who-may-connect-metrics-memory"} {
		if !slugs[s] {
			t.Errorf("deploy.md: no slug %q in %v", s, slugs)
		}
	}
}
