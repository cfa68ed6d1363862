package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// Phase summarises where an object is in its life.
type Phase string

// Phases, in the order an object normally passes through them.
const (
	PhasePending      Phase = "Pending"
	PhaseProvisioning Phase = "Provisioning"
	PhaseReady        Phase = "Ready"
	PhaseSleeping     Phase = "Sleeping"
	PhaseDeleting     Phase = "Deleting"
	PhaseFailed       Phase = "Failed"
)

// Condition types and reasons the reconciler itself sets; steps add one
// condition each, typed by their name.
const (
	// ConditionReady is True when every provisioning step is done.
	ConditionReady = "Ready"
	// ConditionSleeping is True while the object sleeps.
	ConditionSleeping = "Sleeping"
	// ConditionDeleting is set while teardown runs; its reason names the
	// step in the way.
	ConditionDeleting = "Deleting"

	ReasonDone        = "Done"
	ReasonProgressing = "Progressing"
	ReasonError       = "Error"
	ReasonPermanent   = "PermanentError"
	ReasonPending     = "Pending"
)

// Recorder is the part of an event recorder the reconciler uses; the
// events.EventRecorder of client-go (and controller-runtime's
// mgr.GetEventRecorder) satisfies it.
type Recorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// StatusAccess tells the reconciler where an object keeps its status.
type StatusAccess[T client.Object] struct {
	// Conditions returns a pointer to the object's conditions. Required.
	Conditions func(T) *[]metav1.Condition
	// SetPhase records the phase; nil when the type has no phase field.
	SetPhase func(T, Phase)
	// ObservedGeneration returns a pointer to the status field; optional.
	ObservedGeneration func(T) *int64
}

// Reconciler drives objects of type T through their steps. Configure it,
// then call SetupWithManager (or call Reconcile from a controller of your
// own). It is safe for concurrent use by a controller's workers.
type Reconciler[T client.Object] struct {
	// Name names the controller; required.
	Name string
	// Client reads and writes objects; required.
	Client client.Client
	// Recorder records events; nil records none.
	Recorder Recorder
	// Finalizer is added before any step runs; required
	// (for example "tenancy.vclusterkit.io/tenant").
	Finalizer string
	// NewObject returns an empty T; required.
	NewObject func() T
	// Status locates conditions and phase; Status.Conditions is required.
	Status StatusAccess[T]
	// Provision runs, in order, while the object lives and should be awake.
	Provision Steps[T]
	// Sleep runs, in order, while ShouldSleep reports true; Provision runs
	// again (waking the object) once it reports false.
	Sleep Steps[T]
	// ShouldSleep reports whether the object should be asleep; nil means
	// never.
	ShouldSleep func(T) bool
	// Teardown runs, in order, once the object is being deleted; the
	// finalizer is removed after the last one is done.
	Teardown Steps[T]
	// ResyncAfter requeues a Ready object so drift (a hand edit, a dead
	// process) is repaired; zero means five minutes, negative never.
	ResyncAfter time.Duration
}

// Validate checks the configuration, naming the first missing field.
func (r *Reconciler[T]) Validate() error {
	var errs []error
	switch {
	case r.Name == "":
		errs = append(errs, errors.New("lifecycle.Reconciler: Name is required"))
	case r.Client == nil:
		errs = append(errs, fmt.Errorf("lifecycle.Reconciler %s: Client is required", r.Name))
	case r.Finalizer == "":
		errs = append(errs, fmt.Errorf("lifecycle.Reconciler %s: Finalizer is required", r.Name))
	case r.NewObject == nil:
		errs = append(errs, fmt.Errorf("lifecycle.Reconciler %s: NewObject is required", r.Name))
	case r.Status.Conditions == nil:
		errs = append(errs, fmt.Errorf("lifecycle.Reconciler %s: Status.Conditions is required", r.Name))
	}
	seen := map[string]bool{ConditionReady: true, ConditionSleeping: true, ConditionDeleting: true}
	for _, list := range []Steps[T]{r.Provision, r.Sleep, r.Teardown} {
		for _, st := range list {
			if err := st.validate(); err != nil {
				errs = append(errs, err)
			} else if seen[st.Name] {
				errs = append(errs, fmt.Errorf("lifecycle.Reconciler %s: step name %q is used twice or is reserved", r.Name, st.Name))
			}
			seen[st.Name] = true
		}
	}
	return errors.Join(errs...)
}

// SetupWithManager registers the reconciler as a controller for T. It fails
// fast on a configuration error.
func (r *Reconciler[T]) SetupWithManager(mgr ctrl.Manager, build ...func(*ctrl.Builder) *ctrl.Builder) error {
	if err := r.Validate(); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).For(r.NewObject()).Named(r.Name)
	for _, f := range build {
		b = f(b)
	}
	return b.Complete(r)
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler[T]) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	log := ctrl.LoggerFrom(ctx)
	obj := r.NewObject()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	// The finalizer comes before anything is created, so nothing a step
	// makes can outlive the object.
	if obj.GetDeletionTimestamp().IsZero() && !controllerutil.ContainsFinalizer(obj, r.Finalizer) {
		patch := client.MergeFrom(obj.DeepCopyObject().(T))
		controllerutil.AddFinalizer(obj, r.Finalizer)
		if err := r.Client.Patch(ctx, obj, patch); err != nil {
			return ctrl.Result{}, ignoreConflict(err)
		}
	}

	before := obj.DeepCopyObject().(T)
	defer func() {
		if !obj.GetDeletionTimestamp().IsZero() && !controllerutil.ContainsFinalizer(obj, r.Finalizer) {
			return // finalizer removed: the object is gone or about to be
		}
		if g := r.Status.ObservedGeneration; g != nil {
			*g(obj) = obj.GetGeneration()
		}
		patch := client.MergeFrom(before)
		// Only the status subresource is written here; an unchanged status
		// costs no request.
		if data, err := patch.Data(obj); err == nil && string(data) == "{}" {
			return
		}
		if err := r.Client.Status().Patch(ctx, obj, patch); err != nil && !apierrors.IsNotFound(err) {
			retErr = errors.Join(retErr, ignoreConflict(fmt.Errorf("patching status: %w", err)))
		}
	}()

	if !obj.GetDeletionTimestamp().IsZero() {
		return r.reconcileDelete(ctx, obj)
	}
	if r.ShouldSleep != nil && r.ShouldSleep(obj) && len(r.Sleep) > 0 {
		return r.reconcileSleep(ctx, obj)
	}
	res, err := r.reconcileNormal(ctx, obj)
	if err != nil {
		log.V(1).Info("provisioning not done", "error", err.Error())
	}
	return res, err
}

func (r *Reconciler[T]) setPhase(obj T, p Phase) {
	if r.Status.SetPhase != nil {
		r.Status.SetPhase(obj, p)
	}
}

func (r *Reconciler[T]) reconcileNormal(ctx context.Context, obj T) (ctrl.Result, error) {
	conds := r.Status.Conditions(obj)
	wasSleeping := meta.IsStatusConditionTrue(*conds, ConditionSleeping)
	if !meta.IsStatusConditionTrue(*conds, ConditionReady) {
		r.setPhase(obj, PhaseProvisioning)
	}
	res, done, err := r.runSteps(ctx, obj, r.Provision, ConditionReady)
	if !done {
		return res, err
	}
	if wasSleeping {
		meta.SetStatusCondition(conds, metav1.Condition{Type: ConditionSleeping, Status: metav1.ConditionFalse, Reason: "Awake", Message: "woken up", ObservedGeneration: obj.GetGeneration()})
		r.event(obj, corev1.EventTypeNormal, "Woken", "Wake", "woken up")
	} else if !meta.IsStatusConditionTrue(*conds, ConditionReady) {
		r.event(obj, corev1.EventTypeNormal, "Ready", "Provision", "all %d provisioning steps done", len(r.Provision))
	}
	meta.SetStatusCondition(conds, metav1.Condition{Type: ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonDone, Message: "all provisioning steps done", ObservedGeneration: obj.GetGeneration()})
	r.setPhase(obj, PhaseReady)
	return r.resync(), nil
}

func (r *Reconciler[T]) reconcileSleep(ctx context.Context, obj T) (ctrl.Result, error) {
	conds := r.Status.Conditions(obj)
	res, done, err := r.runSteps(ctx, obj, r.Sleep, ConditionSleeping)
	if !done {
		return res, err
	}
	if !meta.IsStatusConditionTrue(*conds, ConditionSleeping) {
		r.event(obj, corev1.EventTypeNormal, "Sleeping", "Sleep", "asleep")
	}
	meta.SetStatusCondition(conds, metav1.Condition{Type: ConditionSleeping, Status: metav1.ConditionTrue, Reason: ReasonDone, Message: "asleep", ObservedGeneration: obj.GetGeneration()})
	meta.SetStatusCondition(conds, metav1.Condition{Type: ConditionReady, Status: metav1.ConditionFalse, Reason: "Sleeping", Message: "asleep; wakes on demand", ObservedGeneration: obj.GetGeneration()})
	r.setPhase(obj, PhaseSleeping)
	return r.resync(), nil
}

func (r *Reconciler[T]) reconcileDelete(ctx context.Context, obj T) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, r.Finalizer) {
		return ctrl.Result{}, nil
	}
	r.setPhase(obj, PhaseDeleting)
	res, done, err := r.runSteps(ctx, obj, r.Teardown, ConditionDeleting)
	if !done {
		return res, err
	}
	patch := client.MergeFrom(obj.DeepCopyObject().(T))
	controllerutil.RemoveFinalizer(obj, r.Finalizer)
	if err := r.Client.Patch(ctx, obj, patch); err != nil && !apierrors.IsNotFound(err) {
		// Put the finalizer back in memory so the deferred status patch
		// still runs on an object we failed to release.
		controllerutil.AddFinalizer(obj, r.Finalizer)
		return ctrl.Result{}, ignoreConflict(err)
	}
	return ctrl.Result{}, nil
}

// runSteps runs steps in order until one is not done. summary is the
// condition that names the step in the way.
func (r *Reconciler[T]) runSteps(ctx context.Context, obj T, steps Steps[T], summary string) (ctrl.Result, bool, error) {
	conds := r.Status.Conditions(obj)
	gen := obj.GetGeneration()
	for _, st := range steps {
		err := st.Run(ctx, obj)
		var wait *WaitError
		switch {
		case err == nil:
			meta.SetStatusCondition(conds, metav1.Condition{Type: st.Name, Status: metav1.ConditionTrue, Reason: ReasonDone, ObservedGeneration: gen})
			continue
		case errors.As(err, &wait):
			meta.SetStatusCondition(conds, metav1.Condition{Type: st.Name, Status: metav1.ConditionFalse, Reason: ReasonProgressing, Message: wait.Message, ObservedGeneration: gen})
			r.setSummary(obj, summary, metav1.ConditionFalse, ReasonProgressing, fmt.Sprintf("%s: %s", st.Name, wait.Message))
			return ctrl.Result{RequeueAfter: wait.RequeueAfter}, false, nil
		case apierrors.IsConflict(err):
			// Someone else wrote first: try again at once, quietly.
			return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, false, nil
		case IsPermanent(err):
			meta.SetStatusCondition(conds, metav1.Condition{Type: st.Name, Status: metav1.ConditionFalse, Reason: ReasonPermanent, Message: err.Error(), ObservedGeneration: gen})
			r.setSummary(obj, summary, metav1.ConditionFalse, st.Name, fmt.Sprintf("step %s failed: %v", st.Name, err))
			r.event(obj, corev1.EventTypeWarning, st.Name+"Failed", st.Name, "%v", err)
			if summary != ConditionDeleting {
				r.setPhase(obj, PhaseFailed)
			}
			// No error: a retry cannot help until the object changes.
			return ctrl.Result{}, false, nil
		default:
			meta.SetStatusCondition(conds, metav1.Condition{Type: st.Name, Status: metav1.ConditionFalse, Reason: ReasonError, Message: err.Error(), ObservedGeneration: gen})
			r.setSummary(obj, summary, metav1.ConditionFalse, st.Name, fmt.Sprintf("step %s failed: %v", st.Name, err))
			r.event(obj, corev1.EventTypeWarning, st.Name+"Failed", st.Name, "%v", err)
			return ctrl.Result{}, false, fmt.Errorf("step %s: %w", st.Name, err)
		}
	}
	if summary == ConditionDeleting {
		r.setSummary(obj, summary, metav1.ConditionTrue, ReasonDone, "every teardown step done")
	}
	return ctrl.Result{}, true, nil
}

func (r *Reconciler[T]) setSummary(obj T, typ string, status metav1.ConditionStatus, reason, msg string) {
	if typ == ConditionSleeping {
		// While falling asleep the object is no longer Ready either.
		typ = ConditionReady
		reason = "FallingAsleep"
	}
	meta.SetStatusCondition(r.Status.Conditions(obj), metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: obj.GetGeneration()})
}

func (r *Reconciler[T]) event(obj T, typ, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, typ, reason, action, note, args...)
	}
}

func (r *Reconciler[T]) resync() ctrl.Result {
	switch {
	case r.ResyncAfter < 0:
		return ctrl.Result{}
	case r.ResyncAfter == 0:
		return ctrl.Result{RequeueAfter: 5 * time.Minute}
	default:
		return ctrl.Result{RequeueAfter: r.ResyncAfter}
	}
}

func ignoreConflict(err error) error {
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}
