package vclusterkit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/admissionpolicy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// annotationPolicyHash on the engine's admission policies and bindings is a
// hash of what the engine rendered, so an unchanged object is not written
// again on every pass (thousands of tenants, every resync).
const annotationPolicyHash = "tenancy.vclusterkit.io/admission-policy-hash"

// setupPolicyAdmission registers the runnable that makes the host API
// server itself enforce tenant policies in spaces, where members write with
// kubectl and no syncer checks anything: one ValidatingAdmissionPolicy and
// binding per tenant whose effective policy restricts runtime, priority,
// storage or ingress classes or forces a node selector
// (tenancy/admissionpolicy.ForTenant), and a namespace guard that refuses
// changes to the tenancy labels of namespaces by anyone but the engine's
// own identity (learned with a SelfSubjectReview at start). The guard
// complements, and does not replace, the namespace-guard controller that
// undoes such changes.
//
// The objects are reconciled whenever a Tenant changes and at every resync:
// created, updated, and deleted when their tenant is gone or no longer
// restricts anything. Those of a tenant that is currently invalid (left out
// of the tree) are kept as they were, never dropped: an invalid edit must
// not open the door. They stay in force while the engine is stopped (no
// webhook is involved). Only the leader writes them. On a host that does
// not serve admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy
// (Kubernetes before 1.30) this is off and says so in the log.
func (e *Engine) setupPolicyAdmission() error {
	pa := &policyAdmission{e: e, kick: make(chan struct{}, 1), written: map[string]int64{}}
	return e.mgr.Add(manager.RunnableFunc(pa.run))
}

type policyAdmission struct {
	e          *Engine
	kick       chan struct{}
	engineUser string
	// written is the generation of each object as this engine last wrote
	// it: a different one in the cache means someone else changed its
	// spec, and it is written again although its hash annotation matches.
	written map[string]int64
}

func (pa *policyAdmission) poke() {
	select {
	case pa.kick <- struct{}{}:
	default:
	}
}

func (pa *policyAdmission) run(ctx context.Context) error {
	log := pa.e.opts.Logger.WithName("policy-admission")
	ctx = ctrl.LoggerInto(ctx, log)
	gk := schema.GroupKind{Group: admissionregistrationv1.GroupName, Kind: "ValidatingAdmissionPolicy"}
	if _, err := pa.e.mgr.GetRESTMapper().RESTMapping(gk, "v1"); meta.IsNoMatchError(err) {
		log.Info("the host API does not serve admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy (Kubernetes < 1.30): tenant class policies and tenancy labels are not enforced by admission in spaces")
		return nil
	}
	inf, err := pa.e.mgr.GetCache().GetInformer(ctx, &tenancy.Tenant{})
	if err != nil {
		return fmt.Errorf("policy admission: Tenant informer: %w", err)
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { pa.poke() },
		UpdateFunc: func(_, _ any) { pa.poke() },
		DeleteFunc: func(any) { pa.poke() },
	}); err != nil {
		return fmt.Errorf("policy admission: %w", err)
	}
	resync := pa.e.resync(30 * time.Second)
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
		case <-t.C:
		}
		t.Stop()
	}
}

// reconcile makes the engine's policies and bindings on the host what the
// tree says.
func (pa *policyAdmission) reconcile(ctx context.Context) error {
	e := pa.e
	if pa.engineUser == "" {
		ssr := &authenticationv1.SelfSubjectReview{}
		if err := e.client.Create(ctx, ssr); err != nil {
			return fmt.Errorf("learning the engine's identity (SelfSubjectReview): %w", err)
		}
		if ssr.Status.UserInfo.Username == "" {
			return errors.New("learning the engine's identity: the SelfSubjectReview names no user")
		}
		pa.engineUser = ssr.Status.UserInfo.Username
		ctrl.LoggerFrom(ctx).Info("namespace tenancy labels are writable by the engine's identity only", "user", pa.engineUser)
	}
	gpol, gbind, err := admissionpolicy.NamespaceGuard(admissionpolicy.GuardOptions{
		EngineUser:  pa.engineUser,
		Labels:      []string{vcluster.LabelVirtualCluster},
		Annotations: []string{AnnotationNamespaceUID},
		OwnerGroups: []string{tenancy.Group, vcluster.GroupVersion.Group},
	})
	if err != nil {
		return err
	}
	s, err := e.snapshot(ctx)
	if err != nil {
		return err
	}
	pols, binds, err := admissionpolicy.ForTree(s.tree)
	if err != nil {
		return err
	}
	pols = append(pols, gpol)
	binds = append(binds, gbind)

	sel := client.MatchingLabels{admissionpolicy.LabelManagedBy: admissionpolicy.ManagedBy}
	var havePols admissionregistrationv1.ValidatingAdmissionPolicyList
	if err := e.client.List(ctx, &havePols, sel); err != nil {
		return fmt.Errorf("listing admission policies: %w", err)
	}
	var haveBinds admissionregistrationv1.ValidatingAdmissionPolicyBindingList
	if err := e.client.List(ctx, &haveBinds, sel); err != nil {
		return fmt.Errorf("listing admission policy bindings: %w", err)
	}
	// An object is current when it carries the hash of what we would
	// write and, if we wrote it in this run, still has that generation.
	current := map[string]string{}
	note := func(key string, o client.Object) {
		if g, ok := pa.written[key]; ok && g != o.GetGeneration() {
			return
		}
		current[key] = o.GetAnnotations()[annotationPolicyHash]
	}
	for i := range havePols.Items {
		note("policy/"+havePols.Items[i].Name, &havePols.Items[i])
	}
	for i := range haveBinds.Items {
		note("binding/"+haveBinds.Items[i].Name, &haveBinds.Items[i])
	}

	// Policies first: a binding to a policy not yet there does nothing.
	wanted := map[string]bool{}
	var errs []error
	for i := range pols {
		for _, o := range []client.Object{pols[i], binds[i]} {
			key := kindKey(o) + "/" + o.GetName()
			wanted[key] = true
			h, err := specHash(o)
			if err != nil {
				return err
			}
			if current[key] == h {
				continue
			}
			o.SetAnnotations(map[string]string{annotationPolicyHash: h})
			if err := e.apply(ctx, o); err != nil {
				errs = append(errs, fmt.Errorf("applying %s: %w", key, err))
				continue
			}
			pa.written[key] = o.GetGeneration()
		}
	}
	// Bindings first on the way out.
	var stale []client.Object
	for i := range haveBinds.Items {
		stale = append(stale, &haveBinds.Items[i])
	}
	for i := range havePols.Items {
		stale = append(stale, &havePols.Items[i])
	}
	for _, o := range stale {
		key := kindKey(o) + "/" + o.GetName()
		if wanted[key] || o.GetLabels()[admissionpolicy.LabelKind] != admissionpolicy.KindTenant {
			continue
		}
		if tenant, ok := admissionpolicy.TenantOf(o.GetName()); ok && s.invalid["tenant/"+tenant] != nil {
			continue // invalid for now: keep what was enforced
		}
		if err := client.IgnoreNotFound(e.client.Delete(ctx, o)); err != nil {
			errs = append(errs, fmt.Errorf("deleting %s: %w", key, err))
			continue
		}
		delete(pa.written, key)
	}
	return errors.Join(errs...)
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
