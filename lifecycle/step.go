package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Step is one idempotent piece of provisioning, sleeping or teardown.
type Step[T client.Object] struct {
	// Name is the step's condition type: UpperCamelCase, unique within the
	// reconciler (for example "NamespaceReady", "AccessRevoked").
	Name string
	// Run does the step's work, or finds it already done. It returns nil when
	// the step is complete, Wait(...) when it is progressing but not done,
	// Permanent(err) when retrying cannot help, and any other error to be
	// retried with backoff.
	Run func(ctx context.Context, obj T) error
}

// Steps is an ordered list of steps.
type Steps[T client.Object] []Step[T]

// InsertBefore returns a copy of s with step inserted before the step named
// name, or an error when there is no such step or step's name is taken.
func (s Steps[T]) InsertBefore(name string, step Step[T]) (Steps[T], error) {
	return s.insert(name, step, 0)
}

// InsertAfter returns a copy of s with step inserted after the step named
// name, or an error when there is no such step or step's name is taken.
func (s Steps[T]) InsertAfter(name string, step Step[T]) (Steps[T], error) {
	return s.insert(name, step, 1)
}

func (s Steps[T]) insert(name string, step Step[T], offset int) (Steps[T], error) {
	if err := step.validate(); err != nil {
		return nil, err
	}
	at := -1
	for i, st := range s {
		if st.Name == step.Name {
			return nil, fmt.Errorf("lifecycle: a step named %q already exists", step.Name)
		}
		if st.Name == name {
			at = i + offset
		}
	}
	if at < 0 {
		return nil, fmt.Errorf("lifecycle: no step named %q to insert %q next to (have %v)", name, step.Name, s.Names())
	}
	out := make(Steps[T], 0, len(s)+1)
	out = append(out, s[:at]...)
	out = append(out, step)
	return append(out, s[at:]...), nil
}

// Replace returns a copy of s with the step named step.Name replaced by
// step (keeping its place), or an error when there is no such step.
func (s Steps[T]) Replace(step Step[T]) (Steps[T], error) {
	if err := step.validate(); err != nil {
		return nil, err
	}
	for i, st := range s {
		if st.Name == step.Name {
			out := append(Steps[T](nil), s...)
			out[i] = step
			return out, nil
		}
	}
	return nil, fmt.Errorf("lifecycle: no step named %q to replace (have %v)", step.Name, s.Names())
}

// StepSet is the steps of a Reconciler by stage, for an embedder to edit
// before a controller is registered (see Customize).
type StepSet[T client.Object] struct {
	Provision, Sleep, Teardown Steps[T]
}

// Customize edits the steps of a controller whose steps someone else
// wrote (the engine's Tenant, Space and VirtualCluster controllers): add
// steps of your own with InsertBefore and InsertAfter, swap a built-in one
// with Replace, or drop one. The step names are the condition types the
// controller sets. It runs once, before the controller is registered; an
// error stops the registration.
type Customize[T client.Object] func(*StepSet[T]) error

// Apply runs c (nil: no change) on r's steps.
func (c Customize[T]) Apply(r *Reconciler[T]) error {
	if c == nil {
		return nil
	}
	set := StepSet[T]{Provision: r.Provision, Sleep: r.Sleep, Teardown: r.Teardown}
	if err := c(&set); err != nil {
		return fmt.Errorf("lifecycle.Reconciler %s: customizing steps: %w", r.Name, err)
	}
	r.Provision, r.Sleep, r.Teardown = set.Provision, set.Sleep, set.Teardown
	return nil
}

// Names lists the steps' names in order.
func (s Steps[T]) Names() []string {
	out := make([]string, len(s))
	for i, st := range s {
		out[i] = st.Name
	}
	return out
}

func (st Step[T]) validate() error {
	if st.Name == "" {
		return errors.New("lifecycle: Step.Name must not be empty")
	}
	if st.Run == nil {
		return fmt.Errorf("lifecycle: Step %q: Run must not be nil", st.Name)
	}
	return nil
}

// WaitError reports a step that is progressing but not done. It is not a
// failure: the step's condition is False with reason Progressing and the
// object is requeued after RequeueAfter.
type WaitError struct {
	Message      string
	RequeueAfter time.Duration
}

func (w *WaitError) Error() string { return "waiting: " + w.Message }

// Wait returns a WaitError; after zero means two seconds.
func Wait(after time.Duration, format string, args ...any) error {
	if after <= 0 {
		after = 2 * time.Second
	}
	return &WaitError{Message: fmt.Sprintf(format, args...), RequeueAfter: after}
}

type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// Permanent marks err as one that retrying cannot fix (bad input, a policy
// refusal): the object goes to phase Failed and is not requeued until it
// changes.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
