package policy

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzPasswordChannels compares the password-channel detector with how a
// servlet container reads parameters (split at '&', names percent- and
// '+'-decoded): whenever a decodable name is os_username or os_password
// (any case) the detector must fire, and a path that normalises to the
// login endpoint must be seen as one. Nothing panics.
func FuzzPasswordChannels(f *testing.F) {
	for _, s := range []struct{ query, path string }{
		{"os_username=admin&os_password=admin", "/rest/api/2/myself"},
		{"%6fs_password=x", "/rest/auth/1/session"},
		{"OS_USERNAME=a", "/jira/rest/auth/latest/session"},
		{"a=1&os%5Fpassword=x", "/s/x/_/rest/auth/1/session"},
		{"os_authType=basic", "/REST/AUTH/1/SESSION/"},
		{"x=%zz&os_username", "/rest/auth/1/session;x=y"},
		{"os+username=a", "/rest/auth/1/../1/session"},
		{"", "/rest/gadget/1.0/login.json"},
		{"", "/confluence/rpc/json-rpc/confluenceservice-v2"},
	} {
		f.Add(s.query, s.path)
	}
	f.Fuzz(func(t *testing.T, query, path string) {
		got := passwordParameter(query)
		for part := range strings.SplitSeq(query, "&") {
			name, _, _ := strings.Cut(part, "=")
			dec, err := url.QueryUnescape(name)
			if err != nil {
				continue
			}
			if n := strings.ToLower(dec); (n == "os_username" || n == "os_password") && got == "" {
				t.Fatalf("query %q carries %q but no password channel was found", query, dec)
			}
		}
		login := loginEndpoint(path)
		clean, _, err := NormalizePath(path)
		if err != nil {
			return
		}
		l := strings.ToLower(strings.TrimSuffix(clean, "/"))
		for _, ep := range []string{"/rest/auth/1/session", "/rest/auth/latest/session", "/rest/gadget/1.0/login", "/rpc/xmlrpc"} {
			if strings.HasSuffix(l, ep) && strings.Count(l, "/") <= strings.Count(ep, "/")+maxContextDepth && !login {
				t.Fatalf("path %q (normalised %q) reaches %s undetected", path, clean, ep)
			}
		}
	})
}
