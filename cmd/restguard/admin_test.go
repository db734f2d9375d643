package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/internal/idptest"
)

// TestPprofOnlyWhenConfigured: /debug/pprof/ is served on the admin
// listener with admin.pprof, and is a 404 otherwise.
func TestPprofOnlyWhenConfigured(t *testing.T) {
	cfg := fmt.Sprintf(drainConfig, idptest.New(t).Issuer)
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint("pprof=", on), func(t *testing.T) {
			var logs bytes.Buffer
			r := startServiceWith(t, cfg, &logs, func(s *service) { s.opts = config.ServerOptions{Pprof: on} })
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
				resp, err := http.Get("http://" + r.admin + path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := http.StatusNotFound
				if on {
					want = http.StatusOK
				}
				if resp.StatusCode != want {
					t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
				}
				if on && path == "/debug/pprof/goroutine?debug=1" && !strings.Contains(string(body), "goroutine profile") {
					t.Errorf("%s: not a goroutine profile: %.200s", path, body)
				}
			}
		})
	}
}
