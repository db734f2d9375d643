package assertion

import (
	"bytes"
	"crypto"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restguard/restguard/policy"
)

// The cross-language test vectors: assertions minted here with the
// committed test keys, each with the request it arrives with and the
// verdict every verifier must reach. The Java reference authenticators
// (examples/atlassian/authenticator) run the same file through their
// AssertionVerifier; both must agree on every line.
//
//	go test ./assertion -run TestVectors -update   # regenerate
//	go test ./assertion -run TestVectors           # check the committed verdicts

var update = flag.Bool("update", false, "rewrite the cross-language test vectors")

var vectorsPath = filepath.Join("..", "examples", "atlassian", "authenticator", "testdata", "vectors.json")

type vectorFile struct {
	Comment  []string        `json:"comment"`
	Issuer   string          `json:"issuer"`
	Audience string          `json:"audience"`
	Leeway   int64           `json:"leeway_seconds"`
	Now      int64           `json:"now"`
	JWKS     json.RawMessage `json:"jwks"`
	Vectors  []vector        `json:"vectors"`
	Paths    []pathVector    `json:"paths"`
	Targets  []targetVector  `json:"targets"`
}

// vector is one assertion and the request it arrives with. Vectors are
// verified in order by one verifier, so a later vector can be a replay of
// an earlier one. Want is "ok" or a Reason; Subject is the user an "ok"
// yields.
type vector struct {
	Name      string `json:"name"`
	Assertion string `json:"assertion"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Query     string `json:"query"`
	Want      string `json:"want"`
	Subject   string `json:"subject,omitempty"`
}

// pathVector is policy.NormalizePath's answer for a raw path, which the
// Java port (TomcatPath) must reproduce exactly.
type pathVector struct {
	Raw       string `json:"raw"`
	Clean     string `json:"clean"`
	Ambiguous bool   `json:"ambiguous"`
	Error     bool   `json:"error"`
}

// targetVector is Target's answer ("" for an error).
type targetVector struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query"`
	RTH    string `json:"rth"`
}

func TestVectors(t *testing.T) {
	want := buildVectors(t)
	if *update {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(want); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d vectors, %d paths, %d targets)", vectorsPath, len(want.Vectors), len(want.Paths), len(want.Targets))
	}

	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("%v (run go test ./assertion -run TestVectors -update)", err)
	}
	var got vectorFile
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}

	// The committed file matches the generator: same keys, same cases.
	// (ES256 signatures are randomised, so assertions are not compared.)
	if got.Issuer != want.Issuer || got.Audience != want.Audience || got.Leeway != want.Leeway || got.Now != want.Now {
		t.Errorf("committed settings differ from the generator's; run with -update")
	}
	var gotKeys, wantKeys bytes.Buffer
	if json.Compact(&gotKeys, got.JWKS) != nil || json.Compact(&wantKeys, want.JWKS) != nil || !bytes.Equal(gotKeys.Bytes(), wantKeys.Bytes()) {
		t.Errorf("committed jwks is not the test keys' key set; run with -update")
	}
	if len(got.Vectors) != len(want.Vectors) {
		t.Fatalf("committed file has %d vectors, the generator %d; run with -update", len(got.Vectors), len(want.Vectors))
	}
	for i := range want.Vectors {
		g, w := got.Vectors[i], want.Vectors[i]
		g.Assertion, w.Assertion = "", ""
		if g != w {
			t.Errorf("vector %d differs from the generator: %+v vs %+v; run with -update", i, g, w)
		}
	}
	if !equalJSON(t, got.Paths, want.Paths) || !equalJSON(t, got.Targets, want.Targets) {
		t.Errorf("committed paths or targets differ from the generator; run with -update")
	}

	// The Go verifier reaches exactly the committed verdicts.
	ks, err := ParseKeySet(got.JWKS)
	if err != nil {
		t.Fatal(err)
	}
	v := newTestVerifier(t, ks, &clock{testNow})
	for _, vec := range got.Vectors {
		c, err := v.Verify(vec.Assertion, vec.Method, vec.Path, vec.Query)
		verdict := "ok"
		if err != nil {
			verdict = string(ReasonOf(err))
		}
		if verdict != vec.Want || (err == nil && c.Subject != vec.Subject) {
			t.Errorf("%s: verdict %s (subject %q), committed %s (subject %q)", vec.Name, verdict, c.Subject, vec.Want, vec.Subject)
		}
	}
	for _, p := range got.Paths {
		clean, amb, err := policy.NormalizePath(p.Raw)
		if (err != nil) != p.Error || err == nil && (clean != p.Clean || amb != p.Ambiguous) {
			t.Errorf("NormalizePath(%q) = %q, %v, %v; committed %+v", p.Raw, clean, amb, err, p)
		}
	}
	for _, tv := range got.Targets {
		rth, _ := Target(tv.Method, tv.Path, tv.Query)
		if rth != tv.RTH {
			t.Errorf("Target(%q, %q, %q) = %q, committed %q", tv.Method, tv.Path, tv.Query, rth, tv.RTH)
		}
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return bytes.Equal(ja, jb)
}

// buildVectors is the generator. Each case states its threat; the
// verdict is written by hand, not computed, so that the Go verifier is
// checked against it too.
func buildVectors(t *testing.T) vectorFile {
	es, ed, ks := testKeys(t)
	sec1 := newTestSigner(t, "es256-sec1.pem")
	other := newTestSigner(t, "unpublished-es256.pem")
	now := testNow.Unix()

	jtiN := 0
	nextJTI := func() string { // fixed, distinct jtis keep payloads reproducible
		jtiN++
		var raw [16]byte
		copy(raw[:], "restguard-vector")
		raw[15] = byte(jtiN)
		return b64.EncodeToString(raw[:])
	}
	claims := func(method, path, query string) Claims {
		rth, err := Target(method, path, query)
		if err != nil {
			t.Fatal(err)
		}
		return Claims{Issuer: testIssuer, Audience: testAudience, Subject: "alice", Groups: []string{"jira-users"},
			Email: "alice@example.com", IssuedAt: now - 1, Expiry: now + 29, ID: nextJTI(), Method: method, Target: rth}
	}
	sign := func(s *Signer, c Claims) string { return mustSign(t, s, c) }
	// asMap turns claims into a map for edits no Signer would make.
	asMap := func(c Claims) map[string]any {
		return map[string]any{"iss": c.Issuer, "aud": c.Audience, "sub": c.Subject, "groups": c.Groups,
			"email": c.Email, "iat": c.IssuedAt, "exp": c.Expiry, "jti": c.ID, "htm": c.Method, "rth": c.Target}
	}
	raw := func(key crypto.Signer, header string, payload string) string { return signRaw(t, key, header, payload) }
	esHeader := headerFor(es)
	get := func(c Claims) string { return sign(es, c) }

	var vs []vector
	add := func(name, tok, method, path, query, want string) {
		v := vector{Name: name, Assertion: tok, Method: method, Path: path, Query: query, Want: want}
		if want == "ok" {
			v.Subject = "alice"
		}
		vs = append(vs, v)
	}
	ok := "ok"
	const p = testPath

	// Both key types, and both PEM forms of the EC key.
	first := get(claims("GET", p, ""))
	add("valid ES256", first, "GET", p, "", ok)
	add("valid EdDSA", sign(ed, claims("GET", p, "")), "GET", p, "", ok)
	add("valid ES256, key loaded from SEC1 PEM", sign(sec1, claims("GET", p, "")), "GET", p, "", ok)
	add("valid POST with a query", get(claims("POST", "/rest/api/2/issue", "updateHistory=true")), "POST", "/rest/api/2/issue", "updateHistory=true", ok)
	add("valid under a context path", get(claims("GET", "/jira"+p, "")), "GET", "/jira"+p, "", ok)

	// Replay.
	add("replayed: the same assertion a second time", first, "GET", p, "", string(ReasonReplayed))
	reused := claims("GET", p, "")
	add("first use of a jti", get(reused), "GET", p, "", ok)
	reused2 := claims("GET", "/rest/api/2/serverInfo", "")
	reused2.ID = reused.ID
	add("jti reused by another assertion for another endpoint", get(reused2), "GET", "/rest/api/2/serverInfo", "", string(ReasonReplayed))

	// Time.
	at := func(iat, exp int64) Claims { c := claims("GET", p, ""); c.IssuedAt, c.Expiry = iat, exp; return c }
	add("expired", get(at(now-60, now-30)), "GET", p, "", string(ReasonExpired))
	add("expired exactly at the leeway", get(at(now-40, now-5)), "GET", p, "", string(ReasonExpired))
	add("expired within the leeway", get(at(now-40, now-4)), "GET", p, "", ok)
	add("not yet valid", get(at(now+30, now+60)), "GET", p, "", string(ReasonNotYetValid))
	add("issued within the leeway in the future", get(at(now+5, now+30)), "GET", p, "", ok)
	add("issued just beyond the leeway", get(at(now+6, now+30)), "GET", p, "", string(ReasonNotYetValid))
	add("lifetime 60 s", get(at(now-10, now+50)), "GET", p, "", ok)
	long := asMap(at(now-10, now+51))
	add("lifetime 61 s", raw(es.ec, esHeader, payloadJSON(t, long)), "GET", p, "", string(ReasonLifetimeTooLong))
	longer := asMap(at(now, now+3600))
	add("lifetime one hour", raw(ed.ed, headerFor(ed), payloadJSON(t, longer)), "GET", p, "", string(ReasonLifetimeTooLong))

	// Who.
	aud := claims("GET", p, "")
	aud.Audience = "https://confluence.example.com"
	add("wrong audience: minted for another product", get(aud), "GET", p, "", string(ReasonWrongAudience))
	iss := claims("GET", p, "")
	iss.Issuer = "restguard-other"
	add("wrong issuer: another restguard deployment", get(iss), "GET", p, "", string(ReasonWrongIssuer))
	noSub := asMap(claims("GET", p, ""))
	noSub["sub"] = ""
	add("no subject: empty sub", raw(es.ec, esHeader, payloadJSON(t, noSub)), "GET", p, "", string(ReasonNoSubject))
	delete(noSub, "sub")
	noSub["jti"] = nextJTI()
	add("no subject: sub absent", raw(es.ec, esHeader, payloadJSON(t, noSub)), "GET", p, "", string(ReasonNoSubject))

	// Request binding.
	add("wrong method: GET assertion on a DELETE", get(claims("GET", p, "")), "DELETE", p, "", string(ReasonWrongMethod))
	add("wrong method: case differs", get(claims("GET", p, "")), "get", p, "", string(ReasonWrongMethod))
	add("wrong path", get(claims("GET", p, "")), "GET", "/rest/api/2/user", "", string(ReasonWrongTarget))
	add("wrong path: trailing slash", get(claims("GET", p, "")), "GET", p+"/", "", string(ReasonWrongTarget))
	add("wrong query", get(claims("GET", "/rest/api/2/search", "jql=project%3DA")), "GET", "/rest/api/2/search", "jql=project%3DB", string(ReasonWrongTarget))
	add("query added", get(claims("GET", p, "")), "GET", p, "expand=groups", string(ReasonWrongTarget))
	add("query dropped", get(claims("GET", p, "expand=groups")), "GET", p, "", string(ReasonWrongTarget))
	add("path that needs normalisation: dot segment", get(claims("GET", p, "")), "GET", "/rest/api/2/./myself", "", ok)
	add("path that needs normalisation: jsessionid", get(claims("GET", p, "")), "GET", "/rest;jsessionid=x/api/2/myself", "", ok)
	add("path that needs normalisation: dotdot semicolon", get(claims("GET", p, "")), "GET", "/rest/api/2/x/..;/myself", "", ok)
	add("path that needs normalisation: encoded letter", get(claims("GET", p, "")), "GET", "/%72est/api/2/myself", "", ok)
	add("encoded slash is another path", get(claims("GET", p, "")), "GET", "/rest/api%2F2/myself", "", string(ReasonWrongTarget))
	add("path that cannot be normalised", get(claims("GET", p, "")), "GET", "/../rest/api/2/myself", "", string(ReasonWrongTarget))

	// Keys and signatures.
	add("unknown kid: signed by an unpublished key", sign(other, claims("GET", p, "")), "GET", p, "", string(ReasonUnknownKey))
	good := get(claims("GET", p, ""))
	h, pl, s := splitToken(good)
	tampered := strings.Replace(payloadJSON(t, asMap(claims("GET", p, ""))), `"sub":"alice"`, `"sub":"admin"`, 1)
	add("tampered payload", h+"."+b64.EncodeToString([]byte(tampered))+"."+s, "GET", p, "", string(ReasonBadSignature))
	sig, _ := decodeSegment(s)
	sig[10] ^= 0x01
	add("tampered signature", h+"."+pl+"."+b64.EncodeToString(sig), "GET", p, "", string(ReasonBadSignature))
	eh, ep, esig := splitToken(sign(ed, claims("GET", p, "")))
	edSig, _ := decodeSegment(esig)
	edSig[40] ^= 0x80
	add("tampered EdDSA signature", eh+"."+ep+"."+b64.EncodeToString(edSig), "GET", p, "", string(ReasonBadSignature))
	rawSig, _ := decodeSegment(s)
	add("ES256 signature in DER form", h+"."+pl+"."+b64.EncodeToString(rawToDER(rawSig)), "GET", p, "", string(ReasonBadSignature))
	add("signature stripped", h+"."+pl+".", "GET", p, "", string(ReasonBadSignature))
	payload := payloadJSON(t, asMap(claims("GET", p, "")))
	add("alg none", b64.EncodeToString([]byte(`{"alg":"none","kid":"`+es.KeyID()+`","typ":"`+Type+`"}`))+"."+b64.EncodeToString([]byte(payload))+".",
		"GET", p, "", string(ReasonBadHeader))
	add("alg swapped to EdDSA on an EC key", raw(ed.ed, `{"alg":"EdDSA","kid":"`+es.KeyID()+`","typ":"`+Type+`"}`, payload), "GET", p, "", string(ReasonBadHeader))
	add("alg swapped to ES256 on an Ed25519 key", raw(es.ec, `{"alg":"ES256","kid":"`+ed.KeyID()+`","typ":"`+Type+`"}`, payload), "GET", p, "", string(ReasonBadHeader))
	add("alg HS256", raw(es.ec, `{"alg":"HS256","kid":"`+es.KeyID()+`","typ":"`+Type+`"}`, payload), "GET", p, "", string(ReasonBadHeader))
	add("extra header member jku", raw(es.ec, `{"alg":"ES256","jku":"https://attacker.example/jwks","kid":"`+es.KeyID()+`","typ":"`+Type+`"}`, payload), "GET", p, "", string(ReasonBadHeader))
	add("typ JWT", raw(es.ec, `{"alg":"ES256","kid":"`+es.KeyID()+`","typ":"JWT"}`, payload), "GET", p, "", string(ReasonBadHeader))
	add("duplicate header member", raw(es.ec, `{"alg":"none","alg":"ES256","kid":"`+es.KeyID()+`","typ":"`+Type+`"}`, payload), "GET", p, "", string(ReasonMalformed))
	add("header members reordered and spaced", raw(es.ec, `{ "typ" : "`+Type+`", "kid" : "`+es.KeyID()+`", "alg" : "ES256" }`, payload), "GET", p, "", ok)

	// Shape and claim types.
	add("empty", "", "GET", p, "", string(ReasonMalformed))
	add("two segments", h+"."+pl, "GET", p, "", string(ReasonMalformed))
	add("padded segment", good+"=", "GET", p, "", string(ReasonMalformed))
	add("too long", h+"."+strings.Repeat("A", MaxTokenBytes)+"."+s, "GET", p, "", string(ReasonMalformed))
	edit := func(name string, f func(m map[string]any) string, want string) {
		m := asMap(claims("GET", p, ""))
		add(name, raw(es.ec, esHeader, f(m)), "GET", p, "", want)
	}
	edit("iat as a string", func(m map[string]any) string { m["iat"] = "1767225599"; return payloadJSON(t, m) }, string(ReasonMalformed))
	edit("iat with a fraction", func(m map[string]any) string {
		return strings.Replace(payloadJSON(t, m), `"iat":1767225599`, `"iat":1767225599.0`, 1)
	}, string(ReasonMalformed))
	edit("exp before iat", func(m map[string]any) string { m["exp"] = now - 2; return payloadJSON(t, m) }, string(ReasonMalformed))
	edit("duplicate claim", func(m map[string]any) string {
		return strings.Replace(payloadJSON(t, m), `"sub":"alice"`, `"sub":"alice","sub":"admin"`, 1)
	}, string(ReasonMalformed))
	edit("jti too short", func(m map[string]any) string { m["jti"] = "c2hvcnQ"; return payloadJSON(t, m) }, string(ReasonMalformed))
	edit("aud as an array", func(m map[string]any) string { m["aud"] = []string{testAudience}; return payloadJSON(t, m) }, string(ReasonMalformed))
	edit("groups with a non-string", func(m map[string]any) string { m["groups"] = []any{"a", 1}; return payloadJSON(t, m) }, string(ReasonMalformed))
	edit("lone surrogate in a claim", func(m map[string]any) string {
		return strings.Replace(payloadJSON(t, m), `"email":"alice@example.com"`, `"email":"\ud800@example.com"`, 1)
	}, string(ReasonMalformed))
	edit("nesting too deep in an unknown claim", func(m map[string]any) string { m["x"] = deep(20); return payloadJSON(t, m) }, string(ReasonMalformed))
	edit("unknown claims ignored", func(m map[string]any) string {
		m["x-unknown"] = map[string]any{"n": []any{1.5e300, math.Copysign(0, -1), nil, false}, "s": "\u00e9"}
		return payloadJSON(t, m)
	}, ok)
	edit("escaped characters in claims", func(m map[string]any) string {
		return strings.Replace(payloadJSON(t, m), `"alice@example.com"`, `"\u0061lice\u0040ex\/ample.com \ud83d\ude00"`, 1)
	}, ok)

	// Paths: policy.NormalizePath's answers for the Java port.
	var paths []pathVector
	for _, raw := range []string{
		"/", p, "/jira" + p, "/rest/api/", "/REST/api/2/myself", "/status.json",
		"//rest/api/2/myself", "/./rest/api/2/myself", "/status/../rest/api/2/myself", "/status/..;/rest/api/2/myself",
		"/status;/../rest/api/2/myself", "/status;x=y/../rest/api/2/myself", "/%72est/api/2/myself", "/rest;jsessionid=1/api/2/myself",
		"/%2e/rest/api/2/myself", "/status/%2e%2e/rest/api/2/myself", "/status/.%2E/rest/api/2/myself", "/status%2f..%2frest/api/2/myself",
		"/rest%2fapi/2/myself", "/rest%5capi/2/myself", "/\\rest/api/2/myself", "/status\\..\\rest/api/2/myself",
		"/rest/api/2/myself%00", "/rest/api/2/myself%0a", "/rest/api/2/%252e", "/rest/api/2/myself.", "/rest/api/2/myself%2e",
		"http://jira.example.test/rest/api/2/myself", "/caf\u00e9", "/caf%c3%a9", "/s/x/_/;/WEB-INF/web.xml",
		"/secure/InsightPluginShowGeneralConfiguration.jspa;", "/statusfoo", "/status/../../rest/api/2/myself", "/status#/rest",
		"/status%3f/../rest/api/2/myself", "/a/.", "/a/b/..", "/a/..", "///a//b///", "/;x/rest", "/a/.../b", "/a%3bb", "/%7euser",
		"", "rest/api", "*", "/rest\x00/api", "/rest/api\n", "/rest\x7f", "/rest;a\x01b/api", "/..", "/%2E%2e/x", "/%zz", "/a%2", "/a%",
		"/" + strings.Repeat("a", policy.MaxPathBytes), "/" + strings.Repeat("a", policy.MaxPathBytes-1), "/a?b", "/a;b?c/d",
	} {
		clean, amb, err := policy.NormalizePath(raw)
		paths = append(paths, pathVector{Raw: raw, Clean: clean, Ambiguous: amb, Error: err != nil})
	}

	// Targets: Target's answers, the hashing the Java verifier must match.
	var targets []targetVector
	for _, tc := range [][3]string{
		{"GET", p, ""}, {"GET", p, "expand=groups"}, {"POST", "/rest/api/2/search", "jql=a%20b&x=%E2%82%AC"},
		{"GET", "/rest;jsessionid=x/api/2/./myself", ""}, {"PUT", "/caf\u00e9", "q=\u00e9"}, {"GET", "/", "?"},
		{"GET X", p, ""}, {"", p, ""}, {"GET", "/..", ""}, {"GET", "relative", ""},
	} {
		rth, _ := Target(tc[0], tc[1], tc[2])
		targets = append(targets, targetVector{Method: tc[0], Path: tc[1], Query: tc[2], RTH: rth})
	}

	return vectorFile{
		Comment: []string{
			"Cross-language test vectors for the restguard identity assertion (docs/identity-assertion.md).",
			"Generated by: go test ./assertion -run TestVectors -update (assertion/vectors_test.go). Do not edit by hand.",
			"Signed with the TEST-ONLY keys in assertion/testdata (compromised by design; see its README).",
			"Verify the vectors in order with one verifier (issuer, audience, leeway, jwks below) whose clock reads 'now':",
			"a vector's 'want' is 'ok' or the reason of the first failed check; 'subject' is the user an 'ok' yields.",
		},
		Issuer:   testIssuer,
		Audience: testAudience,
		Leeway:   int64(DefaultLeeway.Seconds()),
		Now:      now,
		JWKS:     json.RawMessage(ks.JSON()),
		Vectors:  vs,
		Paths:    paths,
		Targets:  targets,
	}
}
