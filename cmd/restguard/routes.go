package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/config"
)

const routesUsage = `usage: restguard routes [-config] FILE

Prints, per host and per route pattern, which rule decides a request and
what an anonymous request, an HTTP Basic request and a bearer request get:
the page to read before going live. It loads FILE exactly as serve does
and runs the real engine on one example request per row (no identity
provider is asked: the bearer column says what a token must pass).
`

func runRoutes(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("routes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), routesUsage, "\nflags:\n"); fs.PrintDefaults() }
	path := fs.String("config", "", "configuration file (or give it as the argument)")
	if code, done := parseFlags(fs, args, stdout); done {
		return code
	}
	file, ok := configArg(fs, *path)
	if !ok {
		fmt.Fprint(stderr, routesUsage)
		return 2
	}
	cfg, err := config.Load(file)
	var rt *config.Runtime
	if err == nil {
		rt, err = config.Build(cfg, config.BuildOptions{})
	}
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	printReview(stdout, rt)
	return 0
}

// basicProbe is the Basic credential of the review ("user:password").
var basicProbe = "Basic " + base64.StdEncoding.EncodeToString([]byte("review:review"))

func printReview(w io.Writer, rt *config.Runtime) {
	for i, hr := range rt.Review() {
		if i > 0 {
			fmt.Fprintln(w)
		}
		host := hr.Host
		if host == "" {
			host = "any other host"
		}
		fmt.Fprintf(w, "%s\n", host)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  path\tmethods\trule\tanonymous\tbasic\tbearer")
		for _, r := range hr.Routes {
			anon := answer(rt.Engine, r.Request, "")
			basic := answer(rt.Engine, r.Request, basicProbe)
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", r.Pattern, r.Methods, r.Rule.Name, anon, basic, bearerColumn(r))
		}
		tw.Flush()
	}
}

// answer runs the engine on req with an Authorization value (none when
// empty) and returns "status reason".
func answer(e *authz.Engine, req authz.Request, authorization string) string {
	req.Header = map[string][]string{}
	if authorization != "" {
		req.Header["Authorization"] = []string{authorization}
	}
	d := e.Check(context.Background(), &req)
	return fmt.Sprintf("%d %s", d.HTTPStatus(), d.Reason)
}

// bearerColumn says what a bearer token must pass on the row's rule.
func bearerColumn(r config.RouteReview) string {
	s := r.Rule
	allow, deny := "public_route", "route_denied"
	if s.Name == "default" {
		allow, deny = "default_pass", "default_deny"
	}
	switch s.Action {
	case "pass":
		if r.StripsCredentials {
			return "200 " + allow + " (token removed)"
		}
		return "200 " + allow + " (token forwarded)"
	case "deny":
		return "403 " + deny
	}
	parts := []string{"token of " + strings.Join(s.Providers, " or ")}
	for _, p := range []struct{ what, v string }{{"groups", s.Groups}, {"users", s.Users}, {"ip", s.IPRule}} {
		if p.v != "" {
			parts = append(parts, p.what+" "+p.v)
		}
	}
	return strings.Join(parts, "; ")
}
