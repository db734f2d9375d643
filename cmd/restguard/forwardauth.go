package main

import (
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/envoy"
)

// forwardAuth is the handler of the forward-auth listener (listen.http):
// Envoy http_service, nginx auth_request, ingress-nginx, Caddy
// forward_auth or Traefik ForwardAuth, deciding with the same engine as
// gRPC. Which proxy it serves is forward_auth.style, never inferred from a
// request. It follows the running configuration: every install builds it
// again from the new forward_auth settings, so a reload that changes the
// style or the path prefix takes effect like any other change. Before the
// first install, or with a configuration that has no style, it answers
// 503.
type forwardAuth struct {
	h atomic.Pointer[http.Handler]
}

// use builds the handler for c. A configuration without a forward-auth
// listener builds none: there is nothing to serve, and the handler would
// only report its missing style.
func (f *forwardAuth) use(c *config.Config, engine func() *authz.Engine, logger *slog.Logger) {
	if c.Listen.HTTP == "" {
		f.h.Store(nil)
		return
	}
	h := envoy.NewHTTPHandler(engine, forwardAuthOptions(c), logger.With("component", "forward-auth"))
	f.h.Store(&h)
}

func (f *forwardAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := f.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	// Unreachable in serve (install runs first); fail closed anyway: a
	// handler without a style answers 503.
	envoy.NewHTTPHandler(nil, envoy.HTTPOptions{}, nil).ServeHTTP(w, r)
}

// forwardAuthOptions maps forward_auth to the handler's options.
func forwardAuthOptions(c *config.Config) envoy.HTTPOptions {
	return envoy.HTTPOptions{Style: envoy.Style(c.ForwardAuth.Style), PathPrefix: c.ForwardAuth.PathPrefix}
}
