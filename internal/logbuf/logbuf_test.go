package logbuf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink is an output whose writes can be held (a stalled reader).
type sink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	gate    chan struct{} // when not nil, every write waits for a value
	entered chan struct{} // when not nil, told of each write as it starts
	writes  chan int      // each write's size, when not nil
}

func (s *sink) Write(p []byte) (int, error) {
	if s.entered != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
	}
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	s.buf.Write(p)
	s.mu.Unlock()
	if s.writes != nil {
		s.writes <- len(p)
	}
	return len(p), nil
}

func (s *sink) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSuffix(s.buf.String(), "\n"), "\n")
}

func decision(l *slog.Logger, verdict string, dry bool, n int) {
	l.LogAttrs(context.Background(), slog.LevelInfo, "decision",
		slog.String("decision_id", fmt.Sprint(n)), slog.String("verdict", verdict), slog.Bool("dry_run", dry))
}

func TestCloseWritesEverythingInOrder(t *testing.T) {
	t.Parallel()
	out := &sink{}
	w := NewSize(out, 1<<20, 1<<20, time.Hour) // nothing but Close flushes
	l := slog.New(w.Handler(false, nil)).With("component", "decision")
	for i := range 100 {
		decision(l, "allow", false, i)
	}
	l.Info("restguard stopped")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := out.lines()
	if len(lines) != 101 || w.Dropped() != 0 {
		t.Fatalf("%d lines, %d dropped", len(lines), w.Dropped())
	}
	for i, line := range lines[:100] {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["decision_id"] != fmt.Sprint(i) || m["component"] != "decision" {
			t.Fatalf("line %d: %s (%v)", i, line, err)
		}
	}
	// After Close, lines go straight out.
	l.Info("late")
	if got := out.lines(); !strings.Contains(got[len(got)-1], `"msg":"late"`) {
		t.Errorf("after Close: %q", got[len(got)-1])
	}
}

// waiters is the number of writers waiting for room.
func (w *Writer) waiters() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.waiting
}

// TestStalledReaderDropsOnlyAllows: with the output stalled and the buffer
// full, allowed decisions are dropped and counted; a denial and a
// report-only decision wait for room and are written once the reader
// moves again; nothing else is lost.
func TestStalledReaderDropsOnlyAllows(t *testing.T) {
	t.Parallel()
	out := &sink{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	w := NewSize(out, 400, 1, time.Hour) // a flush for every line
	l := slog.New(w.Handler(false, nil))

	decision(l, "forbidden", false, 0)
	<-out.entered // the writing goroutine has it and is stalled in Write
	// Fill the buffer: allows until one is dropped.
	n := 1
	for w.Dropped() == 0 {
		decision(l, "allow", false, n)
		n++
		if n > 100 {
			t.Fatal("nothing dropped with a stalled reader")
		}
	}
	dropped := w.Dropped()
	var wg sync.WaitGroup
	wg.Go(func() { decision(l, "allow", true, n) })        // report-only
	wg.Go(func() { decision(l, "forbidden", false, n+1) }) // a denial
	// Both wait: one for room, the other for the slog handler's lock,
	// which the first holds while it waits.
	for w.waiters() < 1 {
		runtime.Gosched()
	}
	if w.Dropped() != dropped {
		t.Fatal("a line that must be logged was dropped")
	}
	close(out.gate) // the reader moves again
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(out.lines(), "\n")
	for _, want := range []string{`"decision_id":"0","verdict":"forbidden"`, fmt.Sprintf(`"decision_id":"%d","verdict":"forbidden"`, n+1), fmt.Sprintf(`"decision_id":"%d","verdict":"allow","dry_run":true`, n)} {
		if !strings.Contains(got, want) {
			t.Errorf("lost %s", want)
		}
	}
	if c := strings.Count(got, `"verdict":"allow","dry_run":false`); uint64(c)+dropped != uint64(n-1) {
		t.Errorf("%d allows written + %d dropped != %d sent", c, dropped, n-1)
	}
}

func TestUrgentLinesAreWrittenAtOnce(t *testing.T) {
	t.Parallel()
	out := &sink{writes: make(chan int, 10)}
	w := NewSize(out, 1<<20, 1<<20, time.Hour)
	defer w.Close()
	l := slog.New(w.Handler(true, nil))
	l.Info("buffered")
	l.Error("restguard stopped", "error", "boom")
	select {
	case <-out.writes:
	case <-time.After(time.Minute):
		t.Fatal("an error line was not written")
	}
	if got := out.lines(); len(got) != 2 || !strings.Contains(got[1], "level=ERROR") {
		t.Errorf("got %q", got)
	}
}

func TestFlushInterval(t *testing.T) {
	t.Parallel()
	out := &sink{writes: make(chan int, 10)}
	w := NewSize(out, 1<<20, 1<<20, 10*time.Millisecond)
	defer w.Close()
	fmt.Fprintln(w, "one line")
	select {
	case <-out.writes:
	case <-time.After(time.Minute):
		t.Fatal("the interval never flushed")
	}
}

func TestDroppable(t *testing.T) {
	t.Parallel()
	rec := func(msg string, attrs ...slog.Attr) slog.Record {
		r := slog.NewRecord(time.Time{}, slog.LevelInfo, msg, 0)
		r.AddAttrs(attrs...)
		return r
	}
	tests := []struct {
		r    slog.Record
		want bool
	}{
		{rec("decision", slog.String("verdict", "allow"), slog.Bool("dry_run", false)), true},
		{rec("decision", slog.String("verdict", "allow"), slog.Bool("dry_run", true)), false},
		{rec("decision", slog.String("verdict", "allow")), false}, // no dry_run: keep
		{rec("decision", slog.String("verdict", "forbidden"), slog.Bool("dry_run", false)), false},
		{rec("decision", slog.String("verdict", "unavailable"), slog.Bool("dry_run", false)), false},
		{rec("restguard ready", slog.String("verdict", "allow"), slog.Bool("dry_run", false)), false},
	}
	for i, tc := range tests {
		if got := droppable(tc.r); got != tc.want {
			t.Errorf("%d: droppable = %v, want %v", i, got, tc.want)
		}
	}
}

func BenchmarkDecisionLine(b *testing.B) {
	w := NewSize(&sink{}, DefaultMax, DefaultFlushBytes, DefaultFlushInterval)
	defer w.Close()
	l := slog.New(w.Handler(false, nil)).With("component", "decision")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l.LogAttrs(ctx, slog.LevelInfo, "decision", slog.String("decision_id", "5c0d9f"), slog.String("verdict", "allow"),
			slog.Int("status", 200), slog.String("reason", "authenticated"), slog.String("rule", "rest-api"),
			slog.String("path", "/rest/api/2/issue/PROJ-1"), slog.Bool("dry_run", false), slog.String("username", "alice"))
	}
}
