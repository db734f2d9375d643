package policy

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/restguard/restguard/authz"
)

// PasswordChannels is a pre-authentication policy that closes the password
// channels Atlassian's Seraph accepts besides the Basic header (security
// catalogue A8, atlassian.md §4.1, §4.3). It belongs on every rule that
// blocks Basic, public routes included: Seraph reads request parameters on
// any URL, before the session and before Basic, so a request carrying
// os_username/os_password would run as that user even after restguard
// authorised the bearer token's user.
//
// It denies with 403 password_channel_blocked a request that has
//
//   - an os_username or os_password query parameter (names compared after
//     percent- and '+'-decoding, case-insensitively: a superset of the
//     exact names the servlet container reads);
//   - os_authType=basic (Bamboo honours Basic only with it, and it makes
//     Jira answer with a Basic challenge that prompts browsers);
//   - a form-encoded body (Content-Type application/x-www-form-urlencoded)
//     next to a bearer token: the body is not visible to ext_authz, its
//     type is, and Tomcat hands form fields to Seraph as parameters;
//   - a path that reaches a login endpoint below any context path,
//     directly or through a view the product serves (the /s/<x>/_/
//     forward, a representation suffix): Jira's session login
//     /rest/auth/{1,latest}/session and gadget login
//     /rest/gadget/{1.0,latest}/login, which turn a password into a
//     JSESSIONID that outlives every check here, and Confluence's RPC
//     endpoints, whose login method takes a password in the body: XML-RPC
//     (/rpc/xmlrpc), SOAP (/rpc/soap-axis/...) and JSON-RPC (the envelope
//     endpoint /rpc/json-rpc/<service>, where the method is in the body,
//     and /rpc/json-rpc/<service>/login).
//
// Multipart bodies are not refused: REST attachment uploads need them, and
// Tomcat parses them into parameters only for servlets that ask for it.
// The detail names the channel, never a value.
type PasswordChannels struct {
	dryRun bool
}

// NewPasswordChannels returns the policy. With dryRun, denials are
// reported (Decision.DryRun) but not enforced.
func NewPasswordChannels(dryRun bool) *PasswordChannels {
	return &PasswordChannels{dryRun: dryRun}
}

// Evaluate implements authz.Policy.
func (p *PasswordChannels) Evaluate(_ context.Context, in *authz.Input) authz.Decision {
	if in == nil || in.Request == nil {
		return p.deny("no request")
	}
	if ch := passwordParameter(in.Request.Query); ch != "" {
		return p.deny(ch + " parameter")
	}
	if in.Credential.Kind == authz.CredentialBearer && formBody(in.Request.Header["Content-Type"]) {
		return p.deny("form-encoded body with a bearer token")
	}
	if loginEndpoint(in.Request.Path) {
		return p.deny("login endpoint")
	}
	return authz.Pass()
}

func (p *PasswordChannels) deny(detail string) authz.Decision {
	d := authz.Deny(authz.Forbidden, authz.ReasonPasswordChannel, detail)
	d.DryRun = p.dryRun
	return d
}

// passwordParameter returns the name of the first password channel in a
// raw query, or "".
func passwordParameter(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	if !strings.ContainsAny(rawQuery, "oO%") {
		return "" // neither "os_" nor an escape can be present
	}
	// Every parameter is looked at (linear in the query, which Envoy
	// bounds): the container reads the first occurrence, but a later one
	// may be the one another component reads.
	for part := range strings.SplitSeq(rawQuery, "&") {
		name, value, _ := strings.Cut(part, "=")
		switch strings.ToLower(authz.QueryUnescape(name)) {
		case "os_username":
			return "os_username"
		case "os_password":
			return "os_password"
		case "os_authtype":
			if strings.EqualFold(strings.TrimSpace(authz.QueryUnescape(value)), "basic") {
				return "os_authType=basic"
			}
		}
	}
	return ""
}

// formBody reports whether any Content-Type value (or comma-joined
// element of one) is application/x-www-form-urlencoded, whatever its case
// and parameters.
func formBody(values []string) bool {
	for _, v := range values {
		for el := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(el, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
				return true
			}
		}
	}
	return false
}

// loginEndpoint reports whether a raw path reaches one of the login
// endpoints of PasswordChannels (and anything below it) under a context
// path of any depth up to maxContextDepth, after normalisation,
// case-insensitively, or through a view the product serves. A path
// NormalizePath refuses is not this policy's concern: the router answers
// 400 for it.
func loginEndpoint(raw string) bool {
	clean, _, err := NormalizePath(raw)
	if err != nil {
		return false
	}
	var buf [32]string
	segs := segments(clean, buf[:0])
	if isLoginPath(segs) {
		return true
	}
	return productViews(segs, strings.HasSuffix(clean, "/"), isLoginPath)
}

// loginPaths are the login endpoints, as segments below the context path;
// "*" is any one segment, and each matches its path and everything below.
var loginPaths = [][]string{
	{"rest", "auth", "1", "session"},
	{"rest", "auth", "latest", "session"},
	{"rest", "gadget", "1.0", "login"},
	{"rest", "gadget", "latest", "login"},
	{"rpc", "xmlrpc"},
	{"rpc", "soap-axis"},
	{"rpc", "json-rpc", "*", "login"},
}

// jsonRPC is Confluence's JSON-RPC prefix: its envelope endpoint (exactly
// /rpc/json-rpc/<service>) carries the method name in the body.
var jsonRPC = []string{"rpc", "json-rpc"}

func isLoginPath(segs []string) bool {
	for i := 0; i <= maxContextDepth && i < len(segs); i++ {
		for _, lp := range loginPaths {
			if hasSegments(segs[i:], lp) {
				return true
			}
		}
		if len(segs)-i == len(jsonRPC)+1 && hasSegments(segs[i:], jsonRPC) {
			return true
		}
	}
	return false
}

// hasSegments reports whether segs starts with want, compared ASCII
// case-insensitively ("*" matches any one segment).
func hasSegments(segs, want []string) bool {
	if len(segs) < len(want) {
		return false
	}
	for j, w := range want {
		if w != "*" && !asciiEqualFold(segs[j], w) {
			return false
		}
	}
	return true
}

// SCMBasicOptions configure an SCMBasic policy.
type SCMBasicOptions struct {
	// AllowAccessTokens lets Basic through when its password has the shape
	// of a product access token (IsAccessToken), so git clients using
	// "x-token-auth:<token>" keep working while real passwords are
	// refused (atlassian.md §2.5).
	AllowAccessTokens bool
	// IsAccessToken classifies a password; required with
	// AllowAccessTokens.
	IsAccessToken func(password string) bool
	// AllowUsers are Basic user names that pass with any password.
	AllowUsers []string
	// DryRun reports denials without enforcing them.
	DryRun bool
}

// SCMBasic is the Basic policy of Bitbucket's git-over-HTTP route (/scm/**).
// It replaces BasicAuth there: Basic is refused with 401
// basic_auth_blocked unless its user is allowlisted or, with
// AllowAccessTokens, its password is shaped like an access token. Only the
// Authorization header counts: Basic in Proxy-Authorization never passes.
// Bitbucket still checks the token itself; the shape only keeps passwords
// from reaching it.
type SCMBasic struct {
	o     SCMBasicOptions
	users map[string]struct{}
}

// NewSCMBasic compiles o.
func NewSCMBasic(o SCMBasicOptions) (*SCMBasic, error) {
	if o.AllowAccessTokens && o.IsAccessToken == nil {
		return nil, errors.New("policy: scm basic: access tokens allowed without a token classifier")
	}
	p := &SCMBasic{o: o, users: map[string]struct{}{}}
	for i, u := range o.AllowUsers {
		if u == "" {
			return nil, fmt.Errorf("policy: scm basic: allow_users[%d]: empty user name", i)
		}
		p.users[u] = struct{}{}
	}
	return p, nil
}

// Evaluate implements authz.Policy.
func (p *SCMBasic) Evaluate(_ context.Context, in *authz.Input) authz.Decision {
	if in == nil || in.Request == nil {
		return p.deny()
	}
	if in.Credential.Kind != authz.CredentialBasic {
		return authz.Pass()
	}
	if _, ok := p.users[in.Credential.BasicUser]; ok && in.Credential.BasicUser != "" {
		return authz.Pass()
	}
	if p.o.AllowAccessTokens {
		if pw, ok := basicPassword(in.Request.Header["Authorization"]); ok && p.o.IsAccessToken(pw) {
			return authz.Pass()
		}
	}
	return p.deny()
}

func (p *SCMBasic) deny() authz.Decision {
	d := authz.Deny(authz.Unauthenticated, authz.ReasonBasicAuthBlocked, "basic on scm without an access token")
	d.DryRun = p.o.DryRun
	return d
}

// basicPassword decodes the password of the one Authorization: Basic value.
func basicPassword(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	v := strings.ReplaceAll(strings.Trim(values[0], " \t"), "\t", " ")
	scheme, rest, _ := strings.Cut(v, " ")
	rest = strings.TrimLeft(rest, " ")
	if !strings.EqualFold(scheme, "basic") || rest == "" || len(rest) > 4096 {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return "", false
	}
	_, pw, ok := strings.Cut(string(raw), ":")
	return pw, ok && pw != ""
}
