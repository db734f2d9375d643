package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// latencies are percentiles in milliseconds.
type latencies struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p99_9_ms"`
	Max  float64 `json:"max_ms"`
}

// point is one measured phase.
type point struct {
	TargetRate     float64          `json:"target_rate"` // 0: closed loop
	Requests       int64            `json:"requests"`
	Seconds        float64          `json:"seconds"`
	RPS            float64          `json:"rps"`
	Latency        latencies        `json:"latency"`
	Results        map[string]int64 `json:"results"` // "status reason" -> count
	Errors         int64            `json:"errors"`
	ServerCPU      float64          `json:"server_cpu_s"`          // -1: unknown
	ServerCPUPer1k float64          `json:"server_cpu_s_per_1000"` // -1: unknown
	LoadCPU        float64          `json:"load_cpu_s"`
}

// sample is one reading of the server's memory and goroutines.
type sample struct {
	Seconds    float64 `json:"t_s"`
	RSSBytes   int64   `json:"rss_bytes"`
	Goroutines int64   `json:"goroutines"` // -1: the server does not say
}

// report is everything one run measured.
type report struct {
	Label       string  `json:"label"`
	Server      string  `json:"server"`
	PID         int     `json:"pid,omitempty"`
	Transport   string  `json:"transport"`
	Target      string  `json:"target"`
	Concurrency int     `json:"concurrency"`
	Conns       int     `json:"conns"`
	Rate        float64 `json:"rate"`
	Mix         string  `json:"mix"`
	Tokens      int     `json:"tokens"`
	RS256       int     `json:"rs256"`
	ES256       int     `json:"es256"`
	Opaque      int     `json:"opaque_tokens"` // distinct opaque tokens (introspection)
	CacheTTL    float64 `json:"cache_ttl_s"`   // the introspection cache's TTL given to restguard (0: its default)
	Slots       int     `json:"slots"`
	point
	IdPDuring    idpCalls `json:"idp_calls_during_measurement"`
	IdP          idpCalls `json:"idp_calls_total"`
	Sweep        []point  `json:"sweep,omitempty"`
	SweepBase    string   `json:"sweep_base,omitempty"` // whose maximum the sweep's percentages took; "" its own
	SweepBaseRPS float64  `json:"sweep_base_rps"`       // that maximum
	Samples      []sample `json:"samples,omitempty"`
}

func (r *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func readReport(path string) (*report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func (r *report) writeText(w io.Writer) {
	mode := "closed loop"
	if r.Rate > 0 {
		mode = fmt.Sprintf("fixed rate %.0f/s", r.Rate)
	}
	pid := ""
	if r.PID > 0 {
		pid = fmt.Sprintf(" (pid %d)", r.PID)
	}
	fmt.Fprintf(w, "target      %s%s %s %s, %d conns, concurrency %d, %s\n", r.Server, pid, r.Transport, r.Target, r.Conns, r.Concurrency, mode)
	fmt.Fprintf(w, "mix         %s; %d distinct valid tokens (%d RS256, %d ES256), %d opaque tokens, a cycle of %d requests\n", r.Mix, r.Tokens, r.RS256, r.ES256, r.Opaque, r.Slots)
	writePoint(w, r.point)
	fmt.Fprintf(w, "idp calls   during the measurement: discovery %d, jwks %d, introspect %d (whole run: %d, %d, %d)\n",
		r.IdPDuring.Discovery, r.IdPDuring.JWKS, r.IdPDuring.Introspect, r.IdP.Discovery, r.IdP.JWKS, r.IdP.Introspect)
	for _, s := range r.Samples {
		g := "n/a"
		if s.Goroutines >= 0 {
			g = fmt.Sprint(s.Goroutines)
		}
		fmt.Fprintf(w, "sample      t=%6.0fs  rss %7.1f MiB  goroutines %s\n", s.Seconds, float64(s.RSSBytes)/(1<<20), g)
	}
	for _, p := range r.Sweep {
		fmt.Fprintf(w, "sweep       target %8.0f/s achieved %8.0f/s  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms  errors %d  cpu/1k %s\n",
			p.TargetRate, p.RPS, p.Latency.P50, p.Latency.P90, p.Latency.P99, p.Latency.P999, p.Latency.Max, p.Errors, cpuText(p.ServerCPUPer1k))
	}
}

func writePoint(w io.Writer, p point) {
	fmt.Fprintf(w, "requests    %d in %.2fs = %.0f/s (transport errors %d)\n", p.Requests, p.Seconds, p.RPS, p.Errors)
	fmt.Fprintf(w, "latency     p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms\n",
		p.Latency.P50, p.Latency.P90, p.Latency.P99, p.Latency.P999, p.Latency.Max)
	keys := make([]string, 0, len(p.Results))
	for k := range p.Results {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		label := "results"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%-11s %-40s %d\n", label, k, p.Results[k])
	}
	if p.ServerCPU >= 0 {
		fmt.Fprintf(w, "server cpu  %.2f s = %s s per 1,000 checks\n", p.ServerCPU, cpuText(p.ServerCPUPer1k))
	} else {
		fmt.Fprintln(w, "server cpu  unknown (no server process id)")
	}
	fmt.Fprintf(w, "load cpu    %.2f s (this process)\n", p.LoadCPU)
}

func cpuText(v float64) string {
	if v < 0 {
		return "n/a"
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
}

func (c idpCalls) minus(o idpCalls) idpCalls {
	return idpCalls{Discovery: c.Discovery - o.Discovery, JWKS: c.JWKS - o.JWKS, Introspect: c.Introspect - o.Introspect}
}

// runCompare is the `compare` subcommand: restguard's figures as ratios
// of the floor's (null server) from the same machine and run.
func runCompare(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: restguard-load compare floor.json measured.json")
		return 2
	}
	floor, err := readReport(args[0])
	if err == nil {
		var m *report
		if m, err = readReport(args[1]); err == nil {
			writeComparison(stdout, floor, m)
			return 0
		}
	}
	fmt.Fprintln(stderr, "restguard-load compare:", err)
	return 1
}

func writeComparison(w io.Writer, floor, m *report) {
	ratio := func(a, b float64) string {
		if a < 0 || b <= 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	fmt.Fprintf(w, "%s vs %s, concurrency %d, %d conns, %s\n", m.Label, floor.Label, m.Concurrency, m.Conns, m.Mix)
	fmt.Fprintf(w, "  throughput   %8.0f/s vs %8.0f/s   ratio %s (target >= 0.80)\n", m.RPS, floor.RPS, ratio(m.RPS, floor.RPS))
	fmt.Fprintf(w, "  cpu per 1k   %8s s  vs %8s s    ratio %s\n", cpuText(m.ServerCPUPer1k), cpuText(floor.ServerCPUPer1k), ratio(m.ServerCPUPer1k, floor.ServerCPUPer1k))
	fmt.Fprintf(w, "  p50 / p99    %.3f / %.3f ms vs %.3f / %.3f ms\n", m.Latency.P50, m.Latency.P99, floor.Latency.P50, floor.Latency.P99)
	for _, p := range m.Sweep {
		fmt.Fprintf(w, "  %s at %.0f/s (%.0f%% of its maximum): p99 %.3f ms\n", m.Label, p.RPS, 100*p.TargetRate/m.RPS, p.Latency.P99)
	}
}
