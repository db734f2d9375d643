package main

import (
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/restguard/restguard/envoy"
)

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, "; ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

// requestFlags describe one request on the command line, for check and
// explain.
type requestFlags struct {
	method, host, ip     string
	token, tokenFile     string
	basicUser, requestID string
	reqFile              string
	headers              headerFlags
}

func (r *requestFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.method, "method", "GET", "HTTP method")
	fs.StringVar(&r.host, "host", "jira.example.com", "HTTP host (:authority)")
	fs.StringVar(&r.ip, "ip", "127.0.0.1", "the client address Envoy saw (source.address)")
	fs.StringVar(&r.token, "token", "", "bearer token (prefer -token-file: command lines end up in shell history)")
	fs.StringVar(&r.tokenFile, "token-file", "", "file holding the bearer token")
	fs.StringVar(&r.basicUser, "basic-user", "", "send HTTP Basic with this user (the password is a placeholder)")
	fs.StringVar(&r.requestID, "request-id", "", "x-request-id of a request built from flags (default: random)")
	fs.StringVar(&r.reqFile, "request", "", "a recorded CheckRequest (protojson, as in envoy/testdata/checkrequests) instead of flags")
	fs.Var(&r.headers, "H", `extra header "Name: value" (repeatable)`)
}

// input builds the request described by the flags; path is the
// positional argument. Exactly one of path and -request must be given.
func (r *requestFlags) input(path string) (envoy.CheckInput, []byte, error) {
	if (path == "") == (r.reqFile == "") {
		return envoy.CheckInput{}, nil, fmt.Errorf("give either a PATH or -request FILE")
	}
	if r.reqFile != "" {
		data, err := os.ReadFile(r.reqFile)
		return envoy.CheckInput{}, data, err
	}
	headers := append([]string(nil), r.headers...)
	tok := r.token
	if r.tokenFile != "" {
		b, err := os.ReadFile(r.tokenFile)
		if err != nil {
			return envoy.CheckInput{}, nil, err
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok != "" {
		headers = append(headers, "Authorization: Bearer "+tok)
	}
	if r.basicUser != "" {
		headers = append(headers, "Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte(r.basicUser+":placeholder")))
	}
	return envoy.CheckInput{Method: r.method, Host: r.host, Path: path, Headers: headers, SourceIP: r.ip, RequestID: r.requestID}, nil, nil
}
