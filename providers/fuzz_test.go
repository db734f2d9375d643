package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/internal/idptest"
)

// FuzzJWTValidate feeds arbitrary strings to Validate: it must never panic,
// always return a classified error, and accept only the tokens the IdP
// signed (no mutation of a valid token may verify).
func FuzzJWTValidate(f *testing.F) {
	p := idptest.New(f)
	clk := newClock()
	p.SetNow(clk.Now)
	j, err := NewJWT(baseConfig(p, clk))
	if err != nil {
		f.Fatal(err)
	}
	if err := j.Refresh(context.Background()); err != nil {
		f.Fatal(err)
	}
	valid := map[string]bool{}
	for _, tok := range []string{
		p.Mint(f, nil),
		p.MintES256(f, map[string]any{"groups": []string{"a"}}),
	} {
		valid[tok] = true
		f.Add(tok)
		f.Add(tok[:len(tok)-1])
		f.Add(strings.Replace(tok, ".", "..", 1))
	}
	f.Add("")
	f.Add("a.b.c")
	f.Add("..")
	f.Add(strings.Repeat(".", 1000))
	f.Add(`{"payload":"e30","signatures":[]}`)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := j.Validate(context.Background(), tok)
		if err == nil {
			if !valid[tok] || id == nil || id.Username == "" {
				t.Fatalf("accepted an unsigned or mutated token: %q", tok)
			}
			return
		}
		var re *authz.ReasonError
		if !errors.As(err, &re) && !errors.Is(err, context.Canceled) {
			t.Fatalf("unclassified error %v", err)
		}
		if !errors.Is(err, authz.ErrInvalidToken) && !errors.Is(err, authz.ErrNotResponsible) && !errors.Is(err, authz.ErrUnavailable) {
			t.Fatalf("error without a class: %v", err)
		}
	})
}

// FuzzStrictJSON checks the duplicate-refusing decoder against
// encoding/json: whatever it accepts is valid JSON, an object, and decodes
// to exactly what encoding/json gives (no duplicates means no disagreement).
func FuzzStrictJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":[1,{"c":null}],"b":2}}`,
		`{"a":"\u00e9","b":true,"c":1.5e3}`, `[]`, `{"a":1}x`, "\ufeff{}", `{"a":"\xff"}`,
		`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeStrict(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid json %q", data)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var want map[string]any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("encoding/json refuses what decodeStrict accepted: %v", err)
		}
		if !reflect.DeepEqual(normalise(got), normalise(want)) {
			t.Fatalf("decoders disagree on %q:\n%#v\n%#v", data, got, want)
		}
	})
}

// normalise maps nil maps/slices and empty ones to the same form.
func normalise(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalise(e)
		}
		return out
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			out = append(out, normalise(e))
		}
		return out
	default:
		return v
	}
}

// FuzzStrictJSONFast holds decodeStrict (one scan for duplicates and depth,
// then one Decode) to the token-by-token decoder it replaced: the same
// acceptance, the same value, and on valid JSON the same error, found at
// the same place in the text.
func FuzzStrictJSONFast(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":[1,{"c":null}],"b":2}}`, `{"a":1,"\u0061":2}`,
		`{"a":"\u00e9","b":true,"c":1.5e3}`, `[]`, `{"a":1}x`, "\ufeff{}", `{"a":"\xff"}`, ` {"x":[]} `, `{"a":[1,2,]}`,
		`{"\ud800":1,"\udbff":2}`, `{"a":"q\"uote","b":{"a":1,"a":{}}}`, `null`, `{"a":1}{}`, `{"a" 1}`, `{,}`,
		`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
		`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
		`{"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"10":10,"11":11,"12":12,"13":13,"14":14,"15":15,"16":16,"17":17,"3":0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gerr := decodeStrict(data)
		want, werr := decodeStrictTokens(data)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("%q: decodeStrict error %v, token decoder error %v", data, gerr, werr)
		}
		if gerr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: values differ:\n%#v\n%#v", data, got, want)
		}
		if gerr != nil && json.Valid(data) && gerr.Error() != werr.Error() {
			t.Fatalf("%q: valid JSON, errors differ: %v / %v", data, gerr, werr)
		}
	})
}

// BenchmarkStrictJSON: a realistic claims set through the token-by-token
// decoder and through decodeStrict (benchstat -col /impl).
func BenchmarkStrictJSON(b *testing.B) {
	claims := []byte(`{"iss":"https://sso.example.com/realms/corp","aud":["jira","confluence"],"sub":"f3c2a1b0-1234-4cde-9abc-0123456789ab",` +
		`"preferred_username":"alice","email":"alice@example.com","groups":["jira-api-users","employees","confluence-users"],` +
		`"scope":"openid profile email","azp":"jira-cli","typ":"Bearer","iat":1767225600,"exp":1767229200,"jti":"a1b2c3d4-e5f6"}`)
	for _, impl := range []struct {
		name   string
		decode func([]byte) (map[string]any, error)
	}{{"tokens", decodeStrictTokens}, {"scan", decodeStrict}} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := impl.decode(claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestIsBase64URLEveryByte(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		b := byte(c)
		want := b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_'
		if got := isBase64URL("ab" + string([]byte{b})); got != want {
			t.Errorf("isBase64URL(%q) = %v, want %v", b, got, want)
		}
	}
}
