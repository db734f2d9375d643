package providers

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/restguard/restguard/authz"
)

// UsernameMapperConfig configures a UsernameMapper.
type UsernameMapperConfig struct {
	// StripDomains are the e-mail or UPN domains whose users are the
	// product's local users: "alice@corp.example.com" becomes "alice" when
	// corp.example.com is listed. Domains compare ASCII-case-insensitively
	// and whole (a subdomain is another domain). With StripDomains set, a
	// name with another domain is refused (403 username_rejected) unless
	// KeepOtherDomains: partner.example's admin is not the local admin.
	StripDomains []string
	// StripRealms are the down-level (NetBIOS) domains whose users are
	// local: "CORP\alice" becomes "alice" when CORP is listed (ASCII case
	// ignored). With StripRealms set, a name with another realm is refused
	// unless KeepOtherDomains.
	StripRealms []string
	// KeepOtherDomains passes a name with a domain or realm that is not
	// listed to the product whole ("admin@partner.example"), as a user of
	// its own, instead of refusing it.
	KeepOtherDomains bool
	// Lowercase lower-cases A-Z and refuses names with a non-ASCII letter
	// that lower-casing would change (authz.LowerName).
	Lowercase bool
	// Rename replaces a whole username after the other transforms
	// ("old.name" → "new.name"). Keys match the way the product resolves
	// names (authz.FoldName); values are used as written.
	Rename map[string]string
	// Pattern, when set, must match the whole final name (RE2,
	// CompileUsernamePattern).
	Pattern string
	// ProductCheck refuses final names no product login name needs and
	// that an injection or a path trick does (the Atlassian product
	// presets set it): "${" and "%{" (lookup and template syntax), "/" and
	// "\\" (path and realm separators), control characters and leading or
	// trailing white space.
	ProductCheck bool
}

// UsernameMapper transforms the username of identities from an identity
// provider into the product's login name (docs/atlassian.md, "Username
// mapping"): strip a listed down-level realm ("CORP\alice" → "alice") and
// a listed e-mail or UPN domain ("alice@corp.example" → "alice"), lower-case
// A-Z, rename with a static map, then check the final name (the product
// check, the pattern). Identities the product itself vouched for (Via
// "atlassian") are left alone. It is an authz.IdentityMapper, safe for
// concurrent use.
type UsernameMapper struct {
	cfg     UsernameMapperConfig
	pattern *regexp.Regexp
	domains map[string]bool   // ASCII lower case
	realms  map[string]bool   // ASCII lower case
	rename  map[string]string // by authz.FoldName of the old name
}

// NewUsernameMapper checks cfg. Two map keys the product resolves to one
// user ("Old.Name" and "old.name") are an error: which one wins would be
// an accident of map order.
func NewUsernameMapper(cfg UsernameMapperConfig) (*UsernameMapper, error) {
	m := &UsernameMapper{cfg: cfg, domains: map[string]bool{}, realms: map[string]bool{}, rename: make(map[string]string, len(cfg.Rename))}
	var errs []error
	for i, d := range cfg.StripDomains {
		if !domainRE.MatchString(d) {
			errs = append(errs, fmt.Errorf("strip_domains[%d]: %q is not a domain name (list each domain exactly, without @ or *; subdomains are not matched)", i, d))
		}
		m.domains[asciiKey(d)] = true
	}
	for i, r := range cfg.StripRealms {
		if !realmRE.MatchString(r) {
			errs = append(errs, fmt.Errorf("strip_realms[%d]: %q is not a down-level domain name such as CORP", i, r))
		}
		m.realms[asciiKey(r)] = true
	}
	if cfg.KeepOtherDomains && len(cfg.StripDomains)+len(cfg.StripRealms) == 0 {
		errs = append(errs, errors.New("other_domains: keep needs strip_domains or strip_realms"))
	}
	var err error
	if m.pattern, err = CompileUsernamePattern(cfg.Pattern); err != nil {
		errs = append(errs, fmt.Errorf("pattern: %v", strings.TrimPrefix(err.Error(), "username pattern: ")))
	}
	keys := make([]string, 0, len(cfg.Rename))
	for k := range cfg.Rename {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	first := map[string]string{}
	for _, k := range keys {
		v := cfg.Rename[k]
		if k == "" || v == "" {
			errs = append(errs, fmt.Errorf("map: %q → %q: neither name may be empty", k, v))
			continue
		}
		f := authz.FoldName(k)
		if prev, dup := first[f]; dup {
			errs = append(errs, fmt.Errorf("map: %q and %q are the same user to the product (names compare case-insensitively); keep one", prev, k))
			continue
		}
		first[f] = k
		m.rename[f] = v
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// Map implements authz.IdentityMapper.
func (m *UsernameMapper) Map(_ context.Context, id *authz.Identity) (*authz.Identity, error) {
	if id == nil {
		return nil, authz.InvalidToken(authz.ReasonUsernameMissing, errors.New("username: no identity"))
	}
	if id.Via == "atlassian" {
		return id, nil
	}
	u, err := m.strip(id.Username)
	if err != nil {
		return nil, err
	}
	if m.cfg.Lowercase {
		lower, ok := authz.LowerName(u)
		if !ok {
			return nil, authz.ForbiddenError(authz.ReasonUsernameRejected, errors.New("username: a non-ASCII letter that lower-casing would change"))
		}
		u = lower
	}
	if len(m.rename) > 0 {
		if v, ok := m.rename[authz.FoldName(u)]; ok {
			u = v
		}
	}
	if u == "" {
		return nil, authz.InvalidToken(authz.ReasonUsernameMissing, errors.New("username: empty after mapping"))
	}
	if err := m.check(u); err != nil {
		return nil, err
	}
	if u == id.Username {
		return id, nil
	}
	out := *id
	out.Username = u
	return &out, nil
}

var (
	domainRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
	realmRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
)

// strip removes a listed realm prefix and a listed domain suffix (seams
// item 10). Without lists, names pass unchanged.
func (m *UsernameMapper) strip(u string) (string, error) {
	other := func(what string) (string, error) {
		if m.cfg.KeepOtherDomains {
			return u, nil
		}
		return "", authz.ForbiddenError(authz.ReasonUsernameRejected, fmt.Errorf("username: %s that is not configured to be stripped", what))
	}
	name := u
	if len(m.realms) > 0 {
		if realm, rest, ok := strings.Cut(name, `\`); ok {
			if !m.realms[asciiKey(realm)] {
				return other("a realm")
			}
			if rest == "" || strings.ContainsRune(rest, '\\') {
				return "", authz.ForbiddenError(authz.ReasonUsernameRejected, errors.New("username: not one name after the realm"))
			}
			name = rest
		}
	}
	if len(m.domains) > 0 {
		if i := strings.LastIndexByte(name, '@'); i >= 0 {
			if !m.domains[asciiKey(name[i+1:])] {
				return other("a domain")
			}
			local := name[:i]
			if local == "" || strings.ContainsRune(local, '@') {
				return "", authz.ForbiddenError(authz.ReasonUsernameRejected, errors.New("username: not one name before the domain"))
			}
			name = local
		}
	}
	return name, nil
}

// asciiKey lower-cases A-Z for comparing domains and realms; a name with a
// letter outside ASCII that folding would change (the Kelvin sign in
// "\u212Aorp") never equals a configured name.
func asciiKey(s string) string {
	if k, ok := authz.LowerName(s); ok {
		return k
	}
	return "\x00" + s
}

// check applies the product check and the pattern to a final name (seams
// item 13). A name the Engine could not hand upstream anyway is
// username_missing, as on every other route.
func (m *UsernameMapper) check(u string) error {
	if !authz.UsableName(u) {
		return authz.InvalidToken(authz.ReasonUsernameMissing, errors.New("username: not usable as a header value"))
	}
	if m.cfg.ProductCheck {
		if why := unsafeProductName(u); why != "" {
			return authz.ForbiddenError(authz.ReasonUsernameRejected, errors.New("username: "+why))
		}
	}
	if m.pattern != nil && !m.pattern.MatchString(u) {
		return authz.ForbiddenError(authz.ReasonUsernameRejected, errors.New("username: does not match the username pattern"))
	}
	return nil
}

// unsafeProductName says why u is refused by the product check, or "".
func unsafeProductName(u string) string {
	switch {
	case strings.Contains(u, "${") || strings.Contains(u, "%{"):
		return "holds ${ or %{"
	case strings.ContainsAny(u, `/\`):
		return "holds a path or realm separator"
	case strings.IndexFunc(u, unicode.IsControl) >= 0:
		return "holds a control character"
	}
	first, _ := utf8.DecodeRuneInString(u)
	last, _ := utf8.DecodeLastRuneInString(u)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return "begins or ends with white space"
	}
	return ""
}
