// Package policy holds restguard's rule building blocks: the path
// normaliser and the Router that picks a rule for a request (phase 1),
// with the Atlassian product presets' routes and exclusions and an
// analysis of a compiled router (Shadowed, Witnesses) for `restguard
// validate`; the ClientIP resolver; and the policies the Engine runs
// before authentication (IPAllow, BasicAuth, PasswordChannels, SCMBasic)
// and after it (Groups, Users).
//
// Everything here is compiled at load time and immutable afterwards, so
// it is safe for concurrent use; a request does no parsing of
// configuration.
//
// What policy must not do: it never allows. Policies return authz.Pass()
// or a denial, and the Router returns a rule or a denial; only the
// authz.Engine allows, once every phase has passed. policy imports only
// the standard library and authz: it knows no wire format (package
// envoy), no token format (package providers) and no YAML (package
// config).
//
// Paths are matched after NormalizePath has resolved them as Tomcat does.
// A rule that passes without authentication is never reached through an
// ambiguous spelling of a path: such requests get 400 path_ambiguous
// (security catalogue G1-G6; see Router).
package policy
