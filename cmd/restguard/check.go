package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/restguard/restguard/envoy"
)

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9001", "restguard gRPC address")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	timeout := fs.Duration("timeout", 2*time.Second, "deadline of the call")
	var rf requestFlags
	rf.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: restguard check [flags] PATH\n\nSends one Envoy-shaped CheckRequest to a running restguard and prints the decision.\nExit status 0 allow, 1 deny, 2 error.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return 2
	}
	in, data, err := rf.input(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "restguard:", err)
		return 2
	}
	res, err := checkOnce(*addr, *timeout, data, in)
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
	req, err := envoy.RecordedOrNew(data, in)
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
		return envoy.Result{}, explainCallError(addr, err)
	}
	return envoy.ReadResponse(resp), nil
}

// explainCallError says in words what a failed call means for the usual
// mistakes: a port that is not restguard's gRPC port, nothing listening, a
// restguard that has no configuration yet.
func explainCallError(addr string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "looked like an HTTP/1.1 header") || strings.Contains(msg, "server preface"):
		return fmt.Errorf("%s does not speak gRPC: it answered in HTTP/1.1 (the admin or forward-auth port?); restguard's gRPC port is listen.grpc (default :9001)", addr)
	case strings.Contains(msg, "connection refused"):
		return fmt.Errorf("nothing listens on %s (is restguard running, and is this listen.grpc?)", addr)
	case strings.Contains(msg, "no configuration loaded"):
		return fmt.Errorf("restguard at %s has no configuration loaded yet", addr)
	case strings.Contains(msg, "DeadlineExceeded") || strings.Contains(msg, "deadline exceeded"):
		return fmt.Errorf("no answer from %s within the timeout (-timeout)", addr)
	}
	return err
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
