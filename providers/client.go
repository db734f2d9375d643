package providers

import (
	"net"
	"net/http"
)

// Outbound HTTP. Every call restguard makes (JWKS and discovery, RFC 7662
// introspection, userinfo and app binding, the Atlassian products' "who
// am I" and their group directories) goes through a client from
// newClient and a fetcher (fetch.go). Call deadlines are set per call
// (JWTConfig.FetchTimeout, RemoteOptions.Timeout, and the request's own
// deadline, whichever ends first); the transport adds only what a
// deadline cannot express.
const (
	// dialTimeout bounds one TCP connect; a call's deadline usually ends
	// the attempt first.
	dialTimeout = DefaultFetchTimeout
	// maxIdleConnsPerHost keeps connections to one identity provider warm
	// under load (Go's default is 2).
	maxIdleConnsPerHost = 64
)

// newClient returns the HTTP client of one provider:
//
//   - it never follows a redirect: a 3xx is the answer, which every
//     caller treats as an outage. A followed redirect would carry the
//     token, the client secret or the service account's password to
//     wherever the answer points (security catalogue H2), and would load
//     keys from elsewhere than the configured JWKS (J5);
//   - it ignores proxy settings from the environment;
//   - its TLS roots are the system's, or those of base's transport when
//     base is given (tests and private CAs inject a client this way). Of
//     base, the transport and Timeout are kept; its redirect policy is
//     replaced.
func newClient(base *http.Client) *http.Client {
	var c http.Client
	if base != nil {
		c = *base
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil
		t.DialContext = (&net.Dialer{Timeout: dialTimeout}).DialContext
		t.MaxIdleConnsPerHost = maxIdleConnsPerHost
		c.Transport = t
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}
