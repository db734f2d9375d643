package policy

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/restguard/restguard/authz"
)

func pwInput(target, authorization string) *authz.Input {
	path, query, _ := strings.Cut(target, "?")
	h := http.Header{}
	if authorization != "" {
		h.Set("Authorization", authorization)
	}
	return &authz.Input{
		Request:    &authz.Request{Method: "POST", Path: path, Query: query, Header: h},
		Credential: authz.ParseCredential(h, query),
	}
}

// TestPasswordChannelsBlockedEvenWithValidToken (A8): Seraph reads
// os_username/os_password before the session and before Basic.
func TestPasswordChannelsBlockedEvenWithValidToken(t *testing.T) {
	t.Parallel()
	p := NewPasswordChannels(false)
	for target, blocked := range map[string]bool{
		"/rest/api/2/myself?os_username=admin&os_password=admin":   true,
		"/rest/api/2/myself?os_password=admin":                     true,
		"/rest/api/2/myself?x=1&os_username=admin":                 true,
		"/rest/api/2/myself?OS_USERNAME=admin":                     true,
		"/rest/api/2/myself?Os_Password=x":                         true,
		"/rest/api/2/myself?os%5Fusername=admin":                   true,
		"/rest/api/2/myself?os%5fpassword":                         true,
		"/rest/api/2/myself?os_username":                           true,
		"/rest/api/2/myself?os_authType=basic":                     true,
		"/rest/api/2/myself?os_authType=BASIC":                     true,
		"/rest/api/2/myself?os_authType=b%61sic":                   true,
		"/rest/auth/1/session":                                     true,
		"/rest/auth/latest/session":                                true,
		"/rest/auth/1/session/":                                    true,
		"/jira/rest/auth/1/session":                                true,
		"/REST/Auth/1/Session":                                     true,
		"/rest/auth/1/sess%69on":                                   true,
		"/rest;x/auth/1/session":                                   true,
		"/status/../rest/auth/1/session":                           true,
		"/s/x/_/rest/auth/1/session":                               true,
		"/jira/s/x/_/rest/auth/1/session":                          true,
		"/rest/gadget/1.0/login":                                   true,
		"/jira/rest/gadget/latest/login":                           true,
		"/rest/auth/1/session.json":                                true,
		"/rest/gadget/1.0/login.xml":                               true,
		"/rpc/xmlrpc":                                              true,
		"/confluence/rpc/soap-axis/confluenceservice-v2":           true,
		"/rpc/json-rpc/confluenceservice-v2":                       true,
		"/rpc/json-rpc/confluenceservice-v2/":                      true,
		"/rpc/json-rpc/confluenceservice-v1/login":                 true,
		"/rpc/json-rpc/confluenceservice-v2/getSpaces":             false,
		"/rest/gadget/1.0/dashboards":                              false,
		"/rest/api/2/myself?os_authType=any":                       false,
		"/rest/api/2/myself?os_authType=cookie":                    false,
		"/rest/api/2/myself?jql=os_username%3Dx":                   false,
		"/rest/api/2/search?os_usernamex=1":                        false,
		"/rest/auth/1/websudo":                                     false,
		"/rest/api/2/session":                                      false,
		"/rest/api/2/issue/X-1?fields=summary&expand=renderedBody": false,
	} {
		d := p.Evaluate(context.Background(), pwInput(target, "Bearer good"))
		if got := d.Verdict == authz.Forbidden && d.Reason == authz.ReasonPasswordChannel; got != blocked {
			t.Errorf("%s: got %s/%s, blocked want %v", target, d.Verdict, d.Reason, blocked)
		}
		if blocked && strings.Contains(d.Detail, "admin") {
			t.Errorf("%s: detail leaks a value: %q", target, d.Detail)
		}
	}
	long := strings.Repeat("o=1&", 5000) + "os_password=x"
	if d := p.Evaluate(context.Background(), pwInput("/x?"+long, "")); d.Verdict != authz.Forbidden {
		t.Error("a password after many parameters passed")
	}
	if d := NewPasswordChannels(true).Evaluate(context.Background(), pwInput("/x?os_username=a", "")); !d.DryRun {
		t.Error("dry run not reported")
	}
}

// TestFormBodyWithBearerIsAPasswordChannel: Tomcat hands the fields of a
// form-encoded body to Seraph as parameters, so os_username/os_password
// may be in a body restguard cannot see (seams item 7).
func TestFormBodyWithBearerIsAPasswordChannel(t *testing.T) {
	t.Parallel()
	p := NewPasswordChannels(false)
	for _, c := range []struct {
		auth, ctype string
		blocked     bool
	}{
		{"Bearer good", "application/x-www-form-urlencoded", true},
		{"Bearer good", "Application/X-WWW-Form-URLEncoded; charset=UTF-8", true},
		{"Bearer good", "text/plain, application/x-www-form-urlencoded", true},
		{"Bearer good", "application/json", false},
		{"Bearer good", "multipart/form-data; boundary=x", false},
		{"Bearer good", "", false},
		// Without a token the form is the product's login (the UI), or the
		// route answers 401 anyway.
		{"", "application/x-www-form-urlencoded", false},
	} {
		in := pwInput("/rest/api/2/issue", c.auth)
		if c.ctype != "" {
			in.Request.Header.Set("Content-Type", c.ctype)
		}
		d := p.Evaluate(context.Background(), in)
		if got := d.Reason == authz.ReasonPasswordChannel; got != c.blocked {
			t.Errorf("%q %q: %s/%s, blocked want %v", c.auth, c.ctype, d.Verdict, d.Reason, c.blocked)
		}
	}
}

// TestSCMBasicOnlyAccessTokens: git over HTTP keeps working with access
// tokens as Basic passwords; real passwords are refused.
func TestSCMBasicOnlyAccessTokens(t *testing.T) {
	t.Parallel()
	isToken := func(pw string) bool { return strings.HasPrefix(pw, "BBDC-") }
	p, err := NewSCMBasic(SCMBasicOptions{AllowAccessTokens: true, IsAccessToken: isToken, AllowUsers: []string{"jenkins"}})
	if err != nil {
		t.Fatal(err)
	}
	b := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	for auth, pass := range map[string]bool{
		b("x-token-auth:BBDC-abc"):    true,
		b("alice:BBDC-abc"):           true,
		"basic\t" + b("a:BBDC-x")[6:]: true,
		b("jenkins:hunter2"):          true,
		b("alice:hunter2"):            false,
		b("alice:bbdc-abc"):           false,
		b("alice:"):                   false,
		"Basic !!!":                   false,
		"Bearer tok":                  true, // not Basic: another phase decides
		"":                            true,
	} {
		d := p.Evaluate(context.Background(), pwInput("/scm/p/r.git/info/refs", auth))
		if got := d.Verdict == authz.Continue; got != pass {
			t.Errorf("%q: got %s/%s, pass want %v", auth, d.Verdict, d.Reason, pass)
		}
	}
	// Basic in Proxy-Authorization never counts as an access token.
	h := http.Header{"Proxy-Authorization": {b("x:BBDC-abc")}}
	in := &authz.Input{Request: &authz.Request{Path: "/scm/x", Header: h}, Credential: authz.ParseCredential(h, "")}
	if d := p.Evaluate(context.Background(), in); d.Reason != authz.ReasonBasicAuthBlocked {
		t.Errorf("proxy basic: %s/%s", d.Verdict, d.Reason)
	}
	block, _ := NewSCMBasic(SCMBasicOptions{DryRun: true})
	if d := block.Evaluate(context.Background(), pwInput("/scm/x", b("x:BBDC-abc"))); !d.DryRun || d.Reason != authz.ReasonBasicAuthBlocked {
		t.Errorf("block mode: %+v", d)
	}
	if _, err := NewSCMBasic(SCMBasicOptions{AllowAccessTokens: true}); err == nil {
		t.Error("no classifier accepted")
	}
}
