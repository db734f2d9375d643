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
