// Package providers turns bearer tokens into identities. It holds the
// authz.Validator implementations; JWT validates JWT access tokens locally
// against the issuer's JWKS.
//
// # Role in the pipeline
//
// The authz Engine extracts the bearer token and calls the validators of
// the matched rule in order. A JWT provider answers for exactly one issuer:
//
//   - a token that is not three dot-separated segments is not its kind:
//     it returns ErrNotResponsible (token_malformed) so an opaque-token
//     provider (introspection) can take it;
//   - a JWT whose unverified iss is another issuer is not its either:
//     ErrNotResponsible (issuer_unknown). The unverified iss only selects
//     the provider; if no provider takes the token the Engine answers 401;
//   - everything else is decided here: ErrInvalidToken with the exact
//     authz.Reason, or ErrUnavailable (idp_unavailable, 503) when no usable
//     key set could be loaded.
//
// Validation order: strict shape (canonical base64url, bounded length),
// strict JSON header and claims (duplicate member names refused), issuer,
// header rules (alg allowlist, typ, no crit/b64/zip/enc/cty), key
// selection by kid from the configured JWKS bound to the alg, signature
// (jws.Verify with the checked alg), then exp/nbf/iat, audience or client
// id, cnf, required claims and the identity mapping.
//
// Verified tokens are cached by the SHA-256 of the whole token; a hit
// re-checks exp and that the verifying key is still published.
//
// The keys come from a KeySet: fetched once at startup, refreshed every
// RefreshInterval after the last fetch, refetched on an unknown kid at most
// once per MinRefreshInterval. Providers of one issuer whose key-set
// settings are equal (KeySetConfig) may share one KeySet, so one issuer
// used with several audiences is fetched once.
//
// # What it must not do
//
//   - Fetch anything named by a token: jku, x5u, jwk and x5c are ignored,
//     and an unknown issuer or kid never causes discovery. The only URLs
//     fetched are the configured discovery document and JWKS.
//   - Accept none, HS* or a symmetric (oct) key from a JWKS, or let the
//     token choose the algorithm for a key.
//   - Let unknown kids drive JWKS traffic: at most one fetch per
//     MinRefreshInterval, shared by concurrent requests.
//   - Cache failures, or decide policy (groups, routes, IPs): it only
//     establishes who the token belongs to.
//   - Put a token, or any large part of one, into an error or a log line.
package providers
