// Package policyadmission makes the host API server itself enforce tenant
// policies in spaces, where members write with kubectl and no syncer checks
// anything (tenancy/admissionpolicy), and guards the engine's namespace
// labels and annotations by admission.
package policyadmission

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/go-logr/logr"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/snapshot"
	"github.com/vclusterkit/vclusterkit/internal/ssa"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/admissionpolicy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// annotationPolicyHash on the engine's admission policies and bindings is a
// hash of what the engine rendered, so an unchanged object is not written
// again on every resync.
const annotationPolicyHash = "tenancy.vclusterkit.io/admission-policy-hash"

// PolicyAdmission makes the host API server itself enforce tenant
// policies in spaces, where members write with kubectl and no syncer
// checks anything (tenancy/admissionpolicy):
//
//   - one ValidatingAdmissionPolicy and binding for all spaces
//     (SpacePolicy) refuse pods with a runtime or priority class outside the
//     tenant's effective allowed lists or without its node selector, claims
//     with a storage class outside its list, and ingresses with an ingress
//     class outside its list. The lists are read from annotations the
//     engine writes on each space's namespace (SpaceAnnotations), so the
//     cost of admission does not grow with the number of tenants;
//   - a namespace guard refuses changes to the tenancy labels and those
//     annotations by anyone but the engine's own identity. It complements,
//     and does not replace, the namespace-guard controller that undoes
//     such changes.
//
// The guard is put in place by Prepare, before anything else runs: the engine learns
// its user name with a SelfSubjectReview, adds it to the users an existing
// guard exempts (an engine that ran before with other credentials, or
// another engine on the same host, keeps its exemption; delete the guard
// to revoke them, the engine puts it back with its own), and waits until
// the API server honours it, so that its own namespace writes are never
// refused. A runnable (leader only) then keeps the policy, and the
// annotations of every space's namespace, in step with the tree whenever a
// Tenant or a namespace changes and at every resync. A space namespace not
// annotated yet refuses creates (closed, not open, for the moment after it
// is created); one whose tenant is currently invalid (left out of the tree)
// keeps what it had: an invalid edit must not open the door. Everything
// stays in force while the engine is stopped (no webhook is involved).
//
// On a host that does not serve admissionregistration.k8s.io/v1
// ValidatingAdmissionPolicy (Kubernetes before 1.30) all this is off and
// the log says so.
type PolicyAdmission struct {
	mgr       ctrl.Manager
	client    client.Client
	snapshots *snapshot.Reader
	log       logr.Logger
	resync    time.Duration

	// enabled is set by Prepare when the host serves
	// ValidatingAdmissionPolicy.
	enabled    bool
	kick       chan struct{}
	engineUser string
	// engineUsers are the identities the guard exempts (this engine's and
	// those of engines before it).
	engineUsers []string
	// written is the generation of each object as this engine last wrote
	// it: a different one in the cache means someone else changed its
	// spec, and it is written again although its hash annotation matches.
	written map[string]int64
}

// New returns a PolicyAdmission for mgr's host, reading the tree from
// snapshots and reconciling every resync. It does no I/O: call Prepare
// before the manager starts, then run it as a manager Runnable.
func New(mgr ctrl.Manager, snapshots *snapshot.Reader, log logr.Logger, resync time.Duration) (*PolicyAdmission, error) {
	if mgr == nil || snapshots == nil || resync <= 0 {
		return nil, errors.New("policyadmission.New: a manager, a snapshot reader and a positive resync are required")
	}
	return &PolicyAdmission{mgr: mgr, client: mgr.GetClient(), snapshots: snapshots, log: log.WithName("policy-admission"),
		resync: resync, kick: make(chan struct{}, 1), written: map[string]int64{}}, nil
}

// Prepare finds out whether the host serves ValidatingAdmissionPolicy
// (Kubernetes ≥ 1.30; otherwise all this is off and the log says so) and
// puts the namespace guard in place, waiting until the API server honours
// it. It reads live, not from the manager's cache, which has not started.
func (pa *PolicyAdmission) Prepare(ctx context.Context) error {
	gk := schema.GroupKind{Group: admissionregistrationv1.GroupName, Kind: "ValidatingAdmissionPolicy"}
	if _, err := pa.mgr.GetRESTMapper().RESTMapping(gk, "v1"); meta.IsNoMatchError(err) {
		pa.log.Info("the host API does not serve admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy (Kubernetes < 1.30): tenant class policies and tenancy labels are not enforced by admission in spaces")
		return nil
	} else if err != nil {
		return fmt.Errorf("policy admission: %w", err)
	}
	c, err := client.New(pa.mgr.GetConfig(), client.Options{Scheme: pa.mgr.GetScheme()})
	if err != nil {
		return fmt.Errorf("policy admission: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctrl.LoggerInto(ctx, pa.log), time.Minute)
	defer cancel()
	if err := pa.ensureGuard(ctx, c, c, true); err != nil {
		return fmt.Errorf("namespace guard: %w", err)
	}
	pa.enabled = true
	return nil
}

func (pa *PolicyAdmission) poke() {
	select {
	case pa.kick <- struct{}{}:
	default:
	}
}

// Start keeps the policy and the namespace annotations in step until ctx
// ends. It implements manager.Runnable (leader only, by default).
func (pa *PolicyAdmission) Start(ctx context.Context) error {
	if !pa.enabled {
		<-ctx.Done()
		return nil
	}
	log := pa.log
	ctx = ctrl.LoggerInto(ctx, log)
	inf, err := pa.mgr.GetCache().GetInformer(ctx, &tenancy.Tenant{})
	if err != nil {
		return fmt.Errorf("policy admission: Tenant informer: %w", err)
	}
	// Only a change of a tenant's spec (its generation) matters: status
	// updates, frequent with many tenants, would keep this loop busy.
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { pa.poke() },
		UpdateFunc: func(o, n any) {
			ot, ok1 := o.(*tenancy.Tenant)
			nt, ok2 := n.(*tenancy.Tenant)
			if !ok1 || !ok2 || ot.Generation != nt.Generation {
				pa.poke()
			}
		},
		DeleteFunc: func(any) { pa.poke() },
	}); err != nil {
		return fmt.Errorf("policy admission: %w", err)
	}
	// A new space namespace refuses creates until it is annotated: do it
	// at once, not at the next resync.
	nsInf, err := pa.mgr.GetCache().GetInformer(ctx, &corev1.Namespace{})
	if err != nil {
		return fmt.Errorf("policy admission: Namespace informer: %w", err)
	}
	unannotatedSpace := func(o any) {
		if ns, ok := o.(*corev1.Namespace); ok && ns.Labels[tenancy.LabelSpace] != "" && ns.Annotations[admissionpolicy.AnnotationPolicyTenant] == "" {
			pa.poke()
		}
	}
	if _, err := nsInf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    unannotatedSpace,
		UpdateFunc: func(_, o any) { unannotatedSpace(o) },
	}); err != nil {
		return fmt.Errorf("policy admission: %w", err)
	}
	resync := pa.resync
	backoff := time.Second
	for {
		err := pa.reconcile(ctx)
		wait := resync
		if err != nil {
			log.Error(err, "reconciling admission policies")
			wait = backoff
			backoff = min(backoff*2, resync)
		} else {
			backoff = time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-pa.kick:
			// Let a burst of changes (a tree created at once) settle into
			// one pass.
			settle := time.NewTimer(200 * time.Millisecond)
			select {
			case <-ctx.Done():
			case <-settle.C:
			}
			settle.Stop()
		case <-t.C:
		}
		t.Stop()
	}
}

// ensureGuard writes the namespace guard, exempting this engine's user
// besides those the existing guard exempts, when it differs from what is
// there; with probe, it then waits until the API server admits this
// engine's tenancy labels.
func (pa *PolicyAdmission) ensureGuard(ctx context.Context, r client.Reader, w client.Client, probe bool) error {
	if pa.engineUser == "" {
		ssr := &authenticationv1.SelfSubjectReview{}
		if err := w.Create(ctx, ssr); err != nil {
			return fmt.Errorf("learning the engine's identity (SelfSubjectReview): %w", err)
		}
		if ssr.Status.UserInfo.Username == "" {
			return errors.New("learning the engine's identity: the SelfSubjectReview names no user")
		}
		pa.engineUser = ssr.Status.UserInfo.Username
		ctrl.LoggerFrom(ctx).Info("namespace tenancy labels are writable by the engine's identity only", "user", pa.engineUser)
	}
	var curPol, curBind client.Object // nil when absent
	have := &admissionregistrationv1.ValidatingAdmissionPolicy{}
	switch err := r.Get(ctx, client.ObjectKey{Name: admissionpolicy.NamespaceGuardName}, have); {
	case err == nil:
		curPol = have
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading the namespace guard: %w", err)
	}
	users := append(admissionpolicy.EngineUsersOf(have), pa.engineUser)
	pa.engineUsers = users
	pol, bind, err := admissionpolicy.NamespaceGuard(admissionpolicy.GuardOptions{
		EngineUsers: users,
		Labels:      []string{vcluster.LabelVirtualCluster},
		Annotations: append([]string{tenancy.AnnotationNamespaceUID}, admissionpolicy.SpaceAnnotationKeys()...),
		OwnerGroups: []string{tenancy.Group, vcluster.GroupVersion.Group},
	})
	if err != nil {
		return err
	}
	haveBind := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
	switch err := r.Get(ctx, client.ObjectKey{Name: admissionpolicy.NamespaceGuardName}, haveBind); {
	case err == nil:
		curBind = haveBind
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading the namespace guard's binding: %w", err)
	}
	changed := false
	for _, pair := range [][2]client.Object{{pol, curPol}, {bind, curBind}} {
		wrote, err := pa.write(ctx, w, pair[0], pair[1])
		if err != nil {
			return err
		}
		changed = changed || wrote
	}
	if !probe || !changed {
		return nil
	}
	// The API server loads policies asynchronously: wait until a namespace
	// carrying tenancy labels, as this engine writes them, is admitted
	// (a dry run, never stored).
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "vclusterkit-guard-probe",
		Labels: map[string]string{tenancy.LabelTenant: "vclusterkit-guard-probe"}}}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		last = w.Create(ctx, ns.DeepCopy(), client.DryRunAll)
		return last == nil || apierrors.IsAlreadyExists(last), nil
	})
	if err != nil {
		return fmt.Errorf("the namespace guard still refuses the engine's own labels (user %s): %v", pa.engineUser, last)
	}
	return nil
}

// write applies want unless cur (nil when absent) already is what we
// would write; it reports whether it wrote.
func (pa *PolicyAdmission) write(ctx context.Context, w client.Client, want, cur client.Object) (bool, error) {
	key := kindKey(want) + "/" + want.GetName()
	h, err := specHash(want)
	if err != nil {
		return false, err
	}
	if cur != nil && cur.GetAnnotations()[annotationPolicyHash] == h {
		if g, ok := pa.written[key]; !ok || g == cur.GetGeneration() {
			return false, nil
		}
	}
	a := want.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[annotationPolicyHash] = h
	want.SetAnnotations(a)
	if err := ssa.Apply(ctx, w, want); err != nil {
		return false, fmt.Errorf("applying %s: %w", key, err)
	}
	pa.written[key] = want.GetGeneration()
	return true, nil
}

// reconcile makes the space policy, and the policy annotations of every
// space's namespace, what the tree says.
func (pa *PolicyAdmission) reconcile(ctx context.Context) error {
	c := pa.client
	if err := pa.ensureGuard(ctx, c, c, false); err != nil {
		return err
	}
	pol, bind := admissionpolicy.SpacePolicy(pa.engineUsers...)
	var curPol, curBind client.Object
	havePol := &admissionregistrationv1.ValidatingAdmissionPolicy{}
	if err := c.Get(ctx, client.ObjectKey{Name: pol.Name}, havePol); err == nil {
		curPol = havePol
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	haveBind := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
	if err := c.Get(ctx, client.ObjectKey{Name: bind.Name}, haveBind); err == nil {
		curBind = haveBind
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	// The policy first: a binding to a policy not yet there does nothing.
	if _, err := pa.write(ctx, c, pol, curPol); err != nil {
		return err
	}
	if _, err := pa.write(ctx, c, bind, curBind); err != nil {
		return err
	}
	s, err := pa.snapshots.Get(ctx)
	if err != nil {
		return err
	}
	// A tenant whose policy cannot be encoded is reported; its spaces keep
	// what they have (or stay closed), the others are brought up to date.
	want, renderErr := admissionpolicy.ForTree(s.Tree)
	var errs []error
	if renderErr != nil {
		errs = append(errs, renderErr)
	}
	for _, sp := range s.Spaces {
		ann, ok := want[sp.Name]
		if !ok {
			continue // invalid tenant or unencodable policy: leave it
		}
		if err := pa.annotate(ctx, sp.Name, sp.Spec.Tenant, ann); err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: %w", sp.Name, err))
		}
	}
	return errors.Join(errs...)
}

// annotate sets the policy annotations of a space's namespace to want,
// removing those of ours it no longer wants; a namespace that is not the
// engine's for that space (labels say otherwise), or not there yet, is
// left alone.
func (pa *PolicyAdmission) annotate(ctx context.Context, name, tenant string, want map[string]string) error {
	ns := &corev1.Namespace{}
	if err := pa.client.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return client.IgnoreNotFound(err)
	}
	if ns.Labels[tenancy.LabelSpace] != name || ns.Labels[tenancy.LabelTenant] != tenant || !ns.DeletionTimestamp.IsZero() {
		return nil
	}
	patch := map[string]any{}
	for _, k := range admissionpolicy.SpaceAnnotationKeys() {
		cur, has := ns.Annotations[k]
		v, wanted := want[k]
		switch {
		case wanted && (!has || cur != v):
			patch[k] = v
		case !wanted && has:
			patch[k] = nil
		}
	}
	if len(patch) == 0 {
		return nil
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": patch}})
	if err != nil {
		return err
	}
	return client.IgnoreNotFound(pa.client.Patch(ctx, ns, client.RawPatch(types.MergePatchType, body)))
}

func kindKey(o client.Object) string {
	if _, ok := o.(*admissionregistrationv1.ValidatingAdmissionPolicy); ok {
		return "policy"
	}
	return "binding"
}

// specHash hashes what the engine sets on o: labels and spec.
func specHash(o client.Object) (string, error) {
	var spec any
	switch v := o.(type) {
	case *admissionregistrationv1.ValidatingAdmissionPolicy:
		spec = v.Spec
	case *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
		spec = v.Spec
	}
	b, err := json.Marshal([]any{o.GetLabels(), spec})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12]), nil
}
