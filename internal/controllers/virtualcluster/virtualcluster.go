// Package virtualcluster is the engine's VirtualCluster controller.
//
// Provisioning: validate (spec, tenant policy, claims) → host namespace with
// quota, policies and access → control plane through the registered
// provisioner → admin kubeconfig Secret → member access inside the virtual
// cluster and per-member kubeconfig Secrets → syncer → activity (sleep
// after inactivity). Teardown, in order: revoke access → stop syncing →
// delete synced workloads → deprovision the control plane → delete the
// host namespace.
//
// Each virtual cluster's syncer runs inside the engine's process, sharing
// the host cache (syncers.go: newSyncerSpec builds what one runs with). A
// provisioner that reports control-plane exits (vcluster.ExitReporter) is
// subscribed to while the manager runs.
package virtualcluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/vclusterkit/vclusterkit/internal/hostns"
	"github.com/vclusterkit/vclusterkit/internal/names"
	"github.com/vclusterkit/vclusterkit/internal/snapshot"
	"github.com/vclusterkit/vclusterkit/internal/ssa"
	"github.com/vclusterkit/vclusterkit/lifecycle"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/dns"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

// SyncersFunc returns the syncers for one virtual cluster, given the
// owning tenant's effective policy with the virtual cluster's overrides
// applied.
type SyncersFunc func(vc *vcluster.VirtualCluster, policy tenancy.Policy) ([]syncer.Syncer, error)

// Reconciler reconciles VirtualClusters. Fields without "optional" are
// required; SetupWithManager checks them.
type Reconciler struct {
	Client       client.Client
	Recorder     lifecycle.Recorder
	Snapshots    *snapshot.Reader
	Namespaces   *hostns.Shaper
	Provisioners *vcluster.Registry
	Syncers      SyncersFunc
	// SyncHost is the host side every syncer shares.
	SyncHost *syncer.Host
	// QuotaAdmit, optional, is the in-process quota admission of a tenant's
	// pods in a dedicated host namespace.
	QuotaAdmit func(tenant string) syncer.AdmitFunc
	// Registerer receives the syncers' metrics; optional (nil:
	// controller-runtime's metrics.Registry).
	Registerer prometheus.Registerer
	// ResyncAfter requeues Ready virtual clusters; zero means 30 s.
	ResyncAfter time.Duration
	// Customize edits the steps; optional.
	Customize lifecycle.Customize[*vcluster.VirtualCluster]
	// DNS is applied inside every virtual cluster (step DNSApplied); its
	// zero value is the default DNS, Disabled leaves it out.
	DNS dns.Options

	scheme   *runtime.Scheme
	syncers  *syncerSet
	activity *activityTracker
	// dnsApplied paces the DNS step.
	dnsApplied dnsApplied
	// exited holds, per virtual cluster (exitKey), the control-plane
	// process death reported by the provisioner and not yet recovered from.
	exited sync.Map
	// exits carries reported deaths from the provisioners' goroutines to
	// followExits; a full channel already holds a wake-up.
	exits chan vcluster.ComponentExit
}

// SetupWithManager registers the controller, the runnable that owns the
// syncers and the one that follows control-plane exits with mgr.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	switch {
	case r.Client == nil:
		return errors.New("virtualcluster.Reconciler: Client is required")
	case r.Recorder == nil:
		return errors.New("virtualcluster.Reconciler: Recorder is required")
	case r.Snapshots == nil:
		return errors.New("virtualcluster.Reconciler: Snapshots is required")
	case r.Namespaces == nil:
		return errors.New("virtualcluster.Reconciler: Namespaces is required")
	case r.Provisioners == nil:
		return errors.New("virtualcluster.Reconciler: Provisioners is required")
	case r.Syncers == nil:
		return errors.New("virtualcluster.Reconciler: Syncers is required")
	case r.SyncHost == nil:
		return errors.New("virtualcluster.Reconciler: SyncHost is required")
	}
	resync := r.ResyncAfter
	if resync == 0 {
		resync = 30 * time.Second
	}
	r.scheme = mgr.GetScheme()
	r.syncers = newSyncerSet(r.SyncHost, r.Registerer)
	r.activity = newActivityTracker()
	r.dnsApplied.every = dnsReapplyResyncs * resync
	r.exits = make(chan vcluster.ComponentExit, 64)
	lr := &lifecycle.Reconciler[*vcluster.VirtualCluster]{
		Name:      "virtualcluster",
		Client:    r.Client,
		Recorder:  r.Recorder,
		Finalizer: vcluster.FinalizerVirtualCluster,
		NewObject: func() *vcluster.VirtualCluster { return &vcluster.VirtualCluster{} },
		Status: lifecycle.StatusAccess[*vcluster.VirtualCluster]{
			Conditions:         func(v *vcluster.VirtualCluster) *[]metav1.Condition { return &v.Status.Conditions },
			ObservedGeneration: func(v *vcluster.VirtualCluster) *int64 { return &v.Status.ObservedGeneration },
			SetPhase:           setVCPhase,
		},
		Provision: lifecycle.Steps[*vcluster.VirtualCluster]{
			{Name: "Validated", Run: r.validated},
			{Name: "HostNamespaceReady", Run: r.hostNamespace},
			{Name: "ControlPlaneReady", Run: r.controlPlane},
			{Name: "KubeconfigReady", Run: r.kubeconfig},
			{Name: "AccessGranted", Run: r.access},
			{Name: "DNSApplied", Run: r.dns},
			{Name: "SyncerReady", Run: r.syncer},
			{Name: "ActivityChecked", Run: r.checkActivity},
		},
		ShouldSleep: shouldSleep,
		Sleep: lifecycle.Steps[*vcluster.VirtualCluster]{
			{Name: "SyncerStopped", Run: r.stopSyncer},
			{Name: "ControlPlanePaused", Run: r.pause},
		},
		Teardown: lifecycle.Steps[*vcluster.VirtualCluster]{
			{Name: "AccessRevoked", Run: r.revoke},
			{Name: "SyncingStopped", Run: r.stopSyncer},
			{Name: "WorkloadsDeleted", Run: r.deleteWorkloads},
			{Name: "ControlPlaneDeprovisioned", Run: r.deprovision},
			{Name: "HostNamespaceDeleted", Run: r.deleteHostNamespace},
		},
		ResyncAfter: resync,
	}
	if err := r.Customize.Apply(lr); err != nil {
		return err
	}
	if err := mgr.Add(manager.RunnableFunc(r.syncers.run)); err != nil {
		return err
	}
	// A control-plane process that exits wakes its VirtualCluster at once.
	wake := make(chan event.TypedGenericEvent[*vcluster.VirtualCluster], 64)
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error { return r.followExits(ctx, wake) })); err != nil {
		return err
	}
	byHostNamespace := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		name := o.GetLabels()[vcluster.LabelVirtualCluster]
		var list vcluster.VirtualClusterList
		if err := r.Client.List(ctx, &list); err != nil {
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
	return lr.SetupWithManager(mgr, func(b *ctrl.Builder) *ctrl.Builder {
		return b.WatchesRawSource(source.Channel(wake, &handler.TypedEnqueueRequestForObject[*vcluster.VirtualCluster]{})).
			Watches(&corev1.Namespace{}, byHostNamespace, withLabel(vcluster.LabelVirtualCluster)).
			Watches(&tenancy.Tenant{}, handler.EnqueueRequestsFromMapFunc(r.bySubtree), builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	})
}

// bySubtree maps a tenant whose spec changed to the virtual clusters of
// its subtree: its policy is part of theirs, and their running syncers
// must follow it within seconds, not at the next resync.
func (r *Reconciler) bySubtree(ctx context.Context, o client.Object) []reconcile.Request {
	// The snapshot reader learns of the change from its own handler on the
	// same informer, which may run after this one: make sure the
	// reconciles this enqueues build a snapshot that holds the change.
	r.Snapshots.Changed()
	subtree := map[string]bool{o.GetName(): true}
	if s, err := r.Snapshots.Get(ctx); err == nil && s.Tree.Has(o.GetName()) {
		for _, t := range s.Tree.Subtree(o.GetName()) {
			subtree[t] = true
		}
	}
	var list vcluster.VirtualClusterList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if subtree[list.Items[i].Spec.Tenant] {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

func withLabel(key string) builder.Predicates {
	return builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
		_, ok := o.GetLabels()[key]
		return ok
	}))
}

// followExits subscribes to every provisioner that reports control-plane
// exits, and turns each exit into a wake-up of its VirtualCluster, until
// ctx ends.
func (r *Reconciler) followExits(ctx context.Context, wake chan<- event.TypedGenericEvent[*vcluster.VirtualCluster]) error {
	for _, name := range r.Provisioners.Names() {
		p, err := r.Provisioners.Get(name)
		if err != nil {
			continue
		}
		if er, ok := p.(vcluster.ExitReporter); ok {
			defer er.ReportExits(r.componentExited)()
		}
	}
	for {
		var x vcluster.ComponentExit
		select {
		case <-ctx.Done():
			return nil
		case x = <-r.exits:
		}
		var list vcluster.VirtualClusterList
		if err := r.Client.List(ctx, &list); err != nil {
			continue
		}
		for i := range list.Items {
			vc := &list.Items[i]
			if vc.Name == x.Name && vc.EffectiveHostNamespace() == x.HostNamespace {
				select {
				case wake <- event.TypedGenericEvent[*vcluster.VirtualCluster]{Object: vc}:
				case <-ctx.Done():
					return nil
				}
			}
		}
	}
}

// componentExited records a control-plane process death, so it shows on the
// VirtualCluster even when the reconcile it triggers reads an object from
// the cache that does not say Ready yet (a death right after the first
// start), and wakes followExits. It never blocks the provisioner.
func (r *Reconciler) componentExited(x vcluster.ComponentExit) {
	r.exited.Store(exitKey(x.HostNamespace, x.Name), fmt.Sprintf("not running: %s: %v", x.Component, x.Err))
	select {
	case r.exits <- x:
	default: // a full channel already holds a wake-up
	}
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
func effectivePolicy(s *tenancy.PartialTree, vc *vcluster.VirtualCluster) (tenancy.Policy, error) {
	pol, err := s.Tree.EffectivePolicy(vc.Spec.Tenant)
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

func (r *Reconciler) validated(ctx context.Context, vc *vcluster.VirtualCluster) error {
	if errs := vcluster.Validate(vc); len(errs) > 0 {
		return lifecycle.Permanent(errs.ToAggregate())
	}
	s, err := r.Snapshots.Get(ctx)
	if err != nil {
		return err
	}
	if !s.Tree.Has(vc.Spec.Tenant) {
		return lifecycle.Wait(5*time.Second, "tenant %q does not exist", vc.Spec.Tenant)
	}
	pol, err := s.Tree.EffectivePolicy(vc.Spec.Tenant)
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
	if _, err := r.Provisioners.Get(prov); err != nil {
		return lifecycle.Permanent(fmt.Errorf("spec.provisioner: %w", err))
	}
	if err := vcluster.CheckClaim(ctx, r.Client, vc); err != nil {
		return lifecycle.Permanent(err)
	}
	var list vcluster.VirtualClusterList
	if err := r.Client.List(ctx, &list); err != nil {
		return err
	}
	all := make([]hostns.Counted, 0, len(list.Items))
	for i := range list.Items {
		all = append(all, hostns.Counted{Obj: &list.Items[i], Tenant: list.Items[i].Spec.Tenant})
	}
	if err := hostns.OverLimit(s, vc, vc.Spec.Tenant, all, "virtual clusters", func(p tenancy.Policy) *int32 { return p.MaxVirtualClusters }); err != nil {
		return lifecycle.Permanent(err)
	}
	return nil
}

func (r *Reconciler) hostNamespace(ctx context.Context, vc *vcluster.VirtualCluster) error {
	s, err := r.Snapshots.Get(ctx)
	if err != nil {
		return err
	}
	pol, err := effectivePolicy(s, vc)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	hn := hostns.ForVirtualCluster(vc)
	if hn.Name != vc.Namespace {
		// A separate host namespace is the engine's to create and own.
		if err := r.Namespaces.EnsureNamespace(ctx, s, hn); err != nil {
			return err
		}
	}
	if err := r.Namespaces.EnsureQuota(ctx, s, hn); err != nil {
		return err
	}
	// No member RoleBindings here: tenants use their virtual cluster, and
	// the host namespace is the syncer's alone. Pods that reach it are the
	// ones the syncer checked (pod security, quota), and the syncer's marks
	// on them cannot be forged by a tenant.
	return r.Namespaces.EnsureNetworkPolicies(ctx, s, hn, pol.NetworkIsolation)
}

func (r *Reconciler) provisioner(vc *vcluster.VirtualCluster) (vcluster.Provisioner, error) {
	return r.Provisioners.Get(vc.EffectiveProvisioner())
}

func (r *Reconciler) controlPlane(ctx context.Context, vc *vcluster.VirtualCluster) error {
	p, err := r.provisioner(vc)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	// A process that died shows on the object before it is brought back:
	// as the provisioner reported it (vcluster.ExitReporter), or as its Health
	// says once the control plane had been ready.
	key := exitKey(vc.EffectiveHostNamespace(), vc.Name)
	summary := ""
	if v, ok := r.exited.Load(key); ok {
		summary = v.(string)
	} else if hr, ok := p.(vcluster.HealthReporter); ok && meta.IsStatusConditionTrue(vc.Status.Conditions, "ControlPlaneReady") {
		if h, err := hr.Health(ctx, vc); err == nil && !h.Ready && !h.Sleeping {
			summary = h.Summary()
		}
	}
	if summary != "" {
		healthy := meta.FindStatusCondition(vc.Status.Conditions, vcluster.ConditionComponentsHealthy)
		if healthy == nil || healthy.Status != metav1.ConditionFalse {
			meta.SetStatusCondition(&vc.Status.Conditions, metav1.Condition{Type: vcluster.ConditionComponentsHealthy, Status: metav1.ConditionFalse, Reason: "ComponentExited", Message: summary, ObservedGeneration: vc.Generation})
			r.Recorder.Eventf(vc, nil, corev1.EventTypeWarning, "ComponentExited", "Health", "%s", summary)
			return lifecycle.Wait(time.Second, "control plane unhealthy: %s; restarting", summary)
		}
	}
	if s, ok := p.(vcluster.Sleeper); ok && meta.IsStatusConditionTrue(vc.Status.Conditions, lifecycle.ConditionSleeping) {
		if err := s.Resume(ctx, vc); err != nil {
			return fmt.Errorf("resuming: %w", err)
		}
	}
	req, err := vcluster.NewRequest(ctx, r.Client, vc)
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
			r.exited.Store(key, restarted)
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
		if healthy := meta.FindStatusCondition(vc.Status.Conditions, vcluster.ConditionComponentsHealthy); healthy == nil || healthy.Status != metav1.ConditionFalse {
			meta.SetStatusCondition(&vc.Status.Conditions, metav1.Condition{Type: vcluster.ConditionComponentsHealthy, Status: metav1.ConditionFalse, Reason: "ComponentExited", Message: restarted, ObservedGeneration: vc.Generation})
			r.Recorder.Eventf(vc, nil, corev1.EventTypeWarning, "ComponentExited", "Health", "%s", restarted)
			return lifecycle.Wait(time.Second, "control plane %s", restarted)
		}
	}
	r.exited.Delete(key)
	// A recovery keeps the last exit on the object (Reason Recovered) until
	// the health changes again: the False condition may last a single
	// reconcile, too short for anyone watching to see it.
	switch prev := meta.FindStatusCondition(vc.Status.Conditions, vcluster.ConditionComponentsHealthy); {
	case prev != nil && prev.Status == metav1.ConditionFalse && prev.Reason == "ComponentExited":
		meta.SetStatusCondition(&vc.Status.Conditions, metav1.Condition{Type: vcluster.ConditionComponentsHealthy, Status: metav1.ConditionTrue, Reason: "Recovered",
			Message: "every component runs again; last exit (" + prev.LastTransitionTime.UTC().Format(time.RFC3339) + "): " + prev.Message, ObservedGeneration: vc.Generation})
	case prev == nil || prev.Status != metav1.ConditionTrue:
		meta.SetStatusCondition(&vc.Status.Conditions, metav1.Condition{Type: vcluster.ConditionComponentsHealthy, Status: metav1.ConditionTrue, Reason: "Running", Message: "every component runs", ObservedGeneration: vc.Generation})
	default:
		prev.ObservedGeneration = vc.Generation
	}
	return nil
}

// exitKey is the key of a virtual cluster in Enginr.exited.
func exitKey(hostNamespace, name string) string { return hostNamespace + "/" + name }

func (r *Reconciler) kubeconfig(ctx context.Context, vc *vcluster.VirtualCluster) error {
	p, err := r.provisioner(vc)
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
			Name: names.KubeconfigSecret(vc.Name), Namespace: vc.Namespace,
			Labels: map[string]string{hostns.LabelManagedBy: hostns.ManagedBy, vcluster.LabelVirtualCluster: vc.Name},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{kubeconfig.DefaultSecretKey: kc},
	}
	if err := ctrl.SetControllerReference(vc, sec, r.scheme); err != nil {
		return err
	}
	if err := ssa.Apply(ctx, r.Client, sec); err != nil {
		return err
	}
	vc.Status.KubeconfigSecret = &vcluster.SecretRef{Name: sec.Name, Key: kubeconfig.DefaultSecretKey}
	return nil
}

// virtualClient is an admin client of the virtual API server.
func (r *Reconciler) virtualClient(ctx context.Context, vc *vcluster.VirtualCluster) (client.Client, error) {
	p, err := r.provisioner(vc)
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

// access binds the tenant's effective members inside the virtual
// cluster and writes a kubeconfig Secret per User member when the
// provisioner can issue them.
func (r *Reconciler) access(ctx context.Context, vc *vcluster.VirtualCluster) error {
	s, err := r.Snapshots.Get(ctx)
	if err != nil {
		return err
	}
	eff, err := s.Tree.EffectiveMembers(vc.Spec.Tenant)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	members := make([]tenancy.Member, 0, len(eff))
	for _, m := range eff {
		members = append(members, m.Member)
	}
	vcl, err := r.virtualClient(ctx, vc)
	if err != nil {
		return err
	}
	if err := kubeconfig.BindMembers(ctx, vcl, members); err != nil {
		return err
	}
	p, err := r.provisioner(vc)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	keep := map[string]bool{names.KubeconfigSecret(vc.Name): true}
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
					Name: names.MemberKubeconfigSecret(vc.Name, m.Name), Namespace: vc.Namespace,
					Labels: map[string]string{hostns.LabelManagedBy: hostns.ManagedBy, vcluster.LabelVirtualCluster: vc.Name, "vcluster.vclusterkit.io/user": names.DNSSafe(m.Name)},
				},
				Type: corev1.SecretTypeOpaque,
				Data: map[string][]byte{kubeconfig.DefaultSecretKey: kc},
			}
			if err := ctrl.SetControllerReference(vc, sec, r.scheme); err != nil {
				return err
			}
			if err := ssa.Apply(ctx, r.Client, sec); err != nil {
				return err
			}
			keep[sec.Name] = true
		}
	}
	// Kubeconfigs of members who left are revoked.
	var secrets corev1.SecretList
	if err := r.Client.List(ctx, &secrets, client.InNamespace(vc.Namespace), client.MatchingLabels{hostns.LabelManagedBy: hostns.ManagedBy, vcluster.LabelVirtualCluster: vc.Name}); err != nil {
		return err
	}
	for i := range secrets.Items {
		if !keep[secrets.Items[i].Name] {
			if err := client.IgnoreNotFound(r.Client.Delete(ctx, &secrets.Items[i])); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Reconciler) syncer(ctx context.Context, vc *vcluster.VirtualCluster) error {
	spec, err := r.newSyncerSpec(ctx, vc)
	if err != nil {
		return err
	}
	return r.syncers.ensure(ctx, syncKey(vc), spec)
}

func syncKey(vc *vcluster.VirtualCluster) string { return vc.Namespace + "/" + vc.Name }

func (r *Reconciler) stopSyncer(ctx context.Context, vc *vcluster.VirtualCluster) error {
	r.forgetDNS(vc)
	return r.syncers.stop(syncKey(vc))
}

func (r *Reconciler) pause(ctx context.Context, vc *vcluster.VirtualCluster) error {
	p, err := r.provisioner(vc)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	s, ok := p.(vcluster.Sleeper)
	if !ok {
		return lifecycle.Permanent(fmt.Errorf("spec.sleep: provisioner %s cannot put a control plane to sleep", vc.EffectiveProvisioner()))
	}
	return s.Pause(ctx, vc)
}

func (r *Reconciler) revoke(ctx context.Context, vc *vcluster.VirtualCluster) error {
	var secrets corev1.SecretList
	if err := r.Client.List(ctx, &secrets, client.InNamespace(vc.Namespace), client.MatchingLabels{hostns.LabelManagedBy: hostns.ManagedBy, vcluster.LabelVirtualCluster: vc.Name}); err != nil {
		return err
	}
	for i := range secrets.Items {
		if err := client.IgnoreNotFound(r.Client.Delete(ctx, &secrets.Items[i])); err != nil {
			return err
		}
	}
	if ns := vc.EffectiveHostNamespace(); ns != vc.Namespace {
		return nil // the namespace goes as a whole, with its RoleBindings
	}
	return r.Namespaces.RevokeAccess(ctx, vc.Namespace, nil)
}

// deleteWorkloads deletes every host object the virtual cluster's syncer
// made (they carry its managed label) and waits until no pod is left.
func (r *Reconciler) deleteWorkloads(ctx context.Context, vc *vcluster.VirtualCluster) error {
	ns := vc.EffectiveHostNamespace()
	sel := client.MatchingLabels{vcluster.LabelVirtualCluster: vc.Name}
	left := 0
	for _, list := range []client.ObjectList{&corev1.PodList{}, &corev1.ServiceList{}, &corev1.ConfigMapList{}, &corev1.SecretList{}, &corev1.PersistentVolumeClaimList{}} {
		if err := r.Client.List(ctx, list, client.InNamespace(ns), sel); err != nil {
			return err
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		for _, it := range items {
			o := it.(client.Object)
			if o.GetLabels()[hostns.LabelManagedBy] == hostns.ManagedBy {
				continue // the engine's own (kubeconfig Secrets) went with access
			}
			left++
			if o.GetDeletionTimestamp().IsZero() {
				if err := r.Client.Delete(ctx, o, client.GracePeriodSeconds(0)); client.IgnoreNotFound(err) != nil {
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

func (r *Reconciler) deprovision(ctx context.Context, vc *vcluster.VirtualCluster) error {
	p, err := r.provisioner(vc)
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
	r.exited.Delete(exitKey(vc.EffectiveHostNamespace(), vc.Name))
	return nil
}

func (r *Reconciler) deleteHostNamespace(ctx context.Context, vc *vcluster.VirtualCluster) error {
	ns := vc.EffectiveHostNamespace()
	if ns == vc.Namespace {
		return nil
	}
	return r.Namespaces.DeleteNamespace(ctx, hostns.ForVirtualCluster(vc))
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
