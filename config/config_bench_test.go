package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restguard/restguard/config"
)

// BenchmarkCompile is what a start or a SIGHUP reload costs: Parse (YAML,
// strict decoding, validation) and Build (providers, policies, router),
// for the example configuration and for one with 100 rules.
func BenchmarkCompile(b *testing.B) {
	example, err := os.ReadFile(filepath.Join("..", "examples", "restguard.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"example", example},
		{"100rules", []byte(hundredRules())},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c, err := config.Parse("bench.yaml", tc.data)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := config.Build(c, config.BuildOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func hundredRules() string {
	var s strings.Builder
	s.WriteString(`realm: jira
providers:
  - name: corp
    issuer: https://sso.example.com/realms/corp
    audiences: [jira]
    groups: {claim: groups}
  - name: partners
    issuer: https://idp.partner.example/
    audiences: [jira]
rules:
`)
	for i := range 100 {
		fmt.Fprintf(&s, `  - name: rule-%d
    hosts: [app%d.example.com]
    paths: ["/app%d/rest/**", "/app%d/status"]
    methods: [GET, POST]
    authenticate: [corp, partners]
    block_basic: {enabled: true, allow_users: [svc-%d]}
    groups: {any_of: [group-%d, admins]}
    ip: {allow: ["10.%d.0.0/16"]}
`, i, i, i, i, i, i, i)
	}
	s.WriteString("default: {action: deny, block_basic: {enabled: true}}\n")
	return s.String()
}
