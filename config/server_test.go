package config_test

import (
	"testing"
	"time"

	"github.com/restguard/restguard/config"
)

func TestServerOptionsDefaultsAndValues(t *testing.T) {
	t.Parallel()
	const rest = `
providers:
  - {name: corp, issuer: "https://sso.example.com/realms/corp", audiences: [jira]}
rules:
  - {name: api, paths: ["/rest/**"], authenticate: [corp]}
`
	tests := []struct {
		name, yaml string
		want       config.ServerOptions
	}{
		{"defaults", ``, config.ServerOptions{MaxConnectionAge: 5 * time.Minute, MaxConnectionAgeGrace: time.Minute, DrainDelay: 5 * time.Second}},
		{"set", `
grpc: {max_connection_age: 2m, max_connection_age_grace: 20s}
shutdown: {drain_delay: 12s}
admin: {pprof: true}
`, config.ServerOptions{MaxConnectionAge: 2 * time.Minute, MaxConnectionAgeGrace: 20 * time.Second, DrainDelay: 12 * time.Second, Pprof: true}},
		{"off", `
grpc: {max_connection_age: 0s}
shutdown: {drain_delay: 0s}
`, config.ServerOptions{MaxConnectionAge: 0, MaxConnectionAgeGrace: time.Minute, DrainDelay: 0}},
		{"pprof on a private admin port", `
listen: {admin: "0.0.0.0:9003"}
admin: {pprof: true, pprof_non_loopback: true}
`, config.ServerOptions{MaxConnectionAge: 5 * time.Minute, MaxConnectionAgeGrace: time.Minute, DrainDelay: 5 * time.Second, Pprof: true}},
		{"pprof on localhost", `
listen: {admin: "localhost:9003"}
admin: {pprof: true}
`, config.ServerOptions{MaxConnectionAge: 5 * time.Minute, MaxConnectionAgeGrace: time.Minute, DrainDelay: 5 * time.Second, Pprof: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Parse("server.yaml", []byte(tc.yaml+rest))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ServerOptions(); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
