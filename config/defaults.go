package config

import "time"

// Defaults, in one place. docs/configuration.md lists the same values.
const (
	DefaultGRPCListen   = ":9001"
	DefaultAdminListen  = "127.0.0.1:9003"
	DefaultRealm        = "restguard"
	DefaultCheckTimeout = 180 * time.Millisecond // inside Envoy's 200 ms default
	DefaultRetryAfter   = 5 * time.Second
	DefaultUserHeader   = "X-Forwarded-User"
	DefaultProviderKind = "jwt"
	DefaultAction       = "authenticate"
	DefaultRuleDefault  = "deny"
	MaxTrustedHops      = 16

	// The gRPC connection age and the drain (docs/operations.md says why
	// these values).
	DefaultMaxConnectionAge      = 5 * time.Minute
	DefaultMaxConnectionAgeGrace = time.Minute
	DefaultDrainDelay            = 5 * time.Second

	DefaultForwardAuthPathPrefix = "/ext-authz" // envoy.DefaultPathPrefix
)

// ForwardAuthStyles are the values of forward_auth.style: the proxies the
// forward-auth listener can sit behind (envoy.Styles; a test keeps the two
// lists equal).
func ForwardAuthStyles() []string {
	return []string{"envoy", "nginx", "ingress-nginx", "caddy", "traefik"}
}

// DefaultRemoveHeaders are identity headers that header-authentication
// plugins commonly trust. restguard removes them from every allowed request
// (underscore spellings too) unless it sets them itself.
var DefaultRemoveHeaders = []string{
	"X-Forwarded-User", "X-Forwarded-Groups", "X-Forwarded-Email",
	"X-Forwarded-Preferred-Username", "Remote-User", "X-Remote-User",
	"X-Auth-Request-User", "X-Auth-Request-Email", "X-Authenticated-User",
}
