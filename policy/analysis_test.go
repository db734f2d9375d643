package policy

import (
	"slices"
	"testing"

	"github.com/restguard/restguard/authz"
)

func TestShadowedRoutes(t *testing.T) {
	t.Parallel()
	r := func(name string) *authz.Rule { return &authz.Rule{Name: name, Action: authz.ActionAuthenticate} }
	tests := []struct {
		name   string
		routes []RouteSpec
		want   []int
	}{
		{"catch-all pass first", []RouteSpec{{Rule: r("ui"), Paths: []string{"/**"}}, {Rule: r("rest"), Paths: []string{"/rest/**"}}}, []int{1}},
		{"narrower after wider", []RouteSpec{{Rule: r("rest"), Paths: []string{"/rest/**"}}, {Rule: r("api"), Paths: []string{"/rest/api/**"}}}, []int{1}},
		{"wider after narrower", []RouteSpec{{Rule: r("api"), Paths: []string{"/rest/api/**"}}, {Rule: r("rest"), Paths: []string{"/rest/**"}}}, nil},
		{"other method", []RouteSpec{{Rule: r("get"), Paths: []string{"/rest/**"}, Methods: []string{"GET"}}, {Rule: r("rest"), Paths: []string{"/rest/**"}}}, nil},
		{"same method", []RouteSpec{{Rule: r("any"), Paths: []string{"/rest/**"}}, {Rule: r("get"), Paths: []string{"/rest/**"}, Methods: []string{"GET"}}}, []int{1}},
		{"host-specific first", []RouteSpec{{Rule: r("jira"), Hosts: []string{"jira.example.com"}, Paths: []string{"/**"}}, {Rule: r("all"), Paths: []string{"/rest/**"}}}, nil},
		{"host-less first", []RouteSpec{{Rule: r("all"), Paths: []string{"/**"}}, {Rule: r("jira"), Hosts: []string{"jira.example.com"}, Paths: []string{"/rest/**"}}}, []int{1}},
		{"wildcard host first", []RouteSpec{{Rule: r("wild"), Hosts: []string{"*.example.com"}}, {Rule: r("jira"), Hosts: []string{"jira.example.com"}, Paths: []string{"/rest/**"}}}, []int{1}},
		{"one segment vs any", []RouteSpec{{Rule: r("one"), Paths: []string{"/rest/*"}}, {Rule: r("rest"), Paths: []string{"/rest/**"}}}, nil},
		{"any vs one segment", []RouteSpec{{Rule: r("rest"), Paths: []string{"/rest/**"}}, {Rule: r("one"), Paths: []string{"/rest/*/x"}}}, []int{1}},
		{"literal not covered by another literal", []RouteSpec{{Rule: r("a"), Paths: []string{"/rest/a"}}, {Rule: r("star"), Paths: []string{"/rest/*"}}}, nil},
		{"covered by two", []RouteSpec{{Rule: r("a"), Paths: []string{"/status"}}, {Rule: r("b"), Paths: []string{"/rest/**"}}, {Rule: r("c"), Paths: []string{"/status", "/rest/api/**"}}}, []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			router, err := NewRouter(tt.routes, &authz.Rule{Name: "default", Action: authz.ActionDeny})
			if err != nil {
				t.Fatal(err)
			}
			if got := router.Shadowed(); !slices.Equal(got, tt.want) {
				t.Errorf("Shadowed() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWitnessesAreMatchedByTheirRoute(t *testing.T) {
	t.Parallel()
	router, err := NewRouter([]RouteSpec{
		{Rule: ruleREST, Hosts: []string{"jira.example.com", "*.wiki.example.com"}, Paths: []string{"/rest/**", "/rpc/*/x"}, Methods: []string{"GET", "POST"}},
		{Rule: ruleStatus, Paths: []string{"/status"}},
	}, ruleDefPass)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		ws := router.Witnesses(i)
		if len(ws) == 0 {
			t.Fatalf("route %d has no witness", i)
		}
		for _, w := range ws {
			if got := router.Decides(w); got != i {
				t.Errorf("witness %+v of route %d is decided by %d", w, i, got)
			}
		}
	}
	if router.Witnesses(5) != nil || router.Rule(-1) != ruleDefPass {
		t.Error("out of range")
	}
}
