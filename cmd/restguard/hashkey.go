package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/restguard/restguard/providers"
)

// minKeyLength is the shortest API key hash-key accepts without a warning:
// SHA-256 storage is only safe for long random keys.
const minKeyLength = 32

func runHashKey(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hash-key", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: restguard hash-key < keyfile\n\nReads one API key from standard input (never from the command line, which\nprocess listings and shell history show) and prints the form to put under\nproviders[].keys[].sha256.")
	}
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprint(stderr, "API key: ")
		}
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 64<<10)).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintln(stderr, "restguard:", err)
		return 1
	}
	key := strings.TrimRight(line, "\r\n")
	if key == "" {
		fmt.Fprintln(stderr, "restguard: no key on standard input")
		return 1
	}
	if len(key) < minKeyLength {
		fmt.Fprintf(stderr, "restguard: warning: the key has %d characters; use at least %d random characters (e.g. openssl rand -base64 32)\n", len(key), minKeyLength)
	}
	fmt.Fprintln(stdout, providers.HashAPIKey(key))
	return 0
}
