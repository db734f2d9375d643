package main

import (
	"errors"
	"flag"
	"io"
)

// parseFlags parses a subcommand's arguments the same way for every
// subcommand: -h or -help prints the usage once, to stdout, and ends with
// status 0; a flag error prints the error and the usage to the flag set's
// output (stderr) and ends with status 2. done says whether the caller
// must return code now.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (code int, done bool) {
	usage := fs.Usage
	fs.Usage = func() {} // printed below, once, where it belongs
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		out := fs.Output()
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(out)
		return 0, true
	case err != nil:
		fs.Usage()
		return 2, true
	}
	return 0, false
}

// configArg returns the configuration file of a subcommand that takes one:
// the -config flag or the single argument ("restguard validate FILE"), not
// both and nothing more.
func configArg(fs *flag.FlagSet, flagValue string) (string, bool) {
	switch {
	case flagValue != "" && fs.NArg() == 0:
		return flagValue, true
	case flagValue == "" && fs.NArg() == 1:
		return fs.Arg(0), true
	default:
		return "", false
	}
}
