package envoy

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/restguard/restguard/authz"
)

// The gRPC server's own path for Check: the request is read from its wire
// bytes (decodeCheckFields, with proto.Unmarshal for anything it leaves)
// and the answer written to the wire from the same plan ToResponse builds
// messages from, so that a check builds no protobuf message tree. The
// result is what Server.Check would answer; FuzzWireDecode and
// FuzzWireResponse hold the two paths together.

// decodeCheck reads CheckRequest wire bytes into an authz.Request; the
// error is proto.Unmarshal's.
func decodeCheck(b []byte) (*authz.Request, error) {
	f, err := parseCheck(string(b), nil)
	if err != nil {
		return nil, err
	}
	return f.translate(), nil
}

// parseCheck reads the fields ToRequest uses from CheckRequest wire bytes:
// straight from the wire when decodeCheckFields understands them, through
// proto.Unmarshal otherwise (whose error it returns).
func parseCheck(s string, spare []field) (checkFields, error) {
	if f, ok := decodeCheckFields(s, spare); ok {
		return f, nil
	}
	req := &authv3.CheckRequest{}
	if err := proto.Unmarshal([]byte(s), req); err != nil {
		return checkFields{}, err
	}
	return fieldsFromProto(req), nil
}

// encodeResponse writes ToResponse(d, requestID) in wire form.
func encodeResponse(d *authz.Decision, requestID string) ([]byte, error) {
	var a reply
	a.plan(d, requestID)
	return a.appendWire(make([]byte, 0, answerBufSize))
}

// Field numbers of the messages written (envoy.service.auth.v3,
// envoy.config.core.v3, envoy.type.v3, google.rpc, google.protobuf).
const (
	fCheckResponseStatus   = 1
	fCheckResponseDenied   = 2
	fCheckResponseOK       = 3
	fCheckResponseMetadata = 4

	fStatusCode    = 1
	fStatusMessage = 2

	fOKHeaders       = 2
	fOKHeadersRemove = 5

	fDeniedStatus  = 1
	fDeniedHeaders = 2
	fDeniedBody    = 3

	fHTTPStatusCode = 1

	fOptionHeader = 1
	fOptionAppend = 2
	fOptionAction = 3

	fHeaderKey   = 1
	fHeaderValue = 2

	fStructFields = 1
	fEntryKey     = 1
	fEntryValue   = 2
	fValueString  = 3
	fValueBool    = 4
)

// appendWire appends the CheckResponse in wire form (fields in number
// order, as proto.Marshal writes them). Every string of a plan is valid
// UTF-8 by construction (tokens, validValue, clean, utf8Str, JSON), as
// proto.Marshal requires; FuzzWireResponse holds it to proto.Marshal's
// success.
func (a *reply) appendWire(b []byte) ([]byte, error) {
	var e enc
	e.b = b
	st := e.begin(fCheckResponseStatus)
	e.varint(fStatusCode, uint64(int64(a.code)))
	e.str(fStatusMessage, a.message)
	e.end(st)
	if a.allow {
		ok := e.begin(fCheckResponseOK)
		for _, h := range a.headers() {
			e.option(fOKHeaders, h, true)
		}
		for _, name := range a.remove {
			e.always(fOKHeadersRemove, name)
		}
		e.end(ok)
	} else {
		dn := e.begin(fCheckResponseDenied)
		hs := e.begin(fDeniedStatus)
		e.varint(fHTTPStatusCode, uint64(int64(a.httpStatus)))
		e.end(hs)
		for _, h := range a.headers() {
			e.option(fDeniedHeaders, h, false)
		}
		e.str(fDeniedBody, a.body)
		e.end(dn)
	}
	md := e.begin(fCheckResponseMetadata)
	for _, m := range a.meta() {
		entry := e.begin(fStructFields)
		e.always(fEntryKey, m.key)
		v := e.begin(fEntryValue)
		if m.isBool {
			b := uint64(0)
			if m.b {
				b = 1
			}
			e.b = appendTag(e.b, fValueBool, wireVarint)
			e.b = appendVarint(e.b, b)
		} else {
			e.always(fValueString, m.str) // a oneof member: written even when ""
		}
		e.end(v)
		e.end(entry)
	}
	e.end(md)
	return e.b, nil
}

// enc appends protobuf wire data. Embedded messages are written in place
// and their length inserted before them when they end.
type enc struct{ b []byte }

// begin starts an embedded message field; end finishes it.
func (e *enc) begin(num int) int {
	e.b = appendTag(e.b, num, wireBytes)
	return len(e.b)
}

func (e *enc) end(start int) {
	n := len(e.b) - start
	if n < 0x80 { // one length byte: the common case
		e.b = append(e.b, 0)
		copy(e.b[start+1:], e.b[start:start+n])
		e.b[start] = byte(n)
		return
	}
	var lenBuf [10]byte
	l := appendVarint(lenBuf[:0], uint64(n))
	e.b = append(e.b, l...)
	copy(e.b[start+len(l):], e.b[start:start+n])
	copy(e.b[start:], l)
}

// varint writes a scalar field, omitted when zero (proto3).
func (e *enc) varint(num int, v uint64) {
	if v == 0 {
		return
	}
	e.b = appendTag(e.b, num, wireVarint)
	e.b = appendVarint(e.b, v)
}

// str writes a string field, omitted when empty (proto3).
func (e *enc) str(num int, s string) {
	if s != "" {
		e.always(num, s)
	}
}

// always writes a string field even when empty (map keys, repeated
// strings, oneof members).
func (e *enc) always(num int, s string) {
	e.b = appendTag(e.b, num, wireBytes)
	e.b = appendVarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

// option writes a HeaderValueOption that overwrites: the header (its name
// lower-cased when lower), append=false (an explicit BoolValue) and
// append_action OVERWRITE_IF_EXISTS_OR_ADD; see overwrite.
func (e *enc) option(num int, h authz.Header, lower bool) {
	o := e.begin(num)
	hv := e.begin(fOptionHeader)
	if lower {
		e.lower(fHeaderKey, h.Name)
	} else {
		e.str(fHeaderKey, h.Name)
	}
	e.str(fHeaderValue, h.Value)
	e.end(hv)
	e.b = appendTag(e.b, fOptionAppend, wireBytes)
	e.b = append(e.b, 0) // BoolValue{value: false}
	e.varint(fOptionAction, uint64(overwriteAction))
	e.end(o)
}

// lower writes strings.ToLower(s) as a string field (omitted when
// empty), lower-casing ASCII in place: configured header names arrive as
// configured ("X-Forwarded-User") on every allow.
func (e *enc) lower(num int, s string) {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			e.str(num, strings.ToLower(s))
			return
		}
	}
	if s == "" {
		return
	}
	e.b = appendTag(e.b, num, wireBytes)
	e.b = appendVarint(e.b, uint64(len(s)))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		e.b = append(e.b, c)
	}
}

func appendTag(b []byte, num, typ int) []byte {
	return appendVarint(b, uint64(num)<<3|uint64(typ))
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// wireRequest is the request message of the gRPC server's Check: the
// CheckRequest's bytes, copied out of gRPC's buffers once.
type wireRequest struct{ s string }

// wireResponse is the answer's wire bytes.
type wireResponse struct{ buf mem.Buffer }

// codec is the gRPC server's codec: wireRequest and wireResponse are
// copied as they are; every other message (the health service's) goes to
// gRPC's own protobuf codec.
type codec struct{ proto encoding.CodecV2 }

func newCodec() codec { return codec{proto: encoding.GetCodecV2("proto")} }

func (c codec) Name() string { return "proto" }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	if r, ok := v.(*wireResponse); ok {
		return mem.BufferSlice{r.buf}, nil
	}
	return c.proto.Marshal(v)
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	if r, ok := v.(*wireRequest); ok {
		var sb strings.Builder
		sb.Grow(data.Len())
		for _, buf := range data {
			sb.Write(buf.ReadOnlyData())
		}
		r.s = sb.String()
		return nil
	}
	return c.proto.Unmarshal(data, v)
}

// authorizationService is envoy.service.auth.v3.Authorization as
// authv3.Authorization_ServiceDesc describes it, with Check served by
// checkWire.
var authorizationService = grpc.ServiceDesc{
	ServiceName: authv3.Authorization_ServiceDesc.ServiceName,
	HandlerType: (*authv3.AuthorizationServer)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Check", Handler: checkHandler}},
	Streams:     []grpc.StreamDesc{},
	Metadata:    authv3.Authorization_ServiceDesc.Metadata,
}

func checkHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(wireRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	s := srv.(*Server)
	if interceptor == nil {
		return s.checkWire(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: authv3.Authorization_Check_FullMethodName}
	return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
		return s.checkWire(ctx, req.(*wireRequest))
	})
}

// checkWire is Check from the wire: the same answers, the same log lines.
func (s *Server) checkWire(ctx context.Context, in *wireRequest) (resp *wireResponse, err error) {
	var requestID string
	defer func() {
		if r := recover(); r != nil {
			d := authz.Deny(authz.Forbidden, authz.ReasonInternalError, "")
			d.ID = authz.NewDecisionID()
			s.log.LogAttrs(context.WithoutCancel(ctx), slog.LevelError, "check panicked",
				slog.String(authz.LogDecisionID, d.ID),
				slog.String(authz.LogRequestID, requestID),
				slog.String("panic", fmt.Sprint(r)),
				slog.String("stack", string(debug.Stack())))
			resp, err = s.answerWire(&d, requestID)
		}
	}()
	// The header lines are read into a pooled slice: translate copies
	// what it keeps (the strings, into the header map), so the slice goes
	// back, cleared, when the check is answered.
	lines := s.lines.Get().(*[]field)
	defer func() {
		clear((*lines)[:cap(*lines)])
		s.lines.Put(lines)
	}()
	f, err := parseCheck(in.s, *lines)
	if err != nil {
		// What gRPC's codec answers to bytes it cannot unmarshal, before
		// any handler runs.
		return nil, status.Errorf(codes.Internal, "grpc: error unmarshalling request: %v", err)
	}
	var eng *authz.Engine
	if s.engine != nil {
		eng = s.engine()
	}
	if eng == nil {
		return nil, status.Error(codes.Unavailable, "restguard: no configuration loaded")
	}
	r := f.translate()
	requestID = r.ID
	d := eng.Check(ctx, r)
	return s.answerWire(&d, requestID)
}

func (s *Server) answerWire(d *authz.Decision, requestID string) (*wireResponse, error) {
	var a reply
	a.plan(d, requestID)
	// The answer goes into a buffer of gRPC's pool, which gRPC returns to
	// it once written (as its own codec does).
	pool := mem.DefaultBufferPool()
	buf := pool.Get(answerBufSize)
	b, err := a.appendWire((*buf)[:0])
	if err != nil {
		pool.Put(buf)
		return nil, status.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)
	}
	if cap(b) != cap(*buf) { // it outgrew the pooled buffer
		pool.Put(buf)
		return &wireResponse{buf: mem.SliceBuffer(b)}, nil
	}
	*buf = b
	return &wireResponse{buf: mem.NewBuffer(buf, pool)}, nil
}

// answerBufSize holds an allow with the default removal list and metadata
// (about 700 bytes) or a denial with its body.
const answerBufSize = 2048

// overwriteAction is how every header is set (see overwrite).
const overwriteAction = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
