package envoy

import (
	"context"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Outcome is what a proxy reads first from a CheckResponse: the status
// code, the HTTP status of a denial (0 when unset) and the reason (the
// dynamic metadata's "reason" on allow, the status message on denial).
type Outcome struct {
	Code       int32
	HTTPStatus int32
	Reason     string
}

// CheckOutcome sends req and reads only the Outcome from the answer's
// bytes, without unmarshalling the whole CheckResponse. It is for
// restguard-load, whose CPU competes with the server it measures: a full
// answer from restguard (identity headers, the removal list, metadata) is
// a hundred times the null server's, and decoding it in the tool would be
// charged to restguard's throughput.
func (c *Client) CheckOutcome(ctx context.Context, req *authv3.CheckRequest) (Outcome, error) {
	var out Outcome
	err := c.conn.Invoke(ctx, authv3.Authorization_Check_FullMethodName, req, &out, grpc.ForceCodecV2(outcomeCodec{encoding.GetCodecV2("proto")}))
	return out, err
}

// outcomeCodec marshals requests with gRPC's protobuf codec and reads an
// Outcome from the answer.
type outcomeCodec struct{ proto encoding.CodecV2 }

func (c outcomeCodec) Name() string                           { return "proto" }
func (c outcomeCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

func (c outcomeCodec) Unmarshal(data mem.BufferSlice, v any) error {
	out, ok := v.(*Outcome)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	b := data.Materialize()
	if readOutcome(b, out) {
		return nil
	}
	// Anything unexpected: the whole message, read the usual way.
	var resp authv3.CheckResponse
	if err := proto.Unmarshal(b, &resp); err != nil {
		return err
	}
	*out = Outcome{Code: resp.GetStatus().GetCode(), HTTPStatus: int32(resp.GetDeniedResponse().GetStatus().GetCode())}
	if out.Code == 0 {
		out.Reason = resp.GetDynamicMetadata().GetFields()[MetaReason].GetStringValue()
	} else {
		out.Reason = resp.GetStatus().GetMessage()
	}
	return nil
}

// readOutcome reads the Outcome from CheckResponse bytes; false if they
// hold anything it does not expect.
func readOutcome(b []byte, out *Outcome) bool {
	*out = Outcome{}
	var message, metaReason string
	ok := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) bool {
		switch {
		case num == fCheckResponseStatus && typ == protowire.BytesType:
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) bool {
				switch {
				case num == fStatusCode && typ == protowire.VarintType:
					x, n := protowire.ConsumeVarint(v)
					out.Code = int32(x)
					return n > 0
				case num == fStatusMessage && typ == protowire.BytesType:
					message = string(v)
				}
				return true
			})
		case num == fCheckResponseDenied && typ == protowire.BytesType:
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) bool {
				if num == fDeniedStatus && typ == protowire.BytesType {
					return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) bool {
						if num == fHTTPStatusCode && typ == protowire.VarintType {
							x, n := protowire.ConsumeVarint(v)
							out.HTTPStatus = int32(x)
							return n > 0
						}
						return true
					})
				}
				return true
			})
		case num == fCheckResponseMetadata && typ == protowire.BytesType:
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) bool {
				if num != fStructFields || typ != protowire.BytesType {
					return true
				}
				var key, str string
				ok := eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) bool {
					switch {
					case num == fEntryKey && typ == protowire.BytesType:
						key = string(v)
					case num == fEntryValue && typ == protowire.BytesType:
						return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) bool {
							if num == fValueString && typ == protowire.BytesType {
								str = string(v)
							}
							return true
						})
					}
					return true
				})
				if key == MetaReason {
					metaReason = str
				}
				return ok
			})
		}
		return true
	})
	if out.Code == 0 {
		out.Reason = metaReason
	} else {
		out.Reason = message
	}
	return ok
}

// eachField calls f with every field of a message (varint fields with
// their bytes, length-delimited ones with their content); false if the
// bytes are not a well-formed message or f says so.
func eachField(b []byte, f func(protowire.Number, protowire.Type, []byte) bool) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		var v []byte
		switch typ {
		case protowire.BytesType:
			var m int
			v, m = protowire.ConsumeBytes(b)
			n = m
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n >= 0 {
				v = b[:n]
			}
		}
		if n < 0 || !f(num, typ, v) {
			return false
		}
		b = b[n:]
	}
	return true
}
