// Package envoy adapts restguard to Envoy's external authorization (ext_authz)
// gRPC protocol, envoy.service.auth.v3.Authorization.
//
// It is translation only; no decisions are made here. ToRequest turns a
// CheckRequest into an authz.Request (flagging contradictory input as
// Malformed, which the Engine denies), and ToResponse turns an
// authz.Decision into a CheckResponse that always carries an explicit
// status, so that a forgotten field can never become an allow: Envoy
// treats a CheckResponse without a status as OK.
//
// NewGRPCServer serves Check from the wire: it reads the CheckRequest's
// bytes straight into the fields ToRequest uses (leaving anything it does
// not fully understand to proto.Unmarshal) and writes the answer's bytes
// from the same plan ToResponse builds messages from, so that a check
// builds no protobuf message tree. Differential fuzz tests hold it to
// ToRequest and ToResponse.
//
// Server wires both to the Engine and to gRPC health checking. Every
// decision, Unavailable included, is returned as a CheckResponse with a nil
// gRPC error, so behaviour never depends on Envoy's failure_mode_allow. The
// only gRPC error is codes.Unavailable before the first configuration is
// loaded.
//
// NewHTTPHandler is the same translation over HTTP forward-auth, for one
// proxy named by its Style (Envoy http_service, nginx auth_request,
// ingress-nginx, Caddy forward_auth, Traefik ForwardAuth): the style is
// configuration and decides which headers describe the original request;
// it is never inferred from the request.
package envoy
