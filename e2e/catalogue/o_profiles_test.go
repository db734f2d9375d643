package catalogue

import (
	"sync"
	"testing"

	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/e2eutil"
)

// Section O of docs/security.md ("seams between phases") pins the ways a
// request could reach a product with the wrong identity or past a rule
// through the joints between phases: request reconstruction, header and
// cookie hand-off, method and path views the product has and the router
// did not, identity canonicalisation, and provider configuration. Each
// entry names the item of the seams issue it closes and, in a comment,
// what today's main did before the fix.
//
// The entries are split by area, one file each:
//   - o1_forwardauth_test.go: request reconstruction on the forward-auth listener;
//   - o2_engine_test.go: headers, cookies, methods, paths and credential channels;
//   - o3_identity_test.go: usernames, presets and user lists;
//   - o4_providers_test.go: provider bindings, key sets and reloads.

var (
	profilesMu sync.Mutex
	profiles   = map[string]*env{}
)

// profile returns the restguard process started with configYAML under
// name, starting it on first use. It lives until TestCatalogue ends, and
// every transport the process offers is probed as for the main suite.
// Entries that reconfigure or reload a process must use a name of their
// own.
func (s *suite) profile(t *testing.T, name, configYAML string) *env {
	t.Helper()
	profilesMu.Lock()
	defer profilesMu.Unlock()
	if e, ok := profiles[name]; ok {
		return e
	}
	e := &env{rg: e2eutil.Start(s.top, configYAML)}
	c, err := envoy.Dial(e.rg.GRPC)
	if err != nil {
		t.Fatalf("profile %s: %v", name, err)
	}
	s.top.Cleanup(func() { c.Close() })
	e.grpc = c
	e.probeHTTP(s.top)
	profiles[name] = e
	return e
}
