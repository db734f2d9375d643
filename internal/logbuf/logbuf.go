// Package logbuf takes the process log, and with it the decision log, off
// the request path: a check appends its line to a buffer in memory and
// one goroutine writes the buffer out, instead of every check making a
// write(2) of its own while holding the logger's lock.
//
// Memory is bounded: at most Max bytes wait in the buffer, and at most as
// much again is being written. When the buffer is full — the reader of
// the output (a container runtime's log pipe, a terminal) is slower than
// the lines come, or has stalled — a line that may be dropped (an allowed
// decision that is not report-only) is dropped and counted (Dropped), and
// every other line (denials, report-only decisions, messages of the
// process) waits for room, as a write(2) to a stalled pipe always made it
// wait. So a stalled reader stops the checks that must be logged, never
// loses a denial, and lets allowed checks through unlogged, counted.
//
// Lines at Warn and above are written at once; the rest within
// FlushInterval, or as soon as FlushBytes are waiting. Close writes what
// is left; lines still buffered when the process is killed are lost.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for New.
const (
	DefaultMax           = 1 << 20 // bytes waiting at most
	DefaultFlushBytes    = 64 << 10
	DefaultFlushInterval = 100 * time.Millisecond
)

// Writer buffers lines for one output. It is safe for concurrent use;
// each Write must be one whole line (slog handlers write a record at
// once).
type Writer struct {
	out           io.Writer
	max           int
	flushBytes    int
	flushInterval time.Duration

	mu      sync.Mutex
	room    sync.Cond // signalled when the buffer has been taken
	buf     []byte    // lines waiting
	spare   []byte    // the other buffer, while not being written
	closed  bool
	waiting int // writers waiting for room

	wake    chan struct{} // a flush is wanted now
	stop    chan struct{}
	done    chan struct{}
	dropped atomic.Uint64
}

// New starts a Writer to out with the default sizes; Close stops it.
func New(out io.Writer) *Writer {
	return NewSize(out, DefaultMax, DefaultFlushBytes, DefaultFlushInterval)
}

// NewSize is New with a bound, a size that triggers a flush and an
// interval between flushes.
func NewSize(out io.Writer, max, flushBytes int, every time.Duration) *Writer {
	w := &Writer{
		out: out, max: max, flushBytes: flushBytes, flushInterval: every,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	w.room.L = &w.mu
	go w.run()
	return w
}

// How a line is written.
const (
	lineMust   = iota // waits for room
	lineMay           // dropped when there is no room
	lineUrgent        // waits for room, and is written at once
)

// Write buffers p, waiting for room if the buffer is full. It never fails
// once p is buffered; after Close it writes p directly.
func (w *Writer) Write(p []byte) (int, error) { return w.write(p, lineMust) }

func (w *Writer) write(p []byte, mode int) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.out.Write(p)
	}
	for len(w.buf) > 0 && len(w.buf)+len(p) > w.max {
		if mode == lineMay {
			w.mu.Unlock()
			w.dropped.Add(1)
			return len(p), nil
		}
		w.waiting++
		w.signal()
		w.room.Wait()
		w.waiting--
		if w.closed {
			w.mu.Unlock()
			return w.out.Write(p)
		}
	}
	w.buf = append(w.buf, p...)
	if mode == lineUrgent || len(w.buf) >= w.flushBytes {
		w.signal()
	}
	w.mu.Unlock()
	return len(p), nil
}

// signal asks the writing goroutine for a flush now.
func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run writes the buffer out at every signal and interval until Close.
func (w *Writer) run() {
	defer close(w.done)
	t := time.NewTicker(w.flushInterval)
	defer t.Stop()
	for {
		select {
		case <-w.wake:
		case <-t.C:
		case <-w.stop:
			w.flush()
			return
		}
		w.flush()
	}
}

// flush swaps the buffers and writes the full one outside the lock.
func (w *Writer) flush() {
	w.mu.Lock()
	b := w.buf
	w.buf = w.spare[:0]
	w.spare = nil
	w.room.Broadcast()
	w.mu.Unlock()
	if len(b) > 0 {
		// A failed write of the process log has nowhere to be reported.
		_, _ = w.out.Write(b)
	}
	w.mu.Lock()
	if cap(b) <= 2*w.max { // a line larger than max is not kept
		w.spare = b[:0]
	}
	w.mu.Unlock()
}

// Dropped is the number of lines dropped for want of room.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Close writes every buffered line and stops the writing goroutine. Later
// writes go to the output directly.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	w.mu.Lock()
	w.closed = true
	rest := w.buf
	w.buf = nil
	w.room.Broadcast()
	w.mu.Unlock()
	if len(rest) > 0 {
		_, err := w.out.Write(rest)
		return err
	}
	return nil
}

// Handler returns a slog handler in JSON (or text) form over w that lets
// allowed decisions, and only those, be dropped when the buffer is full:
// records with message "decision", verdict "allow" and dry_run false
// (authz's decision lines). Records at Warn and above are written at once.
func (w *Writer) Handler(text bool, opts *slog.HandlerOptions) slog.Handler {
	mk := func(mode int) slog.Handler {
		v := view{w: w, mode: mode}
		if text {
			return slog.NewTextHandler(v, opts)
		}
		return slog.NewJSONHandler(v, opts)
	}
	return &handler{must: mk(lineMust), may: mk(lineMay), urgent: mk(lineUrgent)}
}

// view is one way of writing into w.
type view struct {
	w    *Writer
	mode int
}

func (v view) Write(p []byte) (int, error) { return v.w.write(p, v.mode) }

// handler routes each record to the view its kind allows.
type handler struct{ must, may, urgent slog.Handler }

// Decision log keys and values the handler recognises (authz.LogVerdict,
// authz.LogDryRun, the "decision" message and Allow's name).
const (
	decisionMsg = "decision"
	verdictKey  = "verdict"
	allowValue  = "allow"
	dryRunKey   = "dry_run"
)

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.must.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	switch {
	case r.Level >= slog.LevelWarn:
		return h.urgent.Handle(ctx, r)
	case droppable(r):
		return h.may.Handle(ctx, r)
	default:
		return h.must.Handle(ctx, r)
	}
}

// droppable reports whether r is an allowed decision that is not
// report-only.
func droppable(r slog.Record) bool {
	if r.Message != decisionMsg {
		return false
	}
	allow, dry := false, true
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case verdictKey:
			allow = a.Value.Kind() == slog.KindString && a.Value.String() == allowValue
		case dryRunKey:
			dry = a.Value.Kind() != slog.KindBool || a.Value.Bool()
		}
		return true
	})
	return allow && !dry
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{must: h.must.WithAttrs(as), may: h.may.WithAttrs(as), urgent: h.urgent.WithAttrs(as)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{must: h.must.WithGroup(name), may: h.may.WithGroup(name), urgent: h.urgent.WithGroup(name)}
}
