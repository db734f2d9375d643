// Command restguard is the external authorization service for APIs behind
// Envoy. Subcommands:
//
//	restguard serve    -config FILE    run the gRPC ext_authz server
//	restguard validate [-config] FILE  load and build FILE exactly as serve does, print the expanded rules
//	restguard routes [-config] FILE    per host and route: which rule decides and what each credential gets
//	restguard test -config FILE CASES  policy tests: requests with credentials and the decisions they must get
//	restguard check    [flags] PATH    ask a running restguard about one request (an Envoy-shaped CheckRequest)
//	restguard explain  -config FILE    run the engine on one request and print every phase
//	restguard hash-key < KEY           print the stored (SHA-256) form of an API key
//	restguard dev                      a self-contained local setup with a throw-away IdP (loopback only)
//	restguard standin -keys FILE ...   a test upstream that accepts only valid identity assertions
//	restguard revoke -secret-file FILE drop a token's or a user's cached results on every replica
//	restguard version
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	os.Exit(runWithInput(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	return runWithInput(args, strings.NewReader(""), stdout, stderr)
}

func runWithInput(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stdout, stderr)
	case "validate":
		return runValidate(args[1:], stdout, stderr)
	case "routes":
		return runRoutes(args[1:], stdout, stderr)
	case "test":
		return runTest(args[1:], stdout, stderr)
	case "standin":
		return runStandin(args[1:], stdout, stderr)
	case "revoke":
		return runRevoke(args[1:], stdin, stdout, stderr)
	case "check":
		return runCheck(args[1:], stdout, stderr)
	case "explain":
		return runExplain(args[1:], stdout, stderr)
	case "hash-key":
		return runHashKey(args[1:], stdin, stdout, stderr)
	case "dev":
		return runDev(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "restguard %s (%s)\n", version, goVersion())
		return 0
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "restguard: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: restguard <command> [flags]

commands:
  serve    [-config] FILE  run the Envoy ext_authz gRPC server
  validate [-config] FILE  check a configuration and print the expanded rules
  routes   [-config] FILE  per host and route: the deciding rule and what anonymous, Basic and bearer requests get
  test     -config FILE CASES.yaml  policy tests: requests with credentials and the decisions they must get
  check    [flags] PATH   send one Envoy-shaped CheckRequest to a running restguard
  explain  -config FILE   run the real engine on one request (flags or -request FILE) and print every phase
  hash-key < KEYFILE      print the stored form of an API key (read from standard input)
  dev                     local demo: throw-away IdP, tokens and restguard, loopback only
  standin  -keys FILE ...  a test upstream that accepts only valid identity assertions (the compose demo's "Jira")
  revoke   -secret-file FILE ...  drop a token's or a user's cached results on every replica (admin listener)
  version                 print the version

Run "restguard <command> -h" for the flags of a command.
`)
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "unknown"
}
