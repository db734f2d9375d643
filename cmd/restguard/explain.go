package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/envoy"
)

// errOffline is what every outbound call returns under -offline.
var errOffline = errors.New("explain -offline: network calls disabled")

type offlineTransport struct{}

func (offlineTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, errOffline }

// explanation is the -json output.
type explanation struct {
	Verdict  string       `json:"verdict"`
	Status   int          `json:"status"`
	Reason   authz.Reason `json:"reason"`
	Rule     string       `json:"rule"`
	Provider string       `json:"provider,omitempty"`
	DryRun   bool         `json:"dry_run"`
	Steps    []authz.Step `json:"steps"`
	Response []string     `json:"response"`
}

func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (required)")
	offline := fs.Bool("offline", false, "make no network calls: providers that need the IdP report it unavailable")
	asJSON := fs.Bool("json", false, "print JSON")
	timeout := fs.Duration("timeout", 10*time.Second, "time for fetching keys and the check")
	var rf requestFlags
	rf.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: restguard explain -config FILE [-request checkrequest.json | [flags] PATH]\n\nRuns the real engine on one request and prints every phase: rule, client\naddress, credential, provider, key, cache, identity, each policy, verdict.\nNever prints the token.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if rf.requestID == "" {
		rf.requestID = "explain"
	}
	if *path == "" || fs.NArg() > 1 {
		fs.Usage()
		return 2
	}
	in, data, err := rf.input(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "restguard:", err)
		return 2
	}

	cfg, err := config.Load(*path)
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	opts := config.BuildOptions{Logger: slog.New(slog.DiscardHandler)}
	if *offline {
		opts.HTTPClient = &http.Client{Transport: offlineTransport{}}
	}
	rt, err := config.Build(cfg, opts)
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	tr := &authz.Trace{}
	if !*offline {
		if err := rt.Refresh(ctx); err != nil {
			tr.Steps = append(tr.Steps, authz.Step{Phase: "providers", Outcome: "not_warm", Detail: err.Error()})
		}
	}
	creq, err := envoy.RecordedOrNew(data, in)
	if err != nil {
		fmt.Fprintln(stderr, "restguard:", err)
		return 2
	}
	req := envoy.ToRequest(creq)
	d := rt.Engine.Check(authz.WithTrace(ctx, tr), req)
	res := envoy.ReadResponse(envoy.ToResponse(&d, req.ID))

	ex := explanation{
		Verdict: d.Verdict.String(), Status: d.HTTPStatus(), Reason: d.Reason, Rule: d.Rule,
		Provider: d.Provider, DryRun: d.DryRun, Steps: tr.Steps, Response: responseLines(res),
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(ex)
	} else {
		printExplanation(stdout, ex)
	}
	if d.Allowed() {
		return 0
	}
	return 1
}

func responseLines(r envoy.Result) []string {
	var out []string
	if r.Allowed {
		for _, h := range r.Headers {
			out = append(out, "upstream set    "+h)
		}
		if len(r.Remove) > 0 {
			out = append(out, "upstream remove "+strings.Join(r.Remove, ", "))
		}
		return out
	}
	out = append(out, fmt.Sprintf("client status   %d", r.Status))
	for _, h := range r.Headers {
		out = append(out, "client header   "+h)
	}
	return append(out, "client body     "+r.Body)
}

func printExplanation(w io.Writer, ex explanation) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, s := range ex.Steps {
		outcome := s.Outcome
		if s.Reason != "" {
			outcome += " (" + string(s.Reason) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Phase, dash(s.Name), outcome, s.Detail)
	}
	tw.Flush()
	fmt.Fprintln(w)
	dry := ""
	if ex.DryRun {
		dry = " (a report-only rule would have denied)"
	}
	fmt.Fprintf(w, "verdict: %s %d %s, rule %s%s\n", ex.Verdict, ex.Status, ex.Reason, ex.Rule, dry)
	for _, l := range ex.Response {
		fmt.Fprintln(w, "  "+l)
	}
}
