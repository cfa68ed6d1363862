package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/tenancy"

	"github.com/vclusterkit/vclusterkit/internal/testenv"
)

const finalizer = "test.vclusterkit.io/lifecycle"

type event struct{ Type, Reason, Note string }

type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) Eventf(_ runtime.Object, _ runtime.Object, typ, reason, _ string, note string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{typ, reason, fmt.Sprintf(note, args...)})
}

func (r *recorder) reasons() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Reason)
	}
	return out
}

func newClient(t *testing.T) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	if err := tenancy.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(apiServer.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// harness is a Reconciler over real Tenant objects with a phase kept in
// memory (Tenant has no phase field) and steps that log their runs.
type harness struct {
	t      *testing.T
	c      client.Client
	rec    *recorder
	mu     sync.Mutex
	phase  lifecycle.Phase
	runs   []string
	r      *lifecycle.Reconciler[*tenancy.Tenant]
	sleepy bool
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, c: newClient(t), rec: &recorder{}}
	h.r = &lifecycle.Reconciler[*tenancy.Tenant]{
		Name:      "tenant-test",
		Client:    h.c,
		Recorder:  h.rec,
		Finalizer: finalizer,
		NewObject: func() *tenancy.Tenant { return &tenancy.Tenant{} },
		Status: lifecycle.StatusAccess[*tenancy.Tenant]{
			Conditions:         func(o *tenancy.Tenant) *[]metav1.Condition { return &o.Status.Conditions },
			ObservedGeneration: func(o *tenancy.Tenant) *int64 { return &o.Status.ObservedGeneration },
			SetPhase: func(_ *tenancy.Tenant, p lifecycle.Phase) {
				h.mu.Lock()
				h.phase = p
				h.mu.Unlock()
			},
		},
		ShouldSleep: func(*tenancy.Tenant) bool { return h.sleepy },
		ResyncAfter: -1,
	}
	return h
}

func (h *harness) step(name string, results ...error) lifecycle.Step[*tenancy.Tenant] {
	calls := 0
	return lifecycle.Step[*tenancy.Tenant]{Name: name, Run: func(ctx context.Context, o *tenancy.Tenant) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.runs = append(h.runs, name)
		var err error
		if calls < len(results) {
			err = results[calls]
		}
		calls++
		return err
	}}
}

func (h *harness) reconcile(name string) (ctrl.Result, error) {
	h.t.Helper()
	return h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: name}})
}

func (h *harness) get(name string) *tenancy.Tenant {
	h.t.Helper()
	o := &tenancy.Tenant{}
	if err := h.c.Get(context.Background(), types.NamespacedName{Name: name}, o); err != nil {
		h.t.Fatalf("get tenant %s: %v", name, err)
	}
	return o
}

func (h *harness) takeRuns() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.runs
	h.runs = nil
	return r
}

func condition(o *tenancy.Tenant, typ string) metav1.Condition {
	c := meta.FindStatusCondition(o.Status.Conditions, typ)
	if c == nil {
		return metav1.Condition{}
	}
	return *c
}

func create(t *testing.T, c client.Client, name string) {
	t.Helper()
	if err := c.Create(context.Background(), &tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatalf("create tenant %s: %v", name, err)
	}
}

func TestProvisionInOrderWithFinalizerFirst(t *testing.T) {
	apiServer.LogsOnFailure(t)
	h := newHarness(t)
	const name = "provision"
	sawFinalizer := false
	h.r.Provision = lifecycle.Steps[*tenancy.Tenant]{
		{Name: "FinalizerSeen", Run: func(ctx context.Context, o *tenancy.Tenant) error {
			// Read the stored object, not the in-memory one: the finalizer
			// must be persisted before any step creates anything.
			fresh := h.get(o.Name)
			sawFinalizer = controllerutil.ContainsFinalizer(fresh, finalizer)
			return nil
		}},
		h.step("NamespaceReady"),
		h.step("QuotaApplied", lifecycle.Wait(time.Second, "waiting for quota admission")),
		h.step("AccessGranted"),
	}
	create(t, h.c, name)

	res, err := h.reconcile(name)
	if err != nil {
		t.Fatalf("first reconcile: %v", err)
	}
	if !sawFinalizer {
		t.Fatal("the first step ran before the finalizer was stored")
	}
	if res.RequeueAfter != time.Second {
		t.Errorf("a waiting step should requeue after its delay, got %+v", res)
	}
	if got, want := h.takeRuns(), []string{"NamespaceReady", "QuotaApplied"}; !cmp.Equal(got, want) {
		t.Errorf("steps run = %v, want %v (nothing after the waiting step)", got, want)
	}
	o := h.get(name)
	if c := condition(o, "QuotaApplied"); c.Status != metav1.ConditionFalse || c.Reason != lifecycle.ReasonProgressing || c.Message != "waiting for quota admission" {
		t.Errorf("QuotaApplied condition = %+v", c)
	}
	if c := condition(o, lifecycle.ConditionReady); c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "QuotaApplied") {
		t.Errorf("Ready condition should name the step in the way: %+v", c)
	}
	if h.phase != lifecycle.PhaseProvisioning {
		t.Errorf("phase = %s, want Provisioning", h.phase)
	}

	if _, err := h.reconcile(name); err != nil {
		t.Fatalf("second reconcile: %v", err)
	}
	o = h.get(name)
	for _, typ := range []string{"FinalizerSeen", "NamespaceReady", "QuotaApplied", "AccessGranted", lifecycle.ConditionReady} {
		if c := condition(o, typ); c.Status != metav1.ConditionTrue {
			t.Errorf("condition %s = %+v, want True", typ, c)
		}
	}
	if o.Status.ObservedGeneration != o.Generation {
		t.Errorf("observedGeneration = %d, want %d", o.Status.ObservedGeneration, o.Generation)
	}
	if h.phase != lifecycle.PhaseReady {
		t.Errorf("phase = %s, want Ready", h.phase)
	}
	if got := h.rec.reasons(); !cmp.Equal(got, []string{"Ready"}) {
		t.Errorf("events = %v, want [Ready]", got)
	}
}

func TestStuckStepSurfacesAsCondition(t *testing.T) {
	apiServer.LogsOnFailure(t)
	h := newHarness(t)
	const name = "stuck"
	h.r.Provision = lifecycle.Steps[*tenancy.Tenant]{
		h.step("NamespaceReady"),
		h.step("ControlPlaneReady", errors.New("kube-apiserver exited: port 6443 in use"), errors.New("kube-apiserver exited: port 6443 in use")),
	}
	create(t, h.c, name)
	for range 2 {
		if _, err := h.reconcile(name); err == nil || !strings.Contains(err.Error(), "ControlPlaneReady") {
			t.Fatalf("reconcile with a failing step: err = %v, want one naming the step", err)
		}
	}
	o := h.get(name)
	c := condition(o, "ControlPlaneReady")
	if c.Status != metav1.ConditionFalse || c.Reason != lifecycle.ReasonError || !strings.Contains(c.Message, "port 6443 in use") {
		t.Errorf("ControlPlaneReady condition = %+v, want False with the error", c)
	}
	if r := condition(o, lifecycle.ConditionReady); r.Reason != "ControlPlaneReady" {
		t.Errorf("Ready condition reason = %q, want the stuck step's name", r.Reason)
	}
	if got := h.rec.reasons(); !cmp.Equal(got, []string{"ControlPlaneReadyFailed", "ControlPlaneReadyFailed"}) {
		t.Errorf("events = %v", got)
	}
	// The third attempt succeeds: the condition heals.
	if _, err := h.reconcile(name); err != nil {
		t.Fatal(err)
	}
	if c := condition(h.get(name), lifecycle.ConditionReady); c.Status != metav1.ConditionTrue {
		t.Errorf("Ready after recovery = %+v", c)
	}
}

func TestPermanentErrorFails(t *testing.T) {
	apiServer.LogsOnFailure(t)
	h := newHarness(t)
	const name = "permanent"
	h.r.Provision = lifecycle.Steps[*tenancy.Tenant]{
		h.step("ProvisionerAllowed", lifecycle.Permanent(errors.New(`provisioner "helm" is not allowed by tenant policy`))),
	}
	create(t, h.c, name)
	res, err := h.reconcile(name)
	if err != nil || res.RequeueAfter != 0 {
		t.Fatalf("a permanent error must not be retried: res %+v err %v", res, err)
	}
	if h.phase != lifecycle.PhaseFailed {
		t.Errorf("phase = %s, want Failed", h.phase)
	}
	if c := condition(h.get(name), "ProvisionerAllowed"); c.Reason != lifecycle.ReasonPermanent || !strings.Contains(c.Message, "not allowed") {
		t.Errorf("condition = %+v", c)
	}
}

// TestTeardownOrderedAndResumable deletes an object whose second teardown
// step fails once, then continues with a fresh reconciler (as after a
// crash of the engine): every step is re-run idempotently, in order, and
// the finalizer goes only after the last one.
func TestTeardownOrderedAndResumable(t *testing.T) {
	apiServer.LogsOnFailure(t)
	h := newHarness(t)
	const name = "teardown"
	h.r.Provision = lifecycle.Steps[*tenancy.Tenant]{h.step("NamespaceReady")}
	h.r.Teardown = lifecycle.Steps[*tenancy.Tenant]{
		h.step("AccessRevoked"),
		h.step("WorkloadsDeleted", errors.New("host API unavailable")),
		h.step("NamespaceDeleted"),
	}
	create(t, h.c, name)
	if _, err := h.reconcile(name); err != nil {
		t.Fatal(err)
	}
	h.takeRuns()
	if err := h.c.Delete(context.Background(), h.get(name)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.reconcile(name); err == nil {
		t.Fatal("teardown with a failing step reported success")
	}
	o := h.get(name) // still there: the finalizer holds it
	if !controllerutil.ContainsFinalizer(o, finalizer) {
		t.Fatal("finalizer removed before teardown finished")
	}
	if c := condition(o, lifecycle.ConditionDeleting); c.Reason != "WorkloadsDeleted" {
		t.Errorf("Deleting condition = %+v, want reason WorkloadsDeleted", c)
	}
	if h.phase != lifecycle.PhaseDeleting {
		t.Errorf("phase = %s, want Deleting", h.phase)
	}

	// "Restart": a new reconciler with the same steps.
	steps := h.r.Teardown
	h2 := newHarness(t)
	h2.r.Teardown = steps
	if _, err := h2.reconcile(name); err != nil {
		t.Fatalf("teardown after restart: %v", err)
	}
	if got, want := h.takeRuns(), []string{"AccessRevoked", "WorkloadsDeleted", "AccessRevoked", "WorkloadsDeleted", "NamespaceDeleted"}; !cmp.Equal(got, want) {
		t.Errorf("teardown runs = %v, want %v", got, want)
	}
	err := h.c.Get(context.Background(), types.NamespacedName{Name: name}, &tenancy.Tenant{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("after teardown the tenant should be gone, got err %v", err)
	}
	// A reconcile of a gone object is a no-op, not an error.
	if _, err := h2.reconcile(name); err != nil {
		t.Fatalf("reconcile of a deleted object: %v", err)
	}
}

func TestSleepAndWake(t *testing.T) {
	apiServer.LogsOnFailure(t)
	h := newHarness(t)
	const name = "sleepy"
	h.r.Provision = lifecycle.Steps[*tenancy.Tenant]{h.step("ControlPlaneRunning")}
	h.r.Sleep = lifecycle.Steps[*tenancy.Tenant]{h.step("WorkloadsScaledDown"), h.step("ControlPlaneStopped")}
	create(t, h.c, name)
	if _, err := h.reconcile(name); err != nil {
		t.Fatal(err)
	}
	h.sleepy = true
	if _, err := h.reconcile(name); err != nil {
		t.Fatal(err)
	}
	o := h.get(name)
	if h.phase != lifecycle.PhaseSleeping || condition(o, lifecycle.ConditionSleeping).Status != metav1.ConditionTrue || condition(o, lifecycle.ConditionReady).Status != metav1.ConditionFalse {
		t.Fatalf("after sleeping: phase %s, conditions %+v", h.phase, o.Status.Conditions)
	}
	h.sleepy = false
	if _, err := h.reconcile(name); err != nil {
		t.Fatal(err)
	}
	o = h.get(name)
	if h.phase != lifecycle.PhaseReady || condition(o, lifecycle.ConditionSleeping).Status != metav1.ConditionFalse || condition(o, lifecycle.ConditionReady).Status != metav1.ConditionTrue {
		t.Fatalf("after waking: phase %s, conditions %+v", h.phase, o.Status.Conditions)
	}
	if got, want := h.takeRuns(), []string{"ControlPlaneRunning", "WorkloadsScaledDown", "ControlPlaneStopped", "ControlPlaneRunning"}; !cmp.Equal(got, want) {
		t.Errorf("runs = %v, want %v", got, want)
	}
	if got, want := h.rec.reasons(), []string{"Ready", "Sleeping", "Woken"}; !cmp.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

// TestWithManager runs the reconciler as a real controller: the watch
// drives it, not the test.
func TestWithManager(t *testing.T) {
	apiServer.LogsOnFailure(t)
	s := runtime.NewScheme()
	if err := tenancy.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(apiServer.Config, ctrl.Options{Scheme: s, Metrics: metricsOff(), HealthProbeBindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	h.r.Name = "tenant-manager-test"
	h.r.Client = mgr.GetClient()
	h.r.Provision = lifecycle.Steps[*tenancy.Tenant]{h.step("NamespaceReady")}
	h.r.Teardown = lifecycle.Steps[*tenancy.Tenant]{h.step("NamespaceDeleted")}
	if err := h.r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() { cancel(); <-done }()

	create(t, h.c, "managed")
	waitFor(t, func() bool {
		return condition(h.get("managed"), lifecycle.ConditionReady).Status == metav1.ConditionTrue
	}, "tenant Ready")
	if err := h.c.Delete(ctx, h.get("managed")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return apierrors.IsNotFound(h.c.Get(ctx, types.NamespacedName{Name: "managed"}, &tenancy.Tenant{}))
	}, "tenant deleted through its teardown")
}

func TestValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    lifecycle.Reconciler[*tenancy.Tenant]
		want string
	}{
		{"no name", lifecycle.Reconciler[*tenancy.Tenant]{}, "Name is required"},
		{"no client", lifecycle.Reconciler[*tenancy.Tenant]{Name: "x"}, "Client is required"},
	} {
		if err := tc.r.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.want)
		}
	}
	h := newHarness(t)
	h.r.Provision = lifecycle.Steps[*tenancy.Tenant]{h.step("A"), h.step("A")}
	if err := h.r.Validate(); err == nil || !strings.Contains(err.Error(), `"A" is used twice`) {
		t.Errorf("duplicate step names: Validate() = %v", err)
	}
	h.r.Provision = lifecycle.Steps[*tenancy.Tenant]{{Name: "Ready", Run: func(context.Context, *tenancy.Tenant) error { return nil }}}
	if err := h.r.Validate(); err == nil {
		t.Error("a step named like a reserved condition was accepted")
	}
}

func TestInsertSteps(t *testing.T) {
	h := newHarness(t)
	s := lifecycle.Steps[*tenancy.Tenant]{h.step("A"), h.step("C")}
	s2, err := s.InsertBefore("C", h.step("B"))
	if err != nil {
		t.Fatal(err)
	}
	s3, err := s2.InsertAfter("C", h.step("D"))
	if err != nil {
		t.Fatal(err)
	}
	if got := s3.Names(); !cmp.Equal(got, []string{"A", "B", "C", "D"}) {
		t.Errorf("names = %v", got)
	}
	if got := s.Names(); !cmp.Equal(got, []string{"A", "C"}) {
		t.Errorf("the original list changed: %v", got)
	}
	if _, err := s.InsertAfter("Z", h.step("E")); err == nil || !strings.Contains(err.Error(), `no step named "Z"`) {
		t.Errorf("insert next to a missing step: %v", err)
	}
	if _, err := s.InsertAfter("A", h.step("C")); err == nil {
		t.Error("inserting a duplicate name was accepted")
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, what, func(context.Context) (bool, string) { return cond(), "not yet" })
}
