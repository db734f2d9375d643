package envoy

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/restguard/restguard/authz"
)

// The wire benchmarks measure what the gRPC server does around the engine,
// from the CheckRequest's bytes to the CheckResponse's, with the test
// engine of server_test.go (a token validator that answers at once). Compare
// runs with benchstat:
//
//	go test -run '^$' -bench 'Wire|GRPC' -benchmem -count 10 ./envoy > new.txt

// benchWire is a typical CheckRequest as Envoy sends it (fixture 02: HTTP/2,
// TLS, a dozen headers, a bearer token of realistic length).
func benchWire(b *testing.B) []byte {
	b.Helper()
	token := "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0." + fmt.Sprintf("%0600d", 7) + ".c2lnbmF0dXJl"
	req := withToken(loadRequest(b, "02-jira-get-project-bearer-http2-tls.json"), token)
	wire, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	return wire
}

// BenchmarkWireDecode: CheckRequest bytes to authz.Request.
func BenchmarkWireDecode(b *testing.B) {
	wire := benchWire(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		r, err := decodeCheck(wire)
		if err != nil || r.Method != "GET" {
			b.Fatal(r, err)
		}
	}
}

// BenchmarkWireEncodeAllow: an authenticated allow (identity headers, the
// shared removal list, metadata) to CheckResponse bytes.
func BenchmarkWireEncodeAllow(b *testing.B) {
	e := testEngine(b, nil)
	r, err := decodeCheck(withGood(b))
	if err != nil {
		b.Fatal(err)
	}
	d := e.Check(context.Background(), r)
	if !d.Allowed() {
		b.Fatalf("not allowed: %s", d.Reason)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeResponse(&d, r.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWireEncodeDeny: a 401 with challenge and body.
func BenchmarkWireEncodeDeny(b *testing.B) {
	e := testEngine(b, nil)
	r, err := decodeCheck(benchWire(b))
	if err != nil {
		b.Fatal(err)
	}
	d := e.Check(context.Background(), r)
	if d.Allowed() {
		b.Fatal("allowed")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeResponse(&d, r.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func withGood(b *testing.B) []byte {
	b.Helper()
	wire, err := proto.Marshal(withToken(loadRequest(b, "02-jira-get-project-bearer-http2-tls.json"), goodToken))
	if err != nil {
		b.Fatal(err)
	}
	return wire
}

// BenchmarkWireCheck: bytes in, engine, bytes out (no transport).
func BenchmarkWireCheck(b *testing.B) {
	e := testEngine(b, nil)
	wire := withGood(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r, err := decodeCheck(wire)
		if err != nil {
			b.Fatal(err)
		}
		d := e.Check(ctx, r)
		if !d.Allowed() {
			b.Fatal(d.Reason)
		}
		if _, err := encodeResponse(&d, r.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// nullServer answers OK and reads nothing: the floor, as restguard-load's.
type nullServer struct {
	authv3.UnimplementedAuthorizationServer
}

var nullOK = &authv3.CheckResponse{Status: &rpcstatus.Status{}}

func (nullServer) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return nullOK, nil
}

// BenchmarkGRPCCheck: the whole gRPC round trip over loopback, 16 checks
// in flight on one connection, client and server in this process: the
// null server and restguard's server with the test engine.
func BenchmarkGRPCCheck(b *testing.B) {
	for _, name := range []string{"null", "restguard"} {
		b.Run(name, func(b *testing.B) {
			var g *grpc.Server
			if name == "null" {
				g = grpc.NewServer(ServerOptions(Connections{})...) // restguard's transport, gRPC's codec
				authv3.RegisterAuthorizationServer(g, nullServer{})
			} else {
				e := testEngine(b, nil)
				g = NewGRPCServer(NewServer(func() *authz.Engine { return e }, nil), Connections{})
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			go func() { _ = g.Serve(l) }()
			defer g.Stop()
			c, err := Dial(l.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := withToken(loadRequest(b, "02-jira-get-project-bearer-http2-tls.json"), goodToken)
			ctx := context.Background()
			if _, err := c.Check(ctx, req); err != nil {
				b.Fatal(err)
			}
			var failed atomic.Bool
			b.ReportAllocs()
			b.SetParallelism(8) // 16 in flight on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := c.Check(ctx, req)
					if err != nil || resp.GetStatus().GetCode() != 0 {
						failed.Store(true)
					}
				}
			})
			if failed.Load() {
				b.Fatal("a check failed")
			}
		})
	}
}
