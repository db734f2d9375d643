package standin_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/restguard/restguard/assertion"
	"github.com/restguard/restguard/internal/standin"
)

// TestStandinBelievesOnlyAssertions: the stand-in resolves the user of a
// valid assertion for exactly the request, and refuses a missing, replayed
// or misdirected one whatever X-Forwarded-User says; keys come from a file
// or a URL.
func TestStandinBelievesOnlyAssertions(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := assertion.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := assertion.NewKeySet(signer.Public())
	file := filepath.Join(t.TempDir(), "keys.json")
	if err := ks.WriteFile(file); err != nil {
		t.Fatal(err)
	}
	keySrv := httptest.NewServer(ks)
	defer keySrv.Close()
	for _, src := range []string{file, keySrv.URL} {
		v, _ := assertion.NewVerifier(assertion.VerifierConfig{Issuer: "rg", Audience: "https://jira.example.com"})
		up := standin.New(v)
		if err := up.WatchKeys(src); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(up)
		sign := func(method, target string) string {
			tgt, _ := assertion.Target(method, target, "")
			now := time.Now().Unix()
			a, err := signer.Sign(assertion.Claims{Issuer: "rg", Audience: "https://jira.example.com", Subject: "alice", IssuedAt: now, Expiry: now + 30, Method: method, Target: tgt})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		get := func(path, assertionValue string) (int, standin.Answer) {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			req.Header.Set("X-Forwarded-User", "admin")
			if assertionValue != "" {
				req.Header.Set("X-Restguard-Assertion", assertionValue)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var a standin.Answer
			_ = json.NewDecoder(resp.Body).Decode(&a)
			return resp.StatusCode, a
		}
		a := sign("GET", "/rest/api/2/myself")
		if code, ans := get("/rest/api/2/myself", a); code != 200 || ans.User != "alice" || ans.Header != "admin" {
			t.Errorf("%s: valid: %d %+v", src, code, ans)
		}
		if code, ans := get("/rest/api/2/myself", a); code != 401 || ans.Refused != "replayed" {
			t.Errorf("%s: replayed: %d %+v", src, code, ans)
		}
		if code, ans := get("/rest/api/2/user", sign("GET", "/rest/api/2/myself")); code != 401 || ans.Refused != "wrong_target" {
			t.Errorf("%s: other endpoint: %d %+v", src, code, ans)
		}
		if code, ans := get("/rest/api/2/myself", ""); code != 401 || ans.Refused != "no_assertion" || ans.User != "" {
			t.Errorf("%s: header only: %d %+v", src, code, ans)
		}
		srv.Close()
	}
}
