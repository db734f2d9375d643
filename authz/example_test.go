package authz_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/restguard/restguard/authz"
)

// staticTokens is a Validator for the example: one known token.
type staticTokens struct{}

func (staticTokens) Validate(_ context.Context, token string) (*authz.Identity, error) {
	if token == "alice-token" {
		return &authz.Identity{Username: "alice", Groups: []string{"jira-api-users"}, Via: "example"}, nil
	}
	return nil, authz.InvalidToken(authz.ReasonTokenInvalid, nil)
}

// oneRoute sends every request to one rule.
type oneRoute struct{ rule *authz.Rule }

func (r oneRoute) Match(*authz.Request) (*authz.Rule, authz.Decision) { return r.rule, authz.Pass() }

func ExampleEngine_Check() {
	rule := &authz.Rule{
		Name:           "rest-api",
		Authenticators: []authz.Authenticator{{Name: "static", Validator: staticTokens{}}},
	}
	engine, err := authz.NewEngine(authz.Options{
		Router:   oneRoute{rule},
		Upstream: authz.Upstream{UserHeader: "X-Forwarded-User", StripAuthorization: true},
		Realm:    "jira",
	})
	if err != nil {
		panic(err)
	}
	for _, auth := range []string{"Bearer alice-token", "Bearer forged", "Basic YWxpY2U6cHc=", ""} {
		h := http.Header{}
		if auth != "" {
			h.Set("Authorization", auth)
		}
		d := engine.Check(context.Background(), &authz.Request{
			Method: "GET", Host: "jira.example.com", Path: "/rest/api/2/myself",
			Header: h, Source: netip.MustParseAddr("10.1.2.3"),
		})
		fmt.Printf("%d %s %v %q\n", d.HTTPStatus(), d.Reason, d.UpstreamHeaders, d.Challenge)
	}
	// Output:
	// 200 authenticated [{X-Forwarded-User alice}] ""
	// 401 token_invalid [] "Bearer realm=\"jira\", error=\"invalid_token\", error_description=\"token invalid\""
	// 200 basic_pass_through [] ""
	// 401 credentials_missing [] "Bearer realm=\"jira\""
}
