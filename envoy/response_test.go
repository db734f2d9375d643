package envoy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/restguard/restguard/authz"
)

// checkResponse asserts what every response must satisfy: it passes the
// PGV rules, marshals, has an explicit status, and allows only for Allow.
func checkResponse(t testing.TB, resp *authv3.CheckResponse, allowed bool) {
	t.Helper()
	if resp == nil || resp.GetStatus() == nil {
		t.Fatal("response or status is nil (Envoy reads that as allow)")
	}
	if err := resp.ValidateAll(); err != nil {
		t.Errorf("ValidateAll: %v", err)
	}
	if _, err := proto.Marshal(resp); err != nil {
		t.Errorf("marshal: %v", err)
	}
	if got := resp.GetStatus().GetCode() == int32(codes.OK); got != allowed {
		t.Errorf("status %d: allows = %v, want %v", resp.GetStatus().GetCode(), got, allowed)
	}
	if allowed != (resp.GetOkResponse() != nil) || allowed == (resp.GetDeniedResponse() != nil) {
		t.Errorf("wrong http_response for allowed=%v: %T", allowed, resp.GetHttpResponse())
	}
}

// headerMap checks that every option overwrites and returns name → value.
func headerMap(t testing.TB, opts []*corev3.HeaderValueOption) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, o := range opts {
		//lint:ignore SA1019 the deprecated flag is what older Envoys read: it must be set
		if o.GetAppend() == nil || o.GetAppend().GetValue() {
			//lint:ignore SA1019 as above
			t.Errorf("%s: append = %v, want explicit false", o.GetHeader().GetKey(), o.GetAppend())
		}
		if o.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
			t.Errorf("%s: append_action = %v", o.GetHeader().GetKey(), o.GetAppendAction())
		}
		m[o.GetHeader().GetKey()] = o.GetHeader().GetValue()
	}
	return m
}

func TestToResponseAllow(t *testing.T) {
	d := &authz.Decision{
		ID: "d1", Verdict: authz.Allow, Reason: authz.ReasonAuthenticated, Rule: "rest", Provider: "corp",
		Identity:        &authz.Identity{Username: "alice", Groups: []string{"jira-users"}, ClientID: "jira-cli"},
		UpstreamHeaders: []authz.Header{{Name: "X-Forwarded-User", Value: "alice"}, {Name: "X-Forwarded-Groups", Value: "jira-users"}},
		RemoveHeaders:   []string{"authorization", "remote-user", "proxy-authorization"},
	}
	resp := ToResponse(d, "rid")
	checkResponse(t, resp, true)
	h := headerMap(t, resp.GetOkResponse().GetHeaders())
	if h["x-forwarded-user"] != "alice" || h["x-forwarded-groups"] != "jira-users" || len(h) != 2 {
		t.Errorf("headers = %v", h)
	}
	if got := resp.GetOkResponse().GetHeadersToRemove(); !slices.Equal(got, d.RemoveHeaders) {
		t.Errorf("headers_to_remove = %v", got)
	}
	md := resp.GetDynamicMetadata().AsMap()
	want := map[string]any{"decision_id": "d1", "reason": "authenticated", "rule": "rest", "provider": "corp", "user": "alice", "client_id": "jira-cli", "dry_run": false}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("metadata %s = %v, want %v", k, md[k], v)
		}
	}

	// A public route: no identity, no provider, dry-run recorded.
	pub := &authz.Decision{Verdict: authz.Allow, Reason: authz.ReasonPublicRoute, Rule: "status", DryRun: true}
	resp = ToResponse(pub, "rid")
	checkResponse(t, resp, true)
	md = resp.GetDynamicMetadata().AsMap()
	if _, ok := md["user"]; ok || md["dry_run"] != true {
		t.Errorf("metadata = %v", md)
	}
	if _, ok := md["provider"]; ok {
		t.Errorf("metadata = %v", md)
	}
	if _, ok := md["client_id"]; ok {
		t.Errorf("metadata = %v", md)
	}
}

func TestToResponseUnsendableHeaderFailsClosed(t *testing.T) {
	for _, h := range []authz.Header{{Name: "x-user", Value: "a\r\nx-admin: 1"}, {Name: "x user", Value: "a"}, {Name: "x-user", Value: ""}} {
		d := &authz.Decision{Verdict: authz.Allow, Reason: authz.ReasonAuthenticated, UpstreamHeaders: []authz.Header{h}}
		resp := ToResponse(d, "rid")
		checkResponse(t, resp, false)
		if resp.GetDeniedResponse().GetStatus().GetCode() != typev3.StatusCode_Forbidden {
			t.Errorf("%q: got %v", h, resp.GetDeniedResponse().GetStatus())
		}
	}
}

func TestToResponseDeny(t *testing.T) {
	const challenge401 = `Bearer realm="restguard", error="invalid_token", error_description="token expired"`
	tests := []struct {
		name      string
		d         authz.Decision
		code      codes.Code
		status    typev3.StatusCode
		challenge string
		retry     string
		reason    string
		errWord   string
	}{
		{"401 invalid token", authz.Decision{Verdict: authz.Unauthenticated, Reason: authz.ReasonTokenExpired, Credential: authz.CredentialBearer, Challenge: challenge401},
			codes.Unauthenticated, typev3.StatusCode_Unauthorized, challenge401, "", "token_expired", "invalid_token"},
		{"401 no credentials", authz.Decision{Verdict: authz.Unauthenticated, Reason: authz.ReasonCredentialsMissing, Challenge: `Bearer realm="restguard"`},
			codes.Unauthenticated, typev3.StatusCode_Unauthorized, `Bearer realm="restguard"`, "", "credentials_missing", "unauthorized"},
		{"403 basic blocked", authz.Decision{Verdict: authz.Forbidden, Reason: authz.ReasonBasicAuthBlocked, Rule: "rest"},
			codes.PermissionDenied, typev3.StatusCode_Forbidden, "", "", "basic_auth_blocked", "access_denied"},
		{"400 multiple credentials", authz.Decision{Verdict: authz.BadRequest, Reason: authz.ReasonMultipleCredentials, Challenge: `Bearer realm="r", error="invalid_request"`},
			codes.InvalidArgument, typev3.StatusCode_BadRequest, `Bearer realm="r", error="invalid_request"`, "", "multiple_credentials", "invalid_request"},
		{"503 idp unavailable", authz.Decision{Verdict: authz.Unavailable, Reason: authz.ReasonIdPUnavailable, RetryAfter: 7 * time.Second},
			codes.Unavailable, typev3.StatusCode_ServiceUnavailable, "", "7", "idp_unavailable", "temporarily_unavailable"},
		{"unknown verdict fails closed", authz.Decision{},
			codes.PermissionDenied, typev3.StatusCode_Forbidden, "", "", "internal_error", "access_denied"},
		{"continue fails closed", authz.Decision{Verdict: authz.Continue, Reason: authz.ReasonAuthenticated},
			codes.PermissionDenied, typev3.StatusCode_Forbidden, "", "", "authenticated", "access_denied"},
		{"out-of-range verdict fails closed", authz.Decision{Verdict: authz.Verdict(200), Reason: "x\r\ny"},
			codes.PermissionDenied, typev3.StatusCode_Forbidden, "", "", "xy", "access_denied"},
		{"allow-shaped fields on a denial are not sent", authz.Decision{Verdict: authz.Forbidden, Reason: authz.ReasonGroupMissing,
			UpstreamHeaders: []authz.Header{{Name: "x-user", Value: "alice"}}, Identity: &authz.Identity{Username: "alice"}},
			codes.PermissionDenied, typev3.StatusCode_Forbidden, "", "", "group_missing", "insufficient_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := ToResponse(&tc.d, "req-1")
			checkResponse(t, resp, false)
			if got := codes.Code(resp.GetStatus().GetCode()); got != tc.code {
				t.Errorf("grpc code = %v, want %v", got, tc.code)
			}
			if got := resp.GetStatus().GetMessage(); got != tc.reason {
				t.Errorf("message = %q, want %q", got, tc.reason)
			}
			den := resp.GetDeniedResponse()
			if den.GetStatus().GetCode() != tc.status {
				t.Errorf("http status = %v, want %v", den.GetStatus().GetCode(), tc.status)
			}
			h := headerMap(t, den.GetHeaders())
			want := map[string]string{"content-type": "application/json", ReasonHeader: tc.reason}
			if tc.challenge != "" {
				want["www-authenticate"] = tc.challenge
			}
			if tc.retry != "" {
				want["retry-after"] = tc.retry
			}
			if len(h) != len(want) {
				t.Errorf("headers = %v, want %v", h, want)
			}
			for k, v := range want {
				if h[k] != v {
					t.Errorf("header %s = %q, want %q", k, h[k], v)
				}
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(den.GetBody()), &body); err != nil {
				t.Fatalf("body %q: %v", den.GetBody(), err)
			}
			if body["reason"] != string(tc.d.Reason) && tc.d.Reason != "" || body["request_id"] != "req-1" || body["error"] != tc.errWord {
				t.Errorf("body = %v", body)
			}
			md := resp.GetDynamicMetadata().AsMap()
			if md["reason"] != tc.reason || md["rule"] != tc.d.Rule || len(md) != 3 {
				t.Errorf("metadata = %v", md)
			}
		})
	}
	checkResponse(t, ToResponse(nil, ""), false)
}

// TestToResponseMatchesFixtures compares our responses with the verified
// shapes in testdata/checkresponses: same status code, same denied status,
// headers overwrite, the same parts populated.
func TestToResponseMatchesFixtures(t *testing.T) {
	tests := []struct {
		file string
		d    authz.Decision
	}{
		{"denied-401-invalid-bearer.json", authz.Decision{Verdict: authz.Unauthenticated, Reason: authz.ReasonTokenExpired,
			Credential: authz.CredentialBearer, Challenge: `Bearer realm="atlassian", error="invalid_token", error_description="token expired"`}},
		{"denied-403-basic-auth-blocked.json", authz.Decision{Verdict: authz.Forbidden, Reason: authz.ReasonBasicAuthBlocked, Credential: authz.CredentialBasic}},
		{"ok-with-identity-headers.json", authz.Decision{Verdict: authz.Allow, Reason: authz.ReasonAuthenticated, Rule: "rest-bearer",
			Identity:        &authz.Identity{Username: "alice"},
			UpstreamHeaders: []authz.Header{{Name: "x-authz-user", Value: "alice"}, {Name: "x-authz-groups", Value: "jira-software-users,confluence-users"}},
			RemoveHeaders:   []string{"x-forwarded-user"}}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "checkresponses", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			want := &authv3.CheckResponse{}
			if err := protojson.Unmarshal(b, want); err != nil {
				t.Fatal(err)
			}
			if err := want.ValidateAll(); err != nil {
				t.Fatal(err)
			}
			got := ToResponse(&tc.d, "rid")
			checkResponse(t, got, want.GetOkResponse() != nil)
			if got.GetStatus().GetCode() != want.GetStatus().GetCode() {
				t.Errorf("status code = %d, want %d", got.GetStatus().GetCode(), want.GetStatus().GetCode())
			}
			if got.GetDeniedResponse().GetStatus().GetCode() != want.GetDeniedResponse().GetStatus().GetCode() {
				t.Errorf("denied status = %v, want %v", got.GetDeniedResponse().GetStatus(), want.GetDeniedResponse().GetStatus())
			}
			gotH := headerMap(t, append(got.GetDeniedResponse().GetHeaders(), got.GetOkResponse().GetHeaders()...))
			for _, o := range append(want.GetDeniedResponse().GetHeaders(), want.GetOkResponse().GetHeaders()...) {
				k := o.GetHeader().GetKey()
				if _, ok := gotH[k]; !ok {
					t.Errorf("header %s missing", k)
				}
				if o.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
					t.Errorf("fixture header %s: %v", k, o.GetAppendAction())
				}
			}
			if ok := want.GetOkResponse(); ok != nil {
				if !slices.Equal(got.GetOkResponse().GetHeadersToRemove(), ok.GetHeadersToRemove()) {
					t.Errorf("headers_to_remove = %v, want %v", got.GetOkResponse().GetHeadersToRemove(), ok.GetHeadersToRemove())
				}
			}
			if (got.GetDeniedResponse().GetBody() == "") != (want.GetDeniedResponse().GetBody() == "") {
				t.Errorf("body presence differs: %q", got.GetDeniedResponse().GetBody())
			}
			gotMD := got.GetDynamicMetadata().AsMap()
			for _, k := range []string{"reason", "rule", "user"} {
				if v, ok := want.GetDynamicMetadata().AsMap()[k]; ok && gotMD[k] != v {
					t.Errorf("metadata %s = %v, want %v", k, gotMD[k], v)
				}
			}
		})
	}
}
