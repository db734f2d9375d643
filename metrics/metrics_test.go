package metrics_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
	"github.com/restguard/restguard/metrics"
)

type fakeStats struct{}

func (fakeStats) Stats() authz.ProviderStats {
	return authz.ProviderStats{Calls: map[string]uint64{"ok": 1}, CacheHits: 2, KeyRefreshes: map[string]uint64{"ok": 1}, Keys: 2}
}

func TestObserveCountsWithBoundedLabels(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	d := authz.Decision{Verdict: authz.Forbidden, Reason: authz.ReasonGroupMissing, Rule: "rest", Provider: "corp", Duration: time.Millisecond,
		Identity: &authz.Identity{Username: "alice"}}
	m.Observe(&authz.Request{Path: "/rest/secret-path"}, &d)
	dry := authz.Decision{Verdict: authz.Allow, Reason: authz.ReasonAuthenticated, Rule: "rest", DryRun: true, DryRunReason: authz.ReasonBasicAuthBlocked}
	m.Observe(nil, &dry)
	m.Reloaded(true)
	m.Reloaded(false)
	m.SetProviders([]metrics.StatsSource{{Name: "corp", Kind: "jwt", StatsReporter: fakeStats{}}})
	if n := count(t, m, "restguard_decisions_total"); n != 2 {
		t.Fatalf("decision series = %d", n)
	}
	out, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, mf := range out {
		text.WriteString(mf.String())
	}
	for _, leak := range []string{"alice", "secret-path"} {
		if strings.Contains(text.String(), leak) {
			t.Errorf("metrics carry %q", leak)
		}
	}
	if n := count(t, m, "restguard_dry_run_denials_total"); n != 1 {
		t.Errorf("dry-run series = %d", n)
	}
}

// TestDashboardQueriesKnownMetrics keeps the Grafana dashboard in step with
// the metric names restguard exports.
func TestDashboardQueriesKnownMetrics(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../examples/grafana/restguard-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	m := metrics.New("test")
	m.Observe(nil, &authz.Decision{Verdict: authz.Allow, DryRun: true})
	m.SetProviders([]metrics.StatsSource{{Name: "corp", Kind: "jwt", StatsReporter: fakeStats{}}})
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, f := range families {
		known[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			known[f.GetName()+"_bucket"] = true
		}
	}
	name := regexp.MustCompile(`restguard_[a-z_]+`)
	if len(dash.Panels) == 0 {
		t.Fatal("no panels")
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				if !known[n] {
					t.Errorf("panel %q queries unknown metric %s", p.Title, n)
				}
			}
		}
	}
}

func count(t *testing.T, m *metrics.Metrics, name string) int {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}

type latencyStats struct{}

func (latencyStats) Stats() authz.ProviderStats {
	return authz.ProviderStats{Calls: map[string]uint64{"ok": 3, "error": 1}, Keys: -1,
		CallLatency: authz.Histogram{Bounds: []float64{.01, .1}, Cumulative: []uint64{2, 3}, Count: 4, Sum: 1.5}}
}

func TestProviderCallLatencyHistogram(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	m.SetProviders([]metrics.StatsSource{{Name: "hydra", Kind: "introspection", StatsReporter: latencyStats{}}})
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "restguard_provider_call_duration_seconds" {
			h := f.GetMetric()[0].GetHistogram()
			if h.GetSampleCount() != 4 || h.GetSampleSum() != 1.5 || len(h.GetBucket()) != 2 || h.GetBucket()[1].GetCumulativeCount() != 3 {
				t.Fatalf("histogram = %v", h)
			}
			return
		}
	}
	t.Fatal("no restguard_provider_call_duration_seconds")
}

func TestDecisionLogDropped(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	value := func() float64 {
		fams, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() == "restguard_decision_log_dropped_total" {
				return f.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatal("restguard_decision_log_dropped_total not exported")
		return 0
	}
	if v := value(); v != 0 {
		t.Errorf("before a source: %v", v)
	}
	var n uint64 = 7
	m.SetLogDropped(func() uint64 { return n })
	if v := value(); v != 7 {
		t.Errorf("got %v, want 7", v)
	}
}
