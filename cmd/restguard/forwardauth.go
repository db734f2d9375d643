package main

import (
	"log/slog"
	"net/http"

	"github.com/restguard/restguard/authz"
)

// newForwardAuthHandler serves the HTTP forward-auth transport. Until the
// envoy package's handler lands, the listener answers 503 to everything:
// never a 2xx, which proxies would read as an allow.
func newForwardAuthHandler(engine func() *authz.Engine, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":"temporarily_unavailable","reason":"not_ready"}`, http.StatusServiceUnavailable)
	})
}
