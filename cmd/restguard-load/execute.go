package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// prewarmLimit bounds the prewarm pass.
const prewarmLimit = 10 * time.Minute

// execute prepares the credentials and the transport, warms the server up,
// measures, and runs the sweep.
func execute(ctx context.Context, o *options, p *idp, tgt target, log io.Writer) (*report, error) {
	m, err := parseMix(o.mix)
	if err != nil {
		return nil, err
	}
	sources, err := parseSources(o.sources, 256)
	if err != nil {
		return nil, err
	}
	ts, err := mintTokens(p, m, o.tokens, o.es256, o.tokenTTL)
	if err != nil {
		return nil, err
	}
	slots := buildSlots(m, ts, sources)
	shape := reqShape{method: o.method, host: o.host, path: o.path}
	var t transport
	addr := tgt.grpc
	if o.transport == "http" {
		addr = tgt.http
		t = newHTTPTransport(addr, o.httpPrefix, o.conns, o.concurrency, slots, shape)
	} else if t, err = newGRPCTransport(addr, o.conns, slots, shape); err != nil {
		return nil, err
	}
	defer t.close()

	rep := &report{
		Label: o.label, Server: tgt.name, PID: tgt.pid, Transport: o.transport, Target: addr,
		Concurrency: o.concurrency, Conns: o.conns, Rate: o.rate, Mix: m.String(),
		Tokens: len(ts.valid), RS256: ts.rs, ES256: ts.es, Opaque: len(ts.opaque), Slots: len(slots), CacheTTL: o.cacheTTL.Seconds(),
	}
	if rep.Label == "" {
		rep.Label = tgt.name
	}
	var next atomic.Uint64
	base := phase{concurrency: o.concurrency, conns: o.conns, timeout: o.timeout}
	if o.prewarm {
		pw := base
		pw.requests, pw.duration = int64(len(slots)), prewarmLimit
		runPhase(ctx, t, len(slots), pw, &next)
		next.Store(0)
	}
	if o.warmup > 0 {
		wu := base
		wu.duration, wu.rate = o.warmup, o.rate
		runPhase(ctx, t, len(slots), wu, &next)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	main := base
	main.duration, main.requests, main.rate = o.duration, o.requests, o.rate
	stopSampling := func() []sample { return nil }
	if o.sample > 0 && tgt.pid > 0 {
		stopSampling = startSampler(ctx, tgt, o.sample)
	}
	idp0 := p.calls()
	stopProfile := func() error { return nil }
	if o.serverProfile != "" && tgt.admin != "" {
		stopProfile = startProfile(ctx, tgt.admin, o.serverProfile, o.duration)
	}
	pt := measure(ctx, t, len(slots), main, &next, tgt.pid)
	if err := stopProfile(); err != nil {
		fmt.Fprintln(log, "restguard-load: server profile:", err)
	}
	rep.Samples = stopSampling()
	rep.point = pt
	rep.IdPDuring = p.calls().minus(idp0)

	if o.sweep != "" {
		maxRate := pt.RPS
		if o.sweepBase != "" {
			other, err := readReport(o.sweepBase)
			if err != nil {
				return nil, err
			}
			maxRate = other.RPS
			rep.SweepBase = other.Label
		}
		rep.SweepBaseRPS = maxRate
		rates, err := parseSweep(o.sweep, maxRate)
		if err != nil {
			return nil, err
		}
		for _, r := range rates {
			if ctx.Err() != nil {
				break
			}
			st := base
			st.duration, st.rate = o.duration, r
			sp := measure(ctx, t, len(slots), st, &next, tgt.pid)
			fmt.Fprintf(log, "sweep %-10s target %8.0f/s  achieved %8.0f/s  p50 %6.3f ms  p99 %7.3f ms\n",
				rep.Label, r, sp.RPS, sp.Latency.P50, sp.Latency.P99)
			rep.Sweep = append(rep.Sweep, sp)
		}
	}
	rep.IdP = p.calls()
	return rep, nil
}

// measure runs one phase and takes the CPU figures around it.
func measure(ctx context.Context, t transport, nslots int, ph phase, next *atomic.Uint64, pid int) point {
	cpu0, cpuErr := procCPU(pid)
	self0 := selfCPU()
	m := runPhase(ctx, t, nslots, ph, next)
	self1 := selfCPU()
	cpu1, cpuErr1 := procCPU(pid)
	pt := point{
		TargetRate: ph.rate, Requests: m.sent, Seconds: m.elapsed.Seconds(),
		Latency: latencies{
			P50: ms(m.hist.quantile(0.50)), P90: ms(m.hist.quantile(0.90)), P99: ms(m.hist.quantile(0.99)),
			P999: ms(m.hist.quantile(0.999)), Max: ms(time.Duration(m.hist.max)),
		},
		Results:        m.counts,
		ServerCPU:      -1,
		ServerCPUPer1k: -1,
		LoadCPU:        (self1 - self0).Seconds(),
	}
	if m.elapsed > 0 {
		pt.RPS = float64(m.sent) / m.elapsed.Seconds()
	}
	for k, v := range m.counts {
		if len(k) >= 5 && k[:5] == "error" {
			pt.Errors += v
		}
	}
	if pid > 0 && cpuErr == nil && cpuErr1 == nil {
		pt.ServerCPU = (cpu1 - cpu0).Seconds()
		if m.sent > 0 {
			pt.ServerCPUPer1k = pt.ServerCPU / float64(m.sent) * 1000
		}
	}
	return pt
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// startSampler records the server's RSS and goroutines every interval
// until the returned stop function, which returns the samples.
func startSampler(ctx context.Context, tgt target, every time.Duration) func() []sample {
	var (
		mu  sync.Mutex
		out []sample
	)
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	take := func() {
		rss, err := procRSS(tgt.pid)
		if err != nil {
			return
		}
		s := sample{Seconds: time.Since(start).Seconds(), RSSBytes: rss, Goroutines: goroutines(ctx, tgt.admin)}
		mu.Lock()
		out = append(out, s)
		mu.Unlock()
	}
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		take()
		for {
			select {
			case <-tick.C:
				take()
			case <-done:
				take()
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() []sample {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return out
	}
}

// startProfile fetches the server's CPU profile over the measurement (from
// its admin listener's /debug/pprof/) into prefix.cpu.pprof; the returned
// function waits for it and then fetches the allocation profile into
// prefix.allocs.pprof.
func startProfile(ctx context.Context, admin, prefix string, d time.Duration) func() error {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cpu := make(chan error, 1)
	go func() {
		cpu <- fetchTo(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, secs), prefix+".cpu.pprof")
	}()
	return func() error {
		err := <-cpu
		return errors.Join(err, fetchTo(ctx, "http://"+admin+"/debug/pprof/allocs", prefix+".allocs.pprof"))
	}
}

func fetchTo(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}
