package authz

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// checkContext is the context of one check: the caller's, bounded by the
// check timeout. It reports its deadline at once but starts a timer only
// when something waits on Done (a provider calling its identity provider):
// a check answered from the caches never waits, and the timer that
// context.WithTimeout starts and stops for every check was 4% of a cached
// check's CPU. Err reads the clock until then.
type checkContext struct {
	context.Context // the caller's; values and its own cancellation
	deadline        time.Time

	once    sync.Once
	started atomic.Bool
	timed   context.Context // context.WithDeadline(Context, deadline), from the first Done
	cancel  context.CancelFunc
}

// withCheckTimeout bounds parent by d. The deadline is on the real clock,
// as context.WithTimeout's is (HTTP clients compare it with it), never on
// the engine's injected one.
func withCheckTimeout(parent context.Context, d time.Duration) *checkContext {
	deadline := time.Now().Add(d)
	if pd, ok := parent.Deadline(); ok && pd.Before(deadline) {
		deadline = pd
	}
	return &checkContext{Context: parent, deadline: deadline}
}

func (c *checkContext) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *checkContext) Done() <-chan struct{} {
	c.once.Do(func() {
		c.timed, c.cancel = context.WithDeadline(c.Context, c.deadline)
		c.started.Store(true)
	})
	return c.timed.Done()
}

func (c *checkContext) Err() error {
	if c.started.Load() {
		return c.timed.Err()
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// stop releases the timer, if one was started.
func (c *checkContext) stop() {
	if c.started.Load() {
		c.cancel()
	}
}
