package envoy

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protojson"
)

// loadRequest reads a CheckRequest fixture from testdata/checkrequests.
func loadRequest(t testing.TB, name string) *authv3.CheckRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "checkrequests", name))
	if err != nil {
		t.Fatal(err)
	}
	req := &authv3.CheckRequest{}
	if err := protojson.Unmarshal(b, req); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := req.ValidateAll(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return req
}

func TestToRequestFixtures(t *testing.T) {
	const bearer = "Bearer <BEARER>"
	tests := []struct {
		file                      string
		method, host, path, query string
		id, source, authorization string
		xff                       []string
		streamID                  string // http.id, which must not become the ID
	}{
		{"01-jira-get-project-bearer-http11.json", "GET", "jira.localtest.me:8080", "/rest/api/2/project", "",
			"6b1f0c2e-8a4d-9d3e-b1a7-4c5e2f9d0a11", "172.20.0.1", bearer, []string{"172.20.0.1"}, "10736514021470351042"},
		{"02-jira-get-project-bearer-http2-tls.json", "GET", "jira.example.com", "/rest/api/2/project", "expand=lead,description&recent=20",
			"0e7c5d52-91b4-9f0a-8e3d-7a2b6c4d1e90", "198.51.100.23", bearer, []string{"198.51.100.23"}, ""},
		{"03-confluence-post-content-bearer-with-body.json", "POST", "wiki.example.com", "/confluence/rest/api/content/", "",
			"a3d9f1c4-5e2b-9c7d-8f6a-1b0e3d2c4a5f", "198.51.100.40", bearer, []string{"198.51.100.40"}, ""},
		{"04-bitbucket-get-dashboard-pull-requests-http2.json", "GET", "bitbucket.example.com", "/rest/api/1.0/dashboard/pull-requests", "state=OPEN&role=REVIEWER&limit=25",
			"d41c8e07-2f6a-9b15-a3c2-6e9f0b7d8c34", "203.0.113.45", bearer, []string{"203.0.113.45"}, ""},
		{"05-jira-basic-auth.json", "GET", "jira.example.com", "/rest/api/2/myself", "",
			"7f2e9a10-c3b4-9d58-9e07-5a6b1c2d3e4f", "198.51.100.61", "Basic <BASIC>", []string{"198.51.100.61"}, ""},
		{"06-jira-no-auth.json", "GET", "jira.example.com", "/rest/api/2/project", "",
			"2c6d8e4f-1a3b-9c5d-b7e9-0f1a2b3c4d5e", "198.51.100.23", "", []string{"198.51.100.23"}, ""},
		{"07-jira-ui-dashboard-jspa-browser.json", "GET", "jira.example.com", "/secure/Dashboard.jspa", "",
			"9b8a7c6d-5e4f-9a3b-8c2d-1e0f9a8b7c6d", "198.51.100.88", "", []string{"198.51.100.88"}, ""},
		{"08-jira-proxy-chain-xff.json", "GET", "jira.example.com", "/rest/api/2/search", "jql=project%3DOPS%20AND%20status%3DOpen&maxResults=50",
			"4e5f6a7b-8c9d-9e0f-a1b2-c3d4e5f6a7b8", "10.0.1.15", bearer, []string{"203.0.113.7, 198.51.100.20, 10.0.1.15"}, ""},
		{"09-confluence-istio-sidecar-mtls.json", "GET", "confluence.atlassian.svc.cluster.local:8090", "/rest/api/space", "limit=10",
			"c0ffee00-1234-9abc-8def-0123456789ab", "10.44.0.22", bearer, nil, "13869142855783664817"},
		{"10-bitbucket-istio-ingress-gateway-post.json", "POST", "bitbucket.example.com", "/rest/api/1.0/projects/PLAT/repos/gateway/pull-requests", "",
			"e1d2c3b4-a596-9786-b5a4-c3b2a1908f7e", "203.0.113.99", bearer, nil, ""},
		{"11-bitbucket-raw-header-map.json", "GET", "bitbucket.example.com", "/rest/api/1.0/projects", "limit=100",
			"0a1b2c3d-4e5f-9a6b-8c7d-8e9f0a1b2c3d", "10.0.1.15", bearer, []string{"203.0.113.7", "198.51.100.20"}, "9934210556670021337"},
		{"12-confluence-attachment-raw-body-partial.json", "POST", "wiki.example.com", "/confluence/rest/api/content/884736/child/attachment", "",
			"5d4c3b2a-1908-9f7e-a6d5-c4b3a2918070", "198.51.100.40", bearer, []string{"198.51.100.40"}, ""},
		{"13-bitbucket-git-clone-basic-auth.json", "GET", "bitbucket.example.com", "/scm/plat/gateway.git/info/refs", "service=git-upload-pack",
			"6e7f8091-a2b3-9c4d-8e5f-60718293a4b5", "203.0.113.45", "Basic <BASIC>", []string{"203.0.113.45"}, ""},
		{"14-jira-mtls-peer-certificate-lowercase-bearer.json", "GET", "jira.example.com", "/rest/api/2/issue/OPS-1234", "fields=summary,status",
			"1f2e3d4c-5b6a-9788-a9b0-c1d2e3f4a5b6", "192.0.2.44", "bearer <BEARER>", []string{"192.0.2.44"}, ""},
	}
	if n, _ := filepath.Glob(filepath.Join("testdata", "checkrequests", "*.json")); len(n) != len(tests) {
		t.Fatalf("%d fixtures, %d table rows", len(n), len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.file[:2], func(t *testing.T) {
			t.Parallel()
			r := ToRequest(loadRequest(t, tc.file))
			if r.Malformed != "" {
				t.Fatalf("Malformed = %q", r.Malformed)
			}
			check := func(field, got, want string) {
				if got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			check("Method", r.Method, tc.method)
			check("Host", r.Host, tc.host)
			check("Path", r.Path, tc.path)
			check("Query", r.Query, tc.query)
			check("ID", r.ID, tc.id)
			check("Source", r.Source.String(), tc.source)
			check("Authorization", strings.Join(r.Header.Values("Authorization"), "|"), tc.authorization)
			if tc.authorization != "" && len(r.Header.Values("Authorization")) != 1 {
				t.Errorf("Authorization values = %q", r.Header.Values("Authorization"))
			}
			if tc.xff != nil && !slices.Equal(r.Header.Values("X-Forwarded-For"), tc.xff) {
				t.Errorf("X-Forwarded-For = %q, want %q", r.Header.Values("X-Forwarded-For"), tc.xff)
			}
			if tc.streamID != "" && strings.Contains(r.ID, tc.streamID) {
				t.Errorf("ID %q uses the stream id", r.ID)
			}
			for k := range r.Header {
				if strings.HasPrefix(k, ":") || k == "Host" {
					t.Errorf("header %q must not be in Header", k)
				}
			}
		})
	}
}

// httpReq builds a minimal CheckRequest from the http attributes.
func httpReq(h *authv3.AttributeContext_HttpRequest) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:  &authv3.AttributeContext_Peer{Address: sockAddr("192.0.2.1")},
		Request: &authv3.AttributeContext_Request{Http: h},
	}}
}

func sockAddr(ip string) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: ip}}}
}

func rawMap(kv ...string) *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return m
}

func TestToRequestShapes(t *testing.T) {
	base := func() *authv3.AttributeContext_HttpRequest {
		return &authv3.AttributeContext_HttpRequest{
			Id: "42", Method: "GET", Path: "/rest/x?a=1", Host: "jira.example.com",
			Headers: map[string]string{":authority": "jira.example.com", ":path": "/rest/x?a=1", ":method": "GET",
				"x-forwarded-for": "203.0.113.7,198.51.100.20", "host": "evil.example"},
		}
	}
	t.Run("merged value stays one value", func(t *testing.T) {
		r := ToRequest(httpReq(base()))
		if r.Malformed != "" {
			t.Fatal(r.Malformed)
		}
		if got := r.Header.Values("X-Forwarded-For"); !slices.Equal(got, []string{"203.0.113.7,198.51.100.20"}) {
			t.Errorf("X-Forwarded-For = %q", got)
		}
		if r.Path != "/rest/x" || r.Query != "a=1" || r.Host != "jira.example.com" || r.ID != "envoy-42" {
			t.Errorf("got path %q query %q host %q id %q", r.Path, r.Query, r.Host, r.ID)
		}
		if _, ok := r.Header["Host"]; ok {
			t.Error("a host key must be ignored")
		}
	})
	t.Run("a raw fragment is refused", func(t *testing.T) {
		h := base()
		h.Path, h.Headers[":path"] = "/s/x#/../../rest/api/2/myself", "/s/x#/../../rest/api/2/myself"
		if r := ToRequest(httpReq(h)); r.Malformed == "" {
			t.Error("a '#' in the target must make the request malformed")
		}
	})
	t.Run("pseudo-headers only", func(t *testing.T) {
		h := base()
		h.Method, h.Path, h.Host = "", "", ""
		r := ToRequest(httpReq(h))
		if r.Malformed != "" || r.Method != "GET" || r.Path != "/rest/x" || r.Host != "jira.example.com" {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("raw value falls back to value, invalid UTF-8 kept", func(t *testing.T) {
		h := &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/", HeaderMap: rawMap("authorization", "Bearer \xff")}
		h.HeaderMap.Headers = append(h.HeaderMap.Headers, &corev3.HeaderValue{Key: "x-request-id", Value: "rid"})
		r := ToRequest(httpReq(h))
		if r.Malformed != "" || r.Header.Get("Authorization") != "Bearer \xff" || r.ID != "rid" {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("agreeing headers and header_map", func(t *testing.T) {
		h := &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/",
			Headers:   map[string]string{"x-forwarded-for": "a,b"},
			HeaderMap: rawMap("x-forwarded-for", "a", "x-forwarded-for", "b")}
		r := ToRequest(httpReq(h))
		if r.Malformed != "" || len(r.Header.Values("X-Forwarded-For")) != 2 {
			t.Errorf("got %+v", r)
		}
	})
}

func TestToRequestMalformed(t *testing.T) {
	ok := func() *authv3.AttributeContext_HttpRequest {
		return &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/rest/x", Host: "h",
			Headers: map[string]string{":path": "/rest/x", ":authority": "h", "authorization": "Bearer t"}}
	}
	with := func(f func(h *authv3.AttributeContext_HttpRequest)) *authv3.CheckRequest {
		h := ok()
		f(h)
		return httpReq(h)
	}
	tests := []struct {
		name string
		req  *authv3.CheckRequest
		want string
	}{
		{"nil request", nil, "no http"},
		{"empty CheckRequest", &authv3.CheckRequest{}, "no http"},
		{"nil http", &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{}}}, "no http"},
		{"headers and header_map disagree", with(func(h *authv3.AttributeContext_HttpRequest) {
			h.HeaderMap = rawMap(":path", "/rest/x", ":authority", "h", "authorization", "Bearer admin")
		}), "disagree"},
		{"header_map has an extra key", with(func(h *authv3.AttributeContext_HttpRequest) {
			h.HeaderMap = rawMap(":path", "/rest/x", ":authority", "h", "authorization", "Bearer t", "x-a", "1")
		}), "disagree"},
		{"http.path vs :path", with(func(h *authv3.AttributeContext_HttpRequest) { h.Path = "/status" }), "path attribute"},
		{"http.host vs :authority", with(func(h *authv3.AttributeContext_HttpRequest) { h.Host = "other" }), "host attribute"},
		{"http.method vs :method", with(func(h *authv3.AttributeContext_HttpRequest) { h.Headers[":method"] = "POST" }), "method attribute"},
		{"mixed-case key", with(func(h *authv3.AttributeContext_HttpRequest) { h.Headers["Authorization"] = "Bearer admin" }), "lower-case"},
		{"mixed-case key alone", with(func(h *authv3.AttributeContext_HttpRequest) {
			delete(h.Headers, "authorization")
			h.Headers["X-Forwarded-User"] = "admin"
		}), "lower-case"},
		{"invalid header name", with(func(h *authv3.AttributeContext_HttpRequest) { h.Headers["x a"] = "1" }), "invalid header name"},
		{"empty header name", with(func(h *authv3.AttributeContext_HttpRequest) { h.Headers[""] = "1" }), "empty header name"},
		{"CR LF in value", with(func(h *authv3.AttributeContext_HttpRequest) { h.Headers["x-a"] = "1\r\nx-forwarded-user: admin" }), "CR, LF or NUL"},
		{"NUL in raw value", with(func(h *authv3.AttributeContext_HttpRequest) {
			h.Headers = nil
			h.HeaderMap = rawMap("authorization", "Bearer t\x00")
		}), "CR, LF or NUL"},
		{"LF in http.path", with(func(h *authv3.AttributeContext_HttpRequest) {
			h.Path = "/rest/x\n"
			delete(h.Headers, ":path")
		}), "CR, LF or NUL"},
		{"duplicate :path in header_map", with(func(h *authv3.AttributeContext_HttpRequest) {
			h.Headers, h.Path = nil, ""
			h.HeaderMap = rawMap(":path", "/public", ":path", "/rest/x")
		}), "duplicate :path"},
		{"absolute-form target", with(func(h *authv3.AttributeContext_HttpRequest) {
			h.Path = "http://h/rest/x"
			delete(h.Headers, ":path")
		}), "origin form"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ToRequest(tc.req)
			if r == nil || r.Header == nil {
				t.Fatal("nil request or header")
			}
			if !strings.Contains(r.Malformed, tc.want) {
				t.Errorf("Malformed = %q, want it to contain %q", r.Malformed, tc.want)
			}
		})
	}
}

func TestToRequestSource(t *testing.T) {
	tests := []struct {
		name string
		addr *corev3.Address
		want netip.Addr
	}{
		{"ipv4", sockAddr("203.0.113.7"), netip.MustParseAddr("203.0.113.7")},
		{"ipv6", sockAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::1")},
		{"zoned", sockAddr("fe80::1%eth0"), netip.Addr{}},
		{"hostname", sockAddr("lb.example"), netip.Addr{}},
		{"empty", sockAddr(""), netip.Addr{}},
		{"pipe", &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: "/run/envoy.sock"}}}, netip.Addr{}},
		{"nil", nil, netip.Addr{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httpReq(&authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/"})
			req.Attributes.Source = &authv3.AttributeContext_Peer{Address: tc.addr}
			r := ToRequest(req)
			if r.Source != tc.want {
				t.Errorf("Source = %v, want %v", r.Source, tc.want)
			}
			if r.Malformed != "" {
				t.Errorf("Malformed = %q", r.Malformed)
			}
		})
	}
}
