package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/restguard/restguard/envoy"
)

// outcome is how one request ended, as Envoy (or a forward-auth proxy)
// would apply it: the HTTP status and restguard's reason ("" when the
// server gives none, as the null server).
type outcome struct {
	status int
	reason string
}

func (o outcome) String() string {
	if o.reason == "" {
		return fmt.Sprint(o.status)
	}
	return fmt.Sprint(o.status, " ", o.reason)
}

// transport sends prepared slot i using connection conn (an index below
// the connection count). It is safe for concurrent use.
type transport interface {
	do(ctx context.Context, conn, i int) (outcome, error)
	close()
}

// reqShape is what every request of a run shares.
type reqShape struct {
	method, host, path string
}

// grpcTransport sends Envoy-shaped CheckRequests. Each slot's request is
// built once (envoy.NewCheckRequest, as Envoy would shape it) and reused.
type grpcTransport struct {
	clients []*envoy.Client
	calls   []func(ctx context.Context, c *envoy.Client) (outcome, error)
}

func newGRPCTransport(addr string, conns int, slots []slot, shape reqShape) (*grpcTransport, error) {
	t := &grpcTransport{}
	for range conns {
		c, err := envoy.Dial(addr)
		if err != nil {
			t.close()
			return nil, err
		}
		t.clients = append(t.clients, c)
	}
	for i, s := range slots {
		in := envoy.CheckInput{
			Method: shape.method, Host: shape.host, Path: shape.path, SourceIP: s.source,
			RequestID: fmt.Sprintf("load-%08d", i),
			Headers:   []string{"accept: application/json", "user-agent: restguard-load"},
		}
		if s.auth != "" {
			in.Headers = append(in.Headers, "authorization: "+s.auth)
		}
		req, err := envoy.NewCheckRequest(in)
		if err != nil {
			t.close()
			return nil, err
		}
		t.calls = append(t.calls, func(ctx context.Context, c *envoy.Client) (outcome, error) {
			// Read only the status, the denial's HTTP status and the reason
			// from the answer's bytes: the load tool shares the CPU it
			// measures, and restguard's answers are far bigger than the
			// null server's.
			o, err := c.CheckOutcome(ctx, req)
			if err != nil {
				return outcome{}, err
			}
			if o.Code == 0 {
				return outcome{http.StatusOK, o.Reason}, nil
			}
			st := int(o.HTTPStatus)
			if st == 0 {
				st = http.StatusForbidden
			}
			return outcome{st, o.Reason}, nil
		})
	}
	return t, nil
}

func (t *grpcTransport) do(ctx context.Context, conn, i int) (outcome, error) {
	return t.calls[i](ctx, t.clients[conn%len(t.clients)])
}

func (t *grpcTransport) close() {
	for _, c := range t.clients {
		_ = c.Close()
	}
}

// httpTransport sends forward-auth requests in the style of Envoy's
// http_service: the original method, and the path prefix followed by the
// original path on the request line, the original Host, the credential and the client
// address in X-Forwarded-For, as nginx auth_request, Traefik forwardAuth or
// Envoy's http_service send them. The answer is the status and the
// X-Restguard-Reason header.
type httpTransport struct {
	base   string // http://addr + path prefix
	client *http.Client
	slots  []slot
	shape  reqShape
}

func newHTTPTransport(addr, prefix string, conns, concurrency int, slots []slot, shape reqShape) *httpTransport {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxConnsPerHost:     conns,
		MaxIdleConnsPerHost: max(conns, concurrency),
		MaxIdleConns:        max(conns, concurrency),
		DisableCompression:  true,
		IdleConnTimeout:     90 * time.Second,
	}
	return &httpTransport{base: "http://" + addr + prefix, client: &http.Client{Transport: tr}, slots: slots, shape: shape}
}

func (t *httpTransport) do(ctx context.Context, _, i int) (outcome, error) {
	s := t.slots[i]
	req, err := http.NewRequestWithContext(ctx, t.shape.method, t.base+t.shape.path, nil)
	if err != nil {
		return outcome{}, err
	}
	req.Host = t.shape.host
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "restguard-load")
	req.Header.Set("X-Forwarded-For", s.source)
	req.Header.Set("X-Forwarded-Proto", "https")
	if s.auth != "" {
		req.Header.Set("Authorization", s.auth)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return outcome{}, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return outcome{resp.StatusCode, resp.Header.Get(envoy.ReasonHeader)}, nil
}

func (t *httpTransport) close() { t.client.CloseIdleConnections() }

// requireLoopback refuses any target that is not on this machine: the load
// tool must never be pointed at someone else's server.
func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("target %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Unmap().IsLoopback() {
		return errors.New("target " + addr + " is not a loopback address: restguard-load only drives servers on 127.0.0.0/8 or ::1")
	}
	return nil
}

// errorKey classifies a transport error for the result counts.
func errorKey(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "error deadline exceeded"
	case errors.Is(err, context.Canceled):
		return "error canceled"
	}
	msg := err.Error()
	if i := strings.Index(msg, "desc = "); i >= 0 {
		msg = msg[i+len("desc = "):]
	}
	if len(msg) > 60 {
		msg = msg[:60]
	}
	return "error " + msg
}
