package envoy

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// This file is the client side of the protocol, for `restguard check`,
// `restguard dev` and tests: it builds CheckRequests shaped exactly like
// Envoy's (lower-case keys, pseudo-headers, no host key, the stream id in
// http.id and the request id in x-request-id) and reads CheckResponses.

// CheckInput describes one request to ask about.
type CheckInput struct {
	Method, Host, Path string   // Path may include the query
	Scheme             string   // default "https"
	Headers            []string // "Name: value" lines, kept in order
	SourceIP           string   // Envoy's peer address; default 127.0.0.1
	RequestID          string   // x-request-id; generated when empty
}

// NewCheckRequest builds an Envoy-shaped CheckRequest.
func NewCheckRequest(in CheckInput) (*authv3.CheckRequest, error) {
	method := strings.ToUpper(clientOr(in.Method, http.MethodGet))
	scheme := clientOr(in.Scheme, "https")
	path := clientOr(in.Path, "/")
	src := clientOr(in.SourceIP, "127.0.0.1")
	id := in.RequestID
	if id == "" {
		id = clientRequestID()
	}
	h := map[string]string{
		":authority": in.Host, ":method": method, ":path": path, ":scheme": scheme,
		"x-request-id": id, "x-forwarded-proto": scheme,
	}
	for _, line := range in.Headers {
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("envoy: header %q is not \"Name: value\"", line)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if old, dup := h[name]; dup && !strings.HasPrefix(name, ":") && name != "x-request-id" {
			value = old + "," + value // Envoy joins duplicate lines with a bare comma
		}
		h[name] = value
	}
	var stream [8]byte
	_, _ = rand.Read(stream[:])
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: src, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 50000}},
		}}},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(time.Now()),
			Http: &authv3.AttributeContext_HttpRequest{
				Id:       strconv.FormatUint(binary.BigEndian.Uint64(stream[:]), 10),
				Method:   method,
				Headers:  h,
				Path:     path,
				Host:     in.Host,
				Scheme:   scheme,
				Protocol: "HTTP/1.1",
			},
		},
	}}, nil
}

// ParseCheckRequest reads a recorded CheckRequest in protojson form, as in
// the fixtures. Unknown fields are refused.
func ParseCheckRequest(data []byte) (*authv3.CheckRequest, error) {
	var req authv3.CheckRequest
	if err := protojson.Unmarshal(data, &req); err != nil {
		return nil, fmt.Errorf("envoy: check request: %w", err)
	}
	return &req, nil
}

// RecordedOrNew parses a recorded CheckRequest when data is not nil, and
// builds one from in otherwise.
func RecordedOrNew(data []byte, in CheckInput) (*authv3.CheckRequest, error) {
	if data != nil {
		return ParseCheckRequest(data)
	}
	return NewCheckRequest(in)
}

// Result is a CheckResponse read back the way Envoy applies it.
type Result struct {
	Allowed  bool
	Status   int      // HTTP status the client would get (200 on allow)
	Code     int32    // gRPC status code in CheckResponse.status
	Headers  []string // "name: value": upstream headers on allow, client headers on deny
	Remove   []string // headers removed upstream on allow
	Body     string   // deny body
	Metadata map[string]any
}

// ReadResponse interprets a CheckResponse as Envoy does: an OK status
// allows (an absent status too, which is why restguard always sets one).
func ReadResponse(resp *authv3.CheckResponse) Result {
	r := Result{Code: resp.GetStatus().GetCode()}
	if md := resp.GetDynamicMetadata(); md != nil {
		r.Metadata = md.AsMap()
	}
	if r.Code == 0 {
		r.Allowed, r.Status = true, http.StatusOK
		for _, h := range resp.GetOkResponse().GetHeaders() {
			r.Headers = append(r.Headers, h.GetHeader().GetKey()+": "+h.GetHeader().GetValue())
		}
		r.Remove = resp.GetOkResponse().GetHeadersToRemove()
		return r
	}
	d := resp.GetDeniedResponse()
	r.Status = int(d.GetStatus().GetCode())
	if r.Status == 0 {
		r.Status = http.StatusForbidden // Envoy's default for an unset status
	}
	for _, h := range d.GetHeaders() {
		r.Headers = append(r.Headers, h.GetHeader().GetKey()+": "+h.GetHeader().GetValue())
	}
	sort.Strings(r.Headers)
	r.Body = d.GetBody()
	return r
}

// Client is a gRPC ext_authz client.
type Client struct {
	conn *grpc.ClientConn
	c    authv3.AuthorizationClient
}

// Dial connects to an ext_authz server without TLS (loopback or a trusted
// network, as Envoy does inside a pod or compose network).
func Dial(addr string) (*Client, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("envoy: %w", err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("envoy: %w", err)
	}
	return &Client{conn: conn, c: authv3.NewAuthorizationClient(conn)}, nil
}

// Check sends one CheckRequest.
func (c *Client) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return c.c.Check(ctx, req)
}

// Health asks grpc.health.v1 about service ("" for the whole server) and
// returns the status name (SERVING, NOT_SERVING, ...).
func (c *Client) Health(ctx context.Context, service string) (string, error) {
	resp, err := healthpb.NewHealthClient(c.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return "", err
	}
	return resp.GetStatus().String(), nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Connections bound the life of the gRPC server's connections.
type Connections struct {
	// MaxAge sends GOAWAY to a connection this old (±10% jitter, added by
	// grpc-go), so that the client reconnects and may reach a replica that
	// started since; 0: never.
	MaxAge time.Duration
	// MaxAgeGrace is how long streams in flight on such a connection may
	// still take before it is closed (0: without limit).
	MaxAgeGrace time.Duration
}

// streamWorkers is the number of stream workers: more than the checks a
// replica runs at once on its cores (a cached check does not block), each
// an idle goroutine of a few tens of KiB otherwise.
const streamWorkers = 64

// keepaliveMinTime is the shortest interval between a client's HTTP/2
// keepalive pings the server tolerates. grpc-go's default, 5 minutes,
// answers an Envoy configured with a shorter connection_keepalive
// interval with GOAWAY "too_many_pings".
const keepaliveMinTime = 10 * time.Second

// ServerOptions are the options of restguard's gRPC server that concern
// the transport alone (limits, connection ages, keepalive), so that a
// measurement's null server can share them.
func ServerOptions(c Connections) []grpc.ServerOption {
	kp := keepalive.ServerParameters{MaxConnectionAge: c.MaxAge, MaxConnectionAgeGrace: c.MaxAgeGrace}
	if kp.MaxConnectionAge <= 0 {
		kp.MaxConnectionAge = infinity
	}
	if kp.MaxConnectionAgeGrace <= 0 {
		kp.MaxConnectionAgeGrace = infinity
	}
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(4 << 20),
		grpc.MaxConcurrentStreams(1024),
		// Streams run on long-lived workers whose stacks have grown to
		// what a check needs, instead of a new goroutine per stream that
		// grows (copies) its stack on every check: runtime.newstack was
		// 13% of a cached check's CPU. A stream that finds every worker
		// busy still gets its own goroutine.
		grpc.NumStreamWorkers(streamWorkers),
		grpc.KeepaliveParams(kp),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveMinTime, PermitWithoutStream: true}),
	}
}

// NewGRPCServer returns a gRPC server with s and health registered, with
// limits fit for an authorization sidecar. Check is served from the wire
// (see wire.go): the same answers as Server.Check without building
// protobuf messages.
func NewGRPCServer(s *Server, c Connections) *grpc.Server {
	g := grpc.NewServer(append(ServerOptions(c), grpc.ForceServerCodecV2(newCodec()))...)
	g.RegisterService(&authorizationService, s)
	s.registerHealth(g)
	return g
}

// infinity is grpc-go's own "no limit" for connection ages.
const infinity = time.Duration(math.MaxInt64)

func clientOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func clientRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
