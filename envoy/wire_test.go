package envoy

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/restguard/restguard/authz"
)

// fixtureWires are the CheckRequest fixtures in wire form, with a token.
func fixtureWires(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "checkrequests", "*.json"))
	if len(files) < 10 {
		t.Fatalf("only %d fixtures", len(files))
	}
	out := map[string][]byte{}
	for _, file := range files {
		b, err := proto.Marshal(withToken(loadRequest(t, filepath.Base(file)), goodToken))
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(file)] = b
	}
	return out
}

// oddWires are hand-made CheckRequests at the edges of the wire reader:
// fields twice, wrong wire types, metadata, both header forms, bad UTF-8.
func oddWires(t testing.TB) [][]byte {
	t.Helper()
	base := fixtureWires(t)["02-jira-get-project-bearer-http2-tls.json"]
	msg := func(num protowire.Number, body []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), body)
	}
	str := func(num protowire.Number, s string) []byte { return msg(num, []byte(s)) }
	attrs := func(parts ...[]byte) []byte { return msg(1, slices.Concat(parts...)) }
	http := func(parts ...[]byte) []byte { return msg(4, msg(2, slices.Concat(parts...))) }
	entry := func(k, v string) []byte { return msg(3, slices.Concat(str(1, k), str(2, v))) }
	line := func(k, v string) []byte { return msg(1, slices.Concat(str(1, k), str(2, v))) }
	return [][]byte{
		nil,
		slices.Concat(base, base), // attributes twice: merged by proto.Unmarshal
		attrs(http(str(2, "GET"), str(2, "POST"), str(4, "/a"))),                 // method twice: the last wins
		attrs(http(str(2, "GET"), str(4, "/rest/x"), entry(":path", "/rest/x"))), // path and :path agree
		attrs(http(str(2, "GET"), str(4, "/a"), entry("x-a", "1"), entry("x-a", "2"))),
		attrs(http(str(2, "GET"), str(4, "/a"), entry("X-A", "1"), entry("x-a", "2"))),
		attrs(http(str(2, "GET"), str(4, "/a"), entry("x-a", "1\r\n"))),
		attrs(http(str(2, "GET"), str(4, "/a"), entry("", "1"))),
		attrs(http(str(2, "GET"), str(4, "/a"), entry("x a", "1"))),
		attrs(http(str(2, "GET"), str(4, "/a"), msg(13, slices.Concat(line("x-forwarded-for", "1.2.3.4"), line("x-forwarded-for", "5.6.7.8"), line(":path", "/a"))))),
		attrs(http(str(2, "GET"), str(4, "/a"), msg(13, slices.Concat(line(":method", "GET"), line(":method", "GET"))))),
		attrs(http(str(2, "GET"), str(4, "/a"), entry("x-a", "1"), msg(13, line("x-a", "1")))),
		attrs(http(str(2, "GET"), str(4, "/a"), entry("x-a", "1"), msg(13, line("x-a", "2")))),
		attrs(http(str(2, "GET"), str(4, "/a"), msg(13, nil))),
		attrs(http(str(2, "G\xffT"))),                                                  // invalid UTF-8 in a string: an error
		attrs(http(str(7, "q=\xff"))),                                                  // in a string field nobody reads: still an error
		attrs(http(msg(12, []byte("\xff")), str(2, "GET"))),                            // raw_body is bytes: fine
		attrs(msg(11, msg(1, str(1, "ns")))),                                           // metadata_context: left to proto.Unmarshal
		attrs(msg(1, msg(1, msg(2, str(1, "/tmp/sock"))))),                             // a pipe address
		attrs(msg(1, msg(1, msg(1, str(2, "10.0.0.1")))), msg(1, msg(4, str(4, "p")))), // source twice
		attrs(msg(10, slices.Concat(str(1, "k"), str(2, "v"), str(3, "x")))),           // an extension entry with a third field
		append(slices.Clone(base), 0x08, 0x01),                                         // an unknown varint field
		append(slices.Clone(base), 0x0b),                                               // a start-group tag
		append(slices.Clone(base), 0x0a, 0x05, 0x01),                                   // a truncated message
		append(slices.Clone(base), 0x12, 0x00),                                         // attributes as field 2
		{0x0a, 0x02, 0x22, 0x80},                                                       // an over-long length
		{0x0a, 0x0b, 0x22, 0x09, 0x12, 0x07, 0x12, 0x05, 'x', 0xc3, 0x28, 'y', 'z'},    // bad UTF-8 in method
	}
}

// sortedFields orders the headers map's entries (read from a Go map in
// random order by fieldsFromProto).
func sortedFields(f checkFields) checkFields {
	f.headers = slices.Clone(f.headers)
	slices.SortFunc(f.headers, func(a, b field) int { return strings.Compare(a.key, b.key) })
	if len(f.headers) == 0 {
		f.headers = nil
	}
	if len(f.headerMap) == 0 {
		f.headerMap = nil
	}
	return f
}

// checkWireDecode holds the wire path to proto.Unmarshal and the reference
// ToRequest, and today's ToRequest to the reference too.
func checkWireDecode(t *testing.T, data []byte) {
	t.Helper()
	want := &authv3.CheckRequest{}
	werr := proto.Unmarshal(data, want)
	got, gerr := decodeCheck(data)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("wire path error %v, proto.Unmarshal error %v", gerr, werr)
	}
	fields, fast := decodeCheckFields(string(data), nil)
	if werr != nil {
		if fast {
			t.Fatalf("the wire reader accepted bytes proto.Unmarshal refuses (%v)", werr)
		}
		return
	}
	ref := refToRequest(want)
	if !reflect.DeepEqual(got, ref) {
		t.Fatalf("wire path:\n got %+v\nwant %+v", got, ref)
	}
	if now := ToRequest(want); !reflect.DeepEqual(now, ref) {
		t.Fatalf("ToRequest:\n got %+v\nwant %+v", now, ref)
	}
	if fast {
		if g, w := sortedFields(fields), sortedFields(fieldsFromProto(want)); !reflect.DeepEqual(g, w) {
			t.Fatalf("wire fields:\n got %+v\nwant %+v", g, w)
		}
	}
}

func TestWireDecodeAgreesWithProto(t *testing.T) {
	for name, data := range fixtureWires(t) {
		t.Run(name, func(t *testing.T) {
			checkWireDecode(t, data)
			if _, ok := decodeCheckFields(string(data), nil); !ok {
				t.Error("a fixture, as Envoy sends it, went to proto.Unmarshal")
			}
		})
	}
	for i, data := range oddWires(t) {
		t.Run(fmt.Sprint("odd", i), func(t *testing.T) { checkWireDecode(t, data) })
	}
}

// TestWireDecodeEnvoyShapes: requests shaped like Envoy's, as the load tool
// and `restguard check` build them, take the wire reader's path.
func TestWireDecodeEnvoyShapes(t *testing.T) {
	req, err := NewCheckRequest(CheckInput{Method: "POST", Host: "jira.example.com", Path: "/rest/api/2/issue?x=1",
		Headers: []string{"Authorization: Bearer abc", "Cookie: a=b", "X-Forwarded-For: 1.2.3.4", "Accept: */*"}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	checkWireDecode(t, data)
	if _, ok := decodeCheckFields(string(data), nil); !ok {
		t.Error("went to proto.Unmarshal")
	}
}

// FuzzWireDecode: on arbitrary bytes, the wire path accepts exactly what
// proto.Unmarshal accepts and produces what proto.Unmarshal and the
// reference ToRequest produce.
func FuzzWireDecode(f *testing.F) {
	for _, data := range fixtureWires(f) {
		f.Add(data)
	}
	for _, data := range oddWires(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkWireDecode(t, data) })
}

// checkWireResponse holds the wire answer, and today's ToResponse, to the
// reference ToResponse.
func checkWireResponse(t *testing.T, d *authz.Decision, requestID string) {
	t.Helper()
	want := refToResponse(d, requestID)
	if now := ToResponse(d, requestID); !proto.Equal(now, want) {
		t.Fatalf("ToResponse:\n got %v\nwant %v", now, want)
	}
	_, werr := proto.Marshal(want)
	b, gerr := encodeResponse(d, requestID)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("wire answer error %v, proto.Marshal error %v", gerr, werr)
	}
	if werr != nil {
		return
	}
	got := &authv3.CheckResponse{}
	if err := proto.Unmarshal(b, got); err != nil {
		t.Fatalf("the wire answer does not unmarshal: %v", err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("wire answer:\n got %v\nwant %v", got, want)
	}
	// The forward-auth rendering: writeDecision as the old writeResponse
	// rendered the reference message.
	ref, now := httptest.NewRecorder(), httptest.NewRecorder()
	refWriteResponse(ref, want)
	writeDecision(now, d, requestID)
	if ref.Code != now.Code || !reflect.DeepEqual(ref.Header(), now.Header()) || ref.Body.String() != now.Body.String() {
		t.Fatalf("forward-auth answer:\n got %d %v %q\nwant %d %v %q", now.Code, now.Header(), now.Body, ref.Code, ref.Header(), ref.Body)
	}
}

func TestWireResponseAgreesWithProto(t *testing.T) {
	e := testEngine(t, nil)
	for name, data := range fixtureWires(t) {
		t.Run(name, func(t *testing.T) {
			r, err := decodeCheck(data)
			if err != nil {
				t.Fatal(err)
			}
			d := e.Check(context.Background(), r)
			checkWireResponse(t, &d, r.ID)
		})
	}
	checkWireResponse(t, nil, "rid")
	for _, d := range []authz.Decision{
		{Verdict: authz.Allow, Reason: authz.ReasonAuthenticated, ID: "x", Identity: &authz.Identity{Username: "al\xffice", ClientID: "cli"},
			UpstreamHeaders: []authz.Header{{Name: "X-Forwarded-User", Value: "alice"}}, RemoveHeaders: []string{"Remote-User", "authorization"}, DryRun: true, Provider: "p"},
		{Verdict: authz.Allow, UpstreamHeaders: []authz.Header{{Name: "\u212a", Value: "kelvin"}}},
		{Verdict: authz.Allow, UpstreamHeaders: []authz.Header{{Name: "x-bad", Value: "a\r\nb"}}, Rule: "r", ID: "i"},
		{Verdict: authz.Allow, Reason: authz.ReasonPublicRoute, RemoveHeaders: []string{"bad name"}},
		{Verdict: authz.Unavailable, Reason: authz.ReasonIdPUnavailable, RetryAfter: 30 * time.Second, Rule: "r\xff"},
		{Verdict: authz.Unauthenticated, Challenge: "Bearer realm=\"x\"\r\n", Credential: authz.CredentialBearer},
		{Verdict: authz.Forbidden, Reason: authz.Reason(strings.Repeat("é", 900))},
		{Verdict: authz.Verdict(99)},
		{Verdict: authz.BadRequest, Reason: authz.ReasonMalformedRequest, ID: strings.Repeat("d", 200)},
	} {
		t.Run(fmt.Sprintf("%s/%s", d.Verdict, d.Reason), func(t *testing.T) { checkWireResponse(t, &d, "rid-1") })
	}
}

// FuzzWireResponse: for any decision, the wire answer unmarshals to
// exactly the reference ToResponse's message.
func FuzzWireResponse(f *testing.F) {
	f.Add(uint8(authz.Allow), "authenticated", "x-user", "alice", "", "rid", "cli", int64(0), true, 2)
	f.Add(uint8(authz.Unauthenticated), "token_expired", "", "", `Bearer realm="r", error="invalid_token"`, "rid", "", int64(0), false, 0)
	f.Add(uint8(authz.Unavailable), "idp_unavailable", "", "", "", "\xff", "", int64(time.Hour), false, 1)
	f.Add(uint8(0), "", "x", "\r\n", "\x00", "", "", int64(-1), false, 3)
	f.Add(uint8(200), "\xff", "X-Up", "v", "c", "id", "\xff", int64(1), true, 300)
	f.Fuzz(func(t *testing.T, verdict uint8, reason, name, value, challenge, requestID, client string, retry int64, dry bool, nRemove int) {
		d := authz.Decision{
			ID: requestID, Verdict: authz.Verdict(verdict), Reason: authz.Reason(reason), Rule: name,
			Challenge: challenge, RetryAfter: time.Duration(retry), Provider: value, DryRun: dry,
			Identity: &authz.Identity{Username: value, ClientID: client},
		}
		if name != "" {
			d.UpstreamHeaders = []authz.Header{{Name: name, Value: value}, {Name: "x-forwarded-groups", Value: client}}
		}
		for i := range min(max(nRemove, 0), 40) {
			d.RemoveHeaders = append(d.RemoveHeaders, fmt.Sprintf("%s-%d", name, i))
		}
		checkWireResponse(t, &d, requestID)
	})
}

// TestWirePathAnswersLikeCheck: every fixture through the production gRPC
// server (NewGRPCServer, wire path) and through the generated service
// (Register, Server.Check) gets the same answer, bar the random decision
// id.
func TestWirePathAnswersLikeCheck(t *testing.T) {
	e := testEngine(t, nil)
	srv := NewServer(func() *authz.Engine { return e }, nil)
	fast := NewGRPCServer(srv, Connections{})
	plain := grpc.NewServer()
	srv.Register(plain)
	var addrs []string
	for _, g := range []*grpc.Server{fast, plain} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = g.Serve(l) }()
		t.Cleanup(g.Stop)
		addrs = append(addrs, l.Addr().String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var clients []*Client
	for _, a := range addrs {
		c, err := Dial(a)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	for name := range fixtureWires(t) {
		for _, token := range []string{goodToken, "bad-token"} {
			req := withToken(loadRequest(t, name), token)
			var resps []*authv3.CheckResponse
			for _, c := range clients {
				resp, err := c.Check(ctx, req)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				delete(resp.GetDynamicMetadata().GetFields(), MetaDecisionID)
				resps = append(resps, resp)
			}
			if !proto.Equal(resps[0], resps[1]) {
				t.Errorf("%s with %s: wire path %v, generated path %v", name, token, resps[0], resps[1])
			}
		}
	}
}

// TestReadOutcome: the load tool's reading of an answer agrees with the
// whole message, for allows and every kind of denial.
func TestReadOutcome(t *testing.T) {
	e := testEngine(t, nil)
	var ds []authz.Decision
	for name := range fixtureWires(t) {
		for _, token := range []string{goodToken, "bad-token"} {
			r := ToRequest(withToken(loadRequest(t, name), token))
			ds = append(ds, e.Check(context.Background(), r))
		}
	}
	ds = append(ds, authz.Decision{Verdict: authz.Unavailable, Reason: authz.ReasonIdPUnavailable, RetryAfter: time.Second})
	for _, d := range ds {
		b, err := encodeResponse(&d, "rid")
		if err != nil {
			t.Fatal(err)
		}
		var resp authv3.CheckResponse
		if err := proto.Unmarshal(b, &resp); err != nil {
			t.Fatal(err)
		}
		want := Outcome{Code: resp.GetStatus().GetCode(), HTTPStatus: int32(resp.GetDeniedResponse().GetStatus().GetCode()), Reason: resp.GetStatus().GetMessage()}
		if want.Code == 0 {
			want.Reason = resp.GetDynamicMetadata().GetFields()[MetaReason].GetStringValue()
		}
		var got Outcome
		if !readOutcome(b, &got) || got != want {
			t.Errorf("%s/%s: read %+v, want %+v", d.Verdict, d.Reason, got, want)
		}
	}
	var got Outcome
	if readOutcome([]byte{0x0a, 0x05, 0x08}, &got) {
		t.Error("a truncated answer was read")
	}
}
