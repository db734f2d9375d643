package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/restguard/restguard/authz"
)

// BasicAuthOptions configure a BasicAuth policy.
type BasicAuthOptions struct {
	// AllowUsers are user names whose Basic credential passes, compared
	// exactly (like Atlassian's basic-auth allowlist).
	AllowUsers []string
	// AllowPaths are path patterns (the route syntax, see RouteSpec.Paths)
	// on which Basic passes, for example "/scm/**".
	AllowPaths []string
	// DryRun reports denials (Decision.DryRun) without enforcing them.
	DryRun bool
}

// BasicAuth is a pre-authentication policy that blocks HTTP Basic
// credentials (security catalogue A2). It runs on every action, public
// routes included: Seraph authenticates Basic on any URL and can mint a
// session from it.
//
// A request whose credential is Basic (authz.ParseCredential decides, on
// the scheme alone and case-insensitively) is denied with 401
// basic_auth_blocked unless its user name is on AllowUsers or its
// normalised path matches AllowPaths. An ambiguous path (see NormalizePath)
// never matches an allowed path, and a "/s/<x>/_/<rest>" path matches only
// when "/<rest>", where Atlassian forwards it, matches too. Requests with
// any other credential kind pass. The denial's detail never contains the
// credential or the user name.
type BasicAuth struct {
	users  map[string]struct{}
	paths  []glob
	dryRun bool
}

// NewBasicAuth compiles o. Errors name the offending entry
// ("policy: basic_auth.allow_paths[1]: ...").
func NewBasicAuth(o BasicAuthOptions) (authz.Policy, error) {
	p := &BasicAuth{users: make(map[string]struct{}, len(o.AllowUsers)), dryRun: o.DryRun}
	var errs []error
	for i, u := range o.AllowUsers {
		if u == "" {
			errs = append(errs, fmt.Errorf("policy: basic_auth.allow_users[%d]: empty user name", i))
			continue
		}
		p.users[u] = struct{}{}
	}
	for i, s := range o.AllowPaths {
		g, err := compileGlob(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy: basic_auth.allow_paths[%d]: %w", i, err))
			continue
		}
		p.paths = append(p.paths, g)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Evaluate implements authz.Policy.
func (p *BasicAuth) Evaluate(_ context.Context, in *authz.Input) authz.Decision {
	if in == nil {
		return p.deny()
	}
	if in.Credential.Kind != authz.CredentialBasic {
		return authz.Pass()
	}
	if u := in.Credential.BasicUser; u != "" {
		if _, ok := p.users[u]; ok {
			return authz.Pass()
		}
	}
	if len(p.paths) > 0 && in.Request != nil && p.allowedPath(in.Request.Path) {
		return authz.Pass()
	}
	return p.deny()
}

func (p *BasicAuth) allowedPath(raw string) bool {
	clean, ambiguous, err := NormalizePath(raw)
	if err != nil || ambiguous {
		return false
	}
	var buf [32]string
	segs := segments(clean, buf[:0])
	if !p.matchPath(segs) {
		return false
	}
	// The product may serve the path as another one (the /s/<x>/_/ forward,
	// a representation suffix): every such view must be allowed too.
	return !productViews(segs, strings.HasSuffix(clean, "/"), func(v []string) bool { return !p.matchPath(v) })
}

func (p *BasicAuth) matchPath(segs []string) bool {
	for i := range p.paths {
		if p.paths[i].match(segs, false) {
			return true
		}
	}
	return false
}

func (p *BasicAuth) deny() authz.Decision {
	d := authz.Deny(authz.Unauthenticated, authz.ReasonBasicAuthBlocked, "")
	d.DryRun = p.dryRun
	return d
}
