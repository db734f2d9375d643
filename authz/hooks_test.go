package authz_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/restguard/restguard/authz"
)

type mapperFunc func(context.Context, *authz.Identity) (*authz.Identity, error)

func (f mapperFunc) Map(ctx context.Context, id *authz.Identity) (*authz.Identity, error) {
	return f(ctx, id)
}

func TestIdentityMappersRunBeforeAuthorization(t *testing.T) {
	t.Parallel()
	addGroup := mapperFunc(func(_ context.Context, id *authz.Identity) (*authz.Identity, error) {
		c := *id
		c.Username = "alice.smith"
		c.Groups = append(slices.Clone(id.Groups), "from-directory")
		return &c, nil
	})
	needGroup := policyFunc(func(in *authz.Input) authz.Decision {
		if !in.Identity.InGroup("from-directory") {
			return authz.Deny(authz.Forbidden, authz.ReasonGroupMissing, "")
		}
		return authz.Pass()
	})
	rule := authRule(nil, []authz.Policy{needGroup})
	rule.Mappers = []authz.IdentityMapper{addGroup}
	d := newEngine(t, rule).Check(context.Background(), req("Bearer good"))
	if !d.Allowed() || d.Identity.Username != "alice.smith" {
		t.Fatalf("got %s/%s %+v", d.Verdict, d.Reason, d.Identity)
	}
	if slices.Contains(idAlice.Groups, "from-directory") {
		t.Fatal("mapper modified the shared identity")
	}

	for name, tc := range map[string]struct {
		err     error
		verdict authz.Verdict
		reason  authz.Reason
	}{
		"directory down": {authz.UnavailableError(authz.ReasonIdPUnavailable, errors.New("503")), authz.Unavailable, authz.ReasonIdPUnavailable},
		"unknown user":   {authz.ForbiddenError(authz.ReasonUserUnknown, nil), authz.Forbidden, authz.ReasonUserUnknown},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rule := authRule(nil, nil)
			rule.Mappers = []authz.IdentityMapper{mapperFunc(func(context.Context, *authz.Identity) (*authz.Identity, error) { return nil, tc.err })}
			d := newEngine(t, rule).Check(context.Background(), req("Bearer good"))
			if d.Verdict != tc.verdict || d.Reason != tc.reason {
				t.Fatalf("got %s/%s", d.Verdict, d.Reason)
			}
		})
	}
}

func TestNativeTokenPassThroughKeepsAuthorization(t *testing.T) {
	t.Parallel()
	native := validatorFunc(func(context.Context, string) (*authz.Identity, error) { return nil, authz.ErrPassThrough })
	rule := &authz.Rule{Name: "r", Authenticators: []authz.Authenticator{{Name: "atlassian", Validator: native}}}
	d := newEngine(t, rule).Check(context.Background(), req("Bearer NDU2Nzg5MDEyMzQ1Ok"))
	if !d.Allowed() || d.Reason != authz.ReasonNativeTokenPassThrough || d.Identity != nil {
		t.Fatalf("got %s/%s", d.Verdict, d.Reason)
	}
	if slices.Contains(d.RemoveHeaders, "authorization") || len(d.UpstreamHeaders) != 0 {
		t.Errorf("pass-through must keep Authorization and set no identity: %v %v", d.RemoveHeaders, d.UpstreamHeaders)
	}
	if !slices.Contains(d.RemoveHeaders, "x-forwarded-user") {
		t.Error("spoofed identity header not removed on pass-through")
	}
}

// TestForeignSessionCookieRemovedFromBearerRequest: a valid token plus
// someone else's JSESSIONID must not reach the product with the cookie.
func TestForeignSessionCookieRemovedFromBearerRequest(t *testing.T) {
	t.Parallel()
	opts := func(o *authz.Options) {
		o.Upstream.RemoveCookies = []string{"JSESSIONID", "seraph.rememberme.cookie"}
		o.Upstream.BearerMarker = "X-Restguard-Bearer"
	}
	e := newEngine(t, authRule(nil, nil), opts)

	r := req("Bearer good")
	r.Header.Set("Cookie", "JSESSIONID=admin-session; theme=dark; seraph.rememberme.cookie=x")
	d := e.Check(context.Background(), r)
	if !d.Allowed() {
		t.Fatal(d.Reason)
	}
	if !slices.Contains(d.UpstreamHeaders, authz.Header{Name: "Cookie", Value: "theme=dark"}) {
		t.Errorf("cookie not filtered: %v", d.UpstreamHeaders)
	}
	if !slices.Contains(d.UpstreamHeaders, authz.Header{Name: "X-Restguard-Bearer", Value: "1"}) {
		t.Errorf("bearer marker missing: %v", d.UpstreamHeaders)
	}

	only := req("Bearer good")
	only.Header.Set("Cookie", "JSESSIONID=admin-session")
	if d := e.Check(context.Background(), only); !slices.Contains(d.RemoveHeaders, "cookie") {
		t.Errorf("a cookie header with only session cookies must be removed: %v", d.RemoveHeaders)
	}

	public := newEngine(t, &authz.Rule{Name: "p", Action: authz.ActionPass}, opts)
	pr := req()
	pr.Header.Set("Cookie", "JSESSIONID=ui-session")
	pr.Header.Set("X-Restguard-Bearer", "1")
	d = public.Check(context.Background(), pr)
	if slices.Contains(d.RemoveHeaders, "cookie") || len(d.UpstreamHeaders) != 0 {
		t.Errorf("cookies of UI routes are the product's business: %v %v", d.RemoveHeaders, d.UpstreamHeaders)
	}
	if !slices.Contains(d.RemoveHeaders, "x-restguard-bearer") {
		t.Error("a client-supplied bearer marker must be removed")
	}
}

func TestPassSchemesOnlyWhereConfigured(t *testing.T) {
	t.Parallel()
	lfs := authRule(nil, nil)
	lfs.PassSchemes = map[string]bool{"jwt": true}
	d := newEngine(t, lfs).Check(context.Background(), req("JWT eyJ.x.y"))
	if !d.Allowed() || d.Reason != authz.ReasonSchemePassThrough || len(d.UpstreamHeaders) != 0 || slices.Contains(d.RemoveHeaders, "authorization") {
		t.Fatalf("got %s/%s %v %v", d.Verdict, d.Reason, d.UpstreamHeaders, d.RemoveHeaders)
	}
	if d := newEngine(t, authRule(nil, nil)).Check(context.Background(), req("JWT eyJ.x.y")); d.Reason != authz.ReasonUnsupportedScheme {
		t.Fatalf("a rule without PassSchemes must refuse the scheme: %s", d.Reason)
	}
}

// methodRouter protects DELETE separately from other methods.
type methodRouter struct{ del, other *authz.Rule }

func (m methodRouter) Match(r *authz.Request) (*authz.Rule, authz.Decision) {
	if r.Method == "DELETE" {
		return m.del, authz.Pass()
	}
	return m.other, authz.Pass()
}

func TestMethodOverrideCannotReachAnotherRule(t *testing.T) {
	t.Parallel()
	r := methodRouter{del: &authz.Rule{Name: "no-delete", Action: authz.ActionDeny}, other: authRule(nil, nil)}
	e, err := authz.NewEngine(authz.Options{Router: r, Upstream: authz.Upstream{UserHeader: "X-Forwarded-User"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"} {
		q := req("Bearer good")
		q.Method = "POST"
		q.Header.Set(h, "delete")
		if d := e.Check(context.Background(), q); d.Verdict != authz.BadRequest || d.Reason != authz.ReasonMethodOverride {
			t.Errorf("%s: got %s/%s", h, d.Verdict, d.Reason)
		}
	}
	same := req("Bearer good")
	same.Method = "POST"
	same.Header.Set("X-HTTP-Method-Override", "PUT") // routes the same: harmless
	if d := e.Check(context.Background(), same); !d.Allowed() {
		t.Errorf("an override to a method of the same rule was refused: %s", d.Reason)
	}
}
