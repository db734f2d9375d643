// Package nullauthz is the floor of restguard's performance measurements:
// an Envoy ext_authz v3 gRPC server that answers OK to every check without
// looking at the request, and its HTTP forward-auth counterpart. It uses the same gRPC transport options as
// restguard (envoy.ServerOptions), so the difference between the two is
// restguard's own work: translation, the engine and the response.
//
// It is a measuring instrument, not a product: it allows everything.
// restguard-load starts it only on loopback.
package nullauthz

import (
	"context"
	"net/http"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"

	"github.com/restguard/restguard/envoy"
)

type server struct {
	authv3.UnimplementedAuthorizationServer
}

// ok is shared by every answer; concurrent marshalling of one message is
// safe.
var ok = &authv3.CheckResponse{Status: &rpcstatus.Status{Code: 0}}

// Check answers OK and reads nothing.
func (server) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return ok, nil
}

// New returns a gRPC server with the null Authorization service and
// restguard's transport options (envoy.ServerOptions: limits, stream
// workers, keepalive), but gRPC's own protobuf codec: it decodes every
// CheckRequest, as any ext_authz server must.
func New() *grpc.Server {
	g := grpc.NewServer(envoy.ServerOptions(envoy.Connections{})...)
	authv3.RegisterAuthorizationServer(g, server{})
	return g
}

// NewHTTP returns the forward-auth floor: a net/http server with the
// limits of restguard's forward-auth listener whose handler answers 200
// with no body and reads nothing, as a do-nothing auth_request,
// forward_auth or http_service endpoint would.
func NewHTTP() *http.Server {
	return &http.Server{
		Handler:           http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
