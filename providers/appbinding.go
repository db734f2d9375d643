package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/restguard/restguard/authz"
)

// App-binding types: the provider endpoints that prove a token was issued
// to our own client (security catalogue I1). A userinfo endpoint alone only
// proves the token is valid for some application.
const (
	// BindGitHub: POST {api}/applications/{client_id}/token with Basic
	// client_id:client_secret and {"access_token": token}; 404 or 422 mean
	// the token is unknown or belongs to another app. The answer's
	// app.client_id must be ours.
	BindGitHub = "github"
	// BindGoogle: POST tokeninfo (form access_token=...); aud or azp must
	// be our client id.
	BindGoogle = "google"
	// BindFacebook: GET debug_token?input_token=...&access_token=id|secret;
	// data.is_valid must be true and data.app_id ours.
	BindFacebook = "facebook"
	// BindDiscord: GET /oauth2/@me with the token; application.id ours.
	BindDiscord = "discord"
	// BindGitLab: GET /oauth/token/info with the token; application.uid ours.
	BindGitLab = "gitlab"
)

// AppBinding configures the app-binding check of a userinfo provider.
type AppBinding struct {
	Type string // one of the Bind* constants
	URL  string // the endpoint; for GitHub "{client_id}" is replaced
	// ClientID is our client (app) id; ClientSecret is needed by GitHub
	// and Facebook.
	ClientID     string
	ClientSecret string
}

func (b *AppBinding) check() error {
	switch b.Type {
	case BindGitHub, BindFacebook:
		if b.ClientID == "" || b.ClientSecret == "" {
			return fmt.Errorf("app binding %s needs a client id and a client secret", b.Type)
		}
	case BindGoogle, BindDiscord, BindGitLab:
		if b.ClientID == "" {
			return fmt.Errorf("app binding %s needs a client id", b.Type)
		}
	default:
		return fmt.Errorf("unknown app binding %q (github, google, facebook, discord, gitlab)", b.Type)
	}
	if b.URL == "" {
		return fmt.Errorf("app binding %s needs a url", b.Type)
	}
	b.URL = strings.ReplaceAll(b.URL, "{client_id}", url.PathEscape(b.ClientID))
	return checkURL(b.URL)
}

// bind runs the app-binding check. It returns the binding answer (some
// bindings carry the identity too) and the token's expiry (zero: unknown).
func (b *AppBinding) bind(ctx context.Context, call *caller, token string, now time.Time) (map[string]any, time.Time, error) {
	var req *http.Request
	var err error
	switch b.Type {
	case BindGitHub:
		body, _ := json.Marshal(map[string]string{"access_token": token})
		req, err = newRequest(http.MethodPost, b.URL, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/vnd.github+json")
			req.SetBasicAuth(b.ClientID, b.ClientSecret)
		}
	case BindGoogle:
		req, err = newRequest(http.MethodPost, b.URL, strings.NewReader(url.Values{"access_token": {token}}.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	case BindFacebook:
		u, perr := url.Parse(b.URL)
		if perr != nil {
			return nil, time.Time{}, call.unavailable("invalid url")
		}
		q := u.Query()
		q.Set("input_token", token)
		q.Set("access_token", b.ClientID+"|"+b.ClientSecret)
		u.RawQuery = q.Encode()
		req, err = newRequest(http.MethodGet, u.String(), nil)
	case BindDiscord, BindGitLab:
		req, err = newRequest(http.MethodGet, b.URL, nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+token)
		}
	}
	if err != nil {
		return nil, time.Time{}, call.unavailable("%v", err)
	}
	a, err := call.do(ctx, req)
	if err != nil {
		return nil, time.Time{}, err
	}
	if a.status != http.StatusOK {
		return nil, time.Time{}, b.statusError(call, a)
	}
	c, err := call.object(a)
	if err != nil {
		return nil, time.Time{}, err
	}
	return b.verify(call, c, now)
}

// statusError classifies a non-200 answer: a verdict on the token, or an
// outage (our credentials refused, rate limits, server errors).
func (b *AppBinding) statusError(call *caller, a *answer) error {
	if rateLimited(a) || a.status >= 500 {
		return call.unavailable("status %d", a.status)
	}
	switch {
	case b.Type == BindGitHub && (a.status == http.StatusNotFound || a.status == http.StatusUnprocessableEntity):
		return call.invalid(authz.ReasonAudienceMismatch, "token unknown or not issued to client %q", b.ClientID)
	case b.Type == BindGoogle && (a.status == http.StatusBadRequest || a.status == http.StatusUnauthorized):
		return call.invalid(authz.ReasonTokenInvalid, "tokeninfo refused the token (status %d)", a.status)
	case (b.Type == BindDiscord || b.Type == BindGitLab) && a.status == http.StatusUnauthorized:
		return call.invalid(authz.ReasonTokenInvalid, "token refused (status %d)", a.status)
	}
	return call.unavailable("status %d", a.status)
}

// verify checks that the answer names our client and returns the claims
// and expiry.
func (b *AppBinding) verify(call *caller, c map[string]any, now time.Time) (map[string]any, time.Time, error) {
	notOurs := func(path string) error {
		return call.invalid(authz.ReasonAudienceMismatch, "token was issued to another application (%s %q, want %q)", path, truncate(scalarString(c, path)), b.ClientID)
	}
	var exp time.Time
	var err error
	switch b.Type {
	case BindGitHub:
		if scalarString(c, "app.client_id") != b.ClientID {
			return nil, time.Time{}, notOurs("app.client_id")
		}
		exp, _, err = timeClaim(c, "expires_at")
	case BindGoogle:
		if scalarString(c, "aud") != b.ClientID && scalarString(c, "azp") != b.ClientID {
			return nil, time.Time{}, notOurs("aud")
		}
		exp, _, err = timeClaim(c, "exp")
	case BindFacebook:
		data, ok := c["data"].(map[string]any)
		if !ok {
			return nil, time.Time{}, call.unavailable("debug_token answer has no data object")
		}
		if valid, _ := data["is_valid"].(bool); !valid {
			return nil, time.Time{}, call.invalid(authz.ReasonTokenInactive, "debug_token: token not valid")
		}
		if scalarString(data, "app_id") != b.ClientID {
			return nil, time.Time{}, call.invalid(authz.ReasonAudienceMismatch, "token was issued to another application (app_id %q, want %q)", truncate(scalarString(data, "app_id")), b.ClientID)
		}
		if f, ok := numericDate(data["expires_at"]); ok && f > 0 { // 0: never expires
			exp = unixTime(f)
		}
		c = data
	case BindDiscord:
		if scalarString(c, "application.id") != b.ClientID {
			return nil, time.Time{}, notOurs("application.id")
		}
		exp, _, err = timeClaim(c, "expires")
	case BindGitLab:
		if scalarString(c, "application.uid") != b.ClientID {
			return nil, time.Time{}, notOurs("application.uid")
		}
		for _, name := range []string{"expires_in", "expires_in_seconds"} {
			if f, ok := numericDate(c[name]); ok {
				if f <= 0 {
					return nil, time.Time{}, call.invalid(authz.ReasonTokenExpired, "token expired")
				}
				exp = now.Add(time.Duration(f * float64(time.Second)))
				break
			}
		}
	}
	if err != nil {
		return nil, time.Time{}, call.invalid(authz.ReasonTokenInvalid, "%v", err)
	}
	return c, exp, nil
}
