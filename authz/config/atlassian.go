package config

import (
	"log/slog"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/policy"
)

// Atlassian configures the Atlassian product presets (issue 4).
type Atlassian struct{}

// productParts is what the Atlassian presets add to a build.
type productParts struct {
	// routes are appended after the user's rules (which therefore override
	// them), with one summary each.
	routes    []policy.RouteSpec
	summaries []RuleSummary
	// decorate adds product policies (password channels, native tokens,
	// identity mappers) to every compiled rule, user or preset.
	decorate func(rule *authz.Rule)
	// upstream adjusts the upstream hand-off (session cookies, marker).
	upstream func(*authz.Upstream)
}

func buildProducts(c *Config, o BuildOptions, logger *slog.Logger, provs builtProviders, p *problems) productParts {
	return productParts{}
}
