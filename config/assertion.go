package config

import (
	"crypto"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/restguard/restguard/assertion"
	"github.com/restguard/restguard/authz"
)

// Assertion configures the signed identity assertion: on an authenticated
// allow, a short-lived JWS the product verifies instead of trusting
// X-Forwarded-User (docs/identity-assertion.md).
type Assertion struct {
	// Issuer is this deployment's name (iss); the product checks it.
	Issuer string `yaml:"issuer"`
	// KeyFile is the PEM private key restguard signs with: ECDSA P-256
	// (ES256) or Ed25519 (EdDSA). This section's relative paths are
	// relative to the configuration file's directory.
	KeyFile string `yaml:"key_file"`
	// PublishKeyFiles are more keys published in the key set (public or
	// private PEM): the next key of a rotation, before it signs.
	PublishKeyFiles []string `yaml:"publish_key_files"`
	// RotationOverlap is how long a signing key that a reload replaced
	// stays published (default 10m).
	RotationOverlap Duration `yaml:"rotation_overlap"`
	// Lifetime is exp - iat (default 30s, at most 60s).
	Lifetime Duration `yaml:"lifetime"`
	// Header carries the assertion (default X-Restguard-Assertion).
	Header string `yaml:"header"`
	// JWKSFile, if set, is where the published key set is written (on
	// start and on every change), to ship to the product hosts.
	JWKSFile string `yaml:"jwks_file"`
	// Audience is the aud of every authenticated rule without its own
	// assertion_audience: the product's base URL.
	Audience string `yaml:"audience"`
	// Groups and Email add the groups and e-mail claims.
	Groups bool `yaml:"groups"`
	Email  bool `yaml:"email"`
}

// Defaults of the assertion section.
const (
	DefaultAssertionLifetime = 30 * time.Second
	DefaultRotationOverlap   = 10 * time.Minute
)

// AssertionKeys is a built assertion section: the signer and what the key
// set publishes besides it. The serve command keeps a replaced signing key
// published for Overlap (across reloads), and writes the key set to
// JWKSFile.
type AssertionKeys struct {
	Signer   *assertion.Signer
	Publish  []crypto.PublicKey
	Overlap  time.Duration
	JWKSFile string
}

// asserter signs assertions for the engine (authz.Asserter).
type asserter struct {
	signer        *assertion.Signer
	issuer        string
	lifetime      time.Duration
	groups, email bool
	now           func() time.Time
}

// Assert implements authz.Asserter.
func (a *asserter) Assert(in authz.AssertInput) (string, string, error) {
	if in.Identity == nil {
		return "", "", errors.New("no identity")
	}
	target, err := assertion.Target(in.Method, in.Path, in.Query)
	if err != nil {
		return "", "", err
	}
	now := a.now()
	c := assertion.Claims{
		Issuer: a.issuer, Audience: in.Audience, Subject: in.Identity.Username,
		IssuedAt: now.Unix(), Expiry: now.Add(a.lifetime).Unix(), ID: assertion.NewID(),
		Method: in.Method, Target: target,
	}
	if a.groups {
		c.Groups = in.Identity.Groups
	}
	if a.email {
		c.Email = in.Identity.Email
	}
	v, err := a.signer.Sign(c)
	return v, c.ID, err
}

// relative resolves a file path of the assertion section: a relative path
// is relative to the configuration file's directory (the file and its keys
// are usually mounted together).
func (c *Config) relative(path string) string {
	if filepath.IsAbs(path) || c.file == "" {
		return path
	}
	return filepath.Join(filepath.Dir(c.file), path)
}

// buildAssertion loads the keys of the assertion section; nil when there is
// none.
func buildAssertion(c *Config, o BuildOptions, p *problems) (*asserter, *AssertionKeys) {
	checkAssertionAudiences(c, p)
	a := c.Assertion
	if a == nil {
		return nil, nil
	}
	ok := true
	fail := func(path, format string, args ...any) {
		p.add("assertion"+path, format, args...)
		ok = false
	}
	if a.Issuer == "" {
		fail("", "needs issuer: this deployment's name, which the products check (iss)")
	}
	lifetime := durOr(a.Lifetime, DefaultAssertionLifetime)
	switch {
	case lifetime > assertion.MaxLifetime:
		fail(".lifetime", "%s is longer than %s: an assertion must not outlive a minute", lifetime, assertion.MaxLifetime)
	case lifetime < time.Second || lifetime%time.Second != 0:
		// iat and exp are whole seconds: 1.5s would sign exp = iat + 1.
		fail(".lifetime", "%s is not a whole number of seconds of at least 1s (iat and exp are seconds); write e.g. 30s", lifetime)
	}
	if a.Header != "" && !headerRE.MatchString(a.Header) {
		fail(".header", "invalid header name %q", a.Header)
	}
	var signer *assertion.Signer
	if a.KeyFile == "" {
		fail("", "needs key_file: the PEM private key to sign with (openssl genpkey -algorithm ed25519 -out key.pem)")
	} else if s, err := assertion.LoadSigner(c.relative(a.KeyFile)); err != nil {
		fail(".key_file", "%v", err)
	} else {
		signer = s
	}
	keys := &AssertionKeys{Signer: signer, Overlap: durOr(a.RotationOverlap, DefaultRotationOverlap)}
	if a.JWKSFile != "" {
		keys.JWKSFile = c.relative(a.JWKSFile)
	}
	for i, f := range a.PublishKeyFiles {
		k, err := assertion.LoadPublicKey(c.relative(f))
		if err != nil {
			fail(fmt.Sprintf(".publish_key_files[%d]", i), "%v", err)
			continue
		}
		keys.Publish = append(keys.Publish, k)
	}
	if !ok {
		return nil, nil
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &asserter{signer: signer, issuer: a.Issuer, lifetime: lifetime, groups: a.Groups, email: a.Email, now: now}, keys
}

// checkAssertionAudiences refuses an assertion_audience that would sign
// nothing: without an assertion section, or on a rule that authenticates
// no one (pass, deny).
func checkAssertionAudiences(c *Config, p *problems) {
	for i, r := range c.Rules {
		if r.AssertionAudience == "" {
			continue
		}
		path := fmt.Sprintf("rules[%d].assertion_audience", i)
		if a := action(r.Action, DefaultAction); a != authz.ActionAuthenticate {
			p.add(path, "rule %q has action %s: it authenticates no one, so no assertion is signed for it; remove assertion_audience", r.Name, a)
		} else if c.Assertion == nil {
			p.add(path, "no assertion section: add assertion (issuer, key_file) to sign identity assertions, or remove assertion_audience")
		}
	}
	if c.Assertion != nil {
		return
	}
	for i, pc := range c.Atlassian.Products {
		if pc.AssertionAudience != "" {
			p.add(fmt.Sprintf("atlassian.products[%d].assertion_audience", i), "no assertion section: add assertion (issuer, key_file) to sign identity assertions, or remove assertion_audience")
		}
	}
}

// assertionWarnings reports authenticated rules that sign no assertion
// while the section is on: the product behind them would see a request
// without one and, if it requires one, refuse it; if it does not, it trusts
// the user header alone.
func assertionWarnings(c *Config, warn func(path, format string, args ...any)) {
	if c.Assertion == nil || c.Assertion.Audience != "" {
		return
	}
	for i, r := range c.Rules {
		if r.AssertionAudience == "" && action(r.Action, DefaultAction) == authz.ActionAuthenticate {
			warn(fmt.Sprintf("rules[%d]", i), "rule %q authenticates but signs no identity assertion: neither it nor the assertion section has an audience; add assertion_audience (the product's base URL) or assertion.audience", r.Name)
		}
	}
	for i, pc := range c.Atlassian.Products {
		if pc.AssertionAudience == "" {
			warn(fmt.Sprintf("atlassian.products[%d]", i), "product %q signs no identity assertion: neither it nor the assertion section has an audience; add assertion_audience (the product's base URL) or assertion.audience", pc.Product)
		}
	}
}

// assertionAudience is the aud a rule's allows carry: its own, else the
// section's; "" when the section is off.
func assertionAudience(c *Config, own string) string {
	if c.Assertion == nil {
		return ""
	}
	return or(own, c.Assertion.Audience)
}
