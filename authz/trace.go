package authz

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Trace records what each phase of one check did, for `restguard explain`.
// It is filled only when a check's context carries one (WithTrace), so the
// normal request path pays a nil check.
type Trace struct {
	Steps []Step
}

// Step is one line of a trace. Nothing in it is a secret: tokens appear
// only as fingerprints.
type Step struct {
	Phase   string `json:"phase"`            // request, route, client_ip, credential, pre_auth, authenticate, identity, authorize, decision
	Name    string `json:"name,omitempty"`   // the rule, policy or provider concerned
	Outcome string `json:"outcome"`          // pass, deny, dry_run, ok, not_responsible, error, ...
	Detail  string `json:"detail,omitempty"` // human-readable facts
	Reason  Reason `json:"reason,omitempty"` // the reason, when the step decided or declined
}

type traceKey struct{}

// WithTrace returns a context that makes Engine.Check record into t.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

func traceFrom(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
}

func (t *Trace) add(s Step) {
	if t != nil {
		t.Steps = append(t.Steps, s)
	}
}

// policyName is the policy's type name without the package path.
func policyName(p Policy) string {
	if n, ok := p.(interface{ Name() string }); ok {
		return n.Name()
	}
	name := fmt.Sprintf("%T", p)
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	return strings.ToLower(name)
}

func authStep(provider string, id *Identity, err error) Step {
	s := Step{Phase: "authenticate", Name: provider}
	var re *ReasonError
	if errors.As(err, &re) {
		s.Reason = re.Reason
	}
	switch {
	case err == nil && id != nil:
		s.Outcome = "ok"
		cache := "cache miss"
		if id.CacheHit {
			cache = "cache hit"
		}
		s.Detail = strings.TrimSpace(fmt.Sprintf("via %s, %s %s", id.Via, cache, keyID(id.KeyID)))
	case errors.Is(err, ErrPassThrough):
		s.Outcome = "pass_through"
	case errors.Is(err, ErrNotResponsible):
		// Not an error: the token is another provider's kind or issuer.
		s.Outcome, s.Reason = "not_its_token", ""
		if re != nil && re.Err != nil {
			s.Detail = re.Err.Error()
		}
	case errors.Is(err, ErrUnavailable):
		s.Outcome = "unavailable"
		s.Detail = err.Error()
	default:
		s.Outcome = "refused"
		if err != nil {
			s.Detail = err.Error()
		}
	}
	return s
}

func keyID(kid string) string {
	if kid == "" {
		return ""
	}
	return "key " + kid
}

func describeIdentity(id *Identity, now time.Time) string {
	parts := []string{"username " + id.Username}
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+" "+v)
		}
	}
	add("subject", id.Subject)
	add("issuer", id.Issuer)
	add("client", id.ClientID)
	add("email", id.Email)
	parts = append(parts, fmt.Sprintf("groups [%s]", strings.Join(id.Groups, ", ")))
	if len(id.Scopes) > 0 {
		parts = append(parts, fmt.Sprintf("scopes [%s]", strings.Join(id.Scopes, " ")))
	}
	if !id.Expiry.IsZero() {
		parts = append(parts, "expires in "+id.Expiry.Sub(now).Round(time.Second).String())
	}
	return strings.Join(parts, ", ")
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	return a.String()
}
