package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/providers"
	"github.com/restguard/restguard/sharedcache"
)

// RevokePath is the admin endpoint of `restguard revoke`.
const RevokePath = "/revoke"

// revokeTimeout bounds one revocation: Redis, and the replicas'
// acknowledgements.
const revokeTimeout = 5 * time.Second

// revokeRequest is the body of POST /revoke: exactly one of a token, a
// token's fingerprint, or a user of a provider.
type revokeRequest struct {
	Token       string `json:"token,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Provider    string `json:"provider,omitempty"`
	User        string `json:"user,omitempty"`
}

// revokeAnswer is the answer of POST /revoke. It never holds a token.
type revokeAnswer struct {
	// Revoked says what: "token <fingerprint>" or "user <name> of <provider>".
	Revoked string `json:"revoked,omitempty"`
	// Scope is "fleet" (every replica, through Redis) or "replica" (this
	// one only: no redis section, or Redis failed).
	Scope string `json:"scope,omitempty"`
	// Local is the number of entries this replica dropped.
	Local int `json:"local_evicted"`
	// Shared, Replicas and Applied: the shared entries deleted, the
	// replicas the revocation reached, and how many applied it in time.
	Shared   int    `json:"shared_evicted"`
	Replicas int    `json:"replicas"`
	Applied  int    `json:"applied"`
	Note     string `json:"note,omitempty"`
	Error    string `json:"error,omitempty"`
}

// revokeHandler serves POST /revoke on the admin listener.
func (s *service) revokeHandler(w http.ResponseWriter, r *http.Request) {
	reply := func(status int, a revokeAnswer) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="restguard-admin"`)
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(a)
	}
	rt := s.runtime.Load()
	if rt == nil {
		reply(http.StatusServiceUnavailable, revokeAnswer{Error: "not started"})
		return
	}
	if !rt.HasAdminSecret {
		reply(http.StatusForbidden, revokeAnswer{Error: "revocation is off: set admin.secret_file in the configuration"})
		return
	}
	if !adminAuthorized(r, rt.AdminSecret) {
		// At most one line per interval: anyone who reaches the admin
		// port could otherwise fill the log.
		if last := s.refusedLog.Load(); time.Since(time.Unix(0, last)) > refusedLogEvery && s.refusedLog.CompareAndSwap(last, time.Now().UnixNano()) {
			s.log.Warn("revocation refused: wrong or missing admin secret", "remote", r.RemoteAddr)
		}
		reply(http.StatusUnauthorized, revokeAnswer{Error: "needs Authorization: Bearer <the secret in admin.secret_file>"})
		return
	}
	var req revokeRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		reply(http.StatusBadRequest, revokeAnswer{Error: "body: want JSON {\"token\"}, {\"fingerprint\"} or {\"provider\", \"user\"}"})
		return
	}
	e, what, note, err := req.eviction()
	if err == nil && req.Provider != "" && !slices.Contains(rt.CacheNames(), req.Provider) {
		err = fmt.Errorf("unknown provider %q: a provider or Atlassian product of the configuration (%s)", req.Provider, strings.Join(rt.CacheNames(), ", "))
	}
	if err == nil && req.User != "" && providerKind(rt, req.Provider) == "jwt" {
		note = jwtUserNote
	}
	if err != nil {
		reply(http.StatusBadRequest, revokeAnswer{Error: err.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), revokeTimeout)
	defer cancel()
	a := s.revoke(ctx, rt, req.Provider, req.User, e)
	a.Revoked, a.Note = what, joinNotes(note, a.Note)
	if req.User != "" && a.Local == 0 && a.Shared == 0 && a.Error == "" {
		a.Note = joinNotes(a.Note, unmatchedUserNote)
	}
	status := http.StatusOK
	switch {
	case a.Error != "":
		status = http.StatusServiceUnavailable
	case a.Scope == "fleet" && a.Applied < a.Replicas:
		status = http.StatusGatewayTimeout
	}
	s.log.Info("revocation", "revoked", what, "scope", a.Scope, "local_evicted", a.Local, "shared_evicted", a.Shared,
		"replicas", a.Replicas, "applied", a.Applied, "error", a.Error)
	reply(status, a)
}

// revoke drops e on this replica, then, with a shared cache, in Redis and
// on every replica, waiting for their acknowledgements.
func (s *service) revoke(ctx context.Context, rt *config.Runtime, provider, user string, e providers.Eviction) revokeAnswer {
	// First the record, then the caches: an answer being fetched right
	// now is then refused when it arrives.
	if user != "" {
		s.revs.User(s.revs.UserKey(provider, user))
	} else {
		s.revs.Token(e.Fingerprint)
	}
	a := revokeAnswer{Scope: "replica", Local: rt.Evict(provider, e)}
	if s.shared == nil {
		a.Note = "no redis section: this replica only; other replicas keep their entries until their TTL ends, so revoke on each of them"
		return a
	}
	rv := sharedcache.TokenRevocation(e.Fingerprint)
	if user != "" {
		rv = s.shared.UserRevocation(provider, user)
	}
	res, err := s.shared.Revoke(ctx, rv)
	a.Shared, a.Replicas, a.Applied = res.Deleted, res.Replicas, res.Applied
	if err != nil {
		a.Error = "Redis: " + err.Error() + "; applied on this replica only, other replicas keep their entries until their TTL ends"
		return a
	}
	if a.Replicas == 0 {
		// Not even this replica's own subscription got it: it is being
		// re-established, and so may the others'.
		a.Error = "the revocation reached no replica (the subscriptions to Redis are being re-established); applied on this replica only: run it again"
		return a
	}
	a.Scope = "fleet"
	if a.Applied < a.Replicas {
		a.Note = fmt.Sprintf("%d of %d replicas acknowledged within %s; the others apply it when they read it", a.Applied, a.Replicas, revokeTimeout)
	}
	return a
}

// onRevocation applies a revocation another replica (or this one)
// published.
func (s *service) onRevocation(rv sharedcache.Revocation) {
	// The subscription may come up before the first configuration is
	// installed: there is nothing cached to drop then.
	evict := func(provider string, e providers.Eviction) int {
		if rt := s.runtime.Load(); rt != nil {
			return rt.Evict(provider, e)
		}
		return 0
	}
	switch rv.Kind {
	case sharedcache.RevokeToken:
		s.revs.Token(rv.Fingerprint)
		evict("", providers.Eviction{Fingerprint: rv.Fingerprint})
	case sharedcache.RevokeUser:
		s.revs.User(rv.User)
		evict(rv.Provider, providers.Eviction{User: func(username string) bool { return s.shared.UserID(rv.Provider, username) == rv.User }})
	case sharedcache.Resync:
		// Revocations published while this replica was not subscribed are
		// lost: drop every remote result; they refill from Redis, where a
		// revocation has already deleted the shared entries, or from the
		// providers.
		n := evict("", providers.Eviction{All: true})
		s.log.Info("subscribed to revocations", "evicted", n)
	}
}

// eviction checks the request and turns it into an eviction: what it
// names, for the answer and the log (never the token), and a note for the
// operator.
func (q revokeRequest) eviction() (providers.Eviction, string, string, error) {
	set := 0
	for _, v := range []string{q.Token, q.Fingerprint, q.User} {
		if v != "" {
			set++
		}
	}
	switch {
	case set != 1:
		return providers.Eviction{}, "", "", errors.New("name exactly one of token, fingerprint, or provider and user")
	case q.Token != "":
		if q.Provider != "" {
			return providers.Eviction{}, "", "", errors.New("provider goes with user, not with a token")
		}
		if strings.ContainsFunc(q.Token, unicode.IsSpace) || strings.ContainsAny(q.Token, "\x00") {
			return providers.Eviction{}, "", "", errors.New("token: the token alone, without \"Bearer \" and without spaces or line breaks")
		}
		fp := authz.Fingerprint(q.Token)
		note := ""
		if strings.Count(q.Token, ".") == 2 {
			note = jwtNote
		}
		return providers.Eviction{Fingerprint: fp}, "token " + fp, note, nil
	case q.Fingerprint != "":
		if q.Provider != "" {
			return providers.Eviction{}, "", "", errors.New("provider goes with user, not with a fingerprint")
		}
		if !validFingerprint(q.Fingerprint) {
			return providers.Eviction{}, "", "", errors.New("fingerprint: want the 16 hex digits of the decision log's token_fp")
		}
		return providers.Eviction{Fingerprint: strings.ToLower(q.Fingerprint)}, "token " + strings.ToLower(q.Fingerprint), "", nil
	default:
		if q.Provider == "" {
			return providers.Eviction{}, "", "", errors.New("user needs provider: the provider's name in the configuration")
		}
		name := q.User
		return providers.Eviction{User: func(u string) bool { return u == name }}, fmt.Sprintf("user %q of %s", q.User, q.Provider), "", nil
	}
}

// jwtNote tells the operator what eviction does not do for a JWT.
const jwtNote = "this token is a JWT: where restguard checks it locally (JWKS), dropping the cached check does not stop it, since its signature stays valid until exp; deny the user (rules[].users.deny) or wait for exp"

func joinNotes(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; " + b
}

func validFingerprint(fp string) bool {
	if len(fp) != 16 {
		return false
	}
	for i := 0; i < len(fp); i++ {
		c := fp[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// providerKind is the kind of the provider named, "" for a product.
func providerKind(rt *config.Runtime, name string) string {
	for _, bp := range rt.Providers {
		if bp.Name == name {
			return bp.Kind
		}
	}
	return ""
}

// refusedLogEvery bounds the log lines of refused revocations.
const refusedLogEvery = 10 * time.Second

const jwtUserNote = "this provider checks JWTs locally: there is no cached answer to drop, and the user's tokens stay valid until they expire; deny the user (rules[].users.deny) to refuse them now"

const unmatchedUserNote = "nothing cached under this user here or in Redis: -user is the name the provider reports (the decision log's user, unless a product's username transform changed it) and -provider the one that reported it"

// adminAuthorized reports whether r carries the admin secret as a bearer
// token, comparing in constant time.
func adminAuthorized(r *http.Request, want [32]byte) bool {
	h := r.Header.Values("Authorization")
	if len(h) != 1 {
		return false
	}
	scheme, secret, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

const revokeUsage = `usage: restguard revoke -secret-file FILE [-admin URL] (-token-stdin | -fingerprint FP | -provider NAME -user NAME)

Drops cached validation results on every replica (through Redis) or, without
a redis section, on the one replica it talks to, and says which. Read the
token from stdin, never from the command line:

  restguard revoke -secret-file admin-secret -token-stdin < token.txt
  restguard revoke -secret-file admin-secret -fingerprint 1a2b3c4d5e6f7a8b
  restguard revoke -secret-file admin-secret -provider corp -user alice

Revoke the token or disable the user at the identity provider too: a
dropped result is asked again, and the provider's answer decides.
`

func runRevoke(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("revoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), revokeUsage, "\nflags:\n"); fs.PrintDefaults() }
	admin := fs.String("admin", "http://"+config.DefaultAdminListen, "the admin listener of a replica")
	secretFile := fs.String("secret-file", "", "the file with the admin secret (admin.secret_file)")
	tokenStdin := fs.Bool("token-stdin", false, "read the token from stdin")
	fingerprint := fs.String("fingerprint", "", "a token's fingerprint (token_fp in the decision log)")
	provider := fs.String("provider", "", "the provider of -user")
	user := fs.String("user", "", "a username, as the decision log shows it")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if *secretFile == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	req := revokeRequest{Fingerprint: *fingerprint, Provider: *provider, User: *user}
	if *tokenStdin {
		b, err := io.ReadAll(io.LimitReader(stdin, 32<<10))
		if err != nil {
			fmt.Fprintln(stderr, "restguard revoke: reading the token:", err)
			return 1
		}
		req.Token = strings.TrimSpace(string(b))
		if req.Token == "" {
			fmt.Fprintln(stderr, "restguard revoke: no token on stdin")
			return 2
		}
	}
	if _, _, _, err := req.eviction(); err != nil {
		fmt.Fprintln(stderr, "restguard revoke:", err)
		return 2
	}
	secret, err := os.ReadFile(*secretFile)
	if err != nil {
		fmt.Fprintln(stderr, "restguard revoke:", err)
		return 1
	}
	body, _ := json.Marshal(req)
	hreq, err := http.NewRequest(http.MethodPost, strings.TrimRight(*admin, "/")+RevokePath, bytes.NewReader(body))
	if err != nil {
		fmt.Fprintln(stderr, "restguard revoke:", err)
		return 2
	}
	hreq.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(secret)))
	hreq.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: revokeTimeout + 2*time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(hreq)
	if err != nil {
		// The error names the URL, which holds no secret.
		fmt.Fprintln(stderr, "restguard revoke:", err)
		return 1
	}
	defer resp.Body.Close()
	var a revokeAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&a); err != nil {
		fmt.Fprintf(stderr, "restguard revoke: %s answered %s, not a revocation answer (is -admin restguard's admin listener?)\n", *admin, resp.Status)
		return 1
	}
	return printRevoke(a, resp.StatusCode, stdout, stderr)
}

// printRevoke tells the operator what happened, and returns the exit code:
// 0 when the revocation reached everything it could, 1 otherwise.
func printRevoke(a revokeAnswer, status int, stdout, stderr io.Writer) int {
	if a.Revoked == "" {
		fmt.Fprintf(stderr, "restguard revoke: refused (%d): %s\n", status, a.Error)
		return 1
	}
	code := 0
	switch {
	case a.Scope == "fleet":
		fmt.Fprintf(stdout, "revoked %s on every replica: %d of %d acknowledged; %d shared entries deleted, %d on the replica asked\n",
			a.Revoked, a.Applied, a.Replicas, a.Shared, a.Local)
		if a.Applied < a.Replicas {
			code = 1
		}
	default:
		fmt.Fprintf(stdout, "revoked %s on this replica only: %d entries dropped\n", a.Revoked, a.Local)
		if a.Error != "" {
			fmt.Fprintln(stderr, "restguard revoke:", a.Error)
			code = 1
		}
	}
	if a.Note != "" {
		fmt.Fprintln(stdout, "note:", a.Note)
	}
	if strings.Contains(a.Note, unmatchedUserNote) {
		code = 1 // most likely the wrong name
	}
	return code
}
