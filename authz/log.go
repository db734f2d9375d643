package authz

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// Decision log keys. They are stable: dashboards and alerts depend on them.
const (
	LogDecisionID   = "decision_id"
	LogRequestID    = "request_id"
	LogVerdict      = "verdict"
	LogStatus       = "status"
	LogReason       = "reason"
	LogRule         = "rule"
	LogProvider     = "provider"
	LogDryRun       = "dry_run"
	LogDryRunReason = "dry_run_reason"
	LogUsername     = "username"
	LogVia          = "via"
	LogCacheHit     = "cache_hit"
	LogSourceIP     = "source_ip"
	LogSourceIPFrom = "source_ip_from"
	LogMethod       = "method"
	LogHost         = "host"
	LogPath         = "path"
	LogCredential   = "credential"
	LogTokenID      = "token_id"
	LogAssertionID  = "assertion_id"
	LogDuration     = "duration_ms" // milliseconds, fractional
	LogDetail       = "detail"
)

// logDecision writes one line per decision (token is the bearer token, if
// any, for its fingerprint). It logs the path without the
// query (queries carry tokens and personal data) and without path
// parameters (";jsessionid=" carries a session), the token fingerprint and
// never a header value. The JSON handler escapes control characters, so a
// hostile username or path cannot forge log lines.
func (e *Engine) logDecision(ctx context.Context, req *Request, d *Decision, token string) {
	level := slog.LevelInfo
	if d.Verdict == Unavailable && d.Reason == ReasonInternalError {
		level = slog.LevelError
	}
	if !e.log.Enabled(ctx, level) {
		return
	}
	// The fingerprint of a bearer token, for the lines written only.
	if d.TokenID == "" && token != "" {
		d.TokenID = Fingerprint(token)
	}
	// Written after the response: the request's cancellation must not
	// drop the line.
	ctx = context.WithoutCancel(ctx)
	attrs := make([]slog.Attr, 0, 24)
	attrs = append(attrs,
		slog.String(LogDecisionID, d.ID),
		slog.String(LogVerdict, d.Verdict.String()),
		slog.Int(LogStatus, d.HTTPStatus()),
		slog.String(LogReason, string(d.Reason)),
		slog.String(LogRule, d.Rule),
	)
	if req != nil {
		attrs = append(attrs,
			slog.String(LogRequestID, req.ID),
			slog.String(LogMethod, req.Method),
			slog.String(LogHost, req.Host),
			slog.String(LogPath, RedactPath(req.Path)),
		)
	}
	if d.Provider != "" {
		attrs = append(attrs, slog.String(LogProvider, d.Provider))
	}
	attrs = append(attrs, slog.Bool(LogDryRun, d.DryRun))
	if d.DryRun {
		attrs = append(attrs, slog.String(LogDryRunReason, string(d.DryRunReason)))
	}
	if id := d.Identity; id != nil {
		attrs = append(attrs,
			slog.String(LogUsername, id.Username),
			slog.String(LogVia, id.Via),
			slog.Bool(LogCacheHit, id.CacheHit),
		)
	}
	if d.ClientIP.IsValid() {
		attrs = append(attrs, slog.String(LogSourceIP, d.ClientIP.String()))
	}
	attrs = append(attrs,
		slog.String(LogSourceIPFrom, d.ClientIPSource),
		slog.String(LogCredential, d.Credential.String()),
	)
	if d.TokenID != "" {
		attrs = append(attrs, slog.String(LogTokenID, d.TokenID))
	}
	if d.AssertionID != "" {
		attrs = append(attrs, slog.String(LogAssertionID, d.AssertionID))
	}
	attrs = append(attrs, slog.Float64(LogDuration, float64(d.Duration.Microseconds())/1000))
	if d.Detail != "" {
		attrs = append(attrs, slog.String(LogDetail, d.Detail))
	}
	// Straight to the handler, as Logger.LogAttrs would after taking the
	// caller's program counter with runtime.Callers: no handler of ours
	// reports the source, and the stack walk cost as much as the rest.
	r := slog.NewRecord(time.Now(), level, "decision", 0)
	r.AddAttrs(attrs...)
	_ = e.log.Handler().Handle(ctx, r)
}

// RedactPath returns a raw path for logs: every path parameter (from ';'
// to the next '/') is replaced by ";…", since a parameter may carry a
// session id (";jsessionid=...").
func RedactPath(p string) string {
	if strings.IndexByte(p, ';') < 0 {
		return p
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(p, ';')
		if i < 0 {
			b.WriteString(p)
			return b.String()
		}
		b.WriteString(p[:i])
		b.WriteString(";…")
		p = p[i+1:]
		if j := strings.IndexByte(p, '/'); j >= 0 {
			p = p[j:]
		} else {
			return b.String()
		}
	}
}
