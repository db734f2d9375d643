package providers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/restguard/restguard/authz"
)

// DiscoveryConfig configures a provider whose OpenID discovery document
// decides how tokens are validated (the "custom" preset): JWTs locally
// against its jwks_uri; opaque tokens with its introspection_endpoint when
// Introspection is given (client credentials configured), otherwise with
// its userinfo_endpoint when Userinfo is given (allow_any_client).
type DiscoveryConfig struct {
	JWT JWTConfig // Name, Issuer and the JWT settings; JWKSURI empty
	// Introspection and Userinfo are templates; their endpoint comes from
	// the discovery document. Nil: opaque tokens are not this provider's.
	Introspection *IntrospectionConfig
	Userinfo      *UserinfoConfig
}

// Discovery is the validator of a DiscoveryConfig. It implements
// authz.Validator and the provider lifecycle (Start, Refresh, Ready).
type Discovery struct {
	cfg DiscoveryConfig
	jwt *JWT
	// since is the number of discovery documents the key set had fetched
	// when this provider was built: a later one (the key set's startup
	// fetch) is this provider's too, an earlier one (a pooled key set's,
	// from before a reload) is read again.
	since  uint64
	opaque atomic.Pointer[opaqueChoice]
	mu     sync.Mutex // serialises discovery
}

type opaqueChoice struct {
	v    authz.Validator // nil: opaque tokens are not this provider's
	desc string
}

// NewDiscovery checks cfg. It does no I/O.
func NewDiscovery(cfg DiscoveryConfig) (*Discovery, error) {
	j, err := NewJWT(cfg.JWT)
	if err != nil {
		return nil, err
	}
	d := &Discovery{cfg: cfg, jwt: j, since: j.KeySet().discoveryGen()}
	d.cfg.JWT = j.cfg // with defaults
	// Check the templates now, with a placeholder endpoint, so that
	// configuration errors surface at load time.
	if t := cfg.Introspection; t != nil {
		probe := *t
		probe.Endpoint = "https://discovered.invalid/introspect"
		if _, err := NewIntrospection(probe); err != nil {
			return nil, err
		}
	}
	if t := cfg.Userinfo; t != nil {
		probe := *t
		probe.URL = "https://discovered.invalid/userinfo"
		if _, err := NewUserinfo(probe); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Validate sends JWTs to the JWKS validator and opaque tokens to the
// discovered remote validator.
func (d *Discovery) Validate(ctx context.Context, token string) (*authz.Identity, error) {
	if LooksLikeJWT(token) {
		return d.jwt.Validate(ctx, token)
	}
	oc := d.opaque.Load()
	if oc == nil {
		if d.cfg.Introspection == nil && d.cfg.Userinfo == nil {
			return nil, authz.NotResponsible(authz.ReasonTokenMalformed, errors.New("discovery: opaque tokens not configured"))
		}
		return nil, authz.UnavailableError(authz.ReasonIdPUnavailable, errors.New("discovery: document not loaded yet"))
	}
	if oc.v == nil {
		return nil, authz.NotResponsible(authz.ReasonTokenMalformed, errors.New("discovery: the provider offers no endpoint for opaque tokens"))
	}
	return oc.v.Validate(ctx, token)
}

// KeySet is the key set of the provider's JWTs.
func (d *Discovery) KeySet() *KeySet { return d.jwt.KeySet() }

// Refresh loads the key set (unless it is loaded: it may be shared with
// other providers, or only the discovery failed) and, once, the remote
// endpoints.
func (d *Discovery) Refresh(ctx context.Context) error {
	var err error
	if !d.jwt.Ready() {
		err = d.jwt.Refresh(ctx)
	}
	return errors.Join(err, d.discover(ctx))
}

// Start runs the JWKS refresh and retries discovery until it succeeds.
func (d *Discovery) Start(ctx context.Context) {
	d.jwt.Start(ctx)
	go func() {
		for d.opaque.Load() == nil {
			if d.discover(ctx) == nil {
				return
			}
			t := time.NewTimer(d.cfg.JWT.MinRefreshInterval)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
}

// Ready reports whether keys and the remote endpoints are loaded.
func (d *Discovery) Ready() bool {
	return d.jwt.Ready() && d.opaque.Load() != nil
}

// Discover loads the remote endpoints from the discovery document, once;
// Refresh does it too, with the key set.
func (d *Discovery) Discover(ctx context.Context) error { return d.discover(ctx) }

// Discovered reports whether the remote endpoints are loaded.
func (d *Discovery) Discovered() bool { return d.opaque.Load() != nil }

func (d *Discovery) discover(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.opaque.Load() != nil {
		return nil
	}
	md, err := d.jwt.KeySet().metadata(ctx, d.since)
	if err != nil {
		return err
	}
	choice := &opaqueChoice{desc: "opaque tokens: none (no usable endpoint)"}
	ep, ui := md.introspectionEndpoint, md.userinfoEndpoint
	switch {
	case d.cfg.Introspection != nil && ep != "":
		c := *d.cfg.Introspection
		c.Endpoint = ep
		v, err := NewIntrospection(c)
		if err != nil {
			return fmt.Errorf("discovery: %w", err)
		}
		choice = &opaqueChoice{v: v, desc: v.Describe()}
	case d.cfg.Userinfo != nil && ui != "":
		c := *d.cfg.Userinfo
		c.URL = ui
		v, err := NewUserinfo(c)
		if err != nil {
			return fmt.Errorf("discovery: %w", err)
		}
		choice = &opaqueChoice{v: v, desc: v.Describe()}
	}
	d.opaque.Store(choice)
	return nil
}

// Describe is a one-line summary for `restguard validate`.
func (d *Discovery) Describe() string {
	s := fmt.Sprintf("discovery %s decides: JWTs against its jwks_uri", d.cfg.JWT.DiscoveryURL)
	switch {
	case d.cfg.Introspection != nil:
		s += "; opaque tokens by its introspection_endpoint (client " + d.cfg.Introspection.ClientID + ")"
	case d.cfg.Userinfo != nil:
		s += "; opaque tokens by its userinfo_endpoint (allow_any_client)"
	default:
		s += "; opaque tokens not accepted"
	}
	if oc := d.opaque.Load(); oc != nil {
		s += "; discovered: " + oc.desc
	}
	return s
}

// oidcMetadata is what restguard reads from an OpenID Provider's discovery
// document (OpenID Connect Discovery 1.0 §3; introspection_endpoint from
// RFC 8414 §2). One is fetched per key set at startup and serves both the
// key set (jwks_uri) and a discovery-kind provider (its endpoints).
type oidcMetadata struct {
	jwksURI string
	jwksErr error // why jwks_uri is missing or unusable; nil when jwksURI is set
	// The remote endpoints, "" when absent or not strings.
	introspectionEndpoint, userinfoEndpoint string
}

// parseDiscovery reads a discovery document, decoded strictly (duplicate
// member names refused, answer.object). Its issuer must equal the
// configured issuer exactly (OpenID Connect Discovery 1.0 §4.3): a
// document that names another issuer is refused whole. A missing or
// unusable jwks_uri (checkURL) is recorded for the key set, which cannot
// load without one.
func parseDiscovery(doc map[string]any, issuer string) (*oidcMetadata, error) {
	if iss, _ := doc["issuer"].(string); iss != issuer {
		return nil, fmt.Errorf("discovery: issuer %q does not match the configured issuer", truncate(iss))
	}
	md := &oidcMetadata{}
	md.introspectionEndpoint, _ = doc["introspection_endpoint"].(string)
	md.userinfoEndpoint, _ = doc["userinfo_endpoint"].(string)
	uri, _ := doc["jwks_uri"].(string)
	switch {
	case uri == "":
		md.jwksErr = errors.New("no jwks_uri")
	case checkURL(uri) != nil:
		md.jwksErr = fmt.Errorf("jwks_uri: %w", checkURL(uri))
	default:
		md.jwksURI = uri
	}
	return md, nil
}

// Evict implements Evicter: the discovered validator of opaque tokens
// holds the cached answers.
func (d *Discovery) Evict(e Eviction) int {
	if oc := d.opaque.Load(); oc != nil {
		if ev, ok := oc.v.(Evicter); ok {
			return ev.Evict(e)
		}
	}
	return 0
}
