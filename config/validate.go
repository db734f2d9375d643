package config

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	prefixRE = regexp.MustCompile(`^/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]$`)
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	headerRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$")
	methodRE = regexp.MustCompile(`^[A-Z]{1,20}$`)
)

// problems collects errors with their positions.
type problems struct {
	file string
	root *yaml.Node
	errs []error
}

func (p *problems) add(path string, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: locate(p.root, path), Path: path, Err: fmt.Errorf(format, args...)})
}

// validateForwardAuth: the forward-auth listener reads the original
// request the way its proxy sends it, so the proxy is named, never guessed
// from the headers a request carries (a client can add any of them).
func validateForwardAuth(p *problems, c *Config) {
	fa := c.ForwardAuth
	styles := ForwardAuthStyles()
	list := strings.Join(styles[:len(styles)-1], ", ") + " or " + styles[len(styles)-1]
	switch {
	case c.Listen.HTTP != "" && fa.Style == "":
		p.add("listen.http", "set forward_auth.style to the proxy in front of this listener: %s (docs/deploy.md says what each reads; restguard never guesses it from the request)", list)
	case c.Listen.HTTP == "" && (fa.Style != "" || fa.PathPrefix != ""):
		p.add("forward_auth", "the forward-auth listener is off: set listen.http, or remove forward_auth")
	case fa.Style != "" && !slices.Contains(styles, fa.Style):
		p.add("forward_auth.style", "unknown style %q (%s; see docs/deploy.md)%s", fa.Style, list, didYouMean(fa.Style, styles...))
	}
	if fa.PathPrefix != "" && !prefixRE.MatchString(fa.PathPrefix) {
		p.add("forward_auth.path_prefix", "path prefix %q must start with / and not end with /, with only letters, digits, -._~ and / (default %s)", fa.PathPrefix, DefaultForwardAuthPathPrefix)
	}
}

// validateServer checks the connection, drain and pprof settings.
func validateServer(p *problems, c *Config) {
	if d := c.GRPC.MaxConnectionAge; d != nil && d.D() != 0 && d.D() < time.Second {
		p.add("grpc.max_connection_age", "must be at least 1s, or 0s to keep connections open (default %s)", DefaultMaxConnectionAge)
	}
	if d := c.GRPC.MaxConnectionAgeGrace; d != nil && d.D() < time.Second {
		p.add("grpc.max_connection_age_grace", "must be at least 1s: checks in flight on an old connection need the time to finish (default %s)", DefaultMaxConnectionAgeGrace)
	}
	if c.Admin.Pprof && !c.Admin.PprofNonLoopback && !loopbackListen(or(c.Listen.Admin, DefaultAdminListen)) {
		p.add("admin.pprof", "listen.admin %q is not a loopback address, and profiles show memory and code: set admin.pprof_non_loopback: true if the admin port is private (a NetworkPolicy), or listen on 127.0.0.1", c.Listen.Admin)
	}
	if c.Admin.PprofNonLoopback && !c.Admin.Pprof {
		p.add("admin.pprof_non_loopback", "has no effect without admin.pprof: true")
	}
}

// loopbackListen reports whether a listen address binds only loopback:
// "localhost" or a loopback IP. An empty host binds every interface.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// validate checks what strict decoding cannot: values, references and
// combinations. Compile-level checks (globs, provider settings) happen in
// Build, which reports positions the same way. The checks run section by
// section in file order, so errors come out in the order of the keys.
func validate(file string, c *Config, root *yaml.Node) []error {
	p := &problems{file: file, root: root}
	validateListen(p, c)
	validateForwardAuth(p, c)
	validateServer(p, c)
	if strings.ContainsAny(c.Realm, "\"\\\r\n\x00") {
		p.add("realm", "realm must not contain quotes, backslashes or control characters")
	}
	validateClientIP(p, c)
	names := validateProviders(p, c)
	validateRules(p, c, names)
	switch c.Default.Action {
	case "", "pass", "deny":
	default:
		p.add("default.action", "unknown default action %q (pass or deny)%s", c.Default.Action, didYouMean(c.Default.Action, "pass", "deny"))
	}
	validateUpstream(p, c)
	validateOperations(p, c)
	return p.errs
}

// validateListen checks that each listener address is host:port with a
// port in range.
func validateListen(p *problems, c *Config) {
	for _, l := range []struct{ path, addr string }{{"listen.grpc", c.Listen.GRPC}, {"listen.http", c.Listen.HTTP}, {"listen.admin", c.Listen.Admin}} {
		if l.addr == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(l.addr); err != nil {
			p.add(l.path, "invalid listen address %q (want host:port)", l.addr)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			p.add(l.path, "invalid port in %q", l.addr)
		}
	}
}

// validateClientIP checks the trusted proxies (CIDRs) and the hop count.
func validateClientIP(p *problems, c *Config) {
	for i, s := range c.ClientIP.TrustedProxies {
		checkCIDR(p, fmt.Sprintf("client_ip.trusted_proxies[%d]", i), s)
	}
	if h := c.ClientIP.TrustedHops; h < 0 || h > MaxTrustedHops {
		p.add("client_ip.trusted_hops", "must be between 0 and %d", MaxTrustedHops)
	}
}

// validateProviders checks provider names (present, well formed, unique)
// and kinds; the settings of each kind are checked by buildProvider. It
// returns the set of names the rules may refer to.
func validateProviders(p *problems, c *Config) map[string]bool {
	names := map[string]bool{}
	for i, pr := range c.Providers {
		path := fmt.Sprintf("providers[%d]", i)
		checkName(p, path, "provider", pr.Name, names[pr.Name])
		names[pr.Name] = true
		switch pr.Kind {
		case "", "jwt":
			// A preset fills the issuer; buildProvider checks the rest.
			if pr.Issuer == "" && pr.Preset == "" {
				p.add(path, "jwt provider needs an issuer (or a preset)")
			}
		case "introspection", "userinfo", "api_key", "discovery":
			// Checked by buildProvider, with positions.
		default:
			p.add(path+".kind", "unknown provider kind %q (supported: jwt, introspection, userinfo, api_key, discovery)%s", pr.Kind, didYouMean(pr.Kind, "jwt", "introspection", "userinfo", "api_key", "discovery"))
		}
	}
	return names
}

// checkName reports a missing, malformed or duplicate provider or rule
// name at path.
func checkName(p *problems, path, what, name string, taken bool) {
	switch {
	case name == "":
		p.add(path, "%s needs a name", what)
	case !nameRE.MatchString(name):
		p.add(path+".name", "invalid %s name %q (lower-case letters, digits, '-' and '_')", what, name)
	case taken:
		p.add(path+".name", "duplicate %s name %q", what, name)
	}
}

// validateRules checks every rule: its name (unique, and never the
// reserved "default"), then validateRule.
func validateRules(p *problems, c *Config, providers map[string]bool) {
	rules := map[string]bool{}
	for i, r := range c.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		checkName(p, path, "rule", r.Name, rules[r.Name] || r.Name == "default")
		rules[r.Name] = true
		validateRule(p, path, r, providers)
	}
}

// validateRule checks that a rule's action fits what else it sets, that
// it names each known provider once, and its methods and CIDRs.
func validateRule(p *problems, path string, r Rule, providers map[string]bool) {
	action := r.Action
	if action == "" {
		action = DefaultAction
	}
	switch action {
	case "authenticate":
		if len(r.Authenticate) == 0 {
			p.add(path, "rule with action authenticate needs at least one provider in authenticate")
		}
	case "pass", "deny":
		if len(r.Authenticate) > 0 {
			p.add(path+".authenticate", "a rule with action %s authenticates nobody; remove authenticate", action)
		}
		if len(r.Groups.AnyOf)+len(r.Groups.AllOf)+len(r.Users.Allow)+len(r.Users.Deny) > 0 {
			p.add(path, "group and user rules need action authenticate")
		}
	default:
		p.add(path+".action", "unknown action %q (authenticate, pass or deny)%s", r.Action, didYouMean(r.Action, "authenticate", "pass", "deny"))
	}
	seen := map[string]bool{}
	for j, name := range r.Authenticate {
		jp := fmt.Sprintf("%s.authenticate[%d]", path, j)
		if !providers[name] {
			p.add(jp, "unknown provider %q%s", name, didYouMean(name, sortedKeys(providers)...))
		} else if seen[name] {
			p.add(jp, "provider %q listed twice", name)
		}
		seen[name] = true
	}
	for j, m := range r.Methods {
		if !methodRE.MatchString(m) {
			p.add(fmt.Sprintf("%s.methods[%d]", path, j), "invalid method %q (upper-case, e.g. GET)", m)
		}
	}
	for j, s := range r.IP.Allow {
		checkCIDR(p, fmt.Sprintf("%s.ip.allow[%d]", path, j), s)
	}
}

// validateUpstream checks the header and cookie names the upstream
// settings set or remove.
func validateUpstream(p *problems, c *Config) {
	for _, h := range []struct{ path, v string }{
		{"upstream.user_header", c.Upstream.UserHeader},
		{"upstream.groups_header", c.Upstream.GroupsHeader},
		{"upstream.email_header", c.Upstream.EmailHeader},
	} {
		if h.v != "" && !headerRE.MatchString(h.v) {
			p.add(h.path, "invalid header name %q", h.v)
		}
	}
	for i, h := range c.Upstream.RemoveHeaders {
		if !headerRE.MatchString(h) {
			p.add(fmt.Sprintf("upstream.remove_headers[%d]", i), "invalid header name %q", h)
		}
	}
	for i, name := range c.Upstream.RemoveCookies.Names {
		if !headerRE.MatchString(name) {
			p.add(fmt.Sprintf("upstream.remove_cookies[%d]", i), "invalid cookie name %q", name)
		}
	}
}

// validateOperations checks the process's own settings: log level, the
// allowed-decision sample, the reload poll interval and the log format
// (errors come out in this order).
func validateOperations(p *problems, c *Config) {
	switch c.Log.Level {
	case "", "debug", "info", "warn", "error":
	default:
		p.add("log.level", "unknown level %q (debug, info, warn, error)%s", c.Log.Level, didYouMean(c.Log.Level, "debug", "info", "warn", "error"))
	}
	if a := c.Log.AllowedSample; a != nil && (*a < 0 || *a > 1) {
		p.add("log.allowed_sample", "must be between 0 and 1")
	}
	if d := c.Reload.PollInterval.D(); d != 0 && d < time.Second {
		p.add("reload.poll_interval", "must be at least 1s")
	}
	switch c.Log.Format {
	case "", "json", "text":
	default:
		p.add("log.format", "unknown format %q (json or text)%s", c.Log.Format, didYouMean(c.Log.Format, "json", "text"))
	}
}

// checkCIDR accepts a prefix ("10.0.0.0/8") or a single address, and
// refuses host bits, leading zeros and hostnames (security catalogue F7).
func checkCIDR(p *problems, path, s string) {
	if _, err := ParseCIDR(s); err != nil {
		p.add(path, "%v", err)
	}
}

// ParseCIDR parses an allow-list entry: a CIDR or a single address (as /32
// or /128). Host bits must be zero.
func ParseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
	}
	if pfx.Masked() != pfx {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: host bits set (did you mean %s?)", s, pfx.Masked())
	}
	return pfx, nil
}
