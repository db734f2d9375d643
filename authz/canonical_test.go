package authz

import (
	"net/http"
	"testing"
)

// The engine indexes Request.Header with these names directly (no
// Values(), which canonicalises again): they must be canonical.
func TestHeaderNamesCanonical(t *testing.T) {
	t.Parallel()
	names := append([]string{"Authorization", "Proxy-Authorization", "Cookie", "Origin", "Access-Control-Request-Method"}, methodOverrideHeaders...)
	for _, n := range names {
		if c := http.CanonicalHeaderKey(n); c != n {
			t.Errorf("%q is not canonical (%q)", n, c)
		}
	}
}
