// Package config is restguard's configuration: the YAML schema, a strict
// loader that reports every error with its file and line, and Build, which
// compiles a configuration into a Runtime: a ready *authz.Engine with its
// providers and policies, whose key sets and providers a Pool carries
// across reloads. It is the only package that knows providers, policy and
// authz together; `restguard serve`, `validate` and `explain` all go
// through Load and Build, so a file that validates is a file that runs.
package config
