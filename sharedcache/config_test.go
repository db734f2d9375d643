package sharedcache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secret := write("secret", strings.Repeat("s", 32)+"\n")
	short := write("short", "too-short\n")
	empty := write("empty", "\n")
	const password = "hunter2-do-not-print"
	pass := write("pass", password)
	ok := Config{Address: "127.0.0.1:6379", FleetSecretFile: secret, PasswordFile: pass}

	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for no error
	}{
		{"minimal", func(*Config) {}, ""},
		{"unix socket", func(c *Config) { c.Address = "unix:/run/redis/redis.sock" }, ""},
		{"unix path", func(c *Config) { c.Address = "/run/redis/redis.sock" }, ""},
		{"tls", func(c *Config) { c.TLS = TLSConfig{Enabled: true} }, ""},
		{"no address", func(c *Config) { c.Address = "" }, "address: missing"},
		{"no fleet secret", func(c *Config) { c.FleetSecretFile = "" }, "fleet_secret_file: missing"},
		{"short fleet secret", func(c *Config) { c.FleetSecretFile = short }, "want at least 32"},
		{"missing fleet secret", func(c *Config) { c.FleetSecretFile = filepath.Join(dir, "nope") }, "no such file"},
		{"empty password file", func(c *Config) { c.PasswordFile = empty }, "is empty"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout: -1s is negative"},
		{"negative db", func(c *Config) { c.DB = -1 }, "db: -1"},
		{"tls on a socket", func(c *Config) { c.Address = "unix:/x.sock"; c.TLS.Enabled = true }, "unix socket"},
		{"tls files without tls", func(c *Config) { c.TLS.CAFile = "/ca.pem" }, "not enabled"},
		{"cert without key", func(c *Config) { c.TLS = TLSConfig{Enabled: true, CertFile: "/c.pem"} }, "go together"},
		{"bad ca", func(c *Config) { c.TLS = TLSConfig{Enabled: true, CAFile: secret} }, "no PEM certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tc.edit(&cfg)
			c, err := New(cfg, nil)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), strings.Repeat("s", 32)) {
				t.Fatalf("error holds a secret: %v", err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(strings.Repeat("s", 40)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Config{Address: "redis:6379", FleetSecretFile: p}.settings()
	if err != nil {
		t.Fatal(err)
	}
	if s.timeout != DefaultTimeout || s.dial != DefaultDialTimeout || s.threshold != DefaultBreakerThreshold ||
		s.interval != DefaultBreakerInterval || s.maxIntvl != DefaultBreakerMaxInterval ||
		s.prefix != DefaultKeyPrefix || s.maxTTL != DefaultMaxTTL || s.network != "tcp" {
		t.Fatalf("defaults %+v", s)
	}
	s, err = Config{Address: "redis.internal:6380", FleetSecretFile: p, TLS: TLSConfig{Enabled: true}}.settings()
	if err != nil || s.tls.ServerName != "redis.internal" {
		t.Fatalf("server name from the address: %v %v", s, err)
	}
}
