package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Options configure an Engine.
type Options struct {
	Router   Router
	ClientIP ClientIPResolver // nil: the peer address
	Upstream Upstream
	// Realm is the RFC 6750 realm in challenges.
	Realm string
	// CheckTimeout bounds a whole check (0: only the caller's deadline).
	CheckTimeout time.Duration
	// RetryAfter is advertised with 503 answers.
	RetryAfter time.Duration
	// Logger receives one line per decision (nil: no decision log).
	Logger *slog.Logger
	// LogAllowed is the fraction (0..1) of allowed decisions that are
	// logged; denials and report-only denials are always logged. Zero means
	// the default, 1 (all); a negative value logs no allowed decisions.
	LogAllowed float64
	// OnDecision, if set, is called after every decision (metrics).
	OnDecision func(req *Request, d *Decision)
	// Asserter, if set, signs the identity assertion of authenticated
	// allows on rules with an AssertionAudience (Upstream.AssertionHeader).
	Asserter Asserter
	// Now returns the current time (nil: time.Now).
	Now func() time.Time
}

// Engine runs the pipeline. It is immutable and safe for concurrent use;
// a configuration reload builds a new Engine.
type Engine struct {
	router   Router
	clientIP ClientIPResolver
	upstream Upstream
	identity []string // lower-case identity header names to strip, with underscore spellings
	// spellings holds the identity header names with '_' mapped to '-':
	// a request header that maps to one of them in another spelling is
	// removed too (see finish).
	spellings map[string]bool
	// removeCookies holds the lower-case cookie names removed from bearer
	// requests; removeAllCookies removes every cookie.
	removeCookies    map[string]bool
	removeAllCookies bool
	// sessionParams holds the lower-case path-parameter names that carry a
	// session id (see Upstream.RemoveCookies).
	sessionParams map[string]bool
	// Precomputed, shared read-only removal lists (see removalLists).
	removeAnon []string
	removeAuth [8][]string // by the identity headers set: groups, email, assertion
	realm      string
	timeout    time.Duration
	retryAfter time.Duration
	log        *slog.Logger
	logAllowed float64
	onDecision func(*Request, *Decision)
	asserter   Asserter
	now        func() time.Time
}

// DefaultRetryAfter is advertised with 503 answers unless configured.
const DefaultRetryAfter = 5 * time.Second

// NewEngine builds an Engine. It fails when the options cannot work.
func NewEngine(o Options) (*Engine, error) {
	if o.Router == nil {
		return nil, errors.New("authz: engine needs a router")
	}
	if o.Upstream.UserHeader == "" {
		return nil, errors.New("authz: engine needs an upstream user header")
	}
	e := &Engine{
		router:     o.Router,
		clientIP:   o.ClientIP,
		upstream:   o.Upstream,
		realm:      o.Realm,
		timeout:    o.CheckTimeout,
		retryAfter: o.RetryAfter,
		log:        o.Logger,
		logAllowed: o.LogAllowed,
		onDecision: o.OnDecision,
		asserter:   o.Asserter,
		now:        o.Now,
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.logAllowed == 0 {
		e.logAllowed = 1
	}
	if e.retryAfter <= 0 {
		e.retryAfter = DefaultRetryAfter
	}
	if e.realm == "" {
		e.realm = "restguard"
	}
	e.removeAllCookies = o.Upstream.RemoveAllCookies
	e.sessionParams = map[string]bool{"jsessionid": true}
	if len(o.Upstream.RemoveCookies) > 0 {
		e.removeCookies = map[string]bool{}
		for _, c := range o.Upstream.RemoveCookies {
			e.removeCookies[strings.ToLower(c)] = true
			e.sessionParams[strings.ToLower(c)] = true
		}
	}
	if o.Asserter != nil && o.Upstream.AssertionHeader == "" {
		return nil, errors.New("authz: an asserter needs an assertion header")
	}
	names := []string{o.Upstream.UserHeader, o.Upstream.GroupsHeader, o.Upstream.EmailHeader, o.Upstream.BearerMarker, o.Upstream.AssertionHeader}
	names = append(names, o.Upstream.RemoveHeaders...)
	seen := map[string]bool{}
	e.spellings = map[string]bool{}
	for _, n := range names {
		if n == "" {
			continue
		}
		n = strings.ToLower(n)
		e.spellings[strings.ReplaceAll(n, "_", "-")] = true
		// Some servlet containers treat '_' and '-' alike (atlassian.md
		// §1.5): strip both spellings.
		for _, v := range []string{n, strings.ReplaceAll(n, "-", "_")} {
			if !seen[v] {
				seen[v] = true
				e.identity = append(e.identity, v)
			}
		}
	}
	e.removalLists()
	return e, nil
}

// Realm is the realm used in challenges.
func (e *Engine) Realm() string { return e.realm }

// Check decides one request. It always returns a decision; every failure
// inside ends in a denial.
func (e *Engine) Check(ctx context.Context, req *Request) (d Decision) {
	start := e.now()
	if e.timeout > 0 {
		cc := withCheckTimeout(ctx, e.timeout)
		defer cc.stop()
		ctx = cc
	}
	// The token, for the log line's fingerprint: computed only for lines
	// that are written (a second SHA-256 of the token otherwise).
	var token string
	defer func() {
		if r := recover(); r != nil {
			// A bug must never turn into an allow (security catalogue L3).
			d = Decision{Verdict: Unavailable, Reason: ReasonInternalError, Detail: fmt.Sprint("panic: ", r)}
		}
		if d.Verdict != Allow && d.Reason == "" {
			d.Reason = ReasonInternalError
		}
		d.ID = NewDecisionID()
		d.Duration = e.now().Sub(start)
		e.finish(req, &d)
		if tr := traceFrom(ctx); tr != nil {
			tr.add(Step{Phase: "decision", Name: d.Rule, Outcome: fmt.Sprintf("%s %d", d.Verdict, d.HTTPStatus()), Reason: d.Reason, Detail: d.Detail})
		}
		if e.log != nil && e.shouldLog(&d) {
			e.logDecision(ctx, req, &d, token)
		}
		if e.onDecision != nil {
			e.onDecision(req, &d)
		}
	}()
	return e.decide(ctx, req, &token)
}

// decide runs the pipeline. A bearer token goes to *token (never into the
// Decision: values get printed).
func (e *Engine) decide(ctx context.Context, req *Request, token *string) Decision {
	if req == nil {
		return Deny(BadRequest, ReasonMalformedRequest, "no request")
	}
	if req.Malformed != "" {
		return Deny(BadRequest, ReasonMalformedRequest, req.Malformed)
	}
	if req.Method == "" || req.Path == "" {
		return Deny(BadRequest, ReasonMalformedRequest, "missing method or path")
	}
	tr := traceFrom(ctx)
	in := &Input{Request: req, Credential: ParseCredential(req.Header, req.Query), trace: tr}
	var ipSource string
	if e.clientIP != nil {
		in.ClientIP, ipSource = e.clientIP.ClientIP(req)
	} else if req.Source.IsValid() {
		in.ClientIP, ipSource = req.Source.Unmap(), "peer"
	}
	if !in.ClientIP.IsValid() && ipSource == "" {
		ipSource = "unknown"
	}
	if tr != nil {
		traceInput(tr, req, in, ipSource)
	}
	if in.Credential.Kind == CredentialBearer {
		*token = in.Credential.Token
	}
	d := e.route(ctx, req, in)
	d.ClientIP, d.ClientIPSource = in.ClientIP, ipSource
	d.Credential = in.Credential.Kind
	// The fingerprint is for explain here; Check adds it to the lines it
	// logs.
	if tr != nil && in.Credential.Kind == CredentialBearer {
		d.TokenID = Fingerprint(in.Credential.Token)
	}
	return d
}

// traceInput records the request, the client address and the credential
// for explain.
func traceInput(tr *Trace, req *Request, in *Input, ipSource string) {
	q := ""
	if req.Query != "" {
		q = " (query present, not shown)"
	}
	tr.add(Step{Phase: "request", Outcome: "received", Detail: fmt.Sprintf("id %s, %s %s %s%s", req.ID, req.Method, req.Host, RedactPath(req.Path), q)})
	tr.add(Step{Phase: "client_ip", Outcome: ipSource, Detail: addrString(in.ClientIP)})
	c := in.Credential
	detail := c.Scheme
	switch {
	case c.Kind == CredentialBearer:
		detail = "token sha256:" + Fingerprint(c.Token)
	case c.Detail != "":
		detail = c.Detail
	}
	tr.add(Step{Phase: "credential", Outcome: c.Kind.String(), Detail: detail})
}

// route matches the request to its rule and runs the rule.
func (e *Engine) route(ctx context.Context, req *Request, in *Input) Decision {
	tr := in.trace
	rule, rd := e.router.Match(req)
	switch {
	case rd.Verdict == Continue && rule == nil:
		return Deny(Forbidden, ReasonInternalError, "router returned no rule")
	case rd.Verdict == Allow:
		// A router only routes or refuses; an allow from it would skip the
		// pre-authentication policies.
		return Deny(Forbidden, ReasonInternalError, "router returned an allow")
	case rd.Verdict != Continue:
		if rule != nil {
			rd.Rule = rule.Name
		}
		if tr != nil {
			tr.add(Step{Phase: "route", Outcome: "deny", Reason: rd.Reason, Detail: rd.Detail})
		}
		return rd
	}
	if m, ok := e.overridden(req, rule); ok {
		d := Deny(BadRequest, ReasonMethodOverride, "method override "+m+" would be judged by another rule")
		d.Rule = rule.Name
		if tr != nil {
			tr.add(Step{Phase: "route", Name: rule.Name, Outcome: "deny", Reason: d.Reason, Detail: d.Detail})
		}
		return d
	}
	if tr != nil {
		detail := ""
		if n, ok := e.router.(NearMatcher); ok && (rule.Reason == ReasonDefaultDeny || rule.Reason == ReasonDefaultPass) {
			detail = n.Near(req)
		}
		tr.add(Step{Phase: "route", Name: rule.Name, Outcome: rule.Action.String(), Detail: detail})
	}
	d := e.run(ctx, rule, in)
	d.Rule = rule.Name
	return d
}

// overridden returns a method that a method-override header or _method
// parameter (honoured by servlet filters) asks for and that would reach
// another rule than the request line does (security catalogue G6, seams
// item 5). Every method asked for must route the same: which of several
// values a component reads is its own choice.
func (e *Engine) overridden(req *Request, rule *Rule) (string, bool) {
	for _, m := range overrideMethods(req) {
		alt := *req
		alt.Method = m
		if altRule, altD := e.router.Match(&alt); altD.Verdict != Continue || altRule != rule {
			return m, true
		}
	}
	return "", false
}

// run executes the phases of one rule: refuse a second credential,
// pre-authentication policies (phases 2 and 3), the rule's action, the
// credential, then authentication and authorization (phases 4 to 7).
func (e *Engine) run(ctx context.Context, rule *Rule, in *Input) Decision {
	var dry Decision // the first report-only denial, if any
	if detail, second := e.secondCredential(in); second {
		return Deny(BadRequest, ReasonMultipleCredentials, detail)
	}
	// Phase 2 and 3: pre-authentication policies (IP rules, Basic
	// blocking), on every action, public routes included.
	if d, stop := e.policies(ctx, "pre_auth", rule.PreAuth, in, &dry); stop {
		return d
	}
	if rule.Action != ActionAuthenticate {
		return ruleAction(rule, &dry)
	}
	if in.Credential.Kind != CredentialBearer {
		return unauthenticated(rule, in, &dry)
	}
	return e.bearer(ctx, rule, in, &dry)
}

// secondCredential reports a request that carries more than one
// credential, refused on every route, and says why.
func (e *Engine) secondCredential(in *Input) (detail string, second bool) {
	cred := in.Credential
	// Several credentials at once are refused on every route (RFC 6750 §3.1;
	// Tomcat and restguard would act on different ones).
	if cred.Kind == CredentialMultiple {
		return cred.Detail, true
	}
	// A session id in a path parameter (Tomcat reads ";jsessionid=") is a
	// second credential that no header removal can take away.
	if cred.Kind == CredentialBearer && e.sessionInPath(in.Request.Path) {
		return "session id in a path parameter", true
	}
	return "", false
}

// ruleAction decides a rule that authenticates nobody, deny or pass,
// after its pre-authentication policies.
func ruleAction(rule *Rule, dry *Decision) Decision {
	switch rule.Action {
	case ActionDeny:
		reason := rule.Reason
		if reason == "" {
			reason = ReasonRouteDenied
		}
		return withDry(Deny(Forbidden, reason, ""), *dry)
	case ActionPass:
		reason := rule.Reason
		if reason == "" {
			reason = ReasonPublicRoute
		}
		return withDry(Decision{Verdict: Allow, Reason: reason, stripCredentials: rule.StripCredentials}, *dry)
	default:
		return Deny(Forbidden, ReasonInternalError, "unknown rule action")
	}
}

// unauthenticated decides an authenticating rule's request that carries
// no bearer token: a CORS preflight, a passed-through scheme or Basic
// (which the pre-authentication policies let through) are allowed for the
// product to judge; anything else is refused.
func unauthenticated(rule *Rule, in *Input, dry *Decision) Decision {
	cred := in.Credential
	switch cred.Kind {
	case CredentialNone:
		if rule.CORSPreflight && isPreflight(in.Request) {
			return withDry(Decision{Verdict: Allow, Reason: ReasonCORSPreflight}, *dry)
		}
		return Deny(Unauthenticated, ReasonCredentialsMissing, "")
	case CredentialMalformed:
		return Deny(BadRequest, ReasonMalformedCredential, cred.Detail)
	case CredentialOther:
		if rule.PassSchemes[cred.Scheme] {
			return withDry(Decision{Verdict: Allow, Reason: ReasonSchemePassThrough, Detail: "scheme " + cred.Scheme}, *dry)
		}
		return Deny(Unauthenticated, ReasonUnsupportedScheme, "scheme "+cred.Scheme)
	case CredentialBasic:
		// Basic got past the pre-auth policies: not blocked here (disabled,
		// allowlisted or report-only). The product checks the password.
		return withDry(Decision{Verdict: Allow, Reason: ReasonBasicPassThrough}, *dry)
	default:
		return Deny(BadRequest, ReasonMalformedCredential, "unknown credential kind")
	}
}

// bearer runs phases 4 to 7 for a bearer token: authentication by the
// rule's validators, the identity mappers, the authorization policies,
// then the allow.
func (e *Engine) bearer(ctx context.Context, rule *Rule, in *Input, dry *Decision) Decision {
	// Phase 4: authentication.
	id, provider, d := e.authenticate(ctx, rule, in.Credential.Token, in.trace)
	if d.Verdict == Allow {
		// A product-native token the product validates itself: pre-auth
		// policies (IP rules) have run; identity policies cannot.
		d.Provider = provider
		return withDry(d, *dry)
	}
	if d.Verdict != Continue {
		d.Provider = provider
		return d
	}
	// Phase 5: identity.
	if id = e.mapIdentity(ctx, in.trace, rule, id, provider, &d); id == nil {
		return d
	}
	in.Identity = id

	// Phase 6: authorization.
	if d, stop := e.policies(ctx, "authorize", rule.PostAuth, in, dry); stop {
		// The identity goes into the decision log (support searches by
		// user); transports send it only on allow.
		d.Provider, d.Identity = provider, id
		return d
	}
	if err := ctx.Err(); err != nil {
		return Deny(Unavailable, ReasonTimeout, err.Error())
	}
	// Phase 7: allow, with the signed identity assertion where the rule
	// asks for one. A failure to sign denies: an upstream that verifies
	// assertions would refuse the request, one that does not would trust
	// the plain header alone.
	d = withDry(Decision{Verdict: Allow, Reason: ReasonAuthenticated, Identity: id, Provider: provider}, *dry)
	if e.asserter != nil && rule.AssertionAudience != "" {
		v, jti, err := e.asserter.Assert(AssertInput{Audience: rule.AssertionAudience, Identity: id, Method: in.Request.Method, Path: in.Request.Path, Query: in.Request.Query})
		if err != nil {
			return Deny(Unavailable, ReasonInternalError, "identity assertion: "+err.Error())
		}
		d.assertion, d.AssertionID = v, jti
	}
	return d
}

// mapIdentity runs the rule's identity mappers (username transforms,
// directory groups) on id and checks that the result has a username fit
// for a header. It returns the identity, or nil with the denial in deny.
func (e *Engine) mapIdentity(ctx context.Context, tr *Trace, rule *Rule, id *Identity, provider string, deny *Decision) *Identity {
	for _, m := range rule.Mappers {
		mapped, err := m.Map(ctx, id)
		if err != nil {
			*deny = e.errorDecision(ctx, err)
			deny.Provider, deny.Identity = provider, id // for the decision log only
			return nil
		}
		if mapped == nil {
			*deny = Deny(Unavailable, ReasonInternalError, "identity mapper returned no identity")
			return nil
		}
		id = mapped
	}
	if tr != nil {
		tr.add(Step{Phase: "identity", Name: provider, Outcome: id.Via, Detail: describeIdentity(id, e.now())})
	}
	// Header values must be safe to hand upstream.
	if id.Username == "" || !safeHeaderValue(id.Username) {
		*deny = Deny(Unauthenticated, ReasonUsernameMissing, "no usable username")
		return nil
	}
	return id
}

func withDry(d, dry Decision) Decision {
	if dry.DryRun {
		d.DryRun, d.DryRunReason = true, dry.Reason
		if d.Detail == "" {
			d.Detail = dry.Detail
		}
	}
	return d
}

// policies runs ps in order. It returns stop=true with the denial that ends
// the check.
func (e *Engine) policies(ctx context.Context, phase string, ps []Policy, in *Input, dry *Decision) (Decision, bool) {
	for _, p := range ps {
		d := p.Evaluate(ctx, in)
		if in.trace != nil {
			tracePolicy(in.trace, phase, p, &d)
		}
		switch {
		case d.Verdict == Continue:
			continue
		case d.Verdict == Allow || d.Verdict == VerdictUnknown:
			return Deny(Forbidden, ReasonInternalError, fmt.Sprintf("policy %T returned verdict %s", p, d.Verdict)), true
		case d.DryRun:
			if !dry.DryRun {
				*dry = d
			}
			continue
		default:
			if d.Reason == "" {
				d.Reason = ReasonInternalError
			}
			return d, true
		}
	}
	return Decision{}, false
}

// tracePolicy records a policy's outcome for explain.
func tracePolicy(tr *Trace, phase string, p Policy, d *Decision) {
	outcome := "pass"
	switch {
	case d.Verdict == Continue:
	case d.DryRun:
		outcome = "dry_run (would deny)"
	default:
		outcome = "deny"
	}
	tr.add(Step{Phase: phase, Name: policyName(p), Outcome: outcome, Reason: d.Reason, Detail: d.Detail})
}

func (e *Engine) authenticate(ctx context.Context, rule *Rule, token string, tr *Trace) (*Identity, string, Decision) {
	if len(token) > MaxTokenBytes {
		return nil, "", Deny(Unauthenticated, ReasonTokenMalformed, "token too long")
	}
	notMine := ReasonTokenMalformed
	for _, a := range rule.Authenticators {
		id, err := a.Validator.Validate(ctx, token)
		if tr != nil {
			tr.add(authStep(a.Name, id, err))
		}
		if err == nil && id != nil {
			return id, a.Name, Pass()
		}
		if err == nil {
			return nil, a.Name, Deny(Unavailable, ReasonInternalError, "validator returned no identity")
		}
		if errors.Is(err, ErrPassThrough) {
			return nil, a.Name, Decision{Verdict: Allow, Reason: ReasonNativeTokenPassThrough}
		}
		if errors.Is(err, ErrNotResponsible) {
			// Keep the most specific reason: "issuer_unknown" from a JWT
			// provider says more than "token_malformed" from one that only
			// saw the shape, whatever the provider order.
			var re *ReasonError
			if errors.As(err, &re) && re.Reason != "" && (notMine == ReasonTokenMalformed || re.Reason != ReasonTokenMalformed) {
				notMine = re.Reason
			}
			continue
		}
		return nil, a.Name, e.errorDecision(ctx, err)
	}
	return nil, "", Deny(Unauthenticated, notMine, "no provider of this rule accepts the token")
}

// errorDecision maps a validator error to a denial. Unknown errors fail
// closed as an internal error.
func (e *Engine) errorDecision(ctx context.Context, err error) Decision {
	reason := Reason("")
	var re *ReasonError
	if errors.As(err, &re) {
		reason = re.Reason
	}
	pick := func(def Reason) Reason {
		if reason != "" {
			return reason
		}
		return def
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return Deny(Unavailable, ReasonTimeout, err.Error())
	case errors.Is(err, ErrUnavailable):
		return Deny(Unavailable, pick(ReasonIdPUnavailable), err.Error())
	case errors.Is(err, ErrInvalidToken):
		return Deny(Unauthenticated, pick(ReasonTokenInvalid), err.Error())
	case errors.Is(err, ErrForbidden):
		return Deny(Forbidden, pick(ReasonUserDenied), err.Error())
	default:
		return Deny(Unavailable, ReasonInternalError, err.Error())
	}
}
