// Package nullauthz is the floor of restguard's performance measurements:
// an Envoy ext_authz v3 gRPC server that answers OK to every check without
// looking at the request. It uses the same gRPC server options as
// restguard (envoy.NewGRPCServer), so the difference between the two is
// restguard's own work: translation, the engine and the response.
//
// It is a measuring instrument, not a product: it allows everything.
// restguard-load starts it only on loopback.
package nullauthz

import (
	"context"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
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

// New returns a gRPC server with the null Authorization service and the
// limits restguard uses.
func New() *grpc.Server {
	g := grpc.NewServer(grpc.MaxRecvMsgSize(4<<20), grpc.MaxConcurrentStreams(1024))
	authv3.RegisterAuthorizationServer(g, server{})
	return g
}
