package main

import (
	"flag"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"sort"
	"strings"
)

// runPlot is the `plot` subcommand: it draws the sweeps of one or more
// JSON reports as latency (p50 dashed, p99 solid, log scale) against the
// achieved throughput, as a self-contained SVG.
func runPlot(args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("plot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "latency.svg", "output `file`")
	title := fs.String("title", "ext_authz latency against load", "plot title")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: restguard-load plot [-o file.svg] [-title text] report.json...")
		return 2
	}
	var reps []*report
	for _, path := range fs.Args() {
		r, err := readReport(path)
		if err != nil {
			fmt.Fprintln(stderr, "restguard-load plot:", err)
			return 1
		}
		if len(r.Sweep) == 0 {
			fmt.Fprintf(stderr, "restguard-load plot: %s has no sweep\n", path)
			return 1
		}
		reps = append(reps, r)
	}
	if err := os.WriteFile(*out, []byte(svgPlot(*title, reps)), 0o644); err != nil {
		fmt.Fprintln(stderr, "restguard-load plot:", err)
		return 1
	}
	return 0
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"}

func svgPlot(title string, reps []*report) string {
	const (
		w, h                     = 820, 500
		left, right, top, bottom = 80, 200, 50, 60
		pw, ph                   = w - left - right, h - top - bottom
	)
	maxX, minY, maxY := 0.0, math.Inf(1), 0.0
	for _, r := range reps {
		for _, p := range r.Sweep {
			maxX = math.Max(maxX, p.RPS)
			for _, v := range []float64{p.Latency.P50, p.Latency.P99} {
				if v > 0 {
					minY, maxY = math.Min(minY, v), math.Max(maxY, v)
				}
			}
		}
	}
	if maxX <= 0 || maxY <= 0 {
		maxX, minY, maxY = 1, 0.01, 1
	}
	maxX = niceCeil(maxX * 1.05)
	loY, hiY := math.Floor(math.Log10(minY)), math.Ceil(math.Log10(maxY))
	if hiY <= loY {
		hiY = loY + 1
	}
	x := func(v float64) float64 { return left + v/maxX*pw }
	y := func(v float64) float64 {
		v = math.Max(v, math.Pow(10, loY))
		return top + (hiY-math.Log10(v))/(hiY-loY)*ph
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="28" font-size="16" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(title))
	// Grid and axes.
	for e := loY; e <= hiY; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if math.Log10(v) > hiY+1e-9 {
				continue
			}
			yy := y(v)
			stroke := "#eee"
			if m == 1 {
				stroke = "#ccc"
			}
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", left, yy, left+pw, yy, stroke)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", left-6, yy, fmtMS(v))
		}
	}
	for i := 0; i <= 5; i++ {
		v := maxX * float64(i) / 5
		xx := x(v)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>`+"\n", xx, top, xx, top+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%.0f</text>`+"\n", xx, top+ph+18, v)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">achieved throughput (checks/s)</text>`+"\n", left+pw/2, h-15)
	fmt.Fprintf(&b, `<text x="18" y="%d" text-anchor="middle" transform="rotate(-90 18 %d)">latency (ms, log scale)</text>`+"\n", top+ph/2, top+ph/2)
	// Series.
	for i, r := range reps {
		color := palette[i%len(palette)]
		pts := append([]point(nil), r.Sweep...)
		sort.Slice(pts, func(a, c int) bool { return pts[a].RPS < pts[c].RPS })
		for _, q := range []struct {
			get  func(point) float64
			dash string
		}{
			{func(p point) float64 { return p.Latency.P99 }, ""},
			{func(p point) float64 { return p.Latency.P50 }, ` stroke-dasharray="5,4"`},
		} {
			var path []string
			for _, p := range pts {
				path = append(path, fmt.Sprintf("%.1f,%.1f", x(p.RPS), y(q.get(p))))
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(path, " "), color, q.dash)
			for _, p := range pts {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x(p.RPS), y(q.get(p)), color)
			}
		}
		ly := top + 20 + i*40
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", left+pw+15, ly, left+pw+40, ly, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle">%s p99</text>`+"\n", left+pw+46, ly, html.EscapeString(r.Label))
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="5,4"/>`+"\n", left+pw+15, ly+16, left+pw+40, ly+16, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle">%s p50</text>`+"\n", left+pw+46, ly+16, html.EscapeString(r.Label))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func fmtMS(v float64) string {
	if v >= 1 {
		return fmt.Sprintf("%g ms", v)
	}
	return fmt.Sprintf("%g µs", math.Round(v*1000))
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}
