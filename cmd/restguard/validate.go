package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/restguard/restguard/config"
)

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: restguard validate -config FILE")
		return 2
	}
	cfg, err := config.Load(*path)
	var rt *config.Runtime
	if err == nil {
		rt, err = config.Build(cfg, config.BuildOptions{})
	}
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	if len(rt.Warnings) > 0 {
		fmt.Fprintln(stdout)
		for _, w := range rt.Warnings {
			fmt.Fprintln(stdout, w)
		}
	}
	fmt.Fprint(stdout, "\nproviders:\n")
	for _, bp := range rt.Providers {
		fmt.Fprintf(stdout, "  %s  %s\n", bp.Name, bp.Summary)
	}
	fmt.Fprintln(stdout, "\nrules (first match wins):")
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tname\taction\thosts\tmethods\tpaths\tproviders\tbasic\tgroups\tusers\tip")
	for i, r := range rt.Rules {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, r.Name, r.Action,
			list(r.Hosts), list(r.Methods), list(r.Paths), list(r.Providers),
			dash(r.BlockBasic), dash(r.Groups), dash(r.Users), dash(r.IPRule))
	}
	tw.Flush()
	return 0
}

// printErrors prints each joined error on its own line.
func printErrors(w io.Writer, err error) {
	var multi interface{ Unwrap() []error }
	if errors.As(err, &multi) {
		for _, e := range multi.Unwrap() {
			printErrors(w, e)
		}
		return
	}
	fmt.Fprintln(w, err)
}

func list(ss []string) string {
	if len(ss) == 0 {
		return "*"
	}
	return strings.Join(ss, ",")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
