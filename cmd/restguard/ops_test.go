package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/idptest"
)

func check(t *testing.T, c *envoy.Client, in envoy.CheckInput) envoy.Result {
	t.Helper()
	req, err := envoy.NewCheckRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Check(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return envoy.ReadResponse(resp)
}

func scrape(t *testing.T, admin string) string {
	t.Helper()
	// No keep-alive: an idle scrape connection would count as goroutines.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

// TestMetricsAfterKnownChecks scrapes /metrics after a known sequence of
// checks and finds the exact counter values.
func TestMetricsAfterKnownChecks(t *testing.T) {
	idp := idptest.New(t)
	var logs bytes.Buffer
	c, _, admin := startServiceFull(t, fmt.Sprintf(fixtureConfig, idp.Issuer), &logs)
	tok := idp.Mint(t, map[string]any{"groups": []string{"jira-api-users"}})
	bearer := envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + tok}}
	for range 3 {
		if r := check(t, c, bearer); !r.Allowed {
			t.Fatalf("denied: %v", r.Metadata)
		}
	}
	check(t, c, envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/myself", Headers: []string{"Authorization: Basic YWxpY2U6cHc="}})
	for range 2 {
		check(t, c, envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/myself"})
	}
	check(t, c, envoy.CheckInput{Host: "jira.example.com", Path: "/secure/Dashboard.jspa"})

	m := scrape(t, admin)
	for _, want := range []string{
		`restguard_decisions_total{provider="idp",reason="authenticated",rule="rest",verdict="allow"} 3`,
		`restguard_decisions_total{provider="",reason="basic_auth_blocked",rule="rest",verdict="unauthenticated"} 1`,
		`restguard_decisions_total{provider="",reason="credentials_missing",rule="rest",verdict="unauthenticated"} 2`,
		`restguard_decisions_total{provider="",reason="default_pass",rule="default",verdict="allow"} 1`,
		`restguard_check_duration_seconds_count{verdict="allow"} 4`,
		`restguard_cache_events_total{event="hit",provider="idp"} 2`,
		`restguard_cache_events_total{event="miss",provider="idp"} 1`,
		`restguard_cache_entries{provider="idp"} 1`,
		`restguard_jwks_keys{provider="idp"} 2`,
		`restguard_jwks_refreshes_total{outcome="ok",provider="idp"} 1`,
		`restguard_ready 1`,
		`restguard_build_info{goversion=`,
	} {
		if !strings.Contains(m, want+"\n") && !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, leak := range []string{"alice", "/rest/api", tok[:20]} {
		if strings.Contains(m, leak) {
			t.Errorf("metrics carry request data %q", leak)
		}
	}
}

// TestProviderCallMetrics: a remote provider's calls are counted and
// timed in the histogram the metrics code hands to the build.
func TestProviderCallMetrics(t *testing.T) {
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"active":true,"sub":"u-1","username":"alice"}`))
	}))
	t.Cleanup(as.Close)
	cfg := fmt.Sprintf(`
providers:
  - name: as
    kind: introspection
    introspection: {endpoint: %q, auth_method: none}
    allow_any_client: true
rules:
  - name: rest
    paths: ["/rest/**"]
    authenticate: [as]
`, as.URL+"/introspect")
	c, _, admin := startServiceFull(t, cfg, io.Discard)
	if r := check(t, c, envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer opaque-token-1"}}); !r.Allowed {
		t.Fatalf("denied: %v", r.Metadata)
	}
	m := scrape(t, admin)
	for _, want := range []string{
		`restguard_provider_calls_total{kind="introspection",outcome="ok",provider="as"} 1`,
		`restguard_provider_call_duration_seconds_count{kind="introspection",provider="as"} 1`,
		`restguard_provider_call_duration_seconds_bucket{kind="introspection",provider="as",le="5"} 1`,
	} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestDecisionLogLines: for an allow, Basic blocked, an invalid token and
// an IP denial, the JSON line has the documented keys and no secret.
func TestDecisionLogLines(t *testing.T) {
	idp := idptest.New(t)
	var logs syncBuffer
	c, _, _ := startServiceFull(t, fmt.Sprintf(fixtureConfig, idp.Issuer), &logs)
	tok := idp.Mint(t, map[string]any{"groups": []string{"jira-api-users"}})
	expired := idp.Mint(t, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})
	cases := []struct {
		in     envoy.CheckInput
		reason string
		keys   []string
	}{
		{envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/myself?jql=secret-query", Headers: []string{"Authorization: Bearer " + tok, "Cookie: JSESSIONID=secret-cookie"}}, "authenticated",
			[]string{"username", "via", "cache_hit", "provider", "token_id"}},
		{envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/myself", Headers: []string{"Authorization: Basic c2VjcmV0dXNlcjpzZWNyZXRwYXNz"}}, "basic_auth_blocked", nil},
		{envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + expired}}, "token_expired", []string{"token_id", "provider"}},
		{envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/search", SourceIP: "203.0.113.9", Headers: []string{"Authorization: Bearer " + tok}}, "ip_denied", nil},
		// A denial after authentication names the user (support searches
		// by user).
		{envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + idp.Mint(t, map[string]any{"preferred_username": "bob"})}}, "group_missing",
			[]string{"username", "via", "provider"}},
	}
	for i, tc := range cases {
		tc.in.RequestID = fmt.Sprintf("log-test-%d", i)
		check(t, c, tc.in)
	}
	lines := map[string]map[string]any{}
	for _, l := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "decision" {
			if id, _ := m[authz.LogRequestID].(string); strings.HasPrefix(id, "log-test-") {
				lines[id] = m
			}
		}
	}
	common := []string{authz.LogDecisionID, authz.LogRequestID, authz.LogVerdict, authz.LogStatus, authz.LogReason, authz.LogRule,
		authz.LogDryRun, authz.LogSourceIP, authz.LogSourceIPFrom, authz.LogMethod, authz.LogHost, authz.LogPath, authz.LogCredential, authz.LogDuration}
	for i, tc := range cases {
		m := lines[fmt.Sprintf("log-test-%d", i)]
		if m == nil {
			t.Fatalf("no decision line for case %d", i)
		}
		if m[authz.LogReason] != tc.reason {
			t.Errorf("case %d: reason %v, want %s", i, m[authz.LogReason], tc.reason)
		}
		for _, k := range append(common, tc.keys...) {
			if _, ok := m[k]; !ok {
				t.Errorf("case %d (%s): no %q in %v", i, tc.reason, k, m)
			}
		}
	}
	if m := lines["log-test-4"]; m != nil && m[authz.LogUsername] != "bob" {
		t.Errorf("group_missing line names %v, want bob", m[authz.LogUsername])
	}
	out := logs.String()
	// Every line is one JSON object without a repeated key (a repeated key
	// is read differently by every log pipeline).
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if k := repeatedKey(l); k != "" {
			t.Errorf("key %q twice in %s", k, l)
		}
	}
	for _, secret := range []string{tok, expired, "c2VjcmV0dXNlcjpzZWNyZXRwYXNz", "secretpass", "secret-cookie", "secret-query"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains a secret (%.12s...)", secret)
		}
	}
}

// TestReloadUnderLoad: while checks run concurrently, the configuration
// changes five times, two of them invalid. No check fails, invalid files
// are refused with their line numbers, unchanged providers are reused (no
// JWKS refetch), and goroutines do not pile up.
func TestReloadUnderLoad(t *testing.T) {
	idp := idptest.New(t)
	var logs syncBuffer
	base := fmt.Sprintf(fixtureConfig, idp.Issuer)
	c, svc, admin := startServiceFull(t, base, &logs)
	path := filepath.Join(t.TempDir(), "restguard.yaml")
	svc.path = path
	tok := idp.Mint(t, map[string]any{"groups": []string{"jira-api-users"}})
	in := envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + tok}}
	check(t, c, in) // warm connection and cache
	goroutinesBefore := runtime.NumGoroutine()
	jwksBefore := idp.JWKSHits()

	versions := []struct {
		text  string
		valid bool
	}{
		{strings.Replace(base, "realm: atlassian", "realm: jira", 1), true},
		{strings.Replace(base, `["198.51.100.0/24"]`, `["198.51.100.300/24"]`, 1), false},
		{base + "  # a comment changes the hash\n", true},
		{strings.Replace(base, "realm: atlassian", "relm: atlassian", 1), false},
		{strings.Replace(base, "groups_header: X-Forwarded-Groups", "groups_header: X-Groups", 1), true},
	}
	var failed atomic.Int64
	var total atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for n := 0; n < 100000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := envoy.NewCheckRequest(in)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				resp, err := c.Check(ctx, req)
				cancel()
				total.Add(1)
				if err != nil || !envoy.ReadResponse(resp).Allowed {
					failed.Add(1)
				}
			}
		})
	}
	for _, v := range versions {
		if err := os.WriteFile(path, []byte(v.text), 0o600); err != nil {
			t.Fatal(err)
		}
		svc.reload(context.Background(), false)
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || total.Load() == 0 {
		t.Fatalf("%d of %d checks failed during reloads", failed.Load(), total.Load())
	}
	out := logs.String()
	for _, want := range []string{`restguard.yaml:`, `invalid CIDR \"198.51.100.300/24\"`, `unknown key \"relm\"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if got := strings.Count(out, `"msg":"configuration reloaded"`); got != 3 {
		t.Errorf("%d successful reloads logged, want 3", got)
	}
	m := scrape(t, admin)
	if !strings.Contains(m, `restguard_config_reloads_total{outcome="failure"} 2`) || !strings.Contains(m, `restguard_config_reloads_total{outcome="success"} 3`) {
		t.Errorf("reload counters wrong:\n%s", grepLines(m, "restguard_config_reloads_total"))
	}
	if r := check(t, c, in); !r.Allowed || !strings.Contains(strings.Join(r.Headers, "\n"), "x-groups: jira-api-users") {
		t.Errorf("the last valid configuration is not in force: %+v", r)
	}
	if got := idp.JWKSHits(); got != jwksBefore {
		t.Errorf("reloads refetched the unchanged provider's JWKS: %d → %d", jwksBefore, got)
	}
	// Reload goroutines (readiness watchers) end by themselves; wait for
	// them with a deadline.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutinesBefore+2 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > goroutinesBefore+2 {
		t.Errorf("goroutines grew from %d to %d across reloads", goroutinesBefore, n)
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestReloadRefusesListenChange: the listeners are opened once, so a reload
// that changes listen is refused with a "needs a restart" error instead of
// logging success and keeping the old port (issue 12 §1).
func TestReloadRefusesListenChange(t *testing.T) {
	idp := idptest.New(t)
	var logs syncBuffer
	base := fmt.Sprintf(fixtureConfig, idp.Issuer)
	c, svc, _ := startServiceFull(t, base, &logs)
	path := filepath.Join(t.TempDir(), "restguard.yaml")
	svc.path = path
	if err := os.WriteFile(path, []byte("listen: {grpc: \"127.0.0.1:19001\"}\n"+base), 0o600); err != nil {
		t.Fatal(err)
	}
	svc.reload(context.Background(), false)
	out := logs.String()
	if !strings.Contains(out, "listen changed") || !strings.Contains(out, "needs a restart") || strings.Contains(out, `"msg":"configuration reloaded"`) {
		t.Errorf("a listen change was not refused:\n%s", out)
	}
	// The running configuration keeps answering.
	tok := idp.Mint(t, map[string]any{"groups": []string{"jira-api-users"}})
	if r := check(t, c, envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + tok}}); !r.Allowed {
		t.Errorf("the running configuration stopped: %+v", r)
	}
}

// repeatedKey returns a key that appears twice in one object of a JSON
// line, or "".
func repeatedKey(line string) string {
	dec := json.NewDecoder(strings.NewReader(line))
	var walk func() string
	walk = func() string {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, _ := dec.Token()
				key, _ := k.(string)
				if seen[key] {
					return key
				}
				seen[key] = true
				if r := walk(); r != "" {
					return r
				}
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if r := walk(); r != "" {
					return r
				}
			}
			_, _ = dec.Token()
		}
		return ""
	}
	return walk()
}
