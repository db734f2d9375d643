package authz

import (
	"log/slog"
	"time"
)

// Identity is who a credential belongs to, as established by a provider.
// Providers may cache and share an Identity between requests, so it must
// be treated as immutable once returned.
type Identity struct {
	// Username is the mapped user name handed to the upstream.
	Username string
	// Subject is the token's stable subject (sub), if any.
	Subject string
	// Issuer is the token issuer (iss), if any.
	Issuer string
	// Provider is the configured provider name that validated the token.
	Provider string
	// ClientID is the OAuth client the token was issued to, if known.
	ClientID string
	// Email is the user's e-mail address, if the provider supplies one.
	Email string
	// Groups are the user's groups, in provider order.
	Groups []string
	// Scopes are the token's scopes.
	Scopes []string
	// Expiry is when the credential stops being valid (zero: unknown).
	Expiry time.Time
	// Via says how the credential was checked: "jwks", "introspection",
	// "userinfo", "api_key".
	Via string
	// KeyID is the JWKS key id that verified a JWT, if any.
	KeyID string
	// CacheHit is true when the identity came from a cache.
	CacheHit bool
}

// LogValue logs only non-secret, bounded facts about the identity.
func (id *Identity) LogValue() slog.Value {
	if id == nil {
		return slog.Value{}
	}
	return slog.GroupValue(
		slog.String("username", id.Username),
		slog.String("issuer", id.Issuer),
		slog.String("provider", id.Provider),
		slog.Int("groups", len(id.Groups)),
		slog.String("via", id.Via),
	)
}

// InGroup reports whether the identity holds group g (exact, case-sensitive).
func (id *Identity) InGroup(g string) bool {
	for _, have := range id.Groups {
		if have == g {
			return true
		}
	}
	return false
}
