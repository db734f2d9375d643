// Command testreport reads `go test -json` from standard input and prints
// what `go test` prints without -v — one result line per package, and the
// output of the tests that failed — then one line that lists the tests that
// were skipped, with their reasons (an end-to-end suite that skipped
// because nginx or an identity provider is missing must not pass
// unnoticed). Its exit status is 1 when a package or test failed. make test
// uses it:
//
//	go test -race -json ./... | go run ./internal/testreport
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	os.Exit(report(os.Stdin, os.Stdout))
}

func report(in io.Reader, out io.Writer) int {
	output := map[string][]string{} // package/test → its output lines
	var skipped []string
	failed := false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(out, sc.Text()) // not an event: a build error, say
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			if e.Test == "" {
				if isResultLine(e.Output) {
					fmt.Fprint(out, e.Output)
				} else {
					output[key] = append(output[key], e.Output)
				}
				continue
			}
			output[key] = append(output[key], e.Output)
		case "fail":
			failed = true
			for _, l := range output[key] {
				fmt.Fprint(out, l)
			}
			delete(output, key)
		case "skip":
			if e.Test != "" {
				skipped = append(skipped, fmt.Sprintf("%s %s (%s)", e.Package, e.Test, skipReason(output[key])))
			}
			delete(output, key)
		case "pass":
			delete(output, key)
		}
	}
	sort.Strings(skipped)
	if len(skipped) == 0 {
		fmt.Fprintln(out, "skipped tests: none")
	} else {
		fmt.Fprintf(out, "skipped tests (%d):\n", len(skipped))
		for _, s := range skipped {
			fmt.Fprintln(out, "  "+s)
		}
	}
	if failed {
		return 1
	}
	return 0
}

// isResultLine reports whether a package-level output line is what go test
// prints without -v (ok, FAIL, no test files).
func isResultLine(l string) bool {
	for _, p := range []string{"ok  ", "FAIL", "?   ", "--- FAIL", "panic:", "# "} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// skipReason finds the t.Skip message among a test's output lines.
func skipReason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, "--- SKIP") || l == "" {
			continue
		}
		if _, msg, ok := strings.Cut(l, ".go:"); ok {
			if _, msg, ok = strings.Cut(msg, ": "); ok {
				return msg
			}
		}
		return l
	}
	return "no reason given"
}
