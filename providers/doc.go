// Package providers turns bearer tokens into identities. It holds the
// authz.Validator implementations, one file per kind, and the
// authz.IdentityMapper implementations that adjust an identity after it:
//
//   - JWT (jwt.go, claims.go, strictjson.go, signature.go, jwks.go): JWT access tokens
//     validated locally against the issuer's JWKS (KeySet);
//   - Introspection (introspect.go): opaque tokens asked of an RFC 7662
//     endpoint;
//   - Userinfo (userinfo.go, appbinding.go): opaque tokens checked by
//     calling the provider's user endpoint, after an app-binding check
//     that the token was issued to our client (GitHub, Google, Facebook,
//     Discord, GitLab);
//   - Discovery (discovery.go): the "custom" preset, whose OpenID discovery
//     document decides between its JWKS and its introspection or userinfo
//     endpoint;
//   - APIKeys (apikey.go): static keys stored as SHA-256 hashes;
//   - AtlassianTokens (atlassian.go): product-native personal access
//     tokens, passed through, denied or verified with the product;
//   - Directory and UsernameMapper (directory.go, username.go): mappers
//     adding Atlassian directory groups and normalising usernames;
//   - presets (presets.go): what a named identity provider (Keycloak,
//     Azure AD, Okta, GitHub, ...) expands into.
//
// # Role in the pipeline
//
// The authz Engine extracts the bearer token and calls the validators of
// the matched rule in order. A validator answers only for its own tokens:
//
//   - a token that is not its kind (a JWT provider given an opaque token,
//     an introspection provider given a token outside its TokenShape, a
//     JWT whose unverified iss is another issuer) gets ErrNotResponsible,
//     so the next validator can take it. The unverified iss only selects
//     the provider; if no provider takes the token the Engine answers 401;
//   - everything else is decided here: ErrInvalidToken with the exact
//     authz.Reason, or ErrUnavailable (idp_unavailable, 503) when the
//     provider could not be asked or its keys could not be loaded.
//
// JWT validation order: strict shape (canonical base64url, bounded
// length), strict JSON header and claims (duplicate member names refused),
// issuer, header rules (alg allowlist, typ, no crit/b64/zip/enc/cty), key
// selection by kid from the configured JWKS, bound to the alg (fits),
// signature verified with the standard library's crypto for the checked
// alg (verifySignature; jwx only parses the JWKS), then exp/nbf/iat,
// audience or client id, cnf, required claims and the identity mapping.
//
// # Shared machinery
//
// Everything that goes out goes through one place, and everything kept
// comes back through another:
//
//   - client.go: newClient, the one HTTP client construction (no redirect
//     is ever followed, no proxy from the environment, TLS roots from the
//     configured client);
//   - fetch.go: fetcher, the one bounded call (deadline, body limit, errors
//     without URL or body) and answer.object, the one strict JSON reading,
//     used by the JWKS and discovery fetches and, through caller
//     (remote.go), by every remote validator and mapper;
//   - discovery.go: parseDiscovery, the one OpenID discovery reading,
//     fetched once per key set and shared with a Discovery provider;
//   - ttlcache.go: ttlLRU, the one bounded cache (the verified-token cache
//     of cache.go is one);
//   - results.go: resultCache, through which every remote answer is kept
//     (remotecache.go for introspection and userinfo, and the native-token
//     and directory lookups), keyed by SHA-256 over provider and token;
//     a second-level cache shared by replicas plugs in at newResultCache;
//   - stats.go: call counters for metrics; call latency goes to the
//     authz.Observer the metrics code supplies (RemoteOptions.CallLatency).
//
// Verified JWTs are cached by the SHA-256 of the whole token; a hit
// re-checks exp and that the verifying key is still published. Remote
// answers are cached until the earlier of the configured TTL and the
// token's exp, refusals briefly, outages never.
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
//     fetched are the configured ones and those the configured discovery
//     document names.
//   - Follow a redirect, or send a token to any provider but the one the
//     rule routes it to.
//   - Accept none, HS* or a symmetric (oct) key from a JWKS, or let the
//     token choose the algorithm for a key.
//   - Let unknown kids drive JWKS traffic: at most one fetch per
//     MinRefreshInterval, shared by concurrent requests.
//   - Cache outages, or decide policy (groups, routes, IPs): it only
//     establishes who the token belongs to.
//   - Put a token, a secret, or any large part of one, into an error or a
//     log line, or import client_golang (metrics/ owns it).
package providers
