package authz

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

func TestCheckContextDeadline(t *testing.T) {
	t.Parallel()
	parent := context.WithValue(context.Background(), ctxKey{}, "v")

	c := withCheckTimeout(parent, time.Hour)
	defer c.stop()
	if d, ok := c.Deadline(); !ok || time.Until(d) < 59*time.Minute {
		t.Errorf("deadline %v %v, want in an hour", d, ok)
	}
	if c.Err() != nil || c.Value(ctxKey{}) != "v" {
		t.Errorf("err %v, value %v", c.Err(), c.Value(ctxKey{}))
	}
	if c.started.Load() {
		t.Error("a timer before anyone waited")
	}

	// The caller's earlier deadline wins, as with context.WithTimeout.
	early, cancel := context.WithTimeout(parent, time.Minute)
	defer cancel()
	pd, _ := early.Deadline()
	c2 := withCheckTimeout(early, time.Hour)
	defer c2.stop()
	if d, _ := c2.Deadline(); !d.Equal(pd) {
		t.Errorf("deadline %v, want the caller's %v", d, pd)
	}

	// Past the deadline: Err says so without a timer, and Done is closed.
	past := withCheckTimeout(parent, -time.Second)
	if !errors.Is(past.Err(), context.DeadlineExceeded) {
		t.Errorf("err %v, want DeadlineExceeded", past.Err())
	}
	<-past.Done()
	if !errors.Is(past.Err(), context.DeadlineExceeded) {
		t.Errorf("after Done: err %v", past.Err())
	}
	past.stop()
}

func TestCheckContextDoneAtDeadline(t *testing.T) {
	t.Parallel()
	c := withCheckTimeout(context.Background(), 20*time.Millisecond)
	defer c.stop()
	select {
	case <-c.Done():
	case <-time.After(time.Minute):
		t.Fatal("Done not closed at the deadline")
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Errorf("err %v", c.Err())
	}
}

func TestCheckContextFollowsCallerCancel(t *testing.T) {
	t.Parallel()
	parent, cancel := context.WithCancel(context.Background())
	c := withCheckTimeout(parent, time.Hour)
	defer c.stop()
	cancel()
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("err before Done: %v", c.Err())
	}
	<-c.Done()
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("err after Done: %v", c.Err())
	}
	// A child context, as an HTTP client makes one, ends with it.
	child, stop := context.WithCancel(c)
	defer stop()
	<-child.Done()
}
