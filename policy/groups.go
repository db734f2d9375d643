package policy

import (
	"context"
	"fmt"
	"strings"

	"github.com/restguard/restguard/authz"
)

// Groups is a post-authentication policy on the identity's groups. Group
// names are compared literally: exact, case-sensitive, no trimming, no
// prefix and no pattern ("jira.api-users" matches only itself; security
// catalogue E2). An identity with no groups claim has no groups: missing
// groups never mean "no restriction".
//
// It denies with 403 group_missing when there is no identity, when AnyOf is
// set and the identity holds none of its groups, or when AllOf is set and
// the identity lacks one of its groups. The detail gives counts only,
// never group names.
type Groups struct {
	anyOf, allOf map[string]struct{}
	dryRun       bool
}

// NewGroups returns a Groups policy. With both lists empty it only
// requires an identity. An empty group name in a list can never be
// satisfied. With dryRun, denials are reported but not enforced.
func NewGroups(anyOf, allOf []string, dryRun bool) authz.Policy {
	return &Groups{anyOf: set(anyOf), allOf: set(allOf), dryRun: dryRun}
}

// Evaluate implements authz.Policy.
func (p *Groups) Evaluate(_ context.Context, in *authz.Input) authz.Decision {
	if in == nil || in.Identity == nil {
		return p.deny("no identity")
	}
	anyHit := false
	all := make(map[string]struct{}, len(p.allOf))
	for _, g := range in.Identity.Groups {
		if g == "" {
			continue
		}
		if _, ok := p.anyOf[g]; ok {
			anyHit = true
		}
		if _, ok := p.allOf[g]; ok {
			all[g] = struct{}{}
		}
	}
	if len(p.anyOf) > 0 && !anyHit {
		return p.deny(fmt.Sprintf("none of %d accepted groups", len(p.anyOf)))
	}
	if len(all) < len(p.allOf) {
		return p.deny(fmt.Sprintf("missing %d of %d required groups", len(p.allOf)-len(all), len(p.allOf)))
	}
	return authz.Pass()
}

func (p *Groups) deny(detail string) authz.Decision {
	d := authz.Deny(authz.Forbidden, authz.ReasonGroupMissing, detail)
	d.DryRun = p.dryRun
	return d
}

// Users is a post-authentication policy on Identity.Username. Names are
// compared the way Jira, Confluence, Bitbucket and Bamboo resolve them:
// folded with authz.FoldName (Java's English-locale lower-casing) on both
// sides, so "Former-Admin" is on a deny list that names "former-admin"
// (seams item 14), while "former-admİn" (U+0130), which the products fold
// to another name, is not. A deny list also matches names that differ
// only in final and medial sigma (ς, σ), so that a word-boundary detail of
// the JVM's folding can make a deny list stricter but never weaker.
//
// It denies with 403 user_denied when there is no identity or no username,
// when the user is on the deny list, or when an allow list is set and the
// user is not on it. The detail never names the user.
type Users struct {
	allow, deny map[string]struct{}
	dryRun      bool
}

// NewUsers returns a Users policy. With dryRun, denials are reported but
// not enforced.
func NewUsers(allow, deny []string, dryRun bool) authz.Policy {
	return &Users{allow: keySet(allow, authz.FoldName), deny: keySet(deny, denyKey), dryRun: dryRun}
}

// denyKey folds a name for the deny list: the product's folding, with the
// final sigma merged into the medial one.
func denyKey(name string) string {
	return strings.ReplaceAll(authz.FoldName(name), "ς", "σ")
}

// Evaluate implements authz.Policy.
func (p *Users) Evaluate(_ context.Context, in *authz.Input) authz.Decision {
	if in == nil || in.Identity == nil || in.Identity.Username == "" {
		return p.denial("no identity")
	}
	u := in.Identity.Username
	if len(p.deny) > 0 {
		if _, ok := p.deny[denyKey(u)]; ok {
			return p.denial("user on the deny list")
		}
	}
	if len(p.allow) > 0 {
		if _, ok := p.allow[authz.FoldName(u)]; !ok {
			return p.denial("user not on the allow list")
		}
	}
	return authz.Pass()
}

func (p *Users) denial(detail string) authz.Decision {
	d := authz.Deny(authz.Forbidden, authz.ReasonUserDenied, detail)
	d.DryRun = p.dryRun
	return d
}

func set(list []string) map[string]struct{} {
	return keySet(list, func(s string) string { return s })
}

func keySet(list []string, key func(string) string) map[string]struct{} {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(list))
	for _, s := range list {
		m[key(s)] = struct{}{}
	}
	return m
}
