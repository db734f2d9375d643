package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/restguard/restguard/config"
	"github.com/restguard/restguard/sharedcache"
)

const validateUsage = `usage: restguard validate [-config] FILE

Loads and builds FILE exactly as serve does and prints every error with its
line and the fix, or "ok", the warnings, and the expanded providers and
rules. Exit status 0 ok, 1 errors, 2 usage.
`

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), validateUsage, "\nflags:\n"); fs.PrintDefaults() }
	flagPath := fs.String("config", "", "configuration file (or give it as the argument)")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	path, ok := configArg(fs, *flagPath)
	if !ok {
		fs.Usage()
		return 2
	}
	cfg, err := config.Load(path)
	var rt *config.Runtime
	if err == nil {
		rt, err = config.Build(cfg, config.BuildOptions{})
	}
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
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
	if sc, ok := rt.Config.SharedCache(); ok {
		fmt.Fprintf(stdout, "\nshared cache: redis %s (db %d, key prefix %q); validate does not connect to it\n",
			sc.Address, sc.DB, or(sc.KeyPrefix, sharedcache.DefaultKeyPrefix))
	}
	if rt.HasAdminSecret {
		fmt.Fprintln(stdout, "revocation: on (POST /revoke on the admin listener, restguard revoke)")
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
