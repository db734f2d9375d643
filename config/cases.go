package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Policy tests as code (`restguard test`, issue 12 §3; Envoy's
// router_check_tool and `opa test` are the anchors): a cases file lists
// requests with a credential and the decision each must get. The runner
// (cases_run.go) builds the configuration exactly as serve does, with one
// difference: a local test issuer's key stands in for every JWT provider's
// key set, and the test issuer answers introspection and userinfo calls, so
// tokens can be minted from claims.

// Cases is a cases file.
type Cases struct {
	Cases []Case `yaml:"cases"`

	file string
	root *yaml.Node
}

// Case is one request and the decision it must get.
type Case struct {
	Name    string      `yaml:"name"`
	Request CaseRequest `yaml:"request"`
	// One credential at most: a token minted for a provider, a literal
	// bearer token, Basic "user:password", or a product-native token
	// ("pat" or "bitbucket") shaped like the product's.
	Token  *CaseToken `yaml:"token"`
	Bearer string     `yaml:"bearer"`
	Basic  string     `yaml:"basic"`
	Native string     `yaml:"native"`
	Expect CaseExpect `yaml:"expect"`

	line int
}

// CaseRequest is the request Envoy asks about.
type CaseRequest struct {
	Method string `yaml:"method"` // default GET
	Host   string `yaml:"host"`
	Path   string `yaml:"path"` // with the query, if any
	// Headers are extra request headers; a list value sends several lines.
	Headers map[string]StringList `yaml:"headers"`
	// Client is Envoy's downstream peer address (default 127.0.0.1).
	Client string `yaml:"client"`
}

// CaseToken is a token the test issuer mints for a provider: its claims
// start from what the provider accepts (iss, aud or the client id, the
// required claims, a five-minute exp) and Claims replaces or, with null,
// removes them.
type CaseToken struct {
	Provider string         `yaml:"provider"`
	Claims   map[string]any `yaml:"claims"`
}

// CaseExpect is the decision a case must get; only what is given is
// compared.
type CaseExpect struct {
	Status  int    `yaml:"status"`
	Verdict string `yaml:"verdict"` // allow, unauthenticated, forbidden, bad_request, unavailable
	Reason  string `yaml:"reason"`
	// User is the identity header's value on an authenticated allow; "-"
	// means "no identity header".
	User string `yaml:"user"`
	// Headers are upstream headers the allow sets (name: value).
	Headers map[string]string `yaml:"headers"`
	// Removed are header names the allow removes from the request.
	Removed []string `yaml:"removed"`
	// Assertion is the audience of the signed identity assertion the allow
	// must carry: it must verify, with the configured key and issuer, for
	// exactly this request (and name User when that is given).
	Assertion string `yaml:"assertion"`
}

// StringList is a string or a list of strings.
type StringList []string

// UnmarshalYAML accepts a scalar or a sequence of scalars.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = StringList{n.Value}
		return nil
	case yaml.SequenceNode:
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				break
			}
			*l = append(*l, e.Value)
		}
		if len(*l) == len(n.Content) {
			return nil
		}
	}
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: a header value is a string or a list of strings", n.Line)}}
}

// LoadCases reads a cases file strictly: unknown keys and wrong types are
// errors with their line, as in the configuration.
func LoadCases(path string) (*Cases, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	if len(data) > MaxFileBytes {
		return nil, &Error{File: path, Err: fmt.Errorf("file larger than %d bytes", MaxFileBytes)}
	}
	return ParseCases(path, data)
}

// ParseCases decodes cases; name is used in error messages.
func ParseCases(name string, data []byte) (*Cases, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, convertYAMLError(name, err)
	}
	if root.Kind == 0 {
		return nil, &Error{File: name, Err: errors.New("empty cases file")}
	}
	var cs Cases
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var errs []error
	if err := dec.Decode(&cs); err != nil {
		errs = append(errs, convertYAMLError(name, err))
	}
	p := &problems{file: name, root: &root}
	names := map[string]bool{}
	for i := range cs.Cases {
		c := &cs.Cases[i]
		path := fmt.Sprintf("cases[%d]", i)
		c.line = locate(&root, path)
		switch {
		case c.Name == "":
			p.add(path, "a case needs a name")
		case names[c.Name]:
			p.add(path+".name", "two cases named %q", c.Name)
		}
		names[c.Name] = true
		if c.Request.Path == "" || c.Request.Path[0] != '/' {
			p.add(path+".request.path", "a case needs a request path starting with /")
		}
		n := 0
		for _, set := range []bool{c.Token != nil, c.Bearer != "", c.Basic != "", c.Native != ""} {
			if set {
				n++
			}
		}
		if n > 1 {
			p.add(path, "at most one of token, bearer, basic and native (a second credential is a test of its own: put it in request.headers)")
		}
		if c.Token != nil && c.Token.Provider == "" {
			p.add(path+".token.provider", "name the provider the token is minted for")
		}
		if c.Basic != "" && !strings.Contains(c.Basic, ":") {
			p.add(path+".basic", "basic is \"user:password\"")
		}
		switch c.Native {
		case "", "pat", "bitbucket":
		default:
			p.add(path+".native", "unknown native token %q (pat, bitbucket)", c.Native)
		}
		switch c.Expect.Verdict {
		case "", "allow", "unauthenticated", "forbidden", "bad_request", "unavailable":
		default:
			p.add(path+".expect.verdict", "unknown verdict %q (allow, unauthenticated, forbidden, bad_request, unavailable)", c.Expect.Verdict)
		}
		if c.Expect.Status == 0 && c.Expect.Verdict == "" && c.Expect.Reason == "" {
			p.add(path+".expect", "expect at least a status, a verdict or a reason")
		}
	}
	if len(cs.Cases) == 0 && len(errs) == 0 {
		p.add("cases", "no cases")
	}
	errs = append(errs, p.errs...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cs.file, cs.root = name, &root
	return &cs, nil
}

// Where is "file:line" of a case, for reports.
func (cs *Cases) Where(c *Case) string { return fmt.Sprintf("%s:%d", cs.file, c.line) }
