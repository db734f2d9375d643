package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the repository's top directory, seen from this module.
var repoRoot = filepath.Join("..", "..")

// docFiles are the pages the docs tests read: the README, docs/*.md and the
// examples' READMEs.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{filepath.Join(repoRoot, "README.md")}
	for _, pat := range []string{"docs/*.md", "examples/*/README.md"} {
		m, err := filepath.Glob(filepath.Join(repoRoot, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %v", files)
	}
	return files
}

// rel names a repository file the way error messages should.
func rel(file string) string {
	root, err1 := filepath.Abs(repoRoot)
	abs, err2 := filepath.Abs(file)
	if err1 != nil || err2 != nil {
		return file
	}
	r, err := filepath.Rel(root, abs)
	if err != nil {
		return file
	}
	return filepath.ToSlash(r)
}

// fence is one fenced code block of a Markdown page.
type fence struct {
	file string
	line int    // line of the opening ```
	lang string // the info string: yaml, text, ...
	body string // the lines between the fences
}

func (f fence) firstLine() string {
	first, _, _ := strings.Cut(f.body, "\n")
	return strings.TrimSpace(first)
}

func (f fence) where() string { return rel(f.file) + ":" + itoa(int32(f.line)) }

// fences returns the fenced code blocks of a Markdown file. Fences are
// ``` at the start of a line (the pages indent none).
func fences(t *testing.T, file string) []fence {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []fence
	var cur *fence
	var body []string
	for i, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(l, "```") {
			if cur != nil {
				body = append(body, l)
			}
			continue
		}
		if cur == nil {
			cur = &fence{file: file, line: i + 1, lang: strings.TrimSpace(strings.TrimPrefix(l, "```"))}
			body = nil
			continue
		}
		cur.body = strings.Join(body, "\n") + "\n"
		out = append(out, *cur)
		cur = nil
	}
	if cur != nil {
		t.Errorf("%s:%d: code block never closed", rel(file), cur.line)
	}
	return out
}

// outsideFences returns the Markdown text with the code blocks blanked
// out (lines kept, so that line numbers stay right).
func outsideFences(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	in := false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			in = !in
			lines[i] = ""
			continue
		}
		if in {
			lines[i] = ""
		}
	}
	return lines
}
