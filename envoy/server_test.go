package envoy

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/restguard/restguard/authz"
)

const goodToken = "good-token"

// tokenValidator accepts goodToken as alice and refuses everything else.
type tokenValidator struct{}

func (tokenValidator) Validate(_ context.Context, token string) (*authz.Identity, error) {
	if token == goodToken {
		return &authz.Identity{Username: "alice", Groups: []string{"jira-users", "devs"}, Via: "test"}, nil
	}
	return nil, authz.InvalidToken(authz.ReasonTokenInvalid, errors.New("unknown test token"))
}

// blockBasic is the pre-authentication policy that refuses HTTP Basic.
type blockBasic struct{}

func (blockBasic) Evaluate(_ context.Context, in *authz.Input) authz.Decision {
	if in.Credential.Kind == authz.CredentialBasic {
		return authz.Deny(authz.Forbidden, authz.ReasonBasicAuthBlocked, "")
	}
	return authz.Pass()
}

// oneRule routes every request to the same rule.
type oneRule struct{ rule *authz.Rule }

func (r oneRule) Match(*authz.Request) (*authz.Rule, authz.Decision) { return r.rule, authz.Pass() }

const testRealm = "restguard-test"

func testEngine(t testing.TB, logger *slog.Logger) *authz.Engine {
	t.Helper()
	e, err := authz.NewEngine(authz.Options{
		Router: oneRule{&authz.Rule{
			Name:           "rest",
			Action:         authz.ActionAuthenticate,
			PreAuth:        []authz.Policy{blockBasic{}},
			Authenticators: []authz.Authenticator{{Name: "test", Validator: tokenValidator{}}},
		}},
		Upstream: authz.Upstream{UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups", StripAuthorization: true},
		Realm:    testRealm,
		Logger:   logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// withToken puts token where a fixture has the <BEARER> placeholder.
func withToken(req *authv3.CheckRequest, token string) *authv3.CheckRequest {
	h := req.GetAttributes().GetRequest().GetHttp()
	for k, v := range h.GetHeaders() {
		h.Headers[k] = strings.ReplaceAll(v, "<BEARER>", token)
	}
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		hv.RawValue = bytes.ReplaceAll(hv.RawValue, []byte("<BEARER>"), []byte(token))
	}
	return req
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serve runs s on a real gRPC server on 127.0.0.1:0 and returns a client
// connection to it.
func serve(t *testing.T, s *Server) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	s.Register(g)
	done := make(chan error, 1)
	go func() { done <- g.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		g.Stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return conn
}

func TestServerOverGRPC(t *testing.T) {
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	var current atomic.Pointer[authz.Engine]
	s := NewServer(current.Load, logger)
	conn := serve(t, s)
	client := authv3.NewAuthorizationClient(conn)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	// No engine yet: the only gRPC error.
	_, err := client.Check(ctx, withToken(loadRequest(t, "01-jira-get-project-bearer-http11.json"), goodToken))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("no engine: err = %v, want Unavailable", err)
	}
	current.Store(testEngine(t, logger))

	tests := []struct {
		name      string
		file      string
		token     string
		status    typev3.StatusCode // 0: allow
		code      codes.Code
		reason    string
		challenge string
	}{
		{"bearer allowed", "01-jira-get-project-bearer-http11.json", goodToken, 0, codes.OK, "authenticated", ""},
		{"header_map allowed", "11-bitbucket-raw-header-map.json", goodToken, 0, codes.OK, "authenticated", ""},
		{"lower-case bearer allowed", "14-jira-mtls-peer-certificate-lowercase-bearer.json", goodToken, 0, codes.OK, "authenticated", ""},
		{"basic blocked", "05-jira-basic-auth.json", "", typev3.StatusCode_Forbidden, codes.PermissionDenied, "basic_auth_blocked", ""},
		{"git basic blocked", "13-bitbucket-git-clone-basic-auth.json", "", typev3.StatusCode_Forbidden, codes.PermissionDenied, "basic_auth_blocked", ""},
		{"no credentials", "06-jira-no-auth.json", "", typev3.StatusCode_Unauthorized, codes.Unauthenticated, "credentials_missing",
			`Bearer realm="` + testRealm + `"`},
		{"invalid token", "02-jira-get-project-bearer-http2-tls.json", "bad-token", typev3.StatusCode_Unauthorized, codes.Unauthenticated, "token_invalid",
			`Bearer realm="` + testRealm + `", error="invalid_token", error_description="token invalid"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client.Check(ctx, withToken(loadRequest(t, tc.file), tc.token))
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			checkResponse(t, resp, tc.status == 0)
			if got := codes.Code(resp.GetStatus().GetCode()); got != tc.code {
				t.Errorf("code = %v, want %v", got, tc.code)
			}
			if got := resp.GetDynamicMetadata().AsMap()["reason"]; got != tc.reason {
				t.Errorf("reason = %v, want %s", got, tc.reason)
			}
			if tc.status == 0 {
				h := headerMap(t, resp.GetOkResponse().GetHeaders())
				if h["x-forwarded-user"] != "alice" || h["x-forwarded-groups"] != "jira-users,devs" {
					t.Errorf("upstream headers = %v", h)
				}
				if !strings.Contains(strings.Join(resp.GetOkResponse().GetHeadersToRemove(), " "), "authorization") {
					t.Errorf("headers_to_remove = %v", resp.GetOkResponse().GetHeadersToRemove())
				}
				return
			}
			den := resp.GetDeniedResponse()
			if den.GetStatus().GetCode() != tc.status {
				t.Errorf("http status = %v, want %v", den.GetStatus().GetCode(), tc.status)
			}
			h := headerMap(t, den.GetHeaders())
			if h["www-authenticate"] != tc.challenge {
				t.Errorf("www-authenticate = %q, want %q", h["www-authenticate"], tc.challenge)
			}
			reqID := ToRequest(loadRequest(t, tc.file)).ID
			if !strings.Contains(den.GetBody(), `"request_id":"`+reqID+`"`) {
				t.Errorf("body %s lacks request id %s", den.GetBody(), reqID)
			}
		})
	}
	if out := logs.String(); strings.Contains(out, goodToken) || strings.Contains(out, "bad-token") {
		t.Error("a token reached the log")
	}
}

func TestServerRecoversPanic(t *testing.T) {
	s := NewServer(func() *authz.Engine { panic("boom") }, nil)
	resp, err := s.Check(t.Context(), loadRequest(t, "01-jira-get-project-bearer-http11.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, resp, false)
	if codes.Code(resp.GetStatus().GetCode()) != codes.PermissionDenied ||
		resp.GetDeniedResponse().GetStatus().GetCode() != typev3.StatusCode_Forbidden ||
		resp.GetStatus().GetMessage() != string(authz.ReasonInternalError) {
		t.Errorf("got %v", resp)
	}

	// A nil engine func is "no engine", not a panic.
	if _, err := NewServer(nil, nil).Check(t.Context(), &authv3.CheckRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("nil engine func: err = %v", err)
	}
	// An empty CheckRequest is denied, with an explicit status.
	e := testEngine(t, nil)
	resp, err = NewServer(func() *authz.Engine { return e }, nil).Check(t.Context(), &authv3.CheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, resp, false)
	if resp.GetDeniedResponse().GetStatus().GetCode() != typev3.StatusCode_BadRequest {
		t.Errorf("empty request: got %v", resp)
	}
}

func TestServerHealth(t *testing.T) {
	s := NewServer(func() *authz.Engine { return nil }, nil)
	hc := healthpb.NewHealthClient(serve(t, s))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	expect := func(service string, want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("%q: %v", service, err)
		}
		if resp.GetStatus() != want {
			t.Errorf("%q = %v, want %v", service, resp.GetStatus(), want)
		}
	}
	const (
		notServing = healthpb.HealthCheckResponse_NOT_SERVING
		serving    = healthpb.HealthCheckResponse_SERVING
	)
	expect("", notServing)
	expect(AuthorizationService, notServing)
	expect(LivenessService, serving)
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown service: err = %v, want NotFound", err)
	}

	s.SetServing(true)
	expect("", serving)
	expect(AuthorizationService, serving)
	s.SetServing(false)
	expect("", notServing)
	s.SetServing(true)

	s.Shutdown()
	expect("", notServing)
	expect(AuthorizationService, notServing)
	expect(LivenessService, notServing)
	s.SetServing(true) // ignored after Shutdown
	expect("", notServing)
}
