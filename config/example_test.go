package config_test

import (
	"fmt"

	"github.com/restguard/restguard/config"
)

func ExampleParse() {
	_, err := config.Parse("restguard.yaml", []byte(`
providers:
  - name: corp
    issuer: https://sso.example.com/realms/corp
    audiences: [jira]
rules:
  - name: rest-api
    paths: ["/rest/**"]
    authenticate: [corp, crop]
    ip: {allow: ["10.0.0.0/8", "192.0.2.300"]}
`))
	fmt.Println(err)
	// Output:
	// restguard.yaml:9: rules[0].authenticate[1]: unknown provider "crop" (did you mean "corp"?)
	// restguard.yaml:10: rules[0].ip.allow[1]: invalid CIDR "192.0.2.300"
}
