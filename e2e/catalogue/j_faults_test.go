package catalogue

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/idptest"
)

// fault is one way the key-set (or discovery) endpoint can fail.
type fault struct {
	name      string
	discovery bool // the fault is on the discovery document (no jwks_uri)
	handler   func(w http.ResponseWriter, r *http.Request) bool
	// loads: a key set served this way is usable (not a fault for
	// restguard: documented behaviour).
	loads bool
}

func faults(c *canary) []fault {
	jwksBody := func(r *http.Request) string { return "" }
	_ = jwksBody
	return []fault{
		{name: "slow", handler: func(w http.ResponseWriter, r *http.Request) bool {
			select { // slower than jwks.fetch_timeout (1s)
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
			return false
		}},
		{name: "hung", handler: func(w http.ResponseWriter, r *http.Request) bool {
			<-r.Context().Done() // until restguard's fetch deadline
			return true
		}},
		{name: "reset", handler: func(w http.ResponseWriter, r *http.Request) bool {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST, not FIN
				}
				conn.Close()
			}
			return true
		}},
		{name: "status_503_with_jwks_body", handler: func(w http.ResponseWriter, r *http.Request) bool {
			return false // replaced below: needs the IdP's JWKS
		}},
		{name: "html", handler: func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html><body>Sign in</body></html>")
			return true
		}},
		{name: "truncated_json", handler: func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"keys":[{"kty":"RSA","kid":"k1","n":"`)
			return true
		}},
		{name: "huge_10MiB", handler: func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"keys":[],"pad":"`)
			chunk := strings.Repeat("x", 64<<10)
			for range 160 {
				if _, err := fmt.Fprint(w, chunk); err != nil {
					return true
				}
			}
			fmt.Fprint(w, `"}`)
			return true
		}},
		{name: "redirect_loop", handler: func(w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, r.URL.Path+"?loop="+fmt.Sprint(time.Now().UnixNano()), http.StatusFound)
			return true
		}},
		{name: "redirect_cross_origin", handler: func(w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, c.URL+"/jwks", http.StatusFound)
			return true
		}},
		{name: "empty_body", handler: func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			return true
		}},
		{name: "discovery_500", discovery: true, handler: func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, "down", http.StatusInternalServerError)
			return true
		}},
		{name: "discovery_wrong_issuer", discovery: true, handler: func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"issuer":"https://evil.example","jwks_uri":%q}`, c.URL+"/jwks")
			return true
		}},
		{name: "wrong_content_type", loads: true, handler: nil}, // replaced below
	}
}

// faultEnv is one restguard whose providers each sit behind one faulty
// IdP, plus two that can never load (DNS failure, untrusted TLS).
type faultEnv struct {
	p      *proc
	client *envoy.Client
	idps   map[string]*idptest.IdP
	list   []fault
	canary *canary
}

const faultJWKS = `{min_refresh_interval: 1s, fetch_timeout: 1s, refresh_interval: 1h}`

func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	fe := &faultEnv{idps: map[string]*idptest.IdP{}, canary: newCanary(t)}
	fe.list = faults(fe.canary)
	var provs, rules strings.Builder
	for i := range fe.list {
		f := &fe.list[i]
		idp := idptest.New(t)
		fe.idps[f.name] = idp
		switch f.name {
		case "status_503_with_jwks_body":
			f.handler = func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, mustJSON(idp.JWKS()))
				return true
			}
		case "wrong_content_type":
			f.handler = func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				fmt.Fprint(w, mustJSON(idp.JWKS()))
				return true
			}
		}
		if f.discovery {
			idp.SetDiscoveryFault(f.handler)
			fmt.Fprintf(&provs, "  - {name: %s, issuer: %q, audiences: [%q], jwks: %s}\n", pname(f.name), idp.Issuer, jiraAud, faultJWKS)
		} else {
			idp.SetJWKSFault(f.handler)
			fmt.Fprintf(&provs, "  - {name: %s, issuer: %q, jwks_uri: %q, audiences: [%q], jwks: %s}\n", pname(f.name), idp.Issuer, idp.JWKSURL(), jiraAud, faultJWKS)
		}
		fmt.Fprintf(&rules, "  - {name: %s, paths: [\"/%s/**\"], authenticate: [%s]}\n", pname(f.name), f.name, pname(f.name))
	}
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"keys":[]}`)
	}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	fmt.Fprintf(&provs, "  - {name: dns, issuer: \"https://idp.restguard.invalid\", jwks_uri: \"https://jwks.restguard.invalid/keys\", audiences: [%q], jwks: %s}\n", jiraAud, faultJWKS)
	fmt.Fprintf(&provs, "  - {name: tls, issuer: \"https://tls.restguard.test\", jwks_uri: %q, audiences: [%q], jwks: %s}\n", tlsSrv.URL+"/jwks", jiraAud, faultJWKS)
	rules.WriteString("  - {name: dns, paths: [\"/dns/**\"], authenticate: [dns]}\n  - {name: tls, paths: [\"/tls/**\"], authenticate: [tls]}\n")
	cfg := "listen: {grpc: \"127.0.0.1:0\", admin: \"127.0.0.1:0\"}\nproviders:\n" + provs.String() + "rules:\n" + rules.String()
	fe.p = startNoWait(t, cfg)
	c, err := envoy.Dial(fe.p.GRPC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fe.client = c
	return fe
}

func pname(f string) string { return "f-" + strings.ToLower(strings.ReplaceAll(f, "_", "-")) }

// check sends one request and returns the outcome and how long it took.
func (fe *faultEnv) check(t *testing.T, path, tok string) outcome {
	t.Helper()
	e := &env{grpc: fe.client}
	return e.checkGRPC(t, mustReq(t, in{path: path, headers: hdrs(bearer(tok))}))
}

// deadlineBudget is what a check may take while the IdP misbehaves:
// check_timeout (180ms) plus scheduling slack for -race on small machines.
const deadlineBudget = 1500 * time.Millisecond

// runFaults is J1 (keys never loaded) and J2 (keys loaded, then the IdP
// fails), with K5 (no negative caching of dependency failures) and L4
// (deadlines) on the way.
func runFaults(t *testing.T, fe *faultEnv) {
	if code := readyz(fe.p.Admin); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d while providers have no keys, want 503", code)
	}
	for _, f := range fe.list {
		idp := fe.idps[f.name]
		path := "/" + f.name + "/x"
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			tok := idp.Mint(t, p0(idp.Issuer, nil))
			// Phase 1: the keys never loaded.
			o := fe.check(t, path, tok)
			if f.loads {
				if o.status != 200 {
					t.Fatalf("a JWKS served with a wrong content type: %d %s; restguard parses the body on its merits", o.status, o.reason)
				}
				return
			}
			if o.status != 503 || (o.reason != "idp_unavailable" && o.reason != "timeout") {
				t.Errorf("never-loaded keys: %d %s, want 503 idp_unavailable (or timeout)", o.status, o.reason)
			}
			assertDeny(t, o, unavailable(""))
			if o.elapsed > deadlineBudget {
				t.Errorf("the check took %s while the IdP misbehaved", o.elapsed)
			}
			if f.name == "hung" {
				shortDeadline(t, fe, path, tok)
			}
			// Phase 2: the fault clears; the same token is allowed (the 503
			// was not cached as "invalid").
			setFault(idp, f, nil)
			if !eventually(20*time.Second, func() bool { return fe.check(t, path, tok).status == 200 }) {
				t.Fatalf("no recovery after the fault cleared: %+v", fe.check(t, path, tok))
			}
			// Phase 3: the fault returns while keys are loaded: a refetch
			// (forced by an unknown kid) fails, the loaded keys keep
			// serving, the unknown kid is refused.
			setFault(idp, f, f.handler)
			before := idp.JWKSHits() + idp.DiscoveryHits()
			unknown := idp.MintWithKey(t, "k-new", genRSA(t, 2048), p0(idp.Issuer, nil))
			if !eventually(20*time.Second, func() bool {
				// 401 key_unknown, or 503 when the check's deadline ends
				// while the refetch is still waiting on the IdP.
				o := fe.check(t, path, unknown)
				if !(o.status == 401 && o.reason == "key_unknown" || o.status == 503 && (o.reason == "timeout" || o.reason == "idp_unavailable")) {
					t.Errorf("unknown kid during the fault: %d %s, want 401 key_unknown or 503", o.status, o.reason)
				}
				return idp.JWKSHits()+idp.DiscoveryHits() > before
			}) {
				t.Fatal("no refetch attempt on an unknown kid")
			}
			fresh := idp.Mint(t, p0(idp.Issuer, nil))
			if o := fe.check(t, path, fresh); o.status != 200 {
				t.Errorf("stale keys not kept: %d %s", o.status, o.reason)
			} else if o.elapsed > deadlineBudget {
				t.Errorf("allow took %s", o.elapsed)
			}
			setFault(idp, f, nil)
		})
	}
	for _, name := range []string{"dns", "tls"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			idp := idptest.New(t)
			iss := map[string]string{"dns": "https://idp.restguard.invalid", "tls": "https://tls.restguard.test"}[name]
			tok := idp.Mint(t, p0(iss, nil))
			for range 3 {
				o := fe.check(t, "/"+name+"/x", tok)
				if o.status != 503 || o.reason != "idp_unavailable" && o.reason != "timeout" {
					t.Errorf("%s: %d %s, want 503 idp_unavailable", name, o.status, o.reason)
				}
				if o.elapsed > deadlineBudget {
					t.Errorf("%s: the check took %s", name, o.elapsed)
				}
			}
		})
	}
}

func setFault(idp *idptest.IdP, f fault, h func(http.ResponseWriter, *http.Request) bool) {
	if f.discovery {
		idp.SetDiscoveryFault(h)
		return
	}
	idp.SetJWKSFault(h)
}

// shortDeadline is L4: a 50 ms gRPC deadline while the IdP hangs ends in
// DeadlineExceeded or a denial, never an allow, and promptly.
func shortDeadline(t *testing.T, fe *faultEnv, path, tok string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	resp, err := fe.client.Check(ctx, mustReq(t, in{path: path, headers: hdrs(bearer(tok))}))
	switch {
	case err != nil && status.Code(err) != codes.DeadlineExceeded:
		t.Errorf("50ms deadline: %v", err)
	case err == nil && envoy.ReadResponse(resp).Allowed:
		t.Error("50ms deadline: allowed")
	}
	if d := time.Since(start); d > deadlineBudget {
		t.Errorf("50ms deadline answered after %s", d)
	}
	// Cancelled mid-call: the server must not be harmed.
	ctx2, cancel2 := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = fe.client.Check(ctx2, mustReq(t, in{path: path, headers: hdrs(bearer(tok))}))
	}()
	time.Sleep(10 * time.Millisecond) // let the call start; the outcome does not depend on it
	cancel2()
	wg.Wait()
}

var entriesJ = []entry{
	{"J1_J2_K5_L4_jwks_faults", func(t *testing.T, s *suite) {
		fe := newFaultEnv(t)
		t.Run("faults", func(t *testing.T) { runFaults(t, fe) })
		if n := fe.canary.hits.Load(); n != 0 {
			t.Errorf("a redirect was followed to another origin: %d canary hits", n)
		}
		if strings.Contains(fe.p.Logs(), `"level":"ERROR","msg":"panic`) {
			t.Error("a panic was logged")
		}
	}},
	{"J3_key_removal_revokes", func(t *testing.T, s *suite) { s.keyRemoval(t) }},
	{"J4_new_key_picked_up", func(t *testing.T, s *suite) {
		k3 := s.rot.AddKey(t, "k3")
		t.Cleanup(func() { s.rot.RemoveKey("k3") })
		tok := s.rot.MintWithKey(t, "k3", k3, p0(s.rot.Issuer, nil))
		before := s.rot.JWKSHits()
		if !eventually(15*time.Second, func() bool {
			return s.checkGRPC(t, mustReq(t, in{path: "/rest/rot/x", headers: hdrs(bearer(tok))})).status == 200
		}) {
			t.Fatal("a newly published key was not picked up")
		}
		if n := s.rot.JWKSHits() - before; n > 3 {
			t.Errorf("%d JWKS fetches to pick up one key", n)
		}
		s.run(t, in{path: "/rest/rot/x", headers: hdrs(bearer(tok))}, allow("alice"))
	}},
	{"J5_insecure_jwks_source", func(t *testing.T, s *suite) {
		for name, p := range map[string]string{
			"http_jwks_uri":       `{name: p, issuer: "https://idp.example", jwks_uri: "http://idp.example/jwks", audiences: [x]}`,
			"http_issuer":         `{name: p, issuer: "http://idp.example", audiences: [x]}`,
			"userinfo_in_url":     `{name: p, issuer: "https://idp.example", jwks_uri: "https://u:p@idp.example/jwks", audiences: [x]}`,
			"symmetric_algorithm": `{name: p, issuer: "https://idp.example", algorithms: [HS256], audiences: [x]}`,
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				out, err := validate(t, "providers:\n  - "+p+"\nrules: [{name: r, authenticate: [p]}]\n")
				if err == nil {
					t.Fatalf("accepted:\n%s", out)
				}
			})
		}
		// Untrusted TLS and cross-origin redirects: see
		// J1_J2_K5_L4_jwks_faults/faults/{tls,redirect_cross_origin}.
	}},
}

// keyRemoval is J3: once a refresh succeeds without k, tokens signed by k
// (cached ones included) are refused; an empty key set is installed too.
func (s *suite) keyRemoval(t *testing.T) {
	k4 := s.rot.AddKey(t, "k4")
	tok := s.rot.MintWithKey(t, "k4", k4, p0(s.rot.Issuer, nil))
	if !eventually(15*time.Second, func() bool {
		return s.checkGRPC(t, mustReq(t, in{path: "/rest/rot/x", headers: hdrs(bearer(tok))})).status == 200
	}) {
		t.Fatal("k4 never accepted")
	}
	s.rot.RemoveKey("k4")
	// Force a successful refetch with an unknown kid.
	s.waitRotFetch(t, s.rot.MintWithKey(t, "k-none", s.kx.RSAKey(), p0(s.rot.Issuer, nil)))
	s.run(t, in{path: "/rest/rot/x", headers: hdrs(bearer(tok))}, invalidToken("key_unknown"))
	s.run(t, in{path: "/rest/rot/x", headers: hdrs(bearer(s.rot.Mint(t, p0(s.rot.Issuer, nil))))}, allow("alice"))
}
