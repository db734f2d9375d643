package envoy

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/restguard/restguard/authz"
)

// FuzzToRequest feeds arbitrary protobuf bytes through ToRequest, a real
// Engine and ToResponse: nothing panics, the translated request is
// well-formed, and a response allows exactly when the verdict is Allow.
func FuzzToRequest(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "checkrequests", "*.json"))
	for _, file := range files {
		req := withToken(loadRequest(f, filepath.Base(file)), goodToken)
		b, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	engine := testEngine(f, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		req := &authv3.CheckRequest{}
		if err := proto.Unmarshal(data, req); err != nil {
			t.Skip()
		}
		r := ToRequest(req)
		if r == nil || r.Header == nil {
			t.Fatal("nil request or header")
		}
		for k := range r.Header {
			if strings.HasPrefix(k, ":") {
				t.Fatalf("pseudo-header %q in Header", k)
			}
		}
		if strings.ContainsAny(r.Method+r.Host+r.Path+r.Query, "\r\n\x00") && r.Malformed == "" {
			t.Fatalf("control characters accepted: %+v", r)
		}
		d := engine.Check(t.Context(), r)
		if r.Malformed != "" && d.Allowed() {
			t.Fatalf("malformed request allowed: %q", r.Malformed)
		}
		resp := ToResponse(&d, r.ID)
		checkResponse(t, resp, d.Verdict == authz.Allow)
	})
}

// FuzzToResponse checks that no decision allows unless its verdict is
// Allow, and that every response is valid whatever the decision holds.
func FuzzToResponse(f *testing.F) {
	f.Add(uint8(authz.Allow), "authenticated", "x-user", "alice", "", "rid", int64(0))
	f.Add(uint8(authz.Unauthenticated), "token_expired", "", "", `Bearer realm="r", error="invalid_token"`, "rid", int64(0))
	f.Add(uint8(authz.Unavailable), "idp_unavailable", "", "", "", "\xff", int64(time.Hour))
	f.Add(uint8(0), "", "x", "\r\n", "\x00", "", int64(-1))
	f.Add(uint8(200), "\xff", "X-Up", "v", "c", "id", int64(1))
	f.Fuzz(func(t *testing.T, verdict uint8, reason, name, value, challenge, requestID string, retry int64) {
		d := authz.Decision{
			ID: requestID, Verdict: authz.Verdict(verdict), Reason: authz.Reason(reason), Rule: name,
			Challenge: challenge, RetryAfter: time.Duration(retry), Provider: value,
			Identity: &authz.Identity{Username: value},
		}
		if name != "" {
			d.UpstreamHeaders = []authz.Header{{Name: name, Value: value}}
			d.RemoveHeaders = []string{name + "-x"}
		}
		checkResponse(t, ToResponse(&d, requestID), d.Verdict == authz.Allow && (name == "" || isToken(name) && validValue(value)))
	})
}
