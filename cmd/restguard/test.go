package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/restguard/restguard/config"
)

const testUsage = `usage: restguard test [-v] -config FILE CASES.yaml [CASES.yaml ...]

Runs policy tests: each case of a cases file is a request with a credential
and the decision it must get. FILE is built exactly as serve builds it, with
one difference: a local test issuer stands in for the identity providers,
so a case can carry a token minted from claims ("token: {provider: corp,
claims: {...}}"). Prints one block per failing case and a summary line.
Exit status 0 when every case passes, 1 when one fails, 2 when the files do
not load. See README.md ("Policy tests") for the format.
`

func runTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), testUsage, "\nflags:\n"); fs.PrintDefaults() }
	path := fs.String("config", "", "configuration file (required)")
	verbose := fs.Bool("v", false, "also list the cases that pass")
	timeout := fs.Duration("timeout", time.Minute, "time for the whole run")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if *path == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		printErrors(stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	passed, failed := 0, 0
	for _, file := range fs.Args() {
		cs, err := config.LoadCases(file)
		if err != nil {
			printErrors(stderr, err)
			return 2
		}
		results, err := config.RunCases(ctx, cfg, cs)
		if err != nil {
			printErrors(stderr, err)
			return 2
		}
		for _, r := range results {
			if len(r.Problems) == 0 {
				passed++
				if *verbose {
					fmt.Fprintf(stdout, "--- PASS: %s (%s)\n", r.Case.Name, r.Where)
				}
				continue
			}
			failed++
			fmt.Fprintf(stdout, "--- FAIL: %s (%s)\n", r.Case.Name, r.Where)
			for _, p := range r.Problems {
				fmt.Fprintf(stdout, "    %s\n", p)
			}
		}
	}
	status := "ok"
	if failed > 0 {
		status = "FAIL"
	}
	fmt.Fprintf(stdout, "%s  %d passed, %d failed\n", status, passed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}
