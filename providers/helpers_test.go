package providers

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/internal/idptest"
)

// clock is an injectable time source, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *clock) Now() time.Time             { return time.Unix(0, c.ns.Load()) }
func (c *clock) Add(d time.Duration)        { c.ns.Add(int64(d)) }
func (c *clock) Set(t time.Time)            { c.ns.Store(t.UnixNano()) }
func (c *clock) Unix(d time.Duration) int64 { return c.Now().Add(d).Unix() }

// baseConfig is a provider for p with an explicit JWKS URI.
func baseConfig(p *idptest.IdP, clk *clock) JWTConfig {
	return JWTConfig{
		Name:        "test-idp",
		Issuer:      p.Issuer,
		JWKSURI:     p.JWKSURL(),
		Audiences:   []string{idptest.Audience},
		GroupsClaim: "groups",
		Now:         clk.Now,
	}
}

// newProvider builds a provider for p, lets mod change the config, and
// loads the key set.
func newProvider(t *testing.T, p *idptest.IdP, mod func(*JWTConfig)) (*JWT, *clock) {
	t.Helper()
	clk := newClock()
	p.SetNow(clk.Now)
	cfg := baseConfig(p, clk)
	if mod != nil {
		mod(&cfg)
	}
	j, err := NewJWT(cfg)
	if err != nil {
		t.Fatalf("NewJWT: %v", err)
	}
	if err := j.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	return j, clk
}

// wantReason checks that err carries reason r and the class sentinel.
func wantReason(t *testing.T, err error, class error, r authz.Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (%v)", r, class)
	}
	var re *authz.ReasonError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not a *authz.ReasonError", err)
	}
	if re.Reason != r || !errors.Is(err, class) {
		t.Fatalf("got reason %s class-match=%v (%v), want %s %v", re.Reason, errors.Is(err, class), err, r, class)
	}
}

// noTokenInError checks that an error text never contains the token or a
// large piece of it.
func noTokenInError(t *testing.T, err error, token string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, part := range strings.Split(token, ".") {
		if len(part) >= 16 && strings.Contains(msg, part) {
			t.Fatalf("error text contains a token segment: %q", msg)
		}
	}
}

func mustValidate(t *testing.T, j *JWT, token string) *authz.Identity {
	t.Helper()
	id, err := j.Validate(context.Background(), token)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return id
}
