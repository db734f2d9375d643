// Package assertion is the signed identity hand-off from restguard to the
// Atlassian product behind it: restguard decides at the edge, and on an
// authenticated allow it can add a short-lived compact JWS (the
// "assertion", header X-Restguard-Assertion) that names the user and binds
// itself to the exact request (method and normalised target). A component
// inside the product verifies it instead of trusting a plain
// X-Forwarded-User header, so a request that reaches the product past
// Envoy, or an assertion replayed to another endpoint, gets no identity.
//
// The package holds both ends of the format (docs/identity-assertion.md):
//
//   - Signer mints assertions (ES256 or EdDSA, keys from PEM files). It
//     runs on every allowed request, so the header is encoded once and the
//     claims are written without reflection.
//   - KeySet publishes the public keys as a JWKS (RFC 7517, kid = RFC 7638
//     thumbprint), several at once for rotation, to a file or over HTTP.
//   - Verifier applies the verification rules, the same ones as the Java
//     reference authenticators in examples/atlassian/authenticator, and
//     returns an *Error whose Reason is a stable string.
//   - Target computes the request binding from the method, the raw path and
//     the raw query, with policy.NormalizePath (Tomcat's rules).
//
// What assertion must not do: it makes no authorization decision (the
// engine has made it before a Signer is called), it never logs, and its
// errors never contain an assertion, a claim value or key material.
// It imports only the standard library and policy (itself standard library
// and authz only).
package assertion
