package authz

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEveryReasonIsDocumented: the reason block of decision.go and the
// table of docs/reasons.md list the same words, so a new reason cannot
// ship undocumented.
func TestEveryReasonIsDocumented(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("decision.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/reasons.md")
	if err != nil {
		t.Fatal(err)
	}
	consts := regexp.MustCompile(`(?m)^\s+Reason\w+\s+Reason = "([a-z_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(consts) < 30 {
		t.Fatalf("found only %d reasons in decision.go", len(consts))
	}
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		rows[m[1]] = true
	}
	var missing []string
	for _, c := range consts {
		if !rows[c[1]] {
			missing = append(missing, c[1])
		}
		delete(rows, c[1])
	}
	if len(missing) > 0 {
		t.Errorf("reasons without a row in docs/reasons.md: %s", strings.Join(missing, ", "))
	}
	for r := range rows {
		t.Errorf("docs/reasons.md documents %q, which decision.go does not declare", r)
	}
}
