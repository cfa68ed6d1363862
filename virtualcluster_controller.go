package vclusterkit

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

// Condition types of a VirtualCluster besides its steps'.
const (
	// ConditionComponentsHealthy is False while a control-plane process
	// has died; the reconcile brings it back.
	ConditionComponentsHealthy = "ComponentsHealthy"
)

type vclusterExit struct {
	namespace, name, component string
	err                        error
}

func withLabel(key string) builder.Predicates {
	return builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
		_, ok := o.GetLabels()[key]
		return ok
	}))
}

// setupVirtualClusters registers the VirtualCluster controller.
//
// Provisioning: validate (spec, tenant policy, claims) → host namespace with
// quota, policies and access → control plane through the registered
// provisioner → admin kubeconfig Secret → member access inside the virtual
// cluster and per-member kubeconfig Secrets → syncer.
// Teardown, in order: revoke access → stop syncing → delete synced
// workloads → deprovision the control plane → delete the host namespace.
func (e *Engine) setupVirtualClusters() error {
	r := &lifecycle.Reconciler[*vcluster.VirtualCluster]{
		Name:      "virtualcluster",
		Client:    e.client,
		Recorder:  e.recorder("vclusterkit-virtualcluster"),
		Finalizer: FinalizerVirtualCluster,
		NewObject: func() *vcluster.VirtualCluster { return &vcluster.VirtualCluster{} },
		Status: lifecycle.StatusAccess[*vcluster.VirtualCluster]{
			Conditions:         func(v *vcluster.VirtualCluster) *[]metav1.Condition { return &v.Status.Conditions },
			ObservedGeneration: func(v *vcluster.VirtualCluster) *int64 { return &v.Status.ObservedGeneration },
			SetPhase:           setVCPhase,
		},
		Provision: lifecycle.Steps[*vcluster.VirtualCluster]{
			{Name: "Validated", Run: e.vcValidated},
			{Name: "HostNamespaceReady", Run: e.vcHostNamespace},
			{Name: "ControlPlaneReady", Run: e.vcControlPlane},
			{Name: "KubeconfigReady", Run: e.vcKubeconfig},
			{Name: "AccessGranted", Run: e.vcAccess},
			{Name: "SyncerReady", Run: e.vcSyncer},
			{Name: "ActivityChecked", Run: e.vcActivity},
		},
		ShouldSleep: shouldSleep,
		Sleep: lifecycle.Steps[*vcluster.VirtualCluster]{
			{Name: "SyncerStopped", Run: e.vcStopSyncer},
			{Name: "ControlPlanePaused", Run: e.vcPause},
		},
		Teardown: lifecycle.Steps[*vcluster.VirtualCluster]{
			{Name: "AccessRevoked", Run: e.vcRevoke},
			{Name: "SyncingStopped", Run: e.vcStopSyncer},
			{Name: "WorkloadsDeleted", Run: e.vcDeleteWorkloads},
			{Name: "ControlPlaneDeprovisioned", Run: e.vcDeprovision},
			{Name: "HostNamespaceDeleted", Run: e.vcDeleteHostNamespace},
		},
		ResyncAfter: e.resync(30 * time.Second),
	}
	// A control-plane process that exits wakes its VirtualCluster at once.
	exits := make(chan event.TypedGenericEvent[*vcluster.VirtualCluster], 64)
	go func() {
		for x := range e.exits {
			ctx := context.Background()
			var list vcluster.VirtualClusterList
			if err := e.client.List(ctx, &list); err != nil {
				continue
			}
			for i := range list.Items {
				vc := &list.Items[i]
				if vc.Name == x.name && vc.EffectiveHostNamespace() == x.namespace {
					exits <- event.TypedGenericEvent[*vcluster.VirtualCluster]{Object: vc}
				}
			}
		}
	}()
	byHostNamespace := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		name := o.GetLabels()[vcluster.LabelVirtualCluster]
		var list vcluster.VirtualClusterList
		if err := e.client.List(ctx, &list); err != nil {
			return nil
		}
		var out []reconcile.Request
		for _, vc := range list.Items {
			if vc.Name == name && vc.EffectiveHostNamespace() == o.GetName() {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&vc)})
			}
		}
		return out
	})
	return r.SetupWithManager(e.mgr, func(b *ctrl.Builder) *ctrl.Builder {
		return b.WatchesRawSource(source.Channel(exits, &handler.TypedEnqueueRequestForObject[*vcluster.VirtualCluster]{})).
			Watches(&corev1.Namespace{}, byHostNamespace, withLabel(vcluster.LabelVirtualCluster))
	})
}

func setVCPhase(vc *vcluster.VirtualCluster, p lifecycle.Phase) {
	switch p {
	case lifecycle.PhaseReady:
		vc.Status.Phase = vcluster.PhaseRunning
	case lifecycle.PhaseSleeping:
		vc.Status.Phase = vcluster.PhaseSleeping
	case lifecycle.PhaseDeleting:
		vc.Status.Phase = vcluster.PhaseDeleting
	case lifecycle.PhaseFailed:
		vc.Status.Phase = vcluster.PhaseFailed
	case lifecycle.PhaseProvisioning:
		vc.Status.Phase = vcluster.PhaseProvisioning
	default:
		vc.Status.Phase = vcluster.PhasePending
	}
}

// effectivePolicy is the owning tenant's effective policy tightened by the
// virtual cluster's isolation overrides.
func effectivePolicy(s *snapshot, vc *vcluster.VirtualCluster) (tenancy.Policy, error) {
	pol, err := s.tree.EffectivePolicy(vc.Spec.Tenant)
	if err != nil {
		return pol, err
	}
	if o := vc.Spec.Isolation; o != nil {
		if o.PodSecurity != "" {
			pol.PodSecurity = tenancy.PodSecurityLevel(o.PodSecurity)
		}
		if o.NetworkIsolation != "" {
			pol.NetworkIsolation = tenancy.IsolationMode(o.NetworkIsolation)
		}
	}
	return pol, nil
}

func (e *Engine) vcValidated(ctx context.Context, vc *vcluster.VirtualCluster) error {
	if errs := vcluster.Validate(vc); len(errs) > 0 {
		return lifecycle.Permanent(errs.ToAggregate())
	}
	s, err := e.snapshot(ctx)
	if err != nil {
		return err
	}
	if !s.tree.Has(vc.Spec.Tenant) {
		return lifecycle.Wait(5*time.Second, "tenant %q does not exist", vc.Spec.Tenant)
	}
	pol, err := s.tree.EffectivePolicy(vc.Spec.Tenant)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	if errs := vcluster.ValidateIsolation(vc.Spec.Isolation, string(pol.PodSecurity), string(pol.NetworkIsolation)); len(errs) > 0 {
		return lifecycle.Permanent(errs.ToAggregate())
	}
	prov := vc.EffectiveProvisioner()
	if len(pol.AllowedProvisioners) > 0 && !contains(pol.AllowedProvisioners, prov) {
		return lifecycle.Permanent(fmt.Errorf("spec.provisioner: %q is not allowed by tenant %s (allowed: %v)", prov, vc.Spec.Tenant, pol.AllowedProvisioners))
	}
	if _, err := e.registry.Get(prov); err != nil {
		return lifecycle.Permanent(fmt.Errorf("spec.provisioner: %w", err))
	}
	if err := vcluster.CheckClaim(ctx, e.client, vc); err != nil {
		return lifecycle.Permanent(err)
	}
	var list vcluster.VirtualClusterList
	if err := e.client.List(ctx, &list); err != nil {
		return err
	}
	all := make([]countedUnder, 0, len(list.Items))
	for i := range list.Items {
		all = append(all, countedUnder{obj: &list.Items[i], tenant: list.Items[i].Spec.Tenant})
	}
	if err := overLimit(s, vc, vc.Spec.Tenant, all, "virtual clusters", func(p tenancy.Policy) *int32 { return p.MaxVirtualClusters }); err != nil {
		return lifecycle.Permanent(err)
	}
	return nil
}

func (e *Engine) vcHostNamespace(ctx context.Context, vc *vcluster.VirtualCluster) error {
	s, err := e.snapshot(ctx)
	if err != nil {
		return err
	}
	pol, err := effectivePolicy(s, vc)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	hn := vcNamespace(vc)
	if hn.Name != vc.Namespace {
		// A separate host namespace is the engine's to create and own.
		if err := e.ensureNamespace(ctx, s, hn); err != nil {
			return err
		}
	}
	if err := e.ensureQuota(ctx, s, hn); err != nil {
		return err
	}
	// No member RoleBindings here: tenants use their virtual cluster, and
	// the host namespace is the syncer's alone. Pods that reach it are the
	// ones the syncer checked (pod security, quota), and the syncer's marks
	// on them cannot be forged by a tenant.
	return e.ensureNetworkPolicies(ctx, s, hn, pol.NetworkIsolation)
}

func (e *Engine) provisioner(vc *vcluster.VirtualCluster) (vcluster.Provisioner, error) {
	return e.registry.Get(vc.EffectiveProvisioner())
}

func (e *Engine) vcControlPlane(ctx context.Context, vc *vcluster.VirtualCluster) error {
	p, err := e.provisioner(vc)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	// A process that died shows on the object before it is brought back:
	// as the provisioner reported it (ComponentExited), or as its Health
	// says once the control plane had been ready.
	key := exitKey(vc.EffectiveHostNamespace(), vc.Name)
	summary := ""
	if v, ok := e.exited.Load(key); ok {
		summary = v.(string)
	} else if hr, ok := p.(vcluster.HealthReporter); ok && meta.IsStatusConditionTrue(vc.Status.Conditions, "ControlPlaneReady") {
		if h, err := hr.Health(ctx, vc); err == nil && !h.Ready && !h.Sleeping {
			summary = h.Summary()
		}
	}
	if summary != "" {
		healthy := meta.FindStatusCondition(vc.Status.Conditions, ConditionComponentsHealthy)
		if healthy == nil || healthy.Status != metav1.ConditionFalse {
			meta.SetStatusCondition(&vc.Status.Conditions, metav1.Condition{Type: ConditionComponentsHealthy, Status: metav1.ConditionFalse, Reason: "ComponentExited", Message: summary, ObservedGeneration: vc.Generation})
			e.recorder("vclusterkit-virtualcluster").Eventf(vc, nil, corev1.EventTypeWarning, "ComponentExited", "Health", "%s", summary)
			return lifecycle.Wait(time.Second, "control plane unhealthy: %s; restarting", summary)
		}
	}
	if s, ok := p.(vcluster.Sleeper); ok && meta.IsStatusConditionTrue(vc.Status.Conditions, lifecycle.ConditionSleeping) {
		if err := s.Resume(ctx, vc); err != nil {
			return fmt.Errorf("resuming: %w", err)
		}
	}
	req, err := vcluster.NewRequest(ctx, e.client, vc)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	// A provisioner that finds a dead component and restarts it within
	// Provision (before a reconcile could show the death: one right after
	// the first start, while the cached object does not say Ready yet)
	// reports a "restart" step: the death is shown after the fact.
	restarted := ""
	req.Progress = func(pr vcluster.Progress) {
		if pr.Step == "restart" {
			restarted = "restarted: " + pr.Message
			e.exited.Store(key, restarted)
		}
	}
	res, err := p.Provision(ctx, req)
	if err != nil {
		return err
	}
	if res.Sleeping {
		s, ok := p.(vcluster.Sleeper)
		if !ok {
			return lifecycle.Permanent(fmt.Errorf("provisioner %s reports the control plane asleep but cannot resume it", vc.EffectiveProvisioner()))
		}
		if err := s.Resume(ctx, vc); err != nil {
			return fmt.Errorf("resuming: %w", err)
		}
		return lifecycle.Wait(time.Second, "resuming the control plane")
	}
	vc.Status.Endpoint = res.Endpoint
	vc.Status.KubernetesVersion = res.KubernetesVersion
	vc.Status.Provisioner = vc.EffectiveProvisioner()
	if !res.Ready {
		return lifecycle.Wait(res.RequeueAfter, "%s", orDefault(res.Message, "control plane starting"))
	}
	if restarted != "" {
		if healthy := meta.FindStatusCondition(vc.Status.Conditions, ConditionComponentsHealthy); healthy == nil || healthy.Status != metav1.ConditionFalse {
			meta.SetStatusCondition(&vc.Status.Conditions, metav1.Condition{Type: ConditionComponentsHealthy, Status: metav1.ConditionFalse, Reason: "ComponentExited", Message: restarted, ObservedGeneration: vc.Generation})
			e.recorder("vclusterkit-virtualcluster").Eventf(vc, nil, corev1.EventTypeWarning, "ComponentExited", "Health", "%s", restarted)
			return lifecycle.Wait(time.Second, "control plane %s", restarted)
		}
	}
	e.exited.Delete(key)
	meta.SetStatusCondition(&vc.Status.Conditions, metav1.Condition{Type: ConditionComponentsHealthy, Status: metav1.ConditionTrue, Reason: "Running", Message: "every component runs", ObservedGeneration: vc.Generation})
	return nil
}

// exitKey is the key of a virtual cluster in Engine.exited.
func exitKey(hostNamespace, name string) string { return hostNamespace + "/" + name }

func kubeconfigSecretName(vc *vcluster.VirtualCluster) string { return vc.Name + "-kubeconfig" }

func (e *Engine) vcKubeconfig(ctx context.Context, vc *vcluster.VirtualCluster) error {
	p, err := e.provisioner(vc)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	kc, err := p.Kubeconfig(ctx, vc)
	if err != nil {
		return err
	}
	sec := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name: kubeconfigSecretName(vc), Namespace: vc.Namespace,
			Labels: map[string]string{LabelManagedBy: managedBy, vcluster.LabelVirtualCluster: vc.Name},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{kubeconfig.DefaultSecretKey: kc},
	}
	if err := ctrl.SetControllerReference(vc, sec, e.mgr.GetScheme()); err != nil {
		return err
	}
	if err := e.apply(ctx, sec); err != nil {
		return err
	}
	vc.Status.KubeconfigSecret = &vcluster.SecretRef{Name: sec.Name, Key: kubeconfig.DefaultSecretKey}
	return nil
}

// virtualClient is an admin client of the virtual API server.
func (e *Engine) virtualClient(ctx context.Context, vc *vcluster.VirtualCluster) (client.Client, error) {
	p, err := e.provisioner(vc)
	if err != nil {
		return nil, err
	}
	kc, err := p.Kubeconfig(ctx, vc)
	if err != nil {
		return nil, err
	}
	cfg, err := kubeconfig.RESTConfig(kc)
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{})
}

// vcAccess binds the tenant's effective members inside the virtual
// cluster and writes a kubeconfig Secret per User member when the
// provisioner can issue them.
func (e *Engine) vcAccess(ctx context.Context, vc *vcluster.VirtualCluster) error {
	s, err := e.snapshot(ctx)
	if err != nil {
		return err
	}
	eff, err := s.tree.EffectiveMembers(vc.Spec.Tenant)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	members := make([]tenancy.Member, 0, len(eff))
	for _, m := range eff {
		members = append(members, m.Member)
	}
	vcl, err := e.virtualClient(ctx, vc)
	if err != nil {
		return err
	}
	if err := kubeconfig.BindMembers(ctx, vcl, members); err != nil {
		return err
	}
	p, err := e.provisioner(vc)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	keep := map[string]bool{kubeconfigSecretName(vc): true}
	if _, ok := p.(vcluster.UserKubeconfigIssuer); ok {
		for _, m := range members {
			if m.Kind != tenancy.MemberUser {
				continue
			}
			kc, err := kubeconfig.ForMember(ctx, p, vc, m)
			if err != nil {
				return fmt.Errorf("kubeconfig for %s: %w", m.Name, err)
			}
			sec := &corev1.Secret{
				TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
				ObjectMeta: metav1.ObjectMeta{
					Name: MemberKubeconfigSecret(vc.Name, m.Name), Namespace: vc.Namespace,
					Labels: map[string]string{LabelManagedBy: managedBy, vcluster.LabelVirtualCluster: vc.Name, "vcluster.vclusterkit.io/user": dnsSafe(m.Name)},
				},
				Type: corev1.SecretTypeOpaque,
				Data: map[string][]byte{kubeconfig.DefaultSecretKey: kc},
			}
			if err := ctrl.SetControllerReference(vc, sec, e.mgr.GetScheme()); err != nil {
				return err
			}
			if err := e.apply(ctx, sec); err != nil {
				return err
			}
			keep[sec.Name] = true
		}
	}
	// Kubeconfigs of members who left are revoked.
	var secrets corev1.SecretList
	if err := e.client.List(ctx, &secrets, client.InNamespace(vc.Namespace), client.MatchingLabels{LabelManagedBy: managedBy, vcluster.LabelVirtualCluster: vc.Name}); err != nil {
		return err
	}
	for i := range secrets.Items {
		if !keep[secrets.Items[i].Name] {
			if err := client.IgnoreNotFound(e.client.Delete(ctx, &secrets.Items[i])); err != nil {
				return err
			}
		}
	}
	return nil
}

// MemberKubeconfigSecret names the Secret holding a member's kubeconfig for
// a virtual cluster (in the VirtualCluster's namespace, key "config").
func MemberKubeconfigSecret(vcName, user string) string {
	return vcName + "-kubeconfig-" + dnsSafe(user)
}

func (e *Engine) vcSyncer(ctx context.Context, vc *vcluster.VirtualCluster) error {
	s, err := e.snapshot(ctx)
	if err != nil {
		return err
	}
	pol, err := effectivePolicy(s, vc)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	syncers, err := e.opts.Syncers(vc, pol)
	if err != nil {
		return lifecycle.Permanent(fmt.Errorf("spec.sync: %w", err))
	}
	p, err := e.provisioner(vc)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	kc, err := p.Kubeconfig(ctx, vc)
	if err != nil {
		return err
	}
	cfg, err := kubeconfig.RESTConfig(kc)
	if err != nil {
		return err
	}
	spec := syncerSpec{
		name: vc.Name, hostNamespace: vc.EffectiveHostNamespace(), config: cfg, syncers: syncers,
		generation: vc.Generation,
	}
	if spec.hostNamespace != vc.Namespace {
		// A dedicated host namespace: pods are admitted against the quota
		// in process, so a refusal shows on the virtual pod.
		spec.admit = e.quotaAdmit(vc.Spec.Tenant)
	}
	return e.syncers.ensure(ctx, syncKey(vc), spec)
}

func syncKey(vc *vcluster.VirtualCluster) string { return vc.Namespace + "/" + vc.Name }

func (e *Engine) vcStopSyncer(ctx context.Context, vc *vcluster.VirtualCluster) error {
	return e.syncers.stop(ctx, syncKey(vc))
}

func (e *Engine) vcPause(ctx context.Context, vc *vcluster.VirtualCluster) error {
	p, err := e.provisioner(vc)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	s, ok := p.(vcluster.Sleeper)
	if !ok {
		return lifecycle.Permanent(fmt.Errorf("spec.sleep: provisioner %s cannot put a control plane to sleep", vc.EffectiveProvisioner()))
	}
	return s.Pause(ctx, vc)
}

func (e *Engine) vcRevoke(ctx context.Context, vc *vcluster.VirtualCluster) error {
	var secrets corev1.SecretList
	if err := e.client.List(ctx, &secrets, client.InNamespace(vc.Namespace), client.MatchingLabels{LabelManagedBy: managedBy, vcluster.LabelVirtualCluster: vc.Name}); err != nil {
		return err
	}
	for i := range secrets.Items {
		if err := client.IgnoreNotFound(e.client.Delete(ctx, &secrets.Items[i])); err != nil {
			return err
		}
	}
	if ns := vc.EffectiveHostNamespace(); ns != vc.Namespace {
		return nil // the namespace goes as a whole, with its RoleBindings
	}
	return e.revokeAccess(ctx, vc.Namespace, nil)
}

// vcDeleteWorkloads deletes every host object the virtual cluster's syncer
// made (they carry its managed label) and waits until no pod is left.
func (e *Engine) vcDeleteWorkloads(ctx context.Context, vc *vcluster.VirtualCluster) error {
	ns := vc.EffectiveHostNamespace()
	sel := client.MatchingLabels{vcluster.LabelVirtualCluster: vc.Name}
	left := 0
	for _, list := range []client.ObjectList{&corev1.PodList{}, &corev1.ServiceList{}, &corev1.ConfigMapList{}, &corev1.SecretList{}, &corev1.PersistentVolumeClaimList{}} {
		if err := e.client.List(ctx, list, client.InNamespace(ns), sel); err != nil {
			return err
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		for _, it := range items {
			o := it.(client.Object)
			if o.GetLabels()[LabelManagedBy] == managedBy {
				continue // the engine's own (kubeconfig Secrets) went with access
			}
			left++
			if o.GetDeletionTimestamp().IsZero() {
				if err := e.client.Delete(ctx, o, client.GracePeriodSeconds(0)); client.IgnoreNotFound(err) != nil {
					return err
				}
			}
		}
	}
	if left > 0 {
		return lifecycle.Wait(time.Second, "waiting for %d synced host objects to be deleted", left)
	}
	return nil
}

func (e *Engine) vcDeprovision(ctx context.Context, vc *vcluster.VirtualCluster) error {
	p, err := e.provisioner(vc)
	if err != nil {
		if errors.Is(err, vcluster.ErrUnknownProvisioner) {
			// Nothing was ever provisioned by a provisioner we do not have.
			return nil
		}
		return err
	}
	if err := p.Deprovision(ctx, vc); err != nil {
		return err
	}
	e.exited.Delete(exitKey(vc.EffectiveHostNamespace(), vc.Name))
	return nil
}

func (e *Engine) vcDeleteHostNamespace(ctx context.Context, vc *vcluster.VirtualCluster) error {
	ns := vc.EffectiveHostNamespace()
	if ns == vc.Namespace {
		return nil
	}
	return e.deleteNamespace(ctx, vcNamespace(vc))
}

func vcNamespace(vc *vcluster.VirtualCluster) hostNamespace {
	return hostNamespace{Name: vc.EffectiveHostNamespace(), Tenant: vc.Spec.Tenant, VirtualCluster: vc.Name, Owner: vc}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
