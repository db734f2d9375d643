package envoy

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/connectivity"

	"github.com/restguard/restguard/authz"
)

// balancer stands in for a Kubernetes Service address: every new TCP
// connection goes to the backend current at that moment, and stays there.
// It reports each connection it opens on conns.
type balancer struct {
	l       net.Listener
	backend atomic.Pointer[string]
	conns   chan string // the backend of each new connection
	wg      sync.WaitGroup
}

func newBalancer(t *testing.T, backend string) *balancer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{l: l, conns: make(chan string, 16)}
	b.backend.Store(&backend)
	b.wg.Go(b.accept)
	t.Cleanup(func() { l.Close(); b.wg.Wait() })
	return b
}

func (b *balancer) accept() {
	for {
		c, err := b.l.Accept()
		if err != nil {
			return
		}
		to := *b.backend.Load()
		u, err := net.Dial("tcp", to)
		if err != nil {
			c.Close()
			continue
		}
		b.conns <- to
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		b.wg.Go(func() { pipe(u, c) })
		b.wg.Go(func() { pipe(c, u) })
	}
}

// serveCounting starts a gRPC server whose checks are counted.
func serveCounting(t *testing.T, eng *authz.Engine, c Connections) (addr string, checks *atomic.Int64) {
	t.Helper()
	checks = new(atomic.Int64)
	g := NewGRPCServer(NewServer(func() *authz.Engine { checks.Add(1); return eng }, nil), c)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(l) }()
	t.Cleanup(g.Stop)
	return l.Addr().String(), checks
}

// TestConnectionMovesToNewReplicaAfterMaxAge: a client that keeps one
// HTTP/2 connection, as Envoy does, reaches a replica started after it
// connected once the old connection reaches its maximum age. Without
// MaxAge the client would stay on the first server for ever (the test
// would time out waiting for the second connection).
func TestConnectionMovesToNewReplicaAfterMaxAge(t *testing.T) {
	t.Parallel()
	eng := testEngine(t, nil)
	oldAddr, oldChecks := serveCounting(t, eng, Connections{MaxAge: 300 * time.Millisecond, MaxAgeGrace: 10 * time.Second})
	newAddr, newChecks := serveCounting(t, eng, Connections{})
	lb := newBalancer(t, oldAddr)

	c, err := Dial(lb.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := withToken(loadRequest(t, "01-jira-get-project-bearer-http11.json"), goodToken)
	if resp, err := c.Check(ctx, req); err != nil || resp.GetStatus().GetCode() != 0 {
		t.Fatalf("first check: %v %v", resp.GetStatus(), err)
	}
	if got := <-lb.conns; got != oldAddr || oldChecks.Load() != 1 {
		t.Fatalf("first connection went to %s with %d checks, want the old server", got, oldChecks.Load())
	}

	// A replica starts; new connections go to it. The client learns
	// nothing of it while its connection lives.
	lb.backend.Store(&newAddr)
	if !c.conn.WaitForStateChange(ctx, connectivity.Ready) {
		t.Fatal("the connection stayed up: the old server has no maximum age")
	}
	// The next checks open a new connection, to the new replica, without
	// a failed check in between.
	before := oldChecks.Load()
	for range 3 {
		resp, err := c.Check(ctx, req)
		if err != nil || resp.GetStatus().GetCode() != 0 {
			t.Fatalf("check after the maximum age: %v %v", resp.GetStatus(), err)
		}
	}
	if got := <-lb.conns; got != newAddr {
		t.Fatalf("reconnected to %s, want the new server", got)
	}
	if n := newChecks.Load(); n != 3 || oldChecks.Load() != before {
		t.Errorf("after the maximum age: new server %d checks, old server %d more; want 3 and 0", n, oldChecks.Load()-before)
	}
}
