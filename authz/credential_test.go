package authz_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/restguard/restguard/authz"
)

func TestParseCredential(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		authz []string
		proxy []string
		query string
		kind  authz.CredentialKind
		token string
		user  string
	}{
		{"none", nil, nil, "", authz.CredentialNone, "", ""},
		{"bearer", []string{"Bearer abc.def.ghi"}, nil, "", authz.CredentialBearer, "abc.def.ghi", ""},
		{"bearer lower", []string{"bearer abc"}, nil, "", authz.CredentialBearer, "abc", ""},
		{"bearer upper", []string{"BEARER abc"}, nil, "", authz.CredentialBearer, "abc", ""},
		{"bearer tab", []string{"Bearer\tabc"}, nil, "", authz.CredentialBearer, "abc", ""},
		{"bearer padding", []string{"Bearer abc=="}, nil, "", authz.CredentialBearer, "abc==", ""},
		{"bearer two spaces", []string{"Bearer  abc"}, nil, "", authz.CredentialBearer, "abc", ""},
		{"bearer empty", []string{"Bearer"}, nil, "", authz.CredentialMalformed, "", ""},
		{"bearer empty space", []string{"Bearer "}, nil, "", authz.CredentialMalformed, "", ""},
		{"empty header", []string{""}, nil, "", authz.CredentialMalformed, "", ""},
		{"bearer ampersand injection", []string{"Bearer abc&token=x"}, nil, "", authz.CredentialMalformed, "", ""},
		{"bearer extra word", []string{"Bearer abc extra"}, nil, "", authz.CredentialMalformed, "", ""},
		{"bearer quoted", []string{`Bearer "abc"`}, nil, "", authz.CredentialMalformed, "", ""},
		{"bearer semicolon", []string{"Bearer abc;"}, nil, "", authz.CredentialMalformed, "", ""},
		{"bearer trailing comma", []string{"Bearer abc,"}, nil, "", authz.CredentialMultiple, "", ""},
		{"bearer nul", []string{"Bearer ab\x00c"}, nil, "", authz.CredentialMalformed, "", ""},
		{"bearer non-ascii", []string{"Bearer abcé"}, nil, "", authz.CredentialMalformed, "", ""},
		{"bearer equals inside", []string{"Bearer ab=c"}, nil, "", authz.CredentialMalformed, "", ""},
		{"basic", []string{"Basic YWxpY2U6cGFzcw=="}, nil, "", authz.CredentialBasic, "", "alice"},
		{"basic lower", []string{"basic YWxpY2U6cGFzcw=="}, nil, "", authz.CredentialBasic, "", "alice"},
		{"basic mixed", []string{"bAsIc YWxpY2U6cGFzcw=="}, nil, "", authz.CredentialBasic, "", "alice"},
		{"basic tab", []string{"Basic\tYWxpY2U6cGFzcw=="}, nil, "", authz.CredentialBasic, "", "alice"},
		{"basic no creds", []string{"Basic"}, nil, "", authz.CredentialBasic, "", ""},
		{"basic not base64", []string{"Basic <BASIC>"}, nil, "", authz.CredentialBasic, "", ""},
		{"basic huge", []string{"Basic " + strings.Repeat("QUFB", 4000)}, nil, "", authz.CredentialBasic, "", ""},
		{"proxy basic", nil, []string{"Basic YWxpY2U6cGFzcw=="}, "", authz.CredentialBasic, "", "alice"},
		{"proxy bearer is not the user token", nil, []string{"Bearer abc"}, "", authz.CredentialOther, "", ""},
		{"bearer plus proxy basic", []string{"Bearer abc"}, []string{"Basic YWxpY2U6cGFzcw=="}, "", authz.CredentialMultiple, "", ""},
		{"two lines", []string{"Bearer a", "Bearer b"}, nil, "", authz.CredentialMultiple, "", ""},
		{"merged", []string{"Bearer a, Basic YWxp"}, nil, "", authz.CredentialMultiple, "", ""},
		{"query token only", nil, nil, "access_token=abc", authz.CredentialNone, "", ""},
		{"query token and header", []string{"Bearer abc"}, nil, "x=1&access_token=abc", authz.CredentialMultiple, "", ""},
		{"query lookalike", []string{"Bearer abc"}, nil, "my_access_token_count=1", authz.CredentialBearer, "abc", ""},
		{"query token with an encoded name", []string{"Bearer abc"}, nil, "%61ccess_token=abc", authz.CredentialMultiple, "", ""},
		{"query with other escapes", []string{"Bearer abc"}, nil, "jql=project%3DOPS", authz.CredentialBearer, "abc", ""},
		{"oauth1 params", []string{`OAuth oauth_consumer_key="x",oauth_token="y", oauth_signature="z"`}, nil, "", authz.CredentialOther, "", ""},
		{"oauth1 single param", []string{`OAuth oauth_consumer_key="x"`}, nil, "", authz.CredentialOther, "", ""},
		{"oauth1 merged with bearer", []string{`OAuth oauth_consumer_key="x", Bearer abc`}, nil, "", authz.CredentialMultiple, "", ""},
		{"negotiate merged with basic", []string{`Negotiate YIIG,basic YWxp`}, nil, "", authz.CredentialMultiple, "", ""},
		{"negotiate", []string{"Negotiate YIIG"}, nil, "", authz.CredentialOther, "", ""},
		{"proxy bare token", nil, []string{"deadbeefcafe0123456789"}, "", authz.CredentialMalformed, "", ""},
		{"jwt scheme", []string{"JWT abc"}, nil, "", authz.CredentialOther, "", ""},
		{"bad scheme", []string{"Bea(rer abc"}, nil, "", authz.CredentialMalformed, "", ""},
		{"bare token without a scheme", []string{"deadbeefcafe0123456789"}, nil, "", authz.CredentialMalformed, "", ""},
		{"bare short token", []string{"abc123"}, nil, "", authz.CredentialMalformed, "", ""},
		{"overlong scheme", []string{"averyveryverylongschemename params"}, nil, "", authz.CredentialMalformed, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for _, v := range tc.authz {
				h.Add("Authorization", v)
			}
			for _, v := range tc.proxy {
				h.Add("Proxy-Authorization", v)
			}
			c := authz.ParseCredential(h, tc.query)
			if c.Kind != tc.kind || c.Token != tc.token || c.BasicUser != tc.user {
				t.Fatalf("got kind=%s token=%q user=%q, want %s %q %q", c.Kind, c.Token, c.BasicUser, tc.kind, tc.token, tc.user)
			}
		})
	}
}

// FuzzParseCredential: any header value classifies without panicking, a
// bearer token always satisfies the b64token grammar, and a value holding a
// comma is never a single credential.
func FuzzParseCredential(f *testing.F) {
	for _, s := range []string{"Bearer abc", "basic YWxp", "Bearer a, Basic b", "Bearer\t\tx==", "", "Bearer ", "OAuth a=\"b\"", "Bearer \x00", "BEARER a.b.c"} {
		f.Add(s, "")
	}
	f.Add("Bearer x", "access_token=1")
	f.Fuzz(func(t *testing.T, v, query string) {
		h := http.Header{}
		h.Set("Authorization", v)
		c := authz.ParseCredential(h, query)
		switch c.Kind {
		case authz.CredentialBearer:
			if !authz.IsB64Token(c.Token) {
				t.Fatalf("bearer token %q is not a b64token", c.Token)
			}
		case authz.CredentialBasic:
			if strings.Contains(v, ",") {
				t.Fatalf("%q with a comma classified as one %s credential", v, c.Kind)
			}
		}
	})
}

// isB64TokenReference is IsB64Token as first written, character classes
// spelt out; the table-driven version must agree with it on every byte.
func isB64TokenReference(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

func TestIsB64TokenEveryByte(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		for _, s := range []string{string(rune(c)), "a" + string([]byte{byte(c)}), "ab" + string([]byte{byte(c)}) + "=", string([]byte{byte(c)}) + "==", "x=" + string([]byte{byte(c)})} {
			if got, want := authz.IsB64Token(s), isB64TokenReference(s); got != want {
				t.Errorf("IsB64Token(%q) = %v, want %v", s, got, want)
			}
		}
	}
	for _, s := range []string{"", "=", "a==", "a=b", "eyJ.eyJ.sig", "a b"} {
		if got, want := authz.IsB64Token(s), isB64TokenReference(s); got != want {
			t.Errorf("IsB64Token(%q) = %v, want %v", s, got, want)
		}
	}
}

// BenchmarkIsB64Token: a 900-byte token through the table (impl=table)
// and through the character classes it replaced (impl=classes).
func BenchmarkIsB64Token(b *testing.B) {
	tok := strings.Repeat("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.", 24) + "sig_-~+/=="
	for _, impl := range []struct {
		name string
		f    func(string) bool
	}{{"classes", isB64TokenReference}, {"table", authz.IsB64Token}} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			for b.Loop() {
				if !impl.f(tok) {
					b.Fatal("not a b64token")
				}
			}
		})
	}
}

func TestIsTokenEveryByte(t *testing.T) {
	t.Parallel()
	reference := func(s string) bool { // IsToken as first written
		if s == "" {
			return false
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
				continue
			}
			if strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
				return false
			}
		}
		return true
	}
	for c := range 256 {
		b := byte(c)
		for _, s := range []string{string([]byte{b}), "x-" + string([]byte{b}), string([]byte{b}) + "y"} {
			if got, want := authz.IsToken(s), reference(s); got != want {
				t.Errorf("IsToken(%q) = %v, want %v", s, got, want)
			}
		}
	}
	if authz.IsToken("") {
		t.Error(`IsToken("")`)
	}
}
