package metrics

import (
	"testing"
	"time"

	"github.com/restguard/restguard/authz"
)

// BenchmarkObserve: one decision recorded, by the kept series (impl=kept,
// Observe) and as Observe did before, WithLabelValues per check
// (impl=labels). Compare with benchstat -col /impl.
func BenchmarkObserve(b *testing.B) {
	d := authz.Decision{Verdict: authz.Allow, Reason: authz.ReasonAuthenticated, Rule: "rest-api", Provider: "corp", Duration: 3 * time.Microsecond}
	b.Run("impl=labels", func(b *testing.B) {
		m := New("bench")
		b.ReportAllocs()
		for b.Loop() {
			verdict := d.Verdict.String()
			m.decisions.WithLabelValues(verdict, string(d.Reason), d.Rule, d.Provider).Inc()
			m.duration.WithLabelValues(verdict).Observe(d.Duration.Seconds())
		}
	})
	b.Run("impl=kept", func(b *testing.B) {
		m := New("bench")
		b.ReportAllocs()
		for b.Loop() {
			m.Observe(nil, &d)
		}
	})
}
