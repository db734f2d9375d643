package config

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Provider is one identity provider. Kind says how its tokens are
// validated; a preset fills endpoints and attribute names from a few
// params, and every field set here overrides what the preset filled.
// docs/providers.md describes every key.
type Provider struct {
	Name   string       `yaml:"name"`
	Kind   string       `yaml:"kind"` // jwt (default), introspection, userinfo, api_key, discovery
	Preset string       `yaml:"preset"`
	Params PresetParams `yaml:"params"`
	// DegradedStart lets restguard report ready before this provider's
	// keys have loaded (its tokens get 503 until they do), so that one
	// unreachable IdP does not hold back every other one.
	DegradedStart bool `yaml:"degraded_start"`

	// jwt (and the issuer check of introspection)
	Issuer          string              `yaml:"issuer"`
	DiscoveryURL    string              `yaml:"discovery_url"`
	JWKSURI         string              `yaml:"jwks_uri"`
	Algorithms      []string            `yaml:"algorithms"`
	Audiences       []string            `yaml:"audiences"`
	ClientIDClaim   string              `yaml:"client_id_claim"`
	ClientIDs       []string            `yaml:"client_ids"`
	StrictTyp       bool                `yaml:"strict_typ"`
	RequiredClaims  map[string][]string `yaml:"required_claims"`
	RejectAudiences []string            `yaml:"reject_audiences"`
	Leeway          Duration            `yaml:"leeway"`
	JWKS            JWKS                `yaml:"jwks"`

	// identity mapping, for every kind but api_key
	Username UsernameMapping `yaml:"username"`
	Groups   ClaimRef        `yaml:"groups"`
	Email    ClaimRef        `yaml:"email"`

	// remote validation (introspection, userinfo, discovery)
	ClientID       string        `yaml:"client_id"`
	ClientSecret   *Secret       `yaml:"client_secret"`
	Introspection  Introspection `yaml:"introspection"`
	Userinfo       Userinfo      `yaml:"userinfo"`
	AppBinding     AppBinding    `yaml:"app_binding"`
	AllowAnyClient bool          `yaml:"allow_any_client"`
	TokenShape     TokenShape    `yaml:"token_shape"`
	Timeout        Duration      `yaml:"timeout"`
	Cache          Cache         `yaml:"cache"`

	// api_key
	Keys   []APIKey `yaml:"keys"`
	Header string   `yaml:"header"`
}

// PresetParams are the parameters of a preset (see docs/providers.md for
// which preset takes which).
type PresetParams struct {
	Tenant       string   `yaml:"tenant"`
	TokenVersion string   `yaml:"token_version"`
	Realm        string   `yaml:"realm"`
	Domain       string   `yaml:"domain"`
	AuthServerID string   `yaml:"auth_server_id"`
	Region       string   `yaml:"region"`
	UserPoolID   string   `yaml:"user_pool_id"`
	BaseURL      string   `yaml:"base_url"`
	APIVersion   string   `yaml:"api_version"`
	TeamIDs      []string `yaml:"team_ids"`
}

// UsernameMapping picks the username from claims (or answer attributes).
type UsernameMapping struct {
	Claims    []string `yaml:"claims"`
	Lowercase bool     `yaml:"lowercase"`
	// Pattern is an RE2 expression the whole username must match.
	Pattern string `yaml:"pattern"`
	// AllowUnverifiedEmail accepts an e-mail claim as the username when
	// the provider does not say it was verified.
	AllowUnverifiedEmail bool `yaml:"allow_unverified_email"`
	// Clients names machine tokens: a token with no username claim at all
	// whose client id (client_id, azp, cid or appid) is a key here gets
	// that key's value as its username (client-credentials grants).
	Clients map[string]string `yaml:"clients"`
}

// ClaimRef names a (dotted) claim path.
type ClaimRef struct {
	Claim string `yaml:"claim"`
}

// Cache tunes a provider's token cache.
type Cache struct {
	Size        *int     `yaml:"size"`         // entries; 0 disables
	TTL         Duration `yaml:"ttl"`          // remote: positive answers, never past exp
	NegativeTTL Duration `yaml:"negative_ttl"` // remote: definitive refusals
	Grace       Duration `yaml:"grace"`        // remote: serve a positive answer this long past ttl while the provider is down
}

// JWKS tunes key-set fetching.
type JWKS struct {
	RefreshInterval    Duration `yaml:"refresh_interval"`
	MinRefreshInterval Duration `yaml:"min_refresh_interval"`
	MaxStale           Duration `yaml:"max_stale"`
	FetchTimeout       Duration `yaml:"fetch_timeout"`
}

// Introspection configures RFC 7662 introspection.
type Introspection struct {
	Endpoint      string   `yaml:"endpoint"`
	AuthMethod    string   `yaml:"auth_method"`     // client_secret_basic (default), client_secret_post, none
	TokenTypeHint *string  `yaml:"token_type_hint"` // default access_token; "" sends none
	TokenTypes    []string `yaml:"token_types"`
	RequireExp    bool     `yaml:"require_exp"`
}

// Userinfo configures userinfo validation.
type Userinfo struct {
	URL          string            `yaml:"url"`
	Method       string            `yaml:"method"`
	Headers      map[string]string `yaml:"headers"`
	SuccessField string            `yaml:"success_field"`
}

// AppBinding selects the check that a token was issued to our client.
type AppBinding struct {
	Type string `yaml:"type"` // github, google, facebook, discord, gitlab
	URL  string `yaml:"url"`
}

// TokenShape narrows which opaque tokens reach the provider.
type TokenShape struct {
	Prefixes  []string `yaml:"prefixes"`
	MinLength int      `yaml:"min_length"`
	MaxLength int      `yaml:"max_length"`
	Charset   string   `yaml:"charset"`
	AcceptJWT *bool    `yaml:"accept_jwt"`
}

// APIKey is one API key, stored as its hash (restguard hash-key).
type APIKey struct {
	Name     string   `yaml:"name"`
	SHA256   string   `yaml:"sha256"`
	Username string   `yaml:"username"`
	Groups   []string `yaml:"groups"`
	Expires  string   `yaml:"expires"` // RFC 3339 time or a date (2027-01-31, the start of that day, UTC)
}

// Secret is a client secret read from a file or an environment variable,
// never written into the configuration itself.
type Secret struct {
	File string
	Env  string
	line int
	// invalid: the value did not parse, and that was reported; resolving
	// it reports nothing more.
	invalid bool
}

// UnmarshalYAML accepts {file: PATH} or {env: NAME}. It is a leaf type: the
// keys are checked here, so strictness is kept.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	fail := func(line int, format string, args ...any) error {
		s.invalid = true
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", line) + fmt.Sprintf(format, args...)}}
	}
	s.line = n.Line
	if n.Kind != yaml.MappingNode {
		return fail(n.Line, "client_secret must not be written into the configuration: use {file: /path/to/secret} or {env: VARIABLE}")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
			return fail(v.Line, "client_secret.%s must be a string", k.Value)
		}
		switch k.Value {
		case "file":
			s.File = v.Value
		case "env":
			s.Env = v.Value
		default:
			return fail(k.Line, "unknown key %q in client_secret (file or env)", k.Value)
		}
	}
	if (s.File == "") == (s.Env == "") {
		return fail(n.Line, "client_secret needs exactly one of file or env")
	}
	return nil
}

// resolve reads the secret.
func (s *Secret) resolve(o BuildOptions) (string, error) {
	if s == nil {
		return "", nil
	}
	if s.invalid {
		// Reported where it was parsed; the build that follows fails
		// anyway, and a stand-in keeps "needs a client secret" from
		// being reported too.
		return "unparsed", nil
	}
	var v string
	if s.File != "" {
		b, err := os.ReadFile(o.file(s.File))
		if err != nil {
			return "", fmt.Errorf("reading the secret file: %v", err)
		}
		v = strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", s.File)
		}
		return v, nil
	}
	v = os.Getenv(s.Env)
	if v == "" {
		return "", fmt.Errorf("environment variable %s is not set", s.Env)
	}
	return v, nil
}

func (s *Secret) String() string {
	if s == nil {
		return "none"
	}
	if s.File != "" {
		return "file " + s.File
	}
	return "env " + s.Env
}
