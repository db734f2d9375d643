package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration file. Every key is documented in
// docs/configuration.md; keep the two in step.
type Config struct {
	Listen       Listen     `yaml:"listen"`
	Realm        string     `yaml:"realm"`
	CheckTimeout Duration   `yaml:"check_timeout"`
	RetryAfter   Duration   `yaml:"retry_after"`
	ClientIP     ClientIP   `yaml:"client_ip"`
	Providers    []Provider `yaml:"providers"`
	Rules        []Rule     `yaml:"rules"`
	Default      Default    `yaml:"default"`
	Upstream     Upstream   `yaml:"upstream"`
	Atlassian    Atlassian  `yaml:"atlassian"` // see atlassian.go
	Assertion    *Assertion `yaml:"assertion"` // see assertion.go
	Redis        *Redis     `yaml:"redis"`     // see redis.go
	Log          Log        `yaml:"log"`
	Reload       Reload     `yaml:"reload"`

	// GRPC, Shutdown and Admin configure the listeners' connections, the
	// drain on shutdown and the admin listener's debugging endpoints (read
	// once at start, like Listen) and revocation (admin.secret_file, read
	// at every load).
	GRPC     GRPCServer `yaml:"grpc"`
	Shutdown Shutdown   `yaml:"shutdown"`
	Admin    Admin      `yaml:"admin"`

	// ForwardAuth names the proxy in front of listen.http.
	ForwardAuth ForwardAuth `yaml:"forward_auth"`

	file string     // where it was loaded from, for error positions
	root *yaml.Node // the parsed document, for error positions
}

// Listen holds the listener addresses.
type Listen struct {
	GRPC  string `yaml:"grpc"`
	HTTP  string `yaml:"http"` // forward-auth (Envoy http_service, nginx, Caddy, Traefik); off when empty; needs forward_auth.style
	Admin string `yaml:"admin"`
}

// ForwardAuth configures the forward-auth listener (listen.http): which
// proxy calls it, and so which parts of its request describe the original
// request (envoy.Style). It is never inferred from the request.
type ForwardAuth struct {
	Style      string `yaml:"style"`       // one of ForwardAuthStyles; required with listen.http
	PathPrefix string `yaml:"path_prefix"` // DefaultForwardAuthPathPrefix when empty
}

// ClientIP says how the client address is derived (see policy.ClientIP).
type ClientIP struct {
	TrustedProxies []string `yaml:"trusted_proxies"`
	TrustedHops    int      `yaml:"trusted_hops"`
}

// Rule is one ordered rule; the first match wins.
type Rule struct {
	Name          string     `yaml:"name"`
	Hosts         []string   `yaml:"hosts"`
	Paths         []string   `yaml:"paths"`
	Methods       []string   `yaml:"methods"`
	Action        string     `yaml:"action"`
	Authenticate  []string   `yaml:"authenticate"`
	CORSPreflight *bool      `yaml:"cors_preflight"`
	BlockBasic    BlockBasic `yaml:"block_basic"`
	Groups        Groups     `yaml:"groups"`
	Users         Users      `yaml:"users"`
	IP            IPRule     `yaml:"ip"`
	// AssertionAudience is the aud of the signed identity assertion of
	// this rule's allows (default: assertion.audience).
	AssertionAudience string `yaml:"assertion_audience"`
}

// Default is the rule for requests no rule matches.
type Default struct {
	Action     string     `yaml:"action"`
	BlockBasic BlockBasic `yaml:"block_basic"`
}

// BlockBasic configures HTTP Basic blocking.
type BlockBasic struct {
	Enabled    bool     `yaml:"enabled"`
	AllowUsers []string `yaml:"allow_users"`
	AllowPaths []string `yaml:"allow_paths"`
	DryRun     bool     `yaml:"dry_run"`
}

// Groups is a group rule.
type Groups struct {
	AnyOf  []string `yaml:"any_of"`
	AllOf  []string `yaml:"all_of"`
	DryRun bool     `yaml:"dry_run"`
}

// Users is a user allow/deny list.
type Users struct {
	Allow  []string `yaml:"allow"`
	Deny   []string `yaml:"deny"`
	DryRun bool     `yaml:"dry_run"`
}

// IPRule restricts the client address.
type IPRule struct {
	Allow  []string `yaml:"allow"`
	DryRun bool     `yaml:"dry_run"`
}

// Upstream says what the upstream receives on allow.
type Upstream struct {
	UserHeader         string   `yaml:"user_header"`
	GroupsHeader       string   `yaml:"groups_header"`
	EmailHeader        string   `yaml:"email_header"`
	StripAuthorization *bool    `yaml:"strip_authorization"`
	RemoveHeaders      []string `yaml:"remove_headers"`
	// RemoveCookies are cookies removed from bearer-authenticated requests
	// (in addition to atlassian.session_cookies), or all of them.
	RemoveCookies CookieList `yaml:"remove_cookies"`
}

// CookieList is a list of cookie names, or the word "all".
type CookieList struct {
	All   bool
	Names []string
}

// UnmarshalYAML accepts "all" or a list of cookie names. It is a leaf
// type: the shape is checked here, so strictness is kept.
func (c *CookieList) UnmarshalYAML(n *yaml.Node) error {
	fail := func(format string, args ...any) error {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.Value == "all":
		c.All = true
	case n.Kind == yaml.SequenceNode:
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode || e.Tag != "!!str" {
				return fail("remove_cookies lists cookie names (strings)")
			}
			c.Names = append(c.Names, e.Value)
		}
	default:
		return fail("remove_cookies is \"all\" or a list of cookie names, got %s", describe(n))
	}
	return nil
}

// Log configures the process log and the decision log.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
	// AllowedSample is the fraction of allowed decisions written to the
	// decision log (default 1: all). Denials are always logged.
	AllowedSample *float64 `yaml:"allowed_sample"`
}

// Reload configures automatic reloading of the configuration file.
type Reload struct {
	// PollInterval, when set, re-reads the file at this interval and
	// reloads when its content changed (this also follows Kubernetes
	// ConfigMap symlink swaps). SIGHUP always reloads.
	PollInterval Duration `yaml:"poll_interval"`
}

// GRPCServer configures the gRPC listener's connections. Envoy keeps its
// HTTP/2 connections to the ext_authz cluster for as long as they live; a
// maximum age makes it reconnect, so replicas added by an autoscaler get
// their share of the checks (docs/operations.md).
type GRPCServer struct {
	// MaxConnectionAge sends GOAWAY to a connection this old (±10%
	// jitter); nil: DefaultMaxConnectionAge; 0s: never.
	MaxConnectionAge *Duration `yaml:"max_connection_age"`
	// MaxConnectionAgeGrace is how long checks in flight on such a
	// connection may still take before it is closed; nil:
	// DefaultMaxConnectionAgeGrace.
	MaxConnectionAgeGrace *Duration `yaml:"max_connection_age_grace"`
}

// Shutdown configures the drain on SIGTERM.
type Shutdown struct {
	// DrainDelay is how long restguard keeps answering after it reports
	// NOT_SERVING and before it stops accepting (GracefulStop); nil:
	// DefaultDrainDelay.
	DrainDelay *Duration `yaml:"drain_delay"`
}

// Admin configures the admin listener beyond its address.
type Admin struct {
	// Pprof serves Go's /debug/pprof/ profiles on listen.admin.
	Pprof bool `yaml:"pprof"`
	// PprofNonLoopback allows Pprof on an admin listener that is not a
	// loopback address (profiles reveal memory contents and code).
	PprofNonLoopback bool `yaml:"pprof_non_loopback"`
	// SecretFile holds the bearer secret that POST /revoke requires
	// (`restguard revoke -secret-file`). Without it the endpoint refuses
	// every request. Re-read on every load.
	SecretFile string `yaml:"secret_file"`
}

// ServerOptions are the resolved connection and shutdown settings.
type ServerOptions struct {
	MaxConnectionAge      time.Duration // 0: never
	MaxConnectionAgeGrace time.Duration
	DrainDelay            time.Duration
	Pprof                 bool
}

// ServerOptions resolves GRPC, Shutdown and Admin with their defaults.
func (c *Config) ServerOptions() ServerOptions {
	pick := func(d *Duration, def time.Duration) time.Duration {
		if d == nil {
			return def
		}
		return d.D()
	}
	return ServerOptions{
		MaxConnectionAge:      pick(c.GRPC.MaxConnectionAge, DefaultMaxConnectionAge),
		MaxConnectionAgeGrace: pick(c.GRPC.MaxConnectionAgeGrace, DefaultMaxConnectionAgeGrace),
		DrainDelay:            pick(c.Shutdown.DrainDelay, DefaultDrainDelay),
		Pprof:                 c.Admin.Pprof,
	}
}

// Duration is a time.Duration written as a Go duration string ("250ms").
type Duration time.Duration

// UnmarshalYAML parses a duration string; integers are refused so that a
// bare 200 is never read as 200 nanoseconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	// A *yaml.TypeError lets the decoder record the error with its line and
	// carry on, so that every error in the file is reported at once.
	fail := func(format string, args ...any) error {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", n.Line) + fmt.Sprintf(format, args...)}}
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" && n.Tag != "" {
		return fail("expected a duration string like \"250ms\", got %s", describe(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fail("invalid duration %q", n.Value)
	}
	if v < 0 {
		return fail("negative duration %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
