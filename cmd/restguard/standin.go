package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/restguard/restguard/assertion"
	"github.com/restguard/restguard/internal/standin"
)

const standinUsage = `usage: restguard standin -keys FILE -issuer NAME -audience URL [-header NAME] [-listen ADDR]

A test upstream that stands in for a product with the reference
authenticator (examples/atlassian/authenticator): it answers 200 with the
user of a valid identity assertion for exactly that request, and 401 with
the reason otherwise, whatever X-Forwarded-User says. The compose demo puts
it where Jira would be. Not a product component.
`

func runStandin(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("standin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), standinUsage, "\nflags:\n"); fs.PrintDefaults() }
	listen := fs.String("listen", "127.0.0.1:8080", "listen address")
	keys := fs.String("keys", "", "the key set restguard writes (assertion.jwks_file); re-read when it changes")
	issuer := fs.String("issuer", "", "the assertion issuer (assertion.issuer)")
	audience := fs.String("audience", "", "this product's base URL (the assertion audience)")
	header := fs.String("header", assertion.HeaderName, "the header carrying the assertion (assertion.header)")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	if *keys == "" || *issuer == "" || *audience == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	up, err := newStandin(*keys, *issuer, *audience, *header, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "restguard standin:", err)
		return 2
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "restguard standin:", err)
		return 1
	}
	srv := &http.Server{Handler: up, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(stderr, "restguard standin: listening on %s\n", l.Addr())
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "restguard standin:", err)
		return 1
	}
	return 0
}

// newStandin builds the stand-in's handler from its flags.
func newStandin(keys, issuer, audience, header string, stderr io.Writer) (*standin.Upstream, error) {
	if !headerToken(header) {
		return nil, fmt.Errorf("-header %q is not a header name", header)
	}
	v, err := assertion.NewVerifier(assertion.VerifierConfig{Issuer: issuer, Audience: audience, Header: header})
	if err != nil {
		return nil, err
	}
	up := standin.New(v)
	if err := up.WatchKeys(keys); err != nil {
		// restguard may not have written it yet: keep going, refuse
		// every assertion until it appears.
		fmt.Fprintln(stderr, "restguard standin: key set not loaded yet:", err)
	}
	return up, nil
}

// headerToken reports whether s is a header field name (RFC 9110 token).
func headerToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
