// Package feed holds the watch plumbing the tenancy stores share: a
// broadcast notifier and a pump that turns "fetch changes after version v"
// into an ordered event channel. It is not for use outside tenancy.
package feed

import (
	"context"
	"sync"
	"time"
)

// Notifier wakes every waiter when something changed.
type Notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

// Wait returns a channel closed at the next Broadcast.
func (n *Notifier) Wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

// Broadcast wakes all current waiters.
func (n *Notifier) Broadcast() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// FetchFunc returns the events after version after, in order, and the
// version to continue from.
type FetchFunc[E any] func(ctx context.Context, after uint64) ([]E, uint64, error)

// Pump starts a goroutine that delivers every event after from on the
// returned channel, in order, until ctx ends or fetch fails; then it sends
// errEvent(err) (unless ctx ended) and closes the channel. It fetches
// again when notify fires or, if poll > 0, every poll.
func Pump[E any](ctx context.Context, from uint64, fetch FetchFunc[E], notify *Notifier, poll time.Duration, errEvent func(error) E) <-chan E {
	out := make(chan E)
	go func() {
		defer close(out)
		cursor := from
		var tick <-chan time.Time
		if poll > 0 {
			t := time.NewTicker(poll)
			defer t.Stop()
			tick = t.C
		}
		for {
			wake := notify.Wait() // before fetching, so no change is missed
			events, next, err := fetch(ctx, cursor)
			if err != nil {
				if ctx.Err() == nil {
					select {
					case out <- errEvent(err):
					case <-ctx.Done():
					}
				}
				return
			}
			for _, e := range events {
				select {
				case out <- e:
				case <-ctx.Done():
					return
				}
			}
			cursor = next
			if len(events) > 0 {
				continue // there may be more
			}
			select {
			case <-ctx.Done():
				return
			case <-wake:
			case <-tick:
			}
		}
	}()
	return out
}
