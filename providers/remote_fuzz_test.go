package providers

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/restguard/restguard/authz"
)

// FuzzIntrospectionAnswer feeds arbitrary bodies to the introspection
// answer parser: nothing panics, every refusal is classified, and a token
// is active only when the body is one JSON object whose "active" member is
// the literal true (security catalogue H3), with an identity.
func FuzzIntrospectionAnswer(f *testing.F) {
	for _, s := range []string{
		`{"active":true,"username":"alice","exp":4102444800}`,
		`{"active":"true","username":"a"}`, `{"active":1}`, `{"active":null}`, `{}`, `[]`, `true`,
		`{"active":true}garbage`, `{"active":false,"active":true}`, `{"active":false,"ACTIVE":true}`,
		`{"Active":true,"username":"a"}`, "{\"active\":true,\"username\":\"al\xffice\"}",
		`{"active":true,"token_type":"refresh_token","username":"a"}`, `{"active":true,"typ":"Refresh","sub":"a"}`,
		`{"active":true,"token_use":"id_token","sub":"a"}`, `{"active":true,"exp":"4102444800","sub":"a"}`,
		`{"active":true,"nbf":1e300,"sub":"a"}`, `<html>login</html>`,
	} {
		f.Add([]byte(s))
	}
	p, err := NewIntrospection(IntrospectionConfig{Name: "fuzz", Endpoint: "http://127.0.0.1:1/introspect", AuthMethod: AuthNone, AllowAnyClient: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := p.call.object(&answer{status: http.StatusOK, header: http.Header{"Content-Type": {"application/json"}}, body: body})
		if err != nil {
			if !errors.Is(err, authz.ErrInvalidToken) && !errors.Is(err, authz.ErrUnavailable) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		id, err := p.identity(c)
		if err != nil {
			if !errors.Is(err, authz.ErrInvalidToken) && !errors.Is(err, authz.ErrUnavailable) && !errors.Is(err, authz.ErrForbidden) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		// Accepted: cross-check with encoding/json.
		var m map[string]json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(bytes.TrimSpace(body)))
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("accepted a body encoding/json refuses: %q", body)
		}
		if string(bytes.TrimSpace(m["active"])) != "true" {
			t.Fatalf("active without the literal true: %q", body)
		}
		if id == nil || id.Username == "" {
			t.Fatalf("active without an identity: %q", body)
		}
	})
}
