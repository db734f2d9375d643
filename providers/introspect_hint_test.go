package providers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/restguard/restguard/authz"
)

// TestIntrospectionStatusSaysWhatIsWrong: an endpoint that refuses
// restguard's credentials, takes no POST or is not there is an outage
// (503, never a verdict on the token), and the error says what to fix: a
// userinfo URL configured as an introspection endpoint is the common
// mistake behind 401 and 405.
func TestIntrospectionStatusSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]string{
		http.StatusUnauthorized:     "use kind: userinfo",
		http.StatusForbidden:        "client credentials",
		http.StatusMethodNotAllowed: "takes a POST",
		http.StatusNotFound:         "introspection_endpoint",
	} {
		clk := newClock()
		f := newFakeAS(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) })
		p := newIntrospection(t, f, clk, nil)
		_, err := p.Validate(context.Background(), "opaque-token-1")
		if !errors.Is(err, authz.ErrUnavailable) || !strings.Contains(err.Error(), want) {
			t.Errorf("status %d: %v, want unavailable with %q", status, err, want)
		}
		noTokenInError(t, err, "opaque-token-1")
	}
}
