package main

import (
	"log/slog"
	"net/http"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/envoy"
)

// newForwardAuthHandler serves the HTTP forward-auth transport (Envoy
// http_service, nginx auth_request, Caddy forward_auth, Traefik
// ForwardAuth) on listen.http, deciding with the same engine as gRPC.
func newForwardAuthHandler(engine func() *authz.Engine, logger *slog.Logger) http.Handler {
	return envoy.NewHTTPHandler(engine, envoy.HTTPOptions{}, logger.With("component", "forward-auth"))
}
