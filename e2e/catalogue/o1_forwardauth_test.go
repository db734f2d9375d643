package catalogue

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// entriesOForwardAuth: request reconstruction on the forward-auth listener (seams items 1).
var entriesOForwardAuth = []entry{
	{"O1_1_proxy_style_is_configuration", o1ProxyStyle},
}

// o1UIHost is a UI host whose rule passes every request.
const o1UIHost = "jira-ui.example.test"

// o1Config is a restguard behind one proxy of style %[4]s, with three
// hosts: the Jira API (token of audience %[2]q, group rule), Confluence
// (its own audience %[3]q, no group rule) and the Jira UI (pass).
const o1Config = `
listen: {grpc: "127.0.0.1:0", http: "127.0.0.1:0", admin: "127.0.0.1:0"}
forward_auth: {style: %[4]s}
realm: jira
client_ip: {trusted_proxies: ["127.0.0.1/32"]}
providers:
  - {name: a, issuer: %[1]q, audiences: [%[2]q], groups: {claim: groups}}
  - {name: a-conf, issuer: %[1]q, audiences: [%[3]q], groups: {claim: groups}}
rules:
  - {name: jira-ui, hosts: [` + o1UIHost + `], action: pass, block_basic: {enabled: true}}
  - {name: confluence, hosts: [` + confHost + `], authenticate: [a-conf], block_basic: {enabled: true}}
  - name: rest-api
    hosts: [` + jiraHost + `]
    paths: ["/rest/**"]
    authenticate: [a]
    block_basic: {enabled: true}
    groups: {any_of: [jira-api-users]}
default: {action: deny, block_basic: {enabled: true}}
upstream: {user_header: X-Forwarded-User, groups_header: X-Forwarded-Groups}
`

// o1Proxy is how a proxy of one style asks restguard about a client's
// request: the headers it sets itself replace the client's copies, every
// other client header is passed on.
type o1Proxy struct {
	style string
	line  func(r in) string      // request target
	sets  func(r in) [][2]string // headers the proxy sets
}

var o1Proxies = []o1Proxy{
	{"envoy", func(r in) string { return "/ext-authz" + r.path }, func(r in) [][2]string {
		return [][2]string{{"Host", r.host}}
	}},
	{"nginx", func(in) string { return "/ext-authz" }, func(r in) [][2]string {
		return [][2]string{{"Host", r.host}, {"X-Original-URI", r.path}, {"X-Original-Method", r.method}}
	}},
	{"ingress-nginx", func(in) string { return "/ext-authz" }, func(r in) [][2]string {
		return [][2]string{{"Host", "restguard.restguard.svc"}, {"X-Original-URL", "https://" + r.host + r.path},
			{"X-Original-Method", r.method}, {"X-Forwarded-Host", r.host}}
	}},
	{"caddy", func(in) string { return "/ext-authz" }, func(r in) [][2]string {
		return [][2]string{{"Host", r.host}, {"X-Forwarded-Method", r.method}, {"X-Forwarded-Uri", r.path}, {"X-Forwarded-Host", r.host}}
	}},
	{"traefik", func(in) string { return "/ext-authz" }, func(r in) [][2]string {
		return [][2]string{{"Host", "restguard:9002"}, {"X-Forwarded-Method", r.method}, {"X-Forwarded-Uri", r.path}, {"X-Forwarded-Host", r.host}}
	}},
}

// o1Answer is what the proxy reads from restguard's answer.
type o1Answer struct {
	status int
	reason string
	user   string
}

// send asks restguard at addr about r as proxy p does, over one raw
// HTTP/1.1 connection (header lines exactly as given, duplicates kept).
func (p o1Proxy) send(t *testing.T, addr string, r in) o1Answer {
	t.Helper()
	r = r.withDefaults()
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\n", p.line(r))
	set := p.sets(r)
	for _, h := range set {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	for _, h := range r.headers {
		name, value, _ := strings.Cut(h, ":")
		if !slices.ContainsFunc(set, func(s [2]string) bool { return strings.EqualFold(s[0], strings.TrimSpace(name)) }) {
			fmt.Fprintf(&b, "%s: %s\r\n", strings.TrimSpace(name), strings.TrimSpace(value))
		}
	}
	b.WriteString("Connection: close\r\n\r\n")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: dial: %v", p.style, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatalf("%s: write: %v", p.style, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s: read: %v", p.style, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	a := o1Answer{status: resp.StatusCode, reason: resp.Header.Get("X-Restguard-Reason")}
	if resp.StatusCode == http.StatusOK {
		a.user = resp.Header.Get("X-Forwarded-User")
	}
	return a
}

// O1.1: the proxy style is configuration (forward_auth.style), never
// inferred from the headers present, and every host source present must
// agree. Each style's listener gets the attacks of the seams issue, sent
// as its proxy passes them on (what the proxy sets itself replaces the
// client's copy): a Confluence-audience token of a user outside
// jira-api-users, or no token at all, with another style's reconstruction
// headers naming the Confluence host or the UI host.
//
// Before (main at 54d34e7, which had no forward_auth key and read every
// style on one listener, run with this file's configuration minus that
// key): nginx style: the client's agreeing X-Forwarded-Method/-Uri
// switched restguard to the Caddy reading and its X-Forwarded-Host chose
// the rule, so bob's Confluence token was allowed as "bob" on the Jira API
// host (200) and the tokenless request was passed by the UI host's rule
// (200 public_route); a client X-Original-URL naming another host won
// without comparison (200 bob, 200 public_route). Envoy style: a client
// X-Forwarded-Host was not compared with Host (401 instead of 400).
func o1ProxyStyle(t *testing.T, s *suite) {
	bob := bearer(s.t0(t, map[string]any{"aud": confAud, "preferred_username": "bob", "groups": []string{"devs"}}))
	alice := bearer(s.t0(t, nil))
	xf := func(host string) []string {
		return []string{"X-Forwarded-Method: GET", "X-Forwarded-Uri: " + myself, "X-Forwarded-Host: " + host}
	}
	bad := o1Answer{400, "malformed_request", ""}
	badToken := o1Answer{401, "audience_mismatch", ""}
	noToken := o1Answer{401, "credentials_missing", ""}
	// Where the proxy sets every header of an attack itself, the client's
	// copies never reach restguard and the request is the honest one.
	rows := []struct {
		name    string
		headers []string
		want    map[string]o1Answer // by style; missing: bad
	}{
		{"attack: confluence token, client X-Forwarded-Method/Uri/Host naming confluence", append(xf(confHost), bob),
			map[string]o1Answer{"ingress-nginx": badToken, "caddy": badToken, "traefik": badToken}},
		{"attack: no token, client X-Forwarded-Method/Uri/Host naming the UI host", xf(o1UIHost),
			map[string]o1Answer{"ingress-nginx": noToken, "caddy": noToken, "traefik": noToken}},
		{"attack: confluence token, client X-Original-URL on confluence", []string{bob, "X-Original-URL: http://" + confHost + myself},
			map[string]o1Answer{"ingress-nginx": badToken}},
		{"attack: no token, client X-Original-URL on the UI host", []string{"X-Original-URL: http://" + o1UIHost + myself},
			map[string]o1Answer{"ingress-nginx": noToken}},
		{"attack: confluence token, absolute client X-Forwarded-Uri on confluence", []string{bob, "X-Forwarded-Method: GET", "X-Forwarded-Uri: http://" + confHost + myself},
			map[string]o1Answer{"caddy": badToken, "traefik": badToken}},
		{"attack: no token, absolute client X-Forwarded-Uri on the UI host", []string{"X-Forwarded-Method: GET", "X-Forwarded-Uri: https://" + o1UIHost + myself},
			map[string]o1Answer{"caddy": noToken, "traefik": noToken}},
		{"attack: the same header twice", []string{alice, "X-Forwarded-Host: " + jiraHost, "X-Forwarded-Host: " + jiraHost},
			map[string]o1Answer{"ingress-nginx": {200, "authenticated", "alice"}, "caddy": {200, "authenticated", "alice"}, "traefik": {200, "authenticated", "alice"}}},
		{"honest: the jira token", []string{alice}, map[string]o1Answer{"": {200, "authenticated", "alice"}}},
		{"honest: agreeing headers of another style are harmless", []string{alice, "X-Forwarded-Method: GET", "X-Original-Method: GET",
			"X-Forwarded-Host: JIRA.example.test:443", "X-Original-URL: https://" + jiraHost + myself}, map[string]o1Answer{"": {200, "authenticated", "alice"}}},
		{"honest: the confluence token is not a jira token", []string{bob}, map[string]o1Answer{"": badToken}},
		{"honest: the UI host passes", []string{}, nil},
	}
	for _, p := range o1Proxies {
		t.Run(p.style, func(t *testing.T) {
			e := s.profile(t, "o1-"+p.style, fmt.Sprintf(o1Config, s.a.Issuer, jiraAud, confAud, p.style))
			for _, row := range rows {
				t.Run(row.name, func(t *testing.T) {
					t.Parallel()
					r := in{headers: row.headers}
					want, ok := row.want[p.style]
					if !ok {
						want, ok = row.want[""]
					}
					if !ok {
						want = bad
					}
					if row.want == nil { // the UI host itself
						r.host, want = o1UIHost, o1Answer{200, "public_route", ""}
					}
					if got := p.send(t, e.rg.HTTP, r); got != want {
						t.Errorf("got %+v, want %+v", got, want)
					}
				})
			}
		})
	}
}
