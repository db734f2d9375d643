package envoy

import (
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/restguard/restguard/authz"
)

// decodeCheck reads a CheckRequest from its wire bytes into an
// authz.Request, the way the gRPC server does.
func decodeCheck(b []byte) (*authz.Request, error) {
	req := &authv3.CheckRequest{}
	if err := proto.Unmarshal(b, req); err != nil {
		return nil, err
	}
	return ToRequest(req), nil
}

// encodeResponse writes the answer to d as CheckResponse wire bytes, the
// way the gRPC server does.
func encodeResponse(d *authz.Decision, requestID string) ([]byte, error) {
	return proto.Marshal(ToResponse(d, requestID))
}
