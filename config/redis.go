package config

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/restguard/restguard/providers"
	"github.com/restguard/restguard/sharedcache"
)

// Redis configures the cache that the replicas of one deployment share, and
// fleet-wide revocation (docs/scaling.md). Without it every replica keeps
// its own caches and a revocation acts on one replica. Its relative paths
// are relative to the configuration file's directory. A change needs a
// restart: a reload that changes it is refused.
type Redis struct {
	// Address is host:port, or unix:/path/to/redis.sock.
	Address string `yaml:"address"`
	DB      int    `yaml:"db"`
	// UsernameFile and PasswordFile hold the ACL user and its password.
	UsernameFile string   `yaml:"username_file"`
	PasswordFile string   `yaml:"password_file"`
	TLS          RedisTLS `yaml:"tls"`
	// Timeout bounds one Redis call (default 50ms).
	Timeout Duration `yaml:"timeout"`
	// KeyPrefix starts every key and the revocation channel (default
	// "restguard:"); the replicas of one fleet share it.
	KeyPrefix string `yaml:"key_prefix"`
	// FleetSecretFile holds the secret every replica of the fleet shares
	// (at least 32 bytes): it keys the user index and authenticates
	// revocations.
	FleetSecretFile string `yaml:"fleet_secret_file"`
}

// RedisTLS is TLS towards Redis.
type RedisTLS struct {
	Enabled    bool   `yaml:"enabled"`
	CAFile     string `yaml:"ca_file"`
	ServerName string `yaml:"server_name"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
}

// MinAdminSecret is the shortest admin secret accepted, in bytes.
const MinAdminSecret = 16

// SharedCache returns the sharedcache configuration of the redis section,
// its paths resolved; ok is false when there is none.
func (c *Config) SharedCache() (sharedcache.Config, bool) {
	r := c.Redis
	if r == nil {
		return sharedcache.Config{}, false
	}
	rel := func(p string) string {
		if p == "" || strings.HasPrefix(p, "unix:") {
			return p
		}
		return c.relative(p)
	}
	addr := r.Address
	if strings.HasPrefix(addr, "unix:") {
		addr = "unix:" + c.relative(strings.TrimPrefix(addr, "unix:"))
	}
	return sharedcache.Config{
		Address:      addr,
		DB:           r.DB,
		UsernameFile: rel(r.UsernameFile),
		PasswordFile: rel(r.PasswordFile),
		TLS: sharedcache.TLSConfig{
			Enabled: r.TLS.Enabled, CAFile: rel(r.TLS.CAFile), ServerName: r.TLS.ServerName,
			CertFile: rel(r.TLS.CertFile), KeyFile: rel(r.TLS.KeyFile),
		},
		Timeout:         r.Timeout.D(),
		KeyPrefix:       r.KeyPrefix,
		FleetSecretFile: rel(r.FleetSecretFile),
	}, true
}

// checkRedis reports the mistakes of the redis section: what the shared
// cache itself refuses (files it cannot read, a short fleet secret, TLS
// files without TLS), under the key that holds them.
func checkRedis(c *Config, p *problems) {
	r := c.Redis
	if r == nil {
		return
	}
	switch {
	case r.Address == "":
		p.add("redis", "needs address: host:port of the Redis server every replica shares, or unix:/path/to/redis.sock")
	case r.FleetSecretFile == "":
		p.add("redis", "needs fleet_secret_file: a file with at least %d random bytes that every replica shares (head -c 32 /dev/urandom | base64 > fleet-secret)", sharedcache.MinFleetSecret)
	default:
		sc, _ := c.SharedCache()
		for _, e := range sc.Check() {
			p.add("redis."+e.Key, "%s", e.Msg)
		}
	}
}

// adminSecret reads admin.secret_file: the SHA-256 of the secret, or the
// zero value when there is none.
func adminSecret(c *Config, p *problems) (sum [32]byte, ok bool) {
	if c.Admin.SecretFile == "" {
		return sum, false
	}
	b, err := os.ReadFile(c.relative(c.Admin.SecretFile))
	if err != nil {
		p.add("admin.secret_file", "%v", err)
		return sum, false
	}
	s := strings.TrimRight(string(b), "\r\n \t")
	if len(s) < MinAdminSecret {
		p.add("admin.secret_file", "%s holds %d bytes, want at least %d (head -c 32 /dev/urandom | base64 > admin-secret)", c.Admin.SecretFile, len(s), MinAdminSecret)
		return sum, false
	}
	return sha256.Sum256([]byte(s)), true
}

// SameRedis reports whether two configurations have the same redis
// section (paths resolved), so that a reload may keep the running shared
// cache.
func SameRedis(a, b *Config) bool {
	x, okx := a.SharedCache()
	y, oky := b.SharedCache()
	return okx == oky && reflect.DeepEqual(x, y)
}

// Evict drops cached results from the in-process caches: the remote
// providers' and the Atlassian products' (native tokens, directory). A
// token (by fingerprint) is dropped everywhere; a user only from the caches
// of the provider or product named (every cache when provider is ""). It
// returns how many entries were dropped.
func (rt *Runtime) Evict(provider string, e providers.Eviction) int {
	n := 0
	pick := func(name string, v any) {
		if e.User != nil && provider != "" && name != provider {
			return
		}
		if ev, ok := v.(providers.Evicter); ok {
			n += ev.Evict(e)
		}
	}
	for _, bp := range rt.Providers {
		pick(bp.Name, bp.Validator)
	}
	for _, c := range rt.caches {
		pick(c.name, c.Evicter)
	}
	return n
}

// CacheNames are the names restguard revoke -provider accepts: the
// providers' and the Atlassian products'.
func (rt *Runtime) CacheNames() []string {
	var out []string
	for _, bp := range rt.Providers {
		out = append(out, bp.Name)
	}
	for _, c := range rt.caches {
		if !slices.Contains(out, c.name) {
			out = append(out, c.name)
		}
	}
	return out
}

// cacheVersion names a piece of configuration in the shared cache's keys
// (providers.RemoteOptions.CacheVersion): the same on every replica that
// runs the same configuration, another one as soon as anything in it
// changes, so that an answer the old configuration accepted is never
// served under the new one.
//
// The build is part of it too: two releases may map the same answer
// differently, so during a rolling upgrade old and new replicas do not
// share.
func cacheVersion(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Not shared across replicas then, never wrongly shared.
		return hex.EncodeToString(random16())
	}
	h := sha256.New()
	h.Write([]byte(buildStamp))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// buildStamp names the running build: its module version and, when built
// from a repository, the commit.
var buildStamp = func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	stamp := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
			stamp += " " + s.Value
		}
	}
	return stamp
}()

func random16() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}
