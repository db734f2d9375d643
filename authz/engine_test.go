package authz_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
)

// oneRule routes every request to rule.
type oneRule struct{ rule *authz.Rule }

func (r oneRule) Match(*authz.Request) (*authz.Rule, authz.Decision) { return r.rule, authz.Pass() }

// tokens is a hand-written validator: a fixed token → identity table.
type tokens map[string]*authz.Identity

func (t tokens) Validate(_ context.Context, token string) (*authz.Identity, error) {
	switch token {
	case "expired":
		return nil, authz.InvalidToken(authz.ReasonTokenExpired, errors.New("exp in the past"))
	case "down":
		return nil, authz.UnavailableError(authz.ReasonIdPUnavailable, errors.New("connection refused"))
	case "opaque":
		return nil, &authz.ReasonError{Reason: authz.ReasonTokenMalformed, Class: authz.ErrNotResponsible}
	case "slow":
		return nil, context.DeadlineExceeded
	case "weird":
		return nil, errors.New("unclassified failure")
	}
	if id, ok := t[token]; ok {
		return id, nil
	}
	return nil, authz.InvalidToken(authz.ReasonTokenInvalid, nil)
}

// notMine is a validator for another issuer: it is never responsible.
type notMine struct{}

func (notMine) Validate(context.Context, string) (*authz.Identity, error) {
	return nil, &authz.ReasonError{Reason: authz.ReasonIssuerUnknown, Class: authz.ErrNotResponsible}
}

type policyFunc func(*authz.Input) authz.Decision

func (f policyFunc) Evaluate(_ context.Context, in *authz.Input) authz.Decision { return f(in) }

var idAlice = &authz.Identity{Username: "alice", Groups: []string{"jira-api-users", "a,b"}, Email: "alice@example.com", Via: "jwks"}

func newEngine(t *testing.T, rule *authz.Rule, opts ...func(*authz.Options)) *authz.Engine {
	t.Helper()
	o := authz.Options{
		Router: oneRule{rule},
		Upstream: authz.Upstream{
			UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups",
			StripAuthorization: true, RemoveHeaders: []string{"Remote-User"},
		},
		Realm: "jira",
	}
	for _, f := range opts {
		f(&o)
	}
	e, err := authz.NewEngine(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func authRule(pre, post []authz.Policy) *authz.Rule {
	return &authz.Rule{
		Name: "rest", Action: authz.ActionAuthenticate, CORSPreflight: true,
		PreAuth: pre, PostAuth: post,
		Authenticators: []authz.Authenticator{
			{Name: "other-issuer", Validator: notMine{}},
			{Name: "corp", Validator: tokens{"good": idAlice, "badname": {Username: "bob\r\nX-Forwarded-User: admin"}}},
		},
	}
}

func req(auth ...string) *authz.Request {
	h := http.Header{}
	for _, a := range auth {
		h.Add("Authorization", a)
	}
	return &authz.Request{ID: "req-1", Method: "GET", Host: "jira.example.com", Path: "/rest/api/2/myself", Header: h, Source: netip.MustParseAddr("10.1.2.3")}
}

func TestEngineDecisions(t *testing.T) {
	t.Parallel()
	e := newEngine(t, authRule(nil, nil))
	tests := []struct {
		name      string
		req       *authz.Request
		verdict   authz.Verdict
		reason    authz.Reason
		challenge string
		status    int
	}{
		{"valid token", req("Bearer good"), authz.Allow, authz.ReasonAuthenticated, "", 200},
		{"lower-case scheme", req("bearer good"), authz.Allow, authz.ReasonAuthenticated, "", 200},
		{"no credentials", req(), authz.Unauthenticated, authz.ReasonCredentialsMissing, `Bearer realm="jira"`, 401},
		{"expired", req("Bearer expired"), authz.Unauthenticated, authz.ReasonTokenExpired, `Bearer realm="jira", error="invalid_token", error_description="token expired"`, 401},
		{"unknown token", req("Bearer nope"), authz.Unauthenticated, authz.ReasonTokenInvalid, `Bearer realm="jira", error="invalid_token", error_description="token invalid"`, 401},
		// The more specific refusal wins, whatever the provider order.
		{"no validator responsible", req("Bearer opaque"), authz.Unauthenticated, authz.ReasonIssuerUnknown, `Bearer realm="jira", error="invalid_token", error_description="issuer not accepted"`, 401},
		{"idp down", req("Bearer down"), authz.Unavailable, authz.ReasonIdPUnavailable, "", 503},
		{"deadline", req("Bearer slow"), authz.Unavailable, authz.ReasonTimeout, "", 503},
		{"unclassified error fails closed", req("Bearer weird"), authz.Unavailable, authz.ReasonInternalError, "", 503},
		{"basic not blocked passes to the product", req("Basic YWxpY2U6cHc="), authz.Allow, authz.ReasonBasicPassThrough, "", 200},
		{"negotiate", req("Negotiate YIIG"), authz.Unauthenticated, authz.ReasonUnsupportedScheme, `Bearer realm="jira"`, 401},
		{"two authorization lines", req("Bearer good", "Basic YWxpY2U6cHc="), authz.BadRequest, authz.ReasonMultipleCredentials, `Bearer realm="jira", error="invalid_request", error_description="more than one credential"`, 400},
		{"merged authorization lines", req("Bearer good, Basic YWxpY2U6cHc="), authz.BadRequest, authz.ReasonMultipleCredentials, `Bearer realm="jira", error="invalid_request", error_description="more than one credential"`, 400},
		{"empty bearer", req("Bearer "), authz.BadRequest, authz.ReasonMalformedCredential, `Bearer realm="jira", error="invalid_request", error_description="malformed credential"`, 400},
		{"username with CRLF refused", req("Bearer badname"), authz.Unauthenticated, authz.ReasonUsernameMissing, `Bearer realm="jira", error="invalid_token", error_description="no username in token"`, 401},
		{"token too long", req("Bearer " + strings.Repeat("a", authz.MaxTokenBytes+1)), authz.Unauthenticated, authz.ReasonTokenMalformed, `Bearer realm="jira", error="invalid_token", error_description="token malformed"`, 401},
		{"malformed request", &authz.Request{Method: "GET", Path: "/x", Malformed: "headers disagree", Header: http.Header{}}, authz.BadRequest, authz.ReasonMalformedRequest, "", 400},
		{"nil request", nil, authz.BadRequest, authz.ReasonMalformedRequest, "", 400},
		{"no path", &authz.Request{Method: "GET", Header: http.Header{}}, authz.BadRequest, authz.ReasonMalformedRequest, "", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := e.Check(context.Background(), tc.req)
			if d.Verdict != tc.verdict || d.Reason != tc.reason {
				t.Fatalf("got %s/%s (%s), want %s/%s", d.Verdict, d.Reason, d.Detail, tc.verdict, tc.reason)
			}
			if d.Challenge != tc.challenge {
				t.Errorf("challenge = %q, want %q", d.Challenge, tc.challenge)
			}
			if d.HTTPStatus() != tc.status {
				t.Errorf("status = %d, want %d", d.HTTPStatus(), tc.status)
			}
			if d.ID == "" {
				t.Error("decision without id")
			}
			if tc.verdict == authz.Unavailable && d.RetryAfter <= 0 {
				t.Error("503 without Retry-After")
			}
		})
	}
}

func TestAllowSetsIdentityAndStripsSpoofedHeaders(t *testing.T) {
	t.Parallel()
	e := newEngine(t, authRule(nil, nil))
	d := e.Check(context.Background(), req("Bearer good"))
	if !d.Allowed() || d.Provider != "corp" || d.Rule != "rest" {
		t.Fatalf("got %+v", d)
	}
	want := []authz.Header{{"X-Forwarded-User", "alice"}, {"X-Forwarded-Groups", "jira-api-users"}}
	if !slices.Equal(d.UpstreamHeaders, want) {
		t.Errorf("upstream headers = %v, want %v (a group with a comma must not be forwarded)", d.UpstreamHeaders, want)
	}
	for _, must := range []string{"authorization", "x_forwarded_user", "x_forwarded_groups", "remote-user", "remote_user", "proxy-authorization"} {
		if !slices.Contains(d.RemoveHeaders, must) {
			t.Errorf("RemoveHeaders %v lacks %q", d.RemoveHeaders, must)
		}
	}
	// Envoy applies removals after sets: a header we set must not be removed.
	for _, h := range d.UpstreamHeaders {
		if slices.Contains(d.RemoveHeaders, strings.ToLower(h.Name)) {
			t.Errorf("%s is both set and removed", h.Name)
		}
	}
}

func TestSpoofedIdentityHeaderRemovedOnPublicRoute(t *testing.T) {
	t.Parallel()
	e := newEngine(t, &authz.Rule{Name: "public", Action: authz.ActionPass})
	r := req()
	r.Header.Set("X-Forwarded-User", "admin")
	d := e.Check(context.Background(), r)
	if !d.Allowed() || d.Reason != authz.ReasonPublicRoute {
		t.Fatalf("got %s/%s", d.Verdict, d.Reason)
	}
	if len(d.UpstreamHeaders) != 0 {
		t.Errorf("public route set identity headers: %v", d.UpstreamHeaders)
	}
	for _, must := range []string{"x-forwarded-user", "x_forwarded_user", "x-forwarded-groups"} {
		if !slices.Contains(d.RemoveHeaders, must) {
			t.Errorf("RemoveHeaders %v lacks %q", d.RemoveHeaders, must)
		}
	}
	if slices.Contains(d.RemoveHeaders, "authorization") {
		t.Error("public route must leave Authorization to the product")
	}
}

func TestPoliciesOrderAndDryRun(t *testing.T) {
	t.Parallel()
	denyIP := policyFunc(func(in *authz.Input) authz.Decision {
		if in.Identity != nil {
			t.Error("pre-auth policy saw an identity")
		}
		return authz.Deny(authz.Forbidden, authz.ReasonIPDenied, "")
	})
	dryGroups := policyFunc(func(in *authz.Input) authz.Decision {
		if in.Identity == nil || in.Identity.Username != "alice" {
			t.Error("post-auth policy without identity")
		}
		d := authz.Deny(authz.Forbidden, authz.ReasonGroupMissing, "")
		d.DryRun = true
		return d
	})
	tests := []struct {
		name          string
		rule          *authz.Rule
		r             *authz.Request
		verdict       authz.Verdict
		reason        authz.Reason
		dry           bool
		wantChallenge string
	}{
		{"ip rule runs before authentication", authRule([]authz.Policy{denyIP}, nil), req("Bearer nope"), authz.Forbidden, authz.ReasonIPDenied, false, ""},
		{"ip rule applies on public routes", &authz.Rule{Name: "p", Action: authz.ActionPass, PreAuth: []authz.Policy{denyIP}}, req(), authz.Forbidden, authz.ReasonIPDenied, false, ""},
		{"dry-run group rule allows and reports", authRule(nil, []authz.Policy{dryGroups}), req("Bearer good"), authz.Allow, authz.ReasonAuthenticated, true, ""},
		{"real group rule denies with insufficient_scope", authRule(nil, []authz.Policy{policyFunc(func(*authz.Input) authz.Decision {
			return authz.Deny(authz.Forbidden, authz.ReasonGroupMissing, "")
		})}), req("Bearer good"), authz.Forbidden, authz.ReasonGroupMissing, false, `Bearer realm="jira", error="insufficient_scope"`},
		{"policy that allows is a fault", authRule(nil, []authz.Policy{policyFunc(func(*authz.Input) authz.Decision {
			return authz.Decision{Verdict: authz.Allow}
		})}), req("Bearer good"), authz.Forbidden, authz.ReasonInternalError, false, ""},
		{"policy zero value is a fault", authRule([]authz.Policy{policyFunc(func(*authz.Input) authz.Decision { return authz.Decision{} })}, nil), req("Bearer good"), authz.Forbidden, authz.ReasonInternalError, false, ""},
		{"policy panic fails closed", authRule([]authz.Policy{policyFunc(func(*authz.Input) authz.Decision { panic("boom") })}, nil), req("Bearer good"), authz.Unavailable, authz.ReasonInternalError, false, ""},
		{"deny rule", &authz.Rule{Name: "d", Action: authz.ActionDeny}, req("Bearer good"), authz.Forbidden, authz.ReasonRouteDenied, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newEngine(t, tc.rule).Check(context.Background(), tc.r)
			if d.Verdict != tc.verdict || d.Reason != tc.reason || d.DryRun != tc.dry {
				t.Fatalf("got %s/%s dry=%v (%s), want %s/%s dry=%v", d.Verdict, d.Reason, d.DryRun, d.Detail, tc.verdict, tc.reason, tc.dry)
			}
			if tc.dry && d.DryRunReason != authz.ReasonGroupMissing {
				t.Errorf("dry-run reason = %q", d.DryRunReason)
			}
			if d.Challenge != tc.wantChallenge {
				t.Errorf("challenge = %q, want %q", d.Challenge, tc.wantChallenge)
			}
		})
	}
}

func TestCORSPreflightPassesWithoutIdentity(t *testing.T) {
	t.Parallel()
	e := newEngine(t, authRule(nil, nil))
	r := req()
	r.Method = "OPTIONS"
	r.Header.Set("Origin", "https://app.example.com")
	r.Header.Set("Access-Control-Request-Method", "POST")
	if d := e.Check(context.Background(), r); !d.Allowed() || d.Reason != authz.ReasonCORSPreflight || len(d.UpstreamHeaders) != 0 {
		t.Fatalf("preflight: %s/%s %v", d.Verdict, d.Reason, d.UpstreamHeaders)
	}
	r.Header.Set("Authorization", "Basic YWxpY2U6cHc=")
	if d := e.Check(context.Background(), r); d.Reason == authz.ReasonCORSPreflight {
		t.Fatal("a preflight with credentials must not take the preflight pass")
	}
}

func TestDecisionLogHasNoSecrets(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	e := newEngine(t, authRule(nil, nil), func(o *authz.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	})
	secretToken := "good"
	tokens := []*authz.Request{req("Bearer " + secretToken), req("Basic c2VjcmV0dXNlcjpzZWNyZXRwYXNz"), req("Bearer nope-secret-token-value")}
	cookie := req()
	cookie.Header.Set("Cookie", "JSESSIONID=secret-session-cookie")
	cookie.Query = "access_token=query-secret-token"
	tokens = append(tokens, cookie)
	for _, r := range tokens {
		e.Check(context.Background(), r)
	}
	out := buf.String()
	for _, secret := range []string{"Bearer good", "c2VjcmV0dXNlcjpzZWNyZXRwYXNz", "secretpass", "nope-secret-token-value", "secret-session-cookie", "query-secret-token"} {
		if strings.Contains(out, secret) {
			t.Errorf("decision log contains %q:\n%s", secret, out)
		}
	}
	if n := strings.Count(out, "\n"); n != len(tokens) {
		t.Errorf("%d log lines for %d decisions", n, len(tokens))
	}
	for _, key := range []string{authz.LogDecisionID, authz.LogRequestID, authz.LogVerdict, authz.LogReason, authz.LogRule, authz.LogTokenID, authz.LogSourceIP} {
		if !strings.Contains(out, `"`+key+`"`) {
			t.Errorf("decision log lacks key %q", key)
		}
	}
}

func TestCheckTimeoutBoundsValidators(t *testing.T) {
	t.Parallel()
	block := validatorFunc(func(ctx context.Context, _ string) (*authz.Identity, error) {
		<-ctx.Done()
		return nil, authz.UnavailableError(authz.ReasonIdPUnavailable, ctx.Err())
	})
	rule := &authz.Rule{Name: "r", Authenticators: []authz.Authenticator{{Name: "slow", Validator: block}}}
	e := newEngine(t, rule, func(o *authz.Options) { o.CheckTimeout = 20 * time.Millisecond })
	d := e.Check(context.Background(), req("Bearer x"))
	if d.Verdict != authz.Unavailable || d.Reason != authz.ReasonTimeout {
		t.Fatalf("got %s/%s", d.Verdict, d.Reason)
	}
}

type validatorFunc func(context.Context, string) (*authz.Identity, error)

func (f validatorFunc) Validate(ctx context.Context, tok string) (*authz.Identity, error) {
	return f(ctx, tok)
}

func TestDenyBodyCarriesReasonNotSecrets(t *testing.T) {
	t.Parallel()
	e := newEngine(t, authRule(nil, nil))
	d := e.Check(context.Background(), req("Bearer expired"))
	body := string(d.Body("req-1"))
	want := `{"error":"invalid_token","reason":"token_expired","error_description":"token expired","request_id":"req-1"}`
	if body != want {
		t.Fatalf("body = %s, want %s", body, want)
	}
	if ok := e.Check(context.Background(), req("Bearer good")); ok.Body("x") != nil {
		t.Error("allow has a body")
	}
}
