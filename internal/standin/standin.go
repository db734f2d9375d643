// Package standin is an upstream standing in for an Atlassian product that
// runs the reference authenticator (examples/atlassian/authenticator): it
// accepts a request only with a valid identity assertion for exactly that
// request, and answers with the user it resolved. `restguard dev`, the
// compose demo (`restguard standin`) and the end-to-end tests put it behind
// restguard, so that what reaches "the product" is checked the way a
// product would check it, not by reading a header.
package standin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/restguard/restguard/assertion"
)

// Answer is the JSON body of every answer.
type Answer struct {
	User    string   `json:"user,omitempty"`    // the assertion's subject
	Groups  []string `json:"groups,omitempty"`  // the assertion's groups
	Method  string   `json:"method"`            // the request as received
	URI     string   `json:"uri"`               // the request target as received
	Refused string   `json:"refused,omitempty"` // the verifier's reason, on 401
	// Header is the X-Forwarded-User the request carried, to show that
	// the stand-in does not trust it.
	Header string `json:"x_forwarded_user,omitempty"`
}

// Upstream is the stand-in. It is safe for concurrent use.
type Upstream struct {
	v *assertion.Verifier

	mu       sync.Mutex
	keysFile string    // a JWKS file, or an http(s) URL
	stamp    time.Time // file: modification time; URL: last fetch
	size     int64
}

// refetch bounds how often a key set URL is fetched.
const refetch = 5 * time.Second

// New returns a stand-in that verifies with v.
func New(v *assertion.Verifier) *Upstream { return &Upstream{v: v} }

// WatchKeys makes the stand-in read its key set from a JWKS file (the one
// restguard writes to assertion.jwks_file), now and again whenever the
// file changes, or from an http(s) URL (restguard's admin endpoint), at
// most every few seconds. Until a key set loads, every assertion is
// refused.
func (u *Upstream) WatchKeys(path string) error {
	u.mu.Lock()
	u.keysFile = path
	u.mu.Unlock()
	return u.reload()
}

func (u *Upstream) reload() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.keysFile == "" {
		return nil
	}
	if strings.HasPrefix(u.keysFile, "http://") || strings.HasPrefix(u.keysFile, "https://") {
		return u.fetch()
	}
	st, err := os.Stat(u.keysFile)
	if err != nil {
		return err
	}
	if st.ModTime().Equal(u.stamp) && st.Size() == u.size {
		return nil
	}
	ks, err := assertion.LoadKeySet(u.keysFile)
	if err != nil {
		return err // keep the last good set
	}
	u.v.SetKeys(ks)
	u.stamp, u.size = st.ModTime(), st.Size()
	return nil
}

// fetch reads the key set from its URL, at most every refetch. Callers
// hold u.mu.
func (u *Upstream) fetch() error {
	if !u.stamp.IsZero() && time.Since(u.stamp) < refetch {
		return nil
	}
	u.stamp = time.Now()
	c := &http.Client{Timeout: 2 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(u.keysFile)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("standin: key set: status %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	ks, err := assertion.ParseKeySet(data)
	if err != nil {
		return err // keep the last good set
	}
	u.v.SetKeys(ks)
	return nil
}

// ServeHTTP answers 200 with the resolved user, or 401 with the reason.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = u.reload()
	a := Answer{Method: r.Method, URI: r.RequestURI, Header: r.Header.Get("X-Forwarded-User")}
	status := http.StatusOK
	claims, err := u.v.VerifyRequest(r)
	switch {
	case errors.Is(err, assertion.ErrNoAssertion):
		status, a.Refused = http.StatusUnauthorized, "no_assertion"
	case err != nil:
		status, a.Refused = http.StatusUnauthorized, string(assertion.ReasonOf(err))
	default:
		a.User, a.Groups = claims.Subject, claims.Groups
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(a)
}
