package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/envoy"
)

// TestForwardAuthStylesAgree: the styles the configuration accepts are
// exactly the styles the handler serves (config cannot import envoy).
func TestForwardAuthStylesAgree(t *testing.T) {
	var got []string
	for _, s := range envoy.Styles() {
		got = append(got, string(s))
	}
	if want := config.ForwardAuthStyles(); !slices.Equal(got, want) {
		t.Errorf("envoy.Styles() = %v, config.ForwardAuthStyles() = %v", got, want)
	}
}

// TestForwardAuthPathPrefixRulesAgree: a path prefix the configuration
// accepts is one the handler accepts, and the other way round.
func TestForwardAuthPathPrefixRulesAgree(t *testing.T) {
	for _, p := range []string{"/ext-authz", "/a", "/authz/check", "/x.y_z~1", "/", "/ext-authz/", "ext-authz", "/ext authz", "/ext%2Fauthz", "/ext?x", "/é", "//x"} {
		cfg := fmt.Sprintf("listen: {http: \"127.0.0.1:0\"}\nforward_auth: {style: envoy, path_prefix: %q}\n", p)
		_, err := config.Parse("p.yaml", []byte(cfg))
		if handler := envoy.ValidPathPrefix(p) == nil; (err == nil) != handler {
			t.Errorf("path prefix %q: configuration error %v, handler accepts %v", p, err, handler)
		}
	}
}

// TestForwardAuthFollowsReload: the forward-auth listener reads requests
// the way the running configuration's style says, also after a reload
// that changes it.
func TestForwardAuthFollowsReload(t *testing.T) {
	const cfgText = `
listen: {grpc: "127.0.0.1:0", http: "127.0.0.1:0", admin: "127.0.0.1:0"}
forward_auth: {style: %s}
rules:
  - {name: public, paths: ["/status"], action: pass}
default: {action: deny}
`
	svc := newService(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	install := func(style string) {
		cfg, err := config.Parse("fa.yaml", fmt.Appendf(nil, cfgText, style))
		if err != nil {
			t.Fatal(err)
		}
		rt, err := svc.build(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		svc.install(ctx, rt)
	}
	check := func(headers map[string]string) int {
		r := httptest.NewRequest(http.MethodGet, "/ext-authz", nil)
		r.Host = "jira.example.com"
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		svc.fwd.ServeHTTP(rec, r)
		return rec.Code
	}
	nginx := map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/status"}
	caddy := map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/status", "X-Forwarded-Host": "jira.example.com"}

	if got := check(nginx); got != http.StatusServiceUnavailable {
		t.Errorf("before any configuration: %d, want 503", got)
	}
	install("nginx")
	if a, b := check(nginx), check(caddy); a != 200 || b != 400 {
		t.Errorf("style nginx: nginx request %d, caddy request %d; want 200, 400", a, b)
	}
	install("caddy")
	if a, b := check(nginx), check(caddy); a != 400 || b != 200 {
		t.Errorf("style caddy: nginx request %d, caddy request %d; want 400, 200", a, b)
	}
}
