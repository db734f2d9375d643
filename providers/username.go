package providers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/restguard/restguard/authz"
)

// UsernameMapperConfig configures a UsernameMapper.
type UsernameMapperConfig struct {
	StripDomain bool
	// Lowercase lower-cases A-Z and refuses names with a non-ASCII letter
	// that lower-casing would change (authz.LowerName).
	Lowercase bool
	// Rename replaces a whole username after the other transforms
	// ("old.name" → "new.name"). Keys match the way the product resolves
	// names (authz.FoldName); values are used as written.
	Rename map[string]string
}

// UsernameMapper transforms the username of identities from an identity
// provider into the product's login name (atlassian.md §3): strip an e-mail
// domain or UPN suffix ("alice@corp.example" → "alice") and a down-level
// domain ("CORP\alice" → "alice"), lower-case, then a static map. Identities
// the product itself vouched for (Via "atlassian") are left alone. It is an
// authz.IdentityMapper, safe for concurrent use.
type UsernameMapper struct {
	cfg    UsernameMapperConfig
	rename map[string]string // by authz.FoldName of the old name
}

// NewUsernameMapper checks cfg. Two map keys the product resolves to one
// user ("Old.Name" and "old.name") are an error: which one wins would be
// an accident of map order.
func NewUsernameMapper(cfg UsernameMapperConfig) (*UsernameMapper, error) {
	m := &UsernameMapper{cfg: cfg, rename: make(map[string]string, len(cfg.Rename))}
	keys := make([]string, 0, len(cfg.Rename))
	for k := range cfg.Rename {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	first := map[string]string{}
	var errs []error
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
	u := id.Username
	if m.cfg.StripDomain {
		if i := strings.LastIndexByte(u, '@'); i >= 0 {
			u = u[:i]
		}
		if i := strings.LastIndexByte(u, '\\'); i >= 0 {
			u = u[i+1:]
		}
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
	if u == id.Username {
		return id, nil
	}
	out := *id
	out.Username = u
	return &out, nil
}
