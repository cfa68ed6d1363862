package syncer

import (
	"errors"
	"fmt"
	"time"
)

// WaitError, returned by ToHost or ToHostUpdate, says the host object
// cannot be written yet because something it needs is not there yet (a pod
// whose ConfigMaps, Secrets or token Secret are not on the host): the
// object is tried again after After, without an error being logged or
// counted, and nothing is written meanwhile. Create one with Wait.
type WaitError struct {
	After   time.Duration
	Message string
}

func (e *WaitError) Error() string { return "waiting: " + e.Message }

// Wait returns a *WaitError asking to try again after after (at least 10
// milliseconds).
func Wait(after time.Duration, format string, args ...any) error {
	return &WaitError{After: max(after, 10*time.Millisecond), Message: fmt.Sprintf(format, args...)}
}

// IsWait reports whether err is or wraps a *WaitError, and returns it.
func IsWait(err error) (*WaitError, bool) {
	var w *WaitError
	ok := errors.As(err, &w)
	return w, ok
}
