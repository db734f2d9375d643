package envoy

import (
	"unicode/utf8"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// This file reads a CheckRequest straight from its protobuf wire bytes into
// checkFields, the part of it ToRequest uses, without building the
// CheckRequest's message tree by reflection. It is an optimisation, never
// a second opinion: it accepts only what it fully understands, and for
// anything else (a field it does not parse, a field sent twice, a wire
// type it does not expect, metadata) it reports !ok and the caller uses
// proto.Unmarshal and the generated getters instead. FuzzWireDecode holds
// it to exactly what proto.Unmarshal + ToRequest produce, on arbitrary
// bytes and on the fixtures.
//
// Accepting means: proto.Unmarshal would accept the same bytes (every
// string field of the schema that is present is valid UTF-8, every length
// is in range, every message is well formed) and would yield the same
// fields.

// checkFields is what ToRequest reads from a CheckRequest.
type checkFields struct {
	source  string // attributes.source.address.socket_address.address
	hasHTTP bool   // attributes.request.http is present
	id      string
	method  string
	path    string
	host    string
	// headers is the headers map, one entry per key, in wire order.
	headers []field
	// hasHeaderMap: header_map is present (even empty); headerMap holds
	// its lines in order, each with headerValue's choice of value.
	hasHeaderMap bool
	headerMap    []field
	// spare is room for the first of headers and headerMap to be filled
	// (the gRPC server reuses it between checks).
	spare []field
}

// lines returns room for header lines: spare the first time.
func (f *checkFields) lines() []field {
	if s := f.spare; s != nil {
		f.spare = nil
		return s[:0]
	}
	return make([]field, 0, 16)
}

// field is one header line or map entry.
type field struct{ key, value string }

// fieldsFromProto reads the same fields through the generated nil-safe
// getters (the reference the wire reader is held to).
func fieldsFromProto(req *authv3.CheckRequest) checkFields {
	f := checkFields{source: req.GetAttributes().GetSource().GetAddress().GetSocketAddress().GetAddress()}
	hr := req.GetAttributes().GetRequest().GetHttp()
	if hr == nil {
		return f
	}
	f.hasHTTP = true
	f.id, f.method, f.path, f.host = hr.GetId(), hr.GetMethod(), hr.GetPath(), hr.GetHost()
	if flat := hr.GetHeaders(); len(flat) > 0 {
		f.headers = make([]field, 0, len(flat))
		for k, v := range flat {
			f.headers = append(f.headers, field{k, v})
		}
	}
	if hm := hr.GetHeaderMap(); hm != nil {
		f.hasHeaderMap = true
		f.headerMap = make([]field, 0, len(hm.GetHeaders()))
		for _, hv := range hm.GetHeaders() {
			f.headerMap = append(f.headerMap, field{hv.GetKey(), headerValue(hv)})
		}
	}
	return f
}

// wire is a cursor over protobuf wire bytes held in a string, so that the
// fields read are substrings of it (no copy each).
type wire struct {
	s string
	i int
}

// Wire types used here.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// varint reads a varint of at most 10 bytes whose last byte fits (the
// rules of protowire.ConsumeVarint); ok is false otherwise.
func (w *wire) varint() (uint64, bool) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if w.i >= len(w.s) {
			return 0, false
		}
		c := w.s[w.i]
		w.i++
		if shift == 63 && c > 1 {
			return 0, false
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, true
		}
	}
	return 0, false
}

// tag reads a field tag: a field number from 1 to 2^29-1 and a wire type.
func (w *wire) tag() (num int, typ int, ok bool) {
	v, ok := w.varint()
	if !ok || v>>3 < 1 || v>>3 > 1<<29-1 {
		return 0, 0, false
	}
	return int(v >> 3), int(v & 7), true
}

// bytes reads a length-delimited value.
func (w *wire) bytes() (string, bool) {
	n, ok := w.varint()
	if !ok || n > uint64(len(w.s)-w.i) {
		return "", false
	}
	v := w.s[w.i : w.i+int(n)]
	w.i += int(n)
	return v, true
}

// scalar skips a varint or fixed-size value of wire type typ, which must
// be want.
func (w *wire) scalar(typ, want int) bool {
	if typ != want {
		return false
	}
	switch typ {
	case wireVarint:
		_, ok := w.varint()
		return ok
	case wireFixed64:
		if len(w.s)-w.i < 8 {
			return false
		}
		w.i += 8
		return true
	case wireFixed32:
		if len(w.s)-w.i < 4 {
			return false
		}
		w.i += 4
		return true
	}
	return false
}

// str reads a string field: wire type bytes, valid UTF-8 (proto3 strings
// are checked by proto.Unmarshal).
func (w *wire) str(typ int) (string, bool) {
	if typ != wireBytes {
		return "", false
	}
	v, ok := w.bytes()
	return v, ok && utf8.ValidString(v)
}

// msg reads an embedded message's bytes.
func (w *wire) msg(typ int) (wire, bool) {
	if typ != wireBytes {
		return wire{}, false
	}
	v, ok := w.bytes()
	return wire{s: v}, ok
}

// once tracks the singular fields of one message seen so far: a field
// sent twice would be merged (messages) or replaced (scalars) by
// proto.Unmarshal; the wire reader leaves such input to it.
type once uint64

func (o *once) first(num int) bool {
	bit := once(1) << uint(num)
	if *o&bit != 0 {
		return false
	}
	*o |= bit
	return true
}

// decodeCheckFields reads a CheckRequest. ok is false when the bytes are
// anything but a well-formed request it fully understands. The header
// lines go into spare (empty) while it has room.
func decodeCheckFields(s string, spare []field) (f checkFields, ok bool) {
	f.spare = spare
	w := wire{s: s}
	var seen once
	for w.i < len(w.s) {
		num, typ, ok := w.tag()
		if !ok || num != 1 || !seen.first(num) { // attributes
			return f, false
		}
		m, ok := w.msg(typ)
		if !ok || !f.attributes(m) {
			return f, false
		}
	}
	return f, true
}

// attributes reads an AttributeContext.
func (f *checkFields) attributes(w wire) bool {
	var seen once
	for w.i < len(w.s) {
		num, typ, ok := w.tag()
		if !ok {
			return false
		}
		switch num {
		case 1, 2, 4, 12: // source, destination, request, tls_session
			if !seen.first(num) {
				return false
			}
			m, ok := w.msg(typ)
			switch {
			case !ok:
				return false
			case num == 1 && !peer(m, &f.source):
				return false
			case num == 2 && !peer(m, nil):
				return false
			case num == 4 && !f.request(m):
				return false
			case num == 12 && !stringsOnly(m, 1): // sni
				return false
			}
		case 10: // context_extensions entry
			m, ok := w.msg(typ)
			if !ok {
				return false
			}
			if _, _, ok := mapEntry(m); !ok {
				return false
			}
		case 11, 13: // metadata_context, route_metadata_context
			// Envoy always sends both, usually empty; metadata (Struct and
			// Any values) is left to proto.Unmarshal.
			m, ok := w.msg(typ)
			if !ok || !seen.first(num) || len(m.s) != 0 {
				return false
			}
		default: // unknown
			return false
		}
	}
	return true
}

// peer reads an AttributeContext.Peer, its socket address into addr (if
// not nil).
func peer(w wire, addr *string) bool {
	var seen once
	for w.i < len(w.s) {
		num, typ, ok := w.tag()
		if !ok {
			return false
		}
		switch num {
		case 1: // address
			if !seen.first(num) {
				return false
			}
			m, ok := w.msg(typ)
			if !ok || !address(m, addr) {
				return false
			}
		case 2, 4, 5: // service, principal, certificate
			if !seen.first(num) {
				return false
			}
			if _, ok := w.str(typ); !ok {
				return false
			}
		case 3: // labels entry
			m, ok := w.msg(typ)
			if !ok {
				return false
			}
			if _, _, ok := mapEntry(m); !ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// address reads a config.core.v3.Address holding a socket address (a pipe
// or an internal address is left to proto.Unmarshal).
func address(w wire, addr *string) bool {
	var seen once
	for w.i < len(w.s) {
		num, typ, ok := w.tag()
		if !ok || num != 1 || !seen.first(num) { // socket_address only
			return false
		}
		m, ok := w.msg(typ)
		if !ok {
			return false
		}
		var sseen once
		for m.i < len(m.s) {
			num, typ, ok := m.tag()
			if !ok || !sseen.first(num) {
				return false
			}
			switch num {
			case 1, 3, 6: // protocol, port_value, ipv4_compat
				if !m.scalar(typ, wireVarint) {
					return false
				}
			case 2: // address
				v, ok := m.str(typ)
				if !ok {
					return false
				}
				if addr != nil {
					*addr = v
				}
			case 4, 5, 7: // named_port, resolver_name, network_namespace_filepath
				if _, ok := m.str(typ); !ok {
					return false
				}
			default:
				return false
			}
		}
		if sseen.has(3) && sseen.has(4) { // both members of the port oneof
			return false
		}
	}
	return true
}

func (o once) has(num int) bool { return o&(once(1)<<uint(num)) != 0 }

// request reads an AttributeContext.Request.
func (f *checkFields) request(w wire) bool {
	var seen once
	for w.i < len(w.s) {
		num, typ, ok := w.tag()
		if !ok || !seen.first(num) {
			return false
		}
		switch num {
		case 1: // time: a Timestamp, two varints
			m, ok := w.msg(typ)
			if !ok {
				return false
			}
			var tseen once
			for m.i < len(m.s) {
				num, typ, ok := m.tag()
				if !ok || num > 2 || !tseen.first(num) || !m.scalar(typ, wireVarint) {
					return false
				}
			}
		case 2: // http
			m, ok := w.msg(typ)
			if !ok || !f.http(m) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// http reads an AttributeContext.HttpRequest.
func (f *checkFields) http(w wire) bool {
	f.hasHTTP = true
	var seen once
	for w.i < len(w.s) {
		num, typ, ok := w.tag()
		if !ok {
			return false
		}
		if num != 3 && !seen.first(num) {
			return false
		}
		switch num {
		case 1, 2, 4, 5, 6, 7, 8, 10, 11: // id, method, path, host, scheme, query, fragment, protocol, body
			v, ok := w.str(typ)
			if !ok {
				return false
			}
			switch num {
			case 1:
				f.id = v
			case 2:
				f.method = v
			case 4:
				f.path = v
			case 5:
				f.host = v
			}
		case 9: // size
			if !w.scalar(typ, wireVarint) {
				return false
			}
		case 12: // raw_body: bytes, not checked
			if typ != wireBytes {
				return false
			}
			if _, ok := w.bytes(); !ok {
				return false
			}
		case 3: // headers entry
			m, ok := w.msg(typ)
			if !ok {
				return false
			}
			k, v, ok := mapEntry(m)
			if !ok {
				return false
			}
			f.addHeader(k, v)
		case 13: // header_map
			m, ok := w.msg(typ)
			if !ok || !f.headerMapLines(m) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// addHeader adds a headers map entry; a key sent again replaces the
// earlier value, as proto.Unmarshal does for maps.
func (f *checkFields) addHeader(k, v string) {
	for i := range f.headers {
		if f.headers[i].key == k {
			f.headers[i].value = v
			return
		}
	}
	if f.headers == nil {
		f.headers = f.lines()
	}
	f.headers = append(f.headers, field{k, v})
}

// headerMapLines reads a config.core.v3.HeaderMap.
func (f *checkFields) headerMapLines(w wire) bool {
	f.hasHeaderMap = true
	for w.i < len(w.s) {
		num, typ, ok := w.tag()
		if !ok || num != 1 {
			return false
		}
		m, ok := w.msg(typ)
		if !ok {
			return false
		}
		var seen once
		var key, value, raw string
		for m.i < len(m.s) {
			num, typ, ok := m.tag()
			if !ok || !seen.first(num) {
				return false
			}
			switch num {
			case 1:
				key, ok = m.str(typ)
			case 2:
				value, ok = m.str(typ)
			case 3: // raw_value: bytes, not checked
				ok = typ == wireBytes
				if ok {
					raw, ok = m.bytes()
				}
			default:
				ok = false
			}
			if !ok {
				return false
			}
		}
		if raw != "" {
			value = raw // headerValue's choice
		}
		if f.headerMap == nil {
			f.headerMap = f.lines()
		}
		f.headerMap = append(f.headerMap, field{key, value})
	}
	return true
}

// mapEntry reads a map<string, string> entry; a missing key or value is
// "".
func mapEntry(w wire) (key, value string, ok bool) {
	var seen once
	for w.i < len(w.s) {
		num, typ, ok := w.tag()
		if !ok || num > 2 || !seen.first(num) {
			return "", "", false
		}
		v, ok := w.str(typ)
		if !ok {
			return "", "", false
		}
		if num == 1 {
			key = v
		} else {
			value = v
		}
	}
	return key, value, true
}

// stringsOnly reads a message whose only fields are the given string
// fields, each at most once.
func stringsOnly(w wire, nums ...int) bool {
	var seen once
	for w.i < len(w.s) {
		num, typ, ok := w.tag()
		if !ok || !seen.first(num) {
			return false
		}
		known := false
		for _, n := range nums {
			known = known || n == num
		}
		if !known {
			return false
		}
		if _, ok := w.str(typ); !ok {
			return false
		}
	}
	return true
}
