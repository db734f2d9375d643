package sharedcache

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Defaults, in one place.
const (
	// DefaultTimeout bounds one call (Get, Set, Delete, ...) when the
	// caller's context has no earlier deadline. A cache that takes longer
	// than this is slower than asking most identity providers.
	DefaultTimeout = 50 * time.Millisecond
	// DefaultDialTimeout bounds a new connection, TLS handshake included;
	// the call's own deadline still applies.
	DefaultDialTimeout = 250 * time.Millisecond
	// DefaultBreakerThreshold is how many consecutive failures open the
	// circuit.
	DefaultBreakerThreshold = 3
	// DefaultBreakerInterval is how long the circuit stays open before one
	// call probes Redis again; it doubles after each failed probe up to
	// DefaultBreakerMaxInterval.
	DefaultBreakerInterval    = time.Second
	DefaultBreakerMaxInterval = 30 * time.Second
	// DefaultKeyPrefix starts every key and the revocation channel.
	DefaultKeyPrefix = "restguard:"
	// DefaultMaxTTL caps the TTL a caller may ask for.
	DefaultMaxTTL = 24 * time.Hour

	// MinFleetSecret is the shortest fleet secret accepted, in bytes.
	MinFleetSecret = 32
	// MaxValue is the largest value Set stores and Get accepts, in bytes.
	MaxValue = 64 << 10
)

// Config is the shared cache's configuration, a plain struct that the
// config package fills. Secrets come from files, never inline.
type Config struct {
	// Address is "host:port" for TCP, or "unix:/path/to/redis.sock" (or
	// an absolute path) for a unix socket. One server: Sentinel and
	// Cluster are not supported (see docs/scaling.md).
	Address string
	// DB is the logical database (SELECT), 0 by default.
	DB int
	// UsernameFile and PasswordFile hold the ACL user and its password
	// (AUTH user pass). Either may be empty: no username means Redis's
	// "default" user; no password means no AUTH.
	UsernameFile, PasswordFile string
	// TLS, when Enabled, is used for TCP addresses.
	TLS TLSConfig

	// Timeout bounds each call (DefaultTimeout); the caller's context
	// deadline applies when it is earlier.
	Timeout time.Duration
	// DialTimeout bounds a new connection (DefaultDialTimeout).
	DialTimeout time.Duration
	// BreakerThreshold consecutive failures open the circuit
	// (DefaultBreakerThreshold); BreakerInterval is the first open period
	// (DefaultBreakerInterval), doubled on each failed probe up to
	// BreakerMaxInterval (DefaultBreakerMaxInterval).
	BreakerThreshold                    int
	BreakerInterval, BreakerMaxInterval time.Duration

	// KeyPrefix starts every key and the channel name (DefaultKeyPrefix).
	// Replicas that share a cache must share the prefix; give the ACL user
	// exactly this prefix (~prefix* &prefix*).
	KeyPrefix string
	// MaxTTL caps Set's ttl (DefaultMaxTTL).
	MaxTTL time.Duration
	// FleetSecretFile holds a secret shared by every replica (at least
	// MinFleetSecret bytes, e.g. 32 random bytes base64-encoded). It keys
	// the user index and revocation messages and enters the value
	// encryption key; rotating it empties the cache (every entry becomes
	// unreadable, so a miss).
	FleetSecretFile string

	// Now is the clock for the expiry sealed into values and for the
	// breaker (tests); nil means time.Now.
	Now func() time.Time
}

// TLSConfig is TLS towards Redis. Client certificates are optional; both
// files or neither.
type TLSConfig struct {
	Enabled    bool
	CAFile     string // PEM roots; the system roots when empty
	ServerName string // the name to verify; the address's host when empty
	CertFile   string // client certificate (PEM)
	KeyFile    string // its key (PEM)
}

// settings is Config with defaults applied and files read.
type settings struct {
	network, addr      string
	db                 int
	username, password string
	tls                *tls.Config
	timeout, dial      time.Duration
	threshold          int
	interval, maxIntvl time.Duration
	prefix             string
	maxTTL             time.Duration
	secret             []byte
}

func (c Config) settings() (*settings, error) {
	s, problems := c.check()
	if len(problems) > 0 {
		errs := make([]error, len(problems))
		for i := range problems {
			errs[i] = problems[i]
		}
		return nil, fmt.Errorf("sharedcache: %w", errors.Join(errs...))
	}
	return s, nil
}

// ConfigError is one mistake in a Config: the key as a configuration file
// spells it (fleet_secret_file, tls.ca_file) and what is wrong. It never
// holds a secret.
type ConfigError struct{ Key, Msg string }

func (e ConfigError) Error() string { return e.Key + ": " + e.Msg }

// Check validates the configuration and reads its files, without
// connecting: every mistake, for `restguard validate`.
func (c Config) Check() []ConfigError {
	_, problems := c.check()
	return problems
}

func (c Config) check() (*settings, []ConfigError) {
	var errs []ConfigError
	bad := func(key, format string, args ...any) {
		errs = append(errs, ConfigError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	s := &settings{
		db:        c.DB,
		timeout:   orDefault(c.Timeout, DefaultTimeout),
		dial:      orDefault(c.DialTimeout, DefaultDialTimeout),
		threshold: c.BreakerThreshold,
		interval:  orDefault(c.BreakerInterval, DefaultBreakerInterval),
		maxIntvl:  orDefault(c.BreakerMaxInterval, DefaultBreakerMaxInterval),
		prefix:    c.KeyPrefix,
		maxTTL:    orDefault(c.MaxTTL, DefaultMaxTTL),
	}
	if s.threshold == 0 {
		s.threshold = DefaultBreakerThreshold
	}
	if s.prefix == "" {
		s.prefix = DefaultKeyPrefix
	}
	switch {
	case c.Address == "":
		bad("address", "missing: host:port, or unix:/path/to/redis.sock")
	case strings.HasPrefix(c.Address, "unix:"):
		s.network, s.addr = "unix", strings.TrimPrefix(strings.TrimPrefix(c.Address, "unix:"), "//")
	case strings.HasPrefix(c.Address, "/"):
		s.network, s.addr = "unix", c.Address
	default:
		s.network, s.addr = "tcp", c.Address
	}
	if s.network == "unix" && c.TLS.Enabled {
		bad("tls", "not available on a unix socket")
	}
	if c.DB < 0 {
		bad("db", "%d is negative", c.DB)
	}
	for name, d := range map[string]time.Duration{"timeout": c.Timeout, "dial_timeout": c.DialTimeout,
		"breaker_interval": c.BreakerInterval, "breaker_max_interval": c.BreakerMaxInterval, "max_ttl": c.MaxTTL} {
		if d < 0 {
			bad(name, "%v is negative", d)
		}
	}
	if c.BreakerThreshold < 0 {
		bad("breaker_threshold", "%d is negative", c.BreakerThreshold)
	}
	if s.maxIntvl < s.interval {
		s.maxIntvl = s.interval
	}
	var err error
	if c.UsernameFile != "" {
		if s.username, err = readSecret(c.UsernameFile); err != nil {
			bad("username_file", "%v", err)
		}
	}
	if c.PasswordFile != "" {
		if s.password, err = readSecret(c.PasswordFile); err != nil {
			bad("password_file", "%v", err)
		}
	}
	if c.FleetSecretFile == "" {
		bad("fleet_secret_file", "missing: a file with the secret every replica shares")
	} else if secret, err := readSecret(c.FleetSecretFile); err != nil {
		bad("fleet_secret_file", "%v", err)
	} else if len(secret) < MinFleetSecret {
		bad("fleet_secret_file", "%d bytes, want at least %d (head -c 32 /dev/urandom | base64 > fleet-secret)", len(secret), MinFleetSecret)
	} else {
		s.secret = []byte(secret)
	}
	if c.TLS.Enabled {
		if s.tls, err = c.TLS.config(s.addr); err != nil {
			bad("tls", "%v", err)
		}
	} else if c.TLS != (TLSConfig{}) {
		bad("tls", "files given but tls is not enabled")
	}
	return s, errs
}

func (t TLSConfig) config(addr string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		cfg.ServerName = host
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("cert_file and key_file go together")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			// LoadX509KeyPair's errors name files and PEM problems, never
			// key material.
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		// Read again on every handshake (cert-manager renews the files
		// in place); the last good pair is used if they cannot be read.
		var mu sync.Mutex
		last := &cert
		certFile, keyFile := t.CertFile, t.KeyFile
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			mu.Lock()
			defer mu.Unlock()
			if c, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
				last = &c
			}
			return last, nil
		}
	}
	return cfg, nil
}

// readSecret reads a file and trims one trailing newline (and spaces), as
// files written by echo or by Kubernetes from a Secret end. The error names
// the file, never its content.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	b = bytes.TrimRight(b, "\r\n \t")
	if len(b) == 0 {
		return "", fmt.Errorf("%s is empty", path)
	}
	return string(b), nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// credentials reads the ACL user and password files for each new
// connection, keeping the last values it could read.
type credentials struct {
	userFile, passFile string
	log                *slog.Logger
	mu                 sync.Mutex
	user, pass         string
}

func newCredentials(userFile, passFile, user, pass string, log *slog.Logger) *credentials {
	return &credentials{userFile: userFile, passFile: passFile, user: user, pass: pass, log: log}
}

func (c *credentials) get() (string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range []struct {
		path string
		v    *string
	}{{c.userFile, &c.user}, {c.passFile, &c.pass}} {
		if f.path == "" {
			continue
		}
		v, err := readSecret(f.path)
		if err != nil {
			// The error names the file, never its content.
			c.log.Warn("redis credentials not re-read; keeping the last ones", "error", err.Error())
			continue
		}
		*f.v = v
	}
	return c.user, c.pass
}
