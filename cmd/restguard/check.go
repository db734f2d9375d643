package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/restguard/restguard/envoy"
)

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, "; ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9001", "restguard gRPC address")
	method := fs.String("method", "GET", "HTTP method")
	host := fs.String("host", "jira.example.com", "HTTP host (:authority)")
	ip := fs.String("ip", "127.0.0.1", "client address Envoy saw (source.address)")
	token := fs.String("token", "", "bearer token (prefer -token-file: command lines end up in shell history)")
	tokenFile := fs.String("token-file", "", "file holding the bearer token")
	basicUser := fs.String("basic-user", "", "send HTTP Basic with this user (the password is a placeholder)")
	reqFile := fs.String("request", "", "a recorded CheckRequest (protojson) to send instead of building one")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	timeout := fs.Duration("timeout", 2*time.Second, "deadline of the call")
	var headers headerFlags
	fs.Var(&headers, "H", `extra header "Name: value" (repeatable)`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: restguard check [flags] PATH\n\nSends one Envoy-shaped CheckRequest and prints the decision. Exit status 0 allow, 1 deny, 2 error.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	path := fs.Arg(0)
	if (path == "") == (*reqFile == "") || fs.NArg() > 1 {
		fs.Usage()
		return 2
	}
	tok := *token
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintln(stderr, "restguard:", err)
			return 2
		}
		tok = strings.TrimSpace(string(b))
	}
	if tok != "" {
		headers = append(headers, "Authorization: Bearer "+tok)
	}
	if *basicUser != "" {
		headers = append(headers, "Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte(*basicUser+":placeholder")))
	}

	var err error
	var data []byte
	if *reqFile != "" {
		data, err = os.ReadFile(*reqFile)
	}
	if err != nil {
		fmt.Fprintln(stderr, "restguard:", err)
		return 2
	}
	res, err := checkOnce(*addr, *timeout, data, envoy.CheckInput{Method: *method, Host: *host, Path: path, Headers: headers, SourceIP: *ip})
	if err != nil {
		fmt.Fprintln(stderr, "restguard:", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	} else {
		printResult(stdout, res)
	}
	if res.Allowed {
		return 0
	}
	return 1
}

// checkOnce sends a recorded request (data) or one built from in.
func checkOnce(addr string, timeout time.Duration, data []byte, in envoy.CheckInput) (envoy.Result, error) {
	var err error
	req, err := envoy.NewCheckRequest(in)
	if data != nil {
		req, err = envoy.ParseCheckRequest(data)
	}
	if err != nil {
		return envoy.Result{}, err
	}
	c, err := envoy.Dial(addr)
	if err != nil {
		return envoy.Result{}, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := c.Check(ctx, req)
	if err != nil {
		return envoy.Result{}, err
	}
	return envoy.ReadResponse(resp), nil
}

func printResult(w io.Writer, r envoy.Result) {
	verdict := "deny"
	if r.Allowed {
		verdict = "allow"
	}
	fmt.Fprintf(w, "%s %d", verdict, r.Status)
	if reason, ok := r.Metadata["reason"].(string); ok {
		fmt.Fprintf(w, " %s", reason)
	}
	fmt.Fprintln(w)
	for _, h := range r.Headers {
		fmt.Fprintf(w, "  %s\n", h)
	}
	if len(r.Remove) > 0 {
		fmt.Fprintf(w, "  (removed upstream: %s)\n", strings.Join(r.Remove, ", "))
	}
	if r.Body != "" {
		fmt.Fprintf(w, "  body: %s\n", r.Body)
	}
}
