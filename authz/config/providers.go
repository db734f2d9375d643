package config

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/providers"
)

// Provider is one identity provider.
type Provider struct {
	Name           string              `yaml:"name"`
	Kind           string              `yaml:"kind"`
	Issuer         string              `yaml:"issuer"`
	DiscoveryURL   string              `yaml:"discovery_url"`
	JWKSURI        string              `yaml:"jwks_uri"`
	Algorithms     []string            `yaml:"algorithms"`
	Audiences      []string            `yaml:"audiences"`
	ClientIDClaim  string              `yaml:"client_id_claim"`
	ClientIDs      []string            `yaml:"client_ids"`
	StrictTyp      bool                `yaml:"strict_typ"`
	RequiredClaims map[string][]string `yaml:"required_claims"`
	Leeway         Duration            `yaml:"leeway"`
	Username       UsernameMapping     `yaml:"username"`
	Groups         ClaimRef            `yaml:"groups"`
	Email          ClaimRef            `yaml:"email"`
	Cache          Cache               `yaml:"cache"`
	JWKS           JWKS                `yaml:"jwks"`
}

// UsernameMapping picks the username from claims.
type UsernameMapping struct {
	Claims    []string `yaml:"claims"`
	Lowercase bool     `yaml:"lowercase"`
}

// ClaimRef names a (dotted) claim path.
type ClaimRef struct {
	Claim string `yaml:"claim"`
}

// Cache sizes a verified-token cache.
type Cache struct {
	Size *int `yaml:"size"`
}

// JWKS tunes key-set fetching.
type JWKS struct {
	RefreshInterval    Duration `yaml:"refresh_interval"`
	MinRefreshInterval Duration `yaml:"min_refresh_interval"`
	MaxStale           Duration `yaml:"max_stale"`
	FetchTimeout       Duration `yaml:"fetch_timeout"`
}

// Lifecycle is the background work of a provider that needs warming
// (JWKS fetching). Providers without it are ready at once.
type Lifecycle interface {
	Start(ctx context.Context)
	Refresh(ctx context.Context) error
	Ready() bool
}

// BuiltProvider is one compiled provider.
type BuiltProvider struct {
	Name      string
	Kind      string // "jwt"
	Summary   string // one line for `restguard validate`
	Validator authz.Validator
	Life      Lifecycle // nil when the provider needs no warming
}

type builtProviders struct {
	list   []*BuiltProvider
	byName map[string]*BuiltProvider
}

// buildProviders compiles every provider; errors go to p with positions.
func buildProviders(c *Config, o BuildOptions, logger *slog.Logger, p *problems) builtProviders {
	out := builtProviders{byName: map[string]*BuiltProvider{}}
	for i, pc := range c.Providers {
		bp, err := buildProvider(pc, o, logger.With("component", "provider", "provider", pc.Name))
		if err != nil {
			p.add(fmt.Sprintf("providers[%d]", i), "%v", err)
			continue
		}
		out.list = append(out.list, bp)
		out.byName[pc.Name] = bp
	}
	return out
}

func buildProvider(pc Provider, o BuildOptions, logger *slog.Logger) (*BuiltProvider, error) {
	jc := providers.JWTConfig{
		Name:               pc.Name,
		Issuer:             pc.Issuer,
		DiscoveryURL:       pc.DiscoveryURL,
		JWKSURI:            pc.JWKSURI,
		Algorithms:         pc.Algorithms,
		Audiences:          pc.Audiences,
		ClientIDClaim:      pc.ClientIDClaim,
		ClientIDs:          pc.ClientIDs,
		StrictTyp:          pc.StrictTyp,
		RequiredClaims:     pc.RequiredClaims,
		Leeway:             pc.Leeway.D(),
		UsernameClaims:     pc.Username.Claims,
		LowercaseUsername:  pc.Username.Lowercase,
		GroupsClaim:        pc.Groups.Claim,
		EmailClaim:         pc.Email.Claim,
		RefreshInterval:    pc.JWKS.RefreshInterval.D(),
		MinRefreshInterval: pc.JWKS.MinRefreshInterval.D(),
		MaxStale:           pc.JWKS.MaxStale.D(),
		FetchTimeout:       pc.JWKS.FetchTimeout.D(),
		HTTPClient:         o.HTTPClient,
		Logger:             logger,
		Now:                o.Now,
	}
	if pc.Cache.Size != nil {
		jc.CacheSize = *pc.Cache.Size
		if jc.CacheSize == 0 {
			jc.CacheSize = -1 // an explicit 0 disables the cache
		}
	}
	j, err := providers.NewJWT(jc)
	if err != nil {
		return nil, err
	}
	return &BuiltProvider{Name: pc.Name, Kind: "jwt", Summary: "jwt  issuer " + pc.Issuer, Validator: j, Life: j}, nil
}
