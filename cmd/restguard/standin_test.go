package main

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/restguard/restguard/assertion"
	"github.com/restguard/restguard/internal/standin"
)

// TestStandinHeaderFlag: `restguard standin -header` reads the assertion
// from the header the deployment configured (assertion.header) and from no
// other, so a renamed header is tested the way the product will read it.
func TestStandinHeaderFlag(t *testing.T) {
	s := newTestSigner(t)
	keys := filepath.Join(t.TempDir(), "jwks.json")
	ks, err := assertion.NewKeySet(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.WriteFile(keys); err != nil {
		t.Fatal(err)
	}
	up, err := newStandin(keys, "rg", "https://jira.example.com", "X-Edge-Identity", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	target, err := assertion.Target("GET", "/rest/api/2/myself", "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	v, err := s.Sign(assertion.Claims{Issuer: "rg", Audience: "https://jira.example.com", Subject: "alice",
		IssuedAt: now.Unix(), Expiry: now.Add(30 * time.Second).Unix(), ID: assertion.NewID(), Method: "GET", Target: target})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		header, user, refused string
		status                int
	}{
		{"X-Edge-Identity", "alice", "", 200},
		{assertion.HeaderName, "", "no_assertion", 401},
	} {
		req := httptest.NewRequest("GET", "/rest/api/2/myself", nil)
		req.Header.Set(c.header, v)
		w := httptest.NewRecorder()
		up.ServeHTTP(w, req)
		var a standin.Answer
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		if w.Code != c.status || a.User != c.user || a.Refused != c.refused {
			t.Errorf("assertion in %s: %d %+v, want %d user %q refused %q", c.header, w.Code, a, c.status, c.user, c.refused)
		}
	}
	if _, err := newStandin(keys, "rg", "https://jira.example.com", "X Edge", io.Discard); err == nil {
		t.Error("a header name with a space was accepted")
	}
}
