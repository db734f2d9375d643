package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/envoy"
	"github.com/restguard/restguard/internal/idptest"
)

// slowValidator holds the token "slow" until release is closed, reporting
// its arrival on arrived, and accepts every token as alice.
type slowValidator struct {
	arrived chan struct{}
	release chan struct{}
}

func (v slowValidator) Validate(ctx context.Context, token string) (*authz.Identity, error) {
	if token == "slow" {
		v.arrived <- struct{}{}
		select {
		case <-v.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &authz.Identity{Username: "alice", Via: "test"}, nil
}

type oneRule struct{ rule *authz.Rule }

func (r oneRule) Match(*authz.Request) (*authz.Rule, authz.Decision) { return r.rule, authz.Pass() }

// drainConfig starts the service; the test then installs an engine with a
// validator it controls (no HTTP timeout can end the slow check early).
const drainConfig = `
providers:
  - {name: corp, issuer: %q, audiences: [jira]}
rules:
  - {name: api, paths: ["/rest/**"], authenticate: [corp]}
`

func bearerCheck(t *testing.T, token string) *authv3.CheckRequest {
	t.Helper()
	req, err := envoy.NewCheckRequest(envoy.CheckInput{Host: "jira.example.com", Path: "/rest/api/2/myself", Headers: []string{"Authorization: Bearer " + token}})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestDrainAnswersAndFinishesInFlightChecks: on shutdown restguard reports
// NOT_SERVING, keeps answering new checks for the drain delay, and a check
// that was in flight when the shutdown began gets its real answer, not a
// transport error (which Envoy would turn into status_on_error).
func TestDrainAnswersAndFinishesInFlightChecks(t *testing.T) {
	v := slowValidator{arrived: make(chan struct{}, 1), release: make(chan struct{})}
	t.Cleanup(func() {
		select {
		case <-v.release:
		default:
			close(v.release)
		}
	})
	eng, err := authz.NewEngine(authz.Options{
		Router:   oneRule{&authz.Rule{Name: "api", Authenticators: []authz.Authenticator{{Name: "test", Validator: v}}}},
		Upstream: authz.Upstream{UserHeader: "X-Forwarded-User"},
	})
	if err != nil {
		t.Fatal(err)
	}
	drainStarted := make(chan time.Duration, 1)
	endDrain := make(chan time.Time)
	var logs bytes.Buffer
	r := startServiceWith(t, fmt.Sprintf(drainConfig, idptest.New(t).Issuer), &logs, func(s *service) {
		s.opts = config.ServerOptions{DrainDelay: 7 * time.Second}
		s.after = func(d time.Duration) <-chan time.Time {
			drainStarted <- d
			return endDrain
		}
	})
	r.svc.engine.Store(eng)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type result struct {
		resp *authv3.CheckResponse
		err  error
	}
	inFlight := make(chan result, 1)
	go func() {
		resp, err := r.client.Check(ctx, bearerCheck(t, "slow"))
		inFlight <- result{resp, err}
	}()
	select { // the check is at the IdP
	case <-v.arrived:
	case <-ctx.Done():
		t.Fatal("the check never reached the IdP")
	}

	r.stop() // SIGTERM
	select {
	case d := <-drainStarted:
		if d != 7*time.Second {
			t.Fatalf("drain of %v, want the configured 7s", d)
		}
	case <-r.done:
		t.Fatal("serve returned without a drain")
	case <-ctx.Done():
		t.Fatal("no drain")
	}
	// Draining: not ready, NOT_SERVING, and still answering.
	health, err := r.client.Health(ctx, envoy.AuthorizationService)
	if err != nil || health != "NOT_SERVING" {
		t.Errorf("health during the drain: %q %v, want NOT_SERVING", health, err)
	}
	if resp, err := http.Get("http://" + r.admin + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz during the drain: %v %v, want 503", resp, err)
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err := r.client.Check(ctx, bearerCheck(t, "fast"))
	if err != nil || !envoy.ReadResponse(resp).Allowed {
		t.Fatalf("check during the drain: %v %v, want an allow", resp.GetStatus(), err)
	}
	select {
	case res := <-inFlight:
		t.Fatalf("the slow check ended before its IdP answered: %v %v", res.resp.GetStatus(), res.err)
	case <-r.done:
		t.Fatal("serve returned during the drain")
	default:
	}

	close(endDrain) // GracefulStop: no new streams, in-flight ones finish
	select {
	case <-r.done:
		t.Fatal("serve returned with a check in flight")
	default:
	}
	close(v.release)
	res := <-inFlight
	if res.err != nil || !envoy.ReadResponse(res.resp).Allowed {
		t.Fatalf("in-flight check: %v %v, want its allow", res.resp.GetStatus(), res.err)
	}
	<-r.done
	if !strings.Contains(logs.String(), `"msg":"restguard draining: NOT_SERVING, still answering"`) {
		t.Error("no drain line in the log")
	}
}
