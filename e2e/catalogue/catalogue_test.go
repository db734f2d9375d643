package catalogue

import (
	"strings"
	"testing"
)

// entry is one catalogue entry: its id and name form the subtest name
// (TestCatalogue/A2_basic_scheme_case_variants), as listed in
// docs/security.md.
type entry struct {
	name string
	fn   func(t *testing.T, s *suite)
}

// TestCatalogue runs every entry of the security catalogue, A1 to N4,
// against one restguard process and its identity providers (and, for the
// entries that need another configuration, a profile process of their own). Entries run
// in order; the variants inside an entry run in parallel. The log checks
// (N1, N2) come last and read everything the process logged.
func TestCatalogue(t *testing.T) {
	s := newSuite(t)
	for _, group := range [][]entry{entriesA, entriesB, entriesC, entriesD, entriesE, entriesF, entriesG, entriesH, entriesI, entriesAtlassian, entriesJ, entriesK, entriesL, entriesM, entriesN,
		entriesOForwardAuth, entriesOEngine, entriesOIdentity, entriesOProviders} {
		for _, e := range group {
			t.Run(e.name, func(t *testing.T) { e.fn(t, s) })
		}
	}
}

// cs is one variant of an entry.
type cs struct {
	name string
	r    in
	w    want
	hw   []want // a different expectation over HTTP forward-auth, if any
}

// table runs the variants in parallel against one restguard process.
func (e *env) table(t *testing.T, cases []cs) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e.run(t, c.r, c.w, c.hw...)
		})
	}
}

func hdrs(lines ...string) []string { return lines }

func repeat(s string, n int) string { return strings.Repeat(s, n) }
