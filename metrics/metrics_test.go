package metrics_test

import (
	"encoding/json"
	"math"
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

type callStats struct{}

func (callStats) Stats() authz.ProviderStats {
	return authz.ProviderStats{Calls: map[string]uint64{"ok": 3, "error": 1}, Keys: -1}
}

// TestProviderCallLatencyHistogram: a provider observes its calls into
// the histogram the metrics code supplies; it is exported, with the
// documented buckets, while the provider is installed, and not after a
// reload removed it.
func TestProviderCallLatencyHistogram(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	h := m.CallLatency("hydra", "introspection")
	for _, v := range []float64{.004, .006, .05, 1.44} {
		h.Observe(v)
	}
	m.SetProviders([]metrics.StatsSource{{Name: "hydra", Kind: "introspection", StatsReporter: callStats{}}})
	got, ok := callLatency(t, m)
	if !ok {
		t.Fatal("no restguard_provider_call_duration_seconds")
	}
	if got.count != 4 || math.Abs(got.sum-1.5) > 1e-9 || len(got.buckets) != len(metrics.CallBuckets) {
		t.Fatalf("histogram = %+v", got)
	}
	for le, want := range map[float64]uint64{.001: 0, .01: 2, .1: 3, 1: 3, 2.5: 4, 5: 4} {
		if n, ok := got.buckets[le]; !ok || n != want {
			t.Errorf("le %g: %d (present %v), want %d", le, n, ok, want)
		}
	}
	m.SetProviders(nil)
	if _, ok := callLatency(t, m); ok {
		t.Fatal("a removed provider's histogram is still exported")
	}
}

type histogram struct {
	count   uint64
	sum     float64
	buckets map[float64]uint64 // upper bound: cumulative count
}

// callLatency reads the one restguard_provider_call_duration_seconds
// series (provider hydra, kind introspection); ok is false when there is
// none.
func callLatency(t *testing.T, m *metrics.Metrics) (histogram, bool) {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "restguard_provider_call_duration_seconds" {
			continue
		}
		if n := len(f.GetMetric()); n != 1 {
			t.Fatalf("%d series", n)
		}
		mt := f.GetMetric()[0]
		labels := map[string]string{}
		for _, l := range mt.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["provider"] != "hydra" || labels["kind"] != "introspection" || len(labels) != 2 {
			t.Fatalf("labels %v", labels)
		}
		hist := histogram{count: mt.GetHistogram().GetSampleCount(), sum: mt.GetHistogram().GetSampleSum(), buckets: map[float64]uint64{}}
		for _, b := range mt.GetHistogram().GetBucket() {
			hist.buckets[b.GetUpperBound()] = b.GetCumulativeCount()
		}
		return hist, true
	}
	return histogram{}, false
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
