package policy

import (
	"context"
	"net/netip"
	"testing"

	"github.com/restguard/restguard/authz"
)

func TestIPAllow(t *testing.T) {
	t.Parallel()
	p := NewIPAllow(prefixes("10.0.0.0/8", "2001:db8::/32"), false)
	tests := []struct {
		ip   string // "" for the zero address
		deny bool
	}{
		// F7: edges.
		{"10.0.0.0", false},
		{"10.255.255.255", false},
		{"9.255.255.255", true},
		{"11.0.0.0", true},
		{"2001:db8:ffff:ffff::1", false},
		{"2001:db9::", true},
		// F1.
		{"203.0.113.7", true},
		// F6: IPv6 forms.
		{"::ffff:10.1.2.3", false},
		{"::ffff:a01:203", false},
		{"::ffff:203.0.113.7", true},
		{"2001:DB8::1", false},
		{"2001:db8::1%eth0", true},
		{"fe80::1%eth0", true},
		{"::1", true},
		{"::", true},
		{"64:ff9b::a01:203", true},
		// F8: unknown client.
		{"", true},
	}
	for _, tc := range tests {
		t.Run(tc.ip, func(t *testing.T) {
			t.Parallel()
			in := &authz.Input{}
			if tc.ip != "" {
				in.ClientIP = netip.MustParseAddr(tc.ip)
			}
			d := p.Evaluate(context.Background(), in)
			if tc.deny {
				if d.Verdict != authz.Forbidden || d.Reason != authz.ReasonIPDenied || d.DryRun {
					t.Errorf("Evaluate(%s) = %s %q dry=%v, want 403 ip_denied", tc.ip, d.Verdict, d.Reason, d.DryRun)
				}
			} else if d.Verdict != authz.Continue {
				t.Errorf("Evaluate(%s) = %s %q, want continue", tc.ip, d.Verdict, d.Reason)
			}
		})
	}
}

func TestIPAllowPrefixForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		prefix []netip.Prefix
		ip     string
		allow  bool
	}{
		{"host bits masked", prefixes("10.0.0.1/8"), "10.9.9.9", true},
		{"IPv6 any does not cover IPv4", prefixes("::/0"), "10.1.2.3", false},
		{"IPv6 any covers IPv6", prefixes("::/0"), "2001:db8::1", true},
		{"IPv4 any", prefixes("0.0.0.0/0"), "203.0.113.7", true},
		{"IPv4 any does not cover IPv6", prefixes("0.0.0.0/0"), "2001:db8::1", false},
		{"mapped prefix converted", prefixes("::ffff:10.0.0.0/104"), "10.1.2.3", true},
		{"invalid prefix dropped", []netip.Prefix{{}}, "10.1.2.3", false},
		{"no prefixes deny all", nil, "10.1.2.3", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := NewIPAllow(tc.prefix, false).Evaluate(context.Background(), &authz.Input{ClientIP: netip.MustParseAddr(tc.ip)})
			if got := d.Verdict == authz.Continue; got != tc.allow {
				t.Errorf("allowed = %v, want %v (%s %q)", got, tc.allow, d.Verdict, d.Reason)
			}
		})
	}
}

func TestIPAllowDryRun(t *testing.T) {
	t.Parallel()
	p := NewIPAllow(prefixes("10.0.0.0/8"), true)
	d := p.Evaluate(context.Background(), &authz.Input{ClientIP: netip.MustParseAddr("203.0.113.7")})
	if d.Verdict != authz.Forbidden || d.Reason != authz.ReasonIPDenied || !d.DryRun {
		t.Errorf("dry run = %s %q dry=%v, want 403 ip_denied dry", d.Verdict, d.Reason, d.DryRun)
	}
	if d := p.Evaluate(context.Background(), nil); d.Verdict != authz.Forbidden || !d.DryRun {
		t.Errorf("nil input = %s dry=%v, want 403 dry", d.Verdict, d.DryRun)
	}
	if d := p.Evaluate(context.Background(), &authz.Input{ClientIP: netip.MustParseAddr("10.1.1.1")}); d.Verdict != authz.Continue || d.DryRun {
		t.Errorf("allowed address = %s dry=%v, want continue", d.Verdict, d.DryRun)
	}
}
