// Package config is restguard's configuration: the YAML schema, a strict
// loader that reports every error with its file and line, and Build, which
// compiles a configuration into a ready *authz.Engine with its providers
// and policies. It is the only package that knows providers, policy and
// authz together; `restguard serve` and `restguard validate` both go
// through Load and Build, so a file that validates is a file that runs.
package config
