package authz_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/restguard/restguard/authz"
)

// cookiesUpstream returns the cookie pairs the upstream ends up with after
// Envoy applies d to the request's Cookie values.
func cookiesUpstream(values []string, d authz.Decision) []string {
	if slices.Contains(d.RemoveHeaders, "cookie") {
		return nil
	}
	for _, h := range d.UpstreamHeaders {
		if strings.EqualFold(h.Name, "cookie") {
			values = []string{h.Value}
		}
	}
	var out []string
	for _, v := range values {
		for _, p := range strings.FieldsFunc(v, func(c rune) bool { return c == ';' || c == ',' }) {
			out = append(out, strings.TrimSpace(p))
		}
	}
	return out
}

func TestSessionCookieOnAnotherCookieLineRemoved(t *testing.T) {
	t.Parallel()
	e := newEngine(t, authRule(nil, nil), func(o *authz.Options) {
		o.Upstream.RemoveCookies = []string{"JSESSIONID", "seraph.rememberme.cookie"}
	})
	for _, c := range []struct {
		name   string
		values []string
		want   []string
	}{
		// Envoy's headers map joins two Cookie lines with ",".
		{"joined_lines", []string{"theme=dark,JSESSIONID=admin"}, []string{"theme=dark"}},
		{"joined_lines_first", []string{"JSESSIONID=admin,theme=dark"}, []string{"theme=dark"}},
		{"joined_with_space", []string{"a=1; b=2, seraph.rememberme.cookie=x; c=3"}, []string{"a=1", "b=2", "c=3"}},
		{"separate_lines", []string{"theme=dark", "JSESSIONID=admin"}, []string{"theme=dark"}},
		{"name_case", []string{"jsessionid=admin; theme=dark"}, []string{"theme=dark"}},
		// A comma inside a value that starts no pair stays in the value.
		{"comma_in_value", []string{"list=a,b; JSESSIONID=admin"}, []string{"list=a", "b"}},
		{"nothing_to_drop", []string{"list=a,b"}, []string{"list=a", "b"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := req("Bearer good")
			for _, v := range c.values {
				r.Header.Add("Cookie", v)
			}
			d := e.Check(context.Background(), r)
			if !d.Allowed() {
				t.Fatal(d.Reason)
			}
			if got := cookiesUpstream(c.values, d); !slices.Equal(got, c.want) {
				t.Errorf("upstream cookies %q, want %q (decision %v %v)", got, c.want, d.UpstreamHeaders, d.RemoveHeaders)
			}
		})
	}
	t.Run("comma_value_kept_whole", func(t *testing.T) {
		r := req("Bearer good")
		r.Header.Add("Cookie", "list=a,b; JSESSIONID=admin")
		d := e.Check(context.Background(), r)
		if !slices.Contains(d.UpstreamHeaders, authz.Header{Name: "Cookie", Value: "list=a,b"}) {
			t.Errorf("the value with a comma was split: %v", d.UpstreamHeaders)
		}
	})
}

func TestRemoveAllCookiesFromBearerRequests(t *testing.T) {
	t.Parallel()
	e := newEngine(t, authRule(nil, nil), func(o *authz.Options) { o.Upstream.RemoveAllCookies = true })
	r := req("Bearer good")
	r.Header.Add("Cookie", "theme=dark")
	if d := e.Check(context.Background(), r); !slices.Contains(d.RemoveHeaders, "cookie") {
		t.Errorf("cookie not removed: %v", d.RemoveHeaders)
	}
	pass := newEngine(t, &authz.Rule{Name: "ui", Action: authz.ActionPass}, func(o *authz.Options) { o.Upstream.RemoveAllCookies = true })
	p := req()
	p.Header.Add("Cookie", "JSESSIONID=ui")
	if d := pass.Check(context.Background(), p); slices.Contains(d.RemoveHeaders, "cookie") {
		t.Error("cookies of a pass rule without StripCredentials are the product's business")
	}
}

func TestIdentityHeaderInAnySpellingRemoved(t *testing.T) {
	t.Parallel()
	for _, rule := range []*authz.Rule{authRule(nil, nil), {Name: "public", Action: authz.ActionPass}} {
		e := newEngine(t, rule)
		r := req("Bearer good")
		spoofed := []string{"X-Forwarded_User", "x_forwarded-user", "X_Forwarded-Groups", "remote_User"}
		for _, h := range spoofed {
			r.Header[h] = []string{"admin"}
		}
		r.Header["X_Unrelated-Name"] = []string{"x"}
		d := e.Check(context.Background(), r)
		if !d.Allowed() {
			t.Fatal(d.Reason)
		}
		for _, h := range spoofed {
			if !slices.Contains(d.RemoveHeaders, strings.ToLower(h)) {
				t.Errorf("%s: %s not removed: %v", rule.Name, h, d.RemoveHeaders)
			}
		}
		if slices.Contains(d.RemoveHeaders, "x_unrelated-name") {
			t.Errorf("%s: an unrelated header was removed", rule.Name)
		}
		for _, h := range d.UpstreamHeaders {
			if slices.Contains(d.RemoveHeaders, strings.ToLower(h.Name)) {
				t.Errorf("%s: %s is set and removed (Envoy removes after setting)", rule.Name, h.Name)
			}
		}
	}
}

func TestSessionIDInPathRefusedWithBearer(t *testing.T) {
	t.Parallel()
	e := newEngine(t, authRule(nil, nil), func(o *authz.Options) { o.Upstream.RemoveCookies = []string{"BITBUCKETSESSIONID"} })
	for path, refused := range map[string]bool{
		"/rest/api/2/myself;jsessionid=ABC":           true,
		"/rest;JSESSIONID=ABC/api/2/myself":           true,
		"/rest/api/2/myself;v=1;jsessionid=ABC":       true,
		"/rest/api/2/myself;%6Asessionid=ABC":         true,
		"/rest/api/1.0/projects;bitbucketsessionid=x": true,
		"/rest/api/2/myself;v=1":                      false,
		"/rest/api/2/myself":                          false,
		"/rest/api/2/myself;jsessionidx=1":            false,
	} {
		r := req("Bearer good")
		r.Path = path
		d := e.Check(context.Background(), r)
		if got := d.Reason == authz.ReasonMultipleCredentials && d.Verdict == authz.BadRequest; got != refused {
			t.Errorf("%s: %s/%s, refused want %v", path, d.Verdict, d.Reason, refused)
		}
	}
	// Without a bearer token the session is the request's only credential.
	r := req()
	r.Path = "/rest/api/2/myself;jsessionid=ABC"
	if d := e.Check(context.Background(), r); d.Reason != authz.ReasonCredentialsMissing {
		t.Errorf("no token: %s", d.Reason)
	}
}

func TestPathParametersNotLogged(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	e := newEngine(t, authRule(nil, nil), func(o *authz.Options) { o.Logger = slog.New(slog.NewJSONHandler(&buf, nil)) })
	r := req("Bearer good")
	r.Path = "/rest;jsessionid=SECRET1/api/2/myself;x=SECRET2"
	e.Check(context.Background(), r)
	if strings.Contains(buf.String(), "SECRET") || !strings.Contains(buf.String(), `"path":"/rest;…/api/2/myself;…"`) {
		t.Errorf("path parameters in the log: %s", buf.String())
	}
	for in, want := range map[string]string{"/a": "/a", "/a;b": "/a;…", "/a;b/c;d=e;f/g": "/a;…/c;…/g", ";x": ";…"} {
		if got := authz.RedactPath(in); got != want {
			t.Errorf("RedactPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPassRuleStripsUncheckedCredentials(t *testing.T) {
	t.Parallel()
	rule := &authz.Rule{Name: "exclusion", Action: authz.ActionPass, StripCredentials: true}
	e := newEngine(t, rule, func(o *authz.Options) { o.Upstream.RemoveCookies = []string{"JSESSIONID"} })
	r := req("Bearer someone-elses-token")
	r.Header.Add("Cookie", "JSESSIONID=admin; theme=dark")
	d := e.Check(context.Background(), r)
	if !d.Allowed() || d.Reason != authz.ReasonPublicRoute {
		t.Fatal(d.Reason)
	}
	if !slices.Contains(d.RemoveHeaders, "authorization") {
		t.Errorf("a bearer token reaches the product on a pass route: %v", d.RemoveHeaders)
	}
	if !slices.Contains(d.UpstreamHeaders, authz.Header{Name: "Cookie", Value: "theme=dark"}) {
		t.Errorf("session cookie not removed on a pass route: %v", d.UpstreamHeaders)
	}
	oauth := req(`OAuth oauth_consumer_key="k"`)
	if d := e.Check(context.Background(), oauth); !d.Allowed() || slices.Contains(d.RemoveHeaders, "authorization") {
		t.Errorf("OAuth 1.0a must reach the product on its exclusion: %v", d.RemoveHeaders)
	}
	plain := newEngine(t, &authz.Rule{Name: "ui", Action: authz.ActionPass})
	if d := plain.Check(context.Background(), req("Bearer x")); slices.Contains(d.RemoveHeaders, "authorization") {
		t.Error("a pass rule without StripCredentials forwards what it gets")
	}
}

func TestMethodOverrideParameter(t *testing.T) {
	t.Parallel()
	r := methodRouter{del: &authz.Rule{Name: "no-delete", Action: authz.ActionDeny}, other: authRule(nil, nil)}
	e, err := authz.NewEngine(authz.Options{Router: r, Upstream: authz.Upstream{UserHeader: "X-Forwarded-User"}})
	if err != nil {
		t.Fatal(err)
	}
	for query, refused := range map[string]bool{
		"_method=DELETE":                   true,
		"_method=delete":                   true,
		"%5Fmethod=DELETE":                 true,
		"%5fmethod=%44ELETE":               true,
		"a=1&_method=PUT&_method=DELETE":   true,
		"_method=PUT":                      false,
		"x_method=DELETE":                  false,
		"_METHOD=DELETE":                   false, // servlet parameter names are case-sensitive
		"_method":                          false,
		"q=_method%3DDELETE&_method=PATCH": false,
	} {
		q := req("Bearer good")
		q.Method, q.Query = "POST", query
		d := e.Check(context.Background(), q)
		if got := d.Reason == authz.ReasonMethodOverride; got != refused {
			t.Errorf("?%s: %s/%s, refused want %v", query, d.Verdict, d.Reason, refused)
		}
	}
}

func TestQueryValues(t *testing.T) {
	t.Parallel()
	got := authz.QueryValues("a=1&_method=PUT&%5Fmethod=DE%4CETE&_method&b=%zz&_method=a+b", "_method")
	if want := []string{"PUT", "DELETE", "", "a b"}; !slices.Equal(got, want) {
		t.Errorf("QueryValues = %q, want %q", got, want)
	}
	if got := authz.QueryUnescape("%zz%4"); got != "%zz%4" {
		t.Errorf("invalid escapes must stay: %q", got)
	}
}
