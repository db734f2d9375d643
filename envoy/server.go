package envoy

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/restguard/restguard/authz"
)

// Health service names.
const (
	// AuthorizationService is the name Envoy's active health check asks
	// about (grpc_health_check.service_name).
	AuthorizationService = "envoy.service.auth.v3.Authorization"
	// LivenessService answers SERVING from Register until Shutdown, for a
	// liveness probe that must not fail while the configuration loads.
	LivenessService = "liveness"
)

// Server is the ext_authz v3 Authorization service. It is safe for
// concurrent use.
type Server struct {
	authv3.UnimplementedAuthorizationServer

	engine func() *authz.Engine
	log    *slog.Logger
	health *health.Server
	lines  sync.Pool // *[]field: room for a request's header lines (checkWire)
}

var _ authv3.AuthorizationServer = (*Server)(nil)

// NewServer returns a Server that asks engine for the current Engine on
// every check (nil until the first configuration loads). The overall
// ("") and Authorization health statuses start NOT_SERVING; see SetServing.
func NewServer(engine func() *authz.Engine, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	hs := health.NewServer() // "" starts SERVING there
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	hs.SetServingStatus(AuthorizationService, healthpb.HealthCheckResponse_NOT_SERVING)
	s := &Server{engine: engine, log: logger, health: hs}
	s.lines.New = func() any {
		l := make([]field, 0, 32)
		return &l
	}
	return s
}

// Check answers one ext_authz request. Every decision is a CheckResponse
// with a nil error; the only error is codes.Unavailable while no engine is
// loaded. A panic in translation becomes a 403 denial, never an empty
// (allowing) response.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (resp *authv3.CheckResponse, err error) {
	var requestID string
	defer func() {
		if r := recover(); r != nil {
			d := authz.Deny(authz.Forbidden, authz.ReasonInternalError, "")
			d.ID = authz.NewDecisionID()
			s.log.LogAttrs(context.WithoutCancel(ctx), slog.LevelError, "check panicked",
				slog.String(authz.LogDecisionID, d.ID),
				slog.String(authz.LogRequestID, requestID),
				slog.String("panic", fmt.Sprint(r)),
				slog.String("stack", string(debug.Stack())))
			resp, err = ToResponse(&d, requestID), nil
		}
	}()
	var eng *authz.Engine
	if s.engine != nil {
		eng = s.engine()
	}
	if eng == nil {
		return nil, status.Error(codes.Unavailable, "restguard: no configuration loaded")
	}
	r := ToRequest(req)
	requestID = r.ID
	d := eng.Check(ctx, r)
	return ToResponse(&d, requestID), nil
}

// Register registers the Authorization service (the generated one, which
// works with any codec) and grpc.health.v1 on g, and marks LivenessService
// SERVING. NewGRPCServer serves Check from the wire instead.
func (s *Server) Register(g *grpc.Server) {
	authv3.RegisterAuthorizationServer(g, s)
	s.registerHealth(g)
}

func (s *Server) registerHealth(g *grpc.Server) {
	healthpb.RegisterHealthServer(g, s.health)
	s.health.SetServingStatus(LivenessService, healthpb.HealthCheckResponse_SERVING)
}

// Health is the gRPC health server Register installs.
func (s *Server) Health() *health.Server { return s.health }

// SetServing sets the overall ("") and Authorization health statuses, for
// readiness: true once a configuration is loaded and its providers are
// warm.
func (s *Server) SetServing(serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus("", st)
	s.health.SetServingStatus(AuthorizationService, st)
}

// Shutdown sets every health status to NOT_SERVING and ignores later
// updates. Call it before grpc.Server.GracefulStop.
func (s *Server) Shutdown() { s.health.Shutdown() }
