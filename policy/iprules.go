package policy

import (
	"context"
	"net/netip"

	"github.com/restguard/restguard/authz"
)

// IPAllow is a pre-authentication policy that admits only client addresses
// inside its prefixes. The client address is Input.ClientIP, chosen by the
// engine's ClientIPResolver (see ClientIP): by default Envoy's peer, not
// X-Forwarded-For.
//
// It denies with 403 ip_denied when the client address is unknown (zero),
// carries an IPv6 zone, or lies in no prefix. Addresses are unmapped before
// matching, so ::ffff:10.1.2.3 matches 10.0.0.0/8 and an IPv6 prefix such
// as ::/0 never covers an IPv4 client (security catalogue F6, F7).
// Loopback, unspecified and NAT64 addresses get no special treatment: they
// pass only when a prefix contains them.
type IPAllow struct {
	prefixes []netip.Prefix
	dryRun   bool
}

// NewIPAllow returns an IPAllow. Prefixes are masked ("10.0.0.1/8" →
// "10.0.0.0/8"), IPv4-mapped prefixes are converted to IPv4 and invalid
// prefixes are dropped (the config package rejects them at load). With
// dryRun, denials are reported (Decision.DryRun) but not enforced.
func NewIPAllow(prefixes []netip.Prefix, dryRun bool) authz.Policy {
	return &IPAllow{prefixes: canonicalPrefixes(prefixes), dryRun: dryRun}
}

// Evaluate implements authz.Policy.
func (p *IPAllow) Evaluate(_ context.Context, in *authz.Input) authz.Decision {
	if in == nil || !in.ClientIP.IsValid() {
		return p.deny("client address unknown")
	}
	ip := in.ClientIP
	if ip.Zone() != "" {
		return p.deny("client address has a zone")
	}
	if inPrefixes(p.prefixes, ip.Unmap()) {
		return authz.Pass()
	}
	return p.deny("client address outside the allowed networks")
}

func (p *IPAllow) deny(detail string) authz.Decision {
	d := authz.Deny(authz.Forbidden, authz.ReasonIPDenied, detail)
	d.DryRun = p.dryRun
	return d
}
