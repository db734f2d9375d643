package authz

import (
	"net/http"
	"net/netip"
)

// Request is the protocol-free view of one HTTP request that Envoy (or a
// forward-auth proxy) asks about. The transport adapters build it; nothing
// else does. It is read-only once handed to the Engine.
type Request struct {
	// ID is the request id used for correlation (x-request-id), never
	// Envoy's stream id.
	ID string
	// Method is the HTTP method as received.
	Method string
	// Host is the :authority as received (port and case untouched).
	Host string
	// Path is the request target up to, not including, '?': raw, not
	// decoded and not normalised.
	Path string
	// Query is the raw query string without the leading '?'.
	Query string
	// Header holds the request headers with canonical keys. Separate header
	// lines are separate values; Envoy's comma-joined duplicates arrive as
	// one value. Never log it whole: it carries credentials.
	Header http.Header
	// Source is the address of the peer that connected to the proxy
	// (Envoy's source.address). The zero Addr means unknown.
	Source netip.Addr
	// Malformed is set by the adapter when the request is contradictory or
	// incomplete (for example two different :path values). The Engine
	// denies such a request with 400 without looking further.
	Malformed string
}
