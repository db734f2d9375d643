// Package authz is the protocol-free core of restguard: the Request the
// transports build, the Identity a provider returns, the Decision the
// Engine makes, and the Engine that runs the pipeline phases in a fixed
// order (route, pre-authentication, Basic blocking, authentication,
// identity, authorization, response).
//
// The other packages plug in through small interfaces declared here:
// Router (policy), Policy (policy), Validator and IdentityMapper
// (providers), ClientIPResolver (policy), StatsReporter and Observer
// (providers report to metrics through them). docs/architecture.md follows
// one request through all of them.
//
// authz imports only the standard library. It makes decisions but knows
// no wire format (see package envoy), no token format (see package
// providers) and no rule syntax (see package policy). Policies can deny or
// continue; only the Engine allows, once every phase has passed, so a new
// policy can never open a hole by accident.
package authz
