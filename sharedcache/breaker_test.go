package sharedcache

import (
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	b := newBreaker(3, time.Second, 4*time.Second, func() time.Time { return now })
	var events []breakerEvent
	b.changed = func(e breakerEvent, _ time.Duration) { events = append(events, e) }
	call := func(o outcome) bool {
		probe, ok := b.allow()
		if ok {
			b.done(probe, o)
		}
		return ok
	}
	state := func(want BreakerState) {
		t.Helper()
		if got, _ := b.snapshot(); got != want {
			t.Fatalf("state %s, want %s", got, want)
		}
	}

	// Failures below the threshold, broken by a success, do not open.
	call(failure)
	call(failure)
	call(success)
	call(failure)
	call(failure)
	state(BreakerClosed)
	// A neutral outcome (caller gave up) neither counts nor resets.
	call(neutral)
	call(failure)
	state(BreakerOpen)
	if call(success) {
		t.Fatal("open circuit let a call through")
	}
	// After the interval one probe goes; the others wait for it.
	now = now.Add(time.Second)
	probe, ok := b.allow()
	if !ok || !probe {
		t.Fatal("no probe after the interval")
	}
	state(BreakerHalfOpen)
	if _, ok := b.allow(); ok {
		t.Fatal("a second call went out beside the probe")
	}
	// A failed probe doubles the wait: 2s.
	b.done(true, failure)
	now = now.Add(1999 * time.Millisecond)
	if _, ok := b.allow(); ok {
		t.Fatal("probe before the doubled interval")
	}
	now = now.Add(time.Millisecond)
	// A probe whose caller gave up hands the probe to the next call.
	probe, _ = b.allow()
	b.done(probe, neutral)
	state(BreakerOpen)
	probe, ok = b.allow()
	if !ok || !probe {
		t.Fatal("no probe after a neutral one")
	}
	b.done(true, failure) // 4s
	now = now.Add(4 * time.Second)
	probe, _ = b.allow()
	b.done(probe, failure) // capped at 4s
	now = now.Add(4 * time.Second)
	probe, _ = b.allow()
	// A call that started before the circuit opened does not decide.
	b.done(false, success)
	state(BreakerHalfOpen)
	b.done(probe, success)
	state(BreakerClosed)
	// Closed again with the base interval.
	call(failure)
	call(failure)
	call(failure)
	now = now.Add(time.Second)
	if probe, ok := b.allow(); !ok || !probe {
		t.Fatal("interval not reset to the base after closing")
	}
	if _, opens := b.snapshot(); opens != 2 {
		t.Fatalf("opens %d", opens)
	}
	want := []breakerEvent{breakerOpened, probeFailed, probeFailed, probeFailed, breakerClosed, breakerOpened}
	if len(events) != len(want) {
		t.Fatalf("events %v, want %v", events, want)
	}
	for i := range want {
		if events[i] != want[i] {
			t.Fatalf("events %v, want %v", events, want)
		}
	}
}
