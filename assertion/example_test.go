package assertion_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/restguard/restguard/assertion"
)

// restguard's side: on an allowed request, bind an assertion to it and
// sign it. The test key is a committed, test-only key.
func ExampleSigner_Sign() {
	signer, err := assertion.LoadSigner("testdata/es256.pem")
	if err != nil {
		log.Fatal(err)
	}
	rth, err := assertion.Target("GET", "/rest/api/2/myself", "")
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now().Unix()
	token, err := signer.Sign(assertion.Claims{
		Issuer:   "restguard-prod",
		Audience: "https://jira.example.com",
		Subject:  "alice",
		IssuedAt: now,
		Expiry:   now + 30,
		Method:   "GET",
		Target:   rth,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(signer.Algorithm(), len(token) > 0)
	// Output: ES256 true
}

// The product's side (here a Go stand-in upstream): verify the assertion
// against the request as received. A second use of the same assertion is
// a replay.
func ExampleVerifier_Verify() {
	signer, _ := assertion.LoadSigner("testdata/ed25519.pem")
	keys, _ := assertion.NewKeySet(signer.Public())
	v, err := assertion.NewVerifier(assertion.VerifierConfig{
		Keys:     keys,
		Issuer:   "restguard-prod",
		Audience: "https://jira.example.com",
	})
	if err != nil {
		log.Fatal(err)
	}
	rth, _ := assertion.Target("GET", "/rest/api/2/myself", "")
	now := time.Now().Unix()
	token, _ := signer.Sign(assertion.Claims{
		Issuer: "restguard-prod", Audience: "https://jira.example.com", Subject: "alice",
		IssuedAt: now, Expiry: now + 30, Method: "GET", Target: rth,
	})

	// Tomcat resolves ";jsessionid" and "." the same way restguard did.
	claims, err := v.Verify(token, "GET", "/rest;jsessionid=1/api/2/./myself", "")
	fmt.Println(claims.Subject, err)
	_, err = v.Verify(token, "GET", "/rest/api/2/myself", "")
	fmt.Println(assertion.ReasonOf(err))
	// Output:
	// alice <nil>
	// replayed
}

// Publishing keys: the current key and the previous one during a rotation
// overlap, written where the product host can read them.
func ExampleKeySet_WriteFile() {
	current, _ := assertion.LoadSigner("testdata/ed25519.pem")
	previous, _ := assertion.LoadSigner("testdata/es256.pem")
	keys, err := assertion.NewKeySet(current.Public(), previous.Public())
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "jwks")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "restguard-jwks.json")
	if err := keys.WriteFile(path); err != nil {
		log.Fatal(err)
	}
	loaded, err := assertion.LoadKeySet(path)
	fmt.Println(len(loaded.KeyIDs()), err)
	// Output: 2 <nil>
}

func ExampleTarget() {
	a, _ := assertion.Target("GET", "/rest/api/2/myself", "")
	b, _ := assertion.Target("GET", "/rest;jsessionid=x/api/2/./myself", "")
	c, _ := assertion.Target("GET", "/rest/api/2/myself", "expand=groups")
	fmt.Println(a == b, a == c)
	// Output: true false
}
