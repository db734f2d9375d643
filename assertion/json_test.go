package assertion

import (
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
)

func TestStrictJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		ok bool
	}{
		{`{}`, true},
		{` {"a":1} `, true},
		{"{\t\"a\"\r\n:\n[1, -0, 0.5, 1e3, 1E-3, -2.5e+10, true, false, null, \"\", {}]}", true},
		{`{"a":"\"\\\/\b\f\n\r\tx\u00e9\uD83D\uDE00"}`, true},
		{`{"a":{"a":1},"b":{"a":2}}`, true}, // same name in different objects
		{`{"a":1,"a":1}`, false},            // duplicate
		{`{"a":1,"\u0061":2}`, false},       // duplicate after unescaping
		{`[]`, false},                       // not an object
		{`"a"`, false},
		{``, false},
		{`{`, false},
		{`{"a":1,}`, false},
		{`{"a":[1,]}`, false},
		{`{"a" 1}`, false},
		{`{a:1}`, false},
		{`{'a':1}`, false},
		{`{"a":01}`, false},
		{`{"a":1.}`, false},
		{`{"a":.5}`, false},
		{`{"a":+1}`, false},
		{`{"a":1e}`, false},
		{`{"a":-}`, false},
		{`{"a":NaN}`, false},
		{`{"a":tru}`, false},
		{`{"a":nul}`, false},
		{`{"a":1}{}`, false},
		{`{"a":1} x`, false},
		{"\xef\xbb\xbf{}", false}, // byte order mark
		{"{\"a\":\"\x01\"}", false},
		{"{\"a\":\"\xff\"}", false},
		{"{\"a\":\"\xed\xa0\x80\"}", false}, // UTF-8 encoded surrogate
		{`{"a":"\x"}`, false},
		{`{"a":"\u12"}`, false},
		{`{"a":"\uD800"}`, false},       // lone high surrogate
		{`{"a":"\uD800\u0041"}`, false}, // high surrogate then not a low one
		{`{"a":"\uDC00"}`, false},       // lone low surrogate
		{`{"a":"x`, false},
		{`{"a":"x\`, false},
		{`{"a":` + strings.Repeat("[", 15) + strings.Repeat("]", 15) + `}`, true},  // depth 16
		{`{"a":` + strings.Repeat("[", 16) + strings.Repeat("]", 16) + `}`, false}, // depth 17
	}
	for _, tc := range tests {
		_, err := parseJSONObject([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("parseJSONObject(%q) error = %v, want ok %v", tc.in, err, tc.ok)
		}
	}
	m, err := parseJSONObject([]byte(`{"s":"\u00e9\uD83D\uDE00\n","n":-1.5e3,"b":true,"z":null,"a":["x"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if m["s"] != "é😀\n" || m["n"] != jsonNumber("-1.5e3") || m["b"] != true || m["z"] != nil || m["a"].([]any)[0] != "x" {
		t.Errorf("values = %#v", m)
	}
}

func TestJSONInt(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"0": true, "1767225600": true, "9007199254740991": true,
		"9007199254740992": false, "-1": false, "1.0": false, "1e3": false, "99999999999999999": false,
	} {
		if _, ok := jsonInt(jsonNumber(in)); ok != want {
			t.Errorf("jsonInt(%s) ok = %v, want %v", in, ok, want)
		}
	}
	if _, ok := jsonInt("1"); ok {
		t.Error("jsonInt(string) ok")
	}
}

func TestCanonicalBase64URL(t *testing.T) {
	t.Parallel()
	for in, ok := range map[string]bool{
		"": true, "AA": true, "AAA": true, "AAAA": true, "_-8": true,
		"A": false, "AB": false /* non-zero trailing bits */, "AA==": false, "A+": false, "A/": false,
		"AA\n": false, "AA AA": false, "AA\r": false,
	} {
		if _, got := decodeSegment(in); got != ok {
			t.Errorf("decodeSegment(%q) ok = %v, want %v", in, got, ok)
		}
	}
}

func TestTarget(t *testing.T) {
	t.Parallel()
	hash := func(s string) string { sum := sha256.Sum256([]byte(s)); return b64.EncodeToString(sum[:]) }
	tests := []struct {
		method, path, query string
		want                string // the string hashed; "" for an error
	}{
		{"GET", "/rest/api/2/myself", "", "/rest/api/2/myself"},
		{"GET", "/rest/api/2/search", "jql=a%20b&x", "/rest/api/2/search?jql=a%20b&x"},
		{"GET", "/rest/api/2/./myself", "", "/rest/api/2/myself"},
		{"GET", "/rest;jsessionid=x/api/2/myself", "", "/rest/api/2/myself"},
		{"GET", "/jira/rest/api/2/myself", "", "/jira/rest/api/2/myself"},
		{"GET", "/a%2fb", "", "/a%2Fb"},
		{"GET", "/", "", "/"},
		{"PROPFIND", "/dav", "", "/dav"},
		{"get", "/x", "", "/x"}, // a token; htm comparison is case-sensitive elsewhere
		{"", "/x", "", ""},
		{"GET X", "/x", "", ""},
		{"GET", "", "", ""},
		{"GET", "x", "", ""},
		{"GET", "/..", "", ""},
		{"GET", "/a%zz", "", ""},
	}
	for _, tc := range tests {
		got, err := Target(tc.method, tc.path, tc.query)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("Target(%q, %q, %q) = %q, want an error", tc.method, tc.path, tc.query, got)
		case tc.want != "" && (err != nil || got != hash(tc.want)):
			t.Errorf("Target(%q, %q, %q) = %q, %v; want hash of %q", tc.method, tc.path, tc.query, got, err, tc.want)
		}
	}
}

func FuzzStrictJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":"\u00e9"}]}`, `{"a":1,"a":2}`, `{"a":"\uD800"}`, "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseJSONObject(data)
		if err != nil {
			return
		}
		// Whatever the strict parser accepts, encoding/json accepts too and
		// reads as the same members.
		var std map[string]any
		if err := json.Unmarshal(data, &std); err != nil {
			t.Fatalf("strict parser accepted %q, encoding/json: %v", data, err)
		}
		if len(std) != len(m) {
			t.Fatalf("%q: %d members, encoding/json %d", data, len(m), len(std))
		}
	})
}
