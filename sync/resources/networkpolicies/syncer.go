package networkpolicies

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// Reasons of the events and of the condition on virtual NetworkPolicies.
const (
	// ReasonInvalid refuses a policy the host cannot express (a label key
	// that cannot be escaped). No host copy exists then.
	ReasonInvalid = "InvalidNetworkPolicy"
	// ReasonIPBlockNarrowed: an ipBlock overlapped the host's ranges and
	// was narrowed (see the package documentation). The host copy exists.
	ReasonIPBlockNarrowed = "IPBlockNarrowed"
	// ReasonSynced: the host copy is the faithful translation.
	ReasonSynced = "Synced"
)

// AnnotationCondition on a virtual NetworkPolicy holds, as JSON, a
// metav1.Condition of type ConditionSynced: a NetworkPolicy has no status,
// so this is where a tenant reads why its policy was refused (status
// False) or narrowed (status True, reason IPBlockNarrowed). Set by the
// syncer only.
const AnnotationCondition = "vcluster.vclusterkit.io/sync-condition"

// ConditionSynced is the type of the condition in AnnotationCondition.
const ConditionSynced = "Synced"

// Options configure the NetworkPolicy syncer. The zero value is ready to
// use.
type Options struct {
	// HostCIDRs are the host's own ranges (pods, services, nodes, and any
	// other address a tenant must not reach through an ipBlock). ipBlocks
	// are narrowed to leave them out. nil means DefaultHostCIDRs(); a
	// non-nil empty slice protects no range. Add the host's ranges here
	// when they are not private addresses.
	HostCIDRs []string
}

// Syncer syncs NetworkPolicies written inside a virtual cluster to its
// host namespace, translated so they stay inside that virtual cluster.
// It is safe for concurrent use.
type Syncer struct {
	hostCIDRs []netip.Prefix
}

var (
	_ syncer.Syncer         = (*Syncer)(nil)
	_ syncer.Watcher        = (*Syncer)(nil)
	_ syncer.RefusalHandler = (*Syncer)(nil)
)

// New returns a NetworkPolicy syncer; it fails on a malformed
// Options.HostCIDRs entry, naming it.
func New(opts Options) (*Syncer, error) {
	cidrs, err := ParseHostCIDRs(field.NewPath("Options", "HostCIDRs"), opts.HostCIDRs)
	if err != nil {
		return nil, fmt.Errorf("networkpolicies.New: %w", err)
	}
	return &Syncer{hostCIDRs: cidrs}, nil
}

// Name implements syncer.Syncer.
func (*Syncer) Name() string { return "networkpolicies" }

// New implements syncer.Syncer.
func (*Syncer) New() client.Object { return &networkingv1.NetworkPolicy{} }

func (s *Syncer) translate(ctx context.Context, sc *syncer.Context, v *networkingv1.NetworkPolicy) (Output, error) {
	in := Input{Translator: sc.Translator, Policy: v, HostCIDRs: s.hostCIDRs}
	if usesNamespaceLabels(v) {
		var l corev1.NamespaceList
		if err := sc.Virtual.List(ctx, &l); err != nil {
			return Output{}, fmt.Errorf("%w: %w", errList, err)
		}
		in.Namespaces = l.Items
	}
	return ToHost(in)
}

// ToHost implements syncer.Syncer.
func (s *Syncer) ToHost(ctx context.Context, sc *syncer.Context, obj client.Object) (client.Object, error) {
	out, err := s.translate(ctx, sc, obj.(*networkingv1.NetworkPolicy))
	if err != nil {
		if errors.Is(err, errList) {
			return nil, err
		}
		return nil, syncer.Refuse(ReasonInvalid, "%v", err)
	}
	h := out.Policy
	if v := obj.GetLabels()[labelManagedBy]; v == managedByValue {
		// netpol/reconcile owns the host namespace's policies with this
		// label and would delete a tenant's copy that claims it.
		h.Labels = map[string]string{labelManagedBy: managedByTenant}
	}
	return h, nil
}

// The label with which netpol/reconcile recognises its own policies
// (netpol.LabelManagedBy, netpol.ManagedByValue; repeated here so the
// syncers do not depend on package netpol), and what a tenant's copy
// carries instead.
const (
	labelManagedBy  = "app.kubernetes.io/managed-by"
	managedByValue  = "vclusterkit"
	managedByTenant = "vclusterkit-tenant"
)

// ToVirtual implements syncer.Syncer: it keeps the condition annotation
// up to date, with a Warning event when an ipBlock was narrowed.
func (s *Syncer) ToVirtual(ctx context.Context, sc *syncer.Context, obj, _ client.Object) (syncer.Result, error) {
	v := obj.(*networkingv1.NetworkPolicy)
	out, err := s.translate(ctx, sc, v)
	if err != nil {
		// The host copy was just written from the same input; a failure
		// here is transient (the namespace list).
		return syncer.Result{}, err
	}
	cond := metav1.Condition{Type: ConditionSynced, Status: metav1.ConditionTrue, Reason: ReasonSynced, Message: "the host copy is in place"}
	if len(out.Narrowed) > 0 {
		cond.Reason, cond.Message = ReasonIPBlockNarrowed, strings.Join(out.Narrowed, "; ")
	}
	changed, err := setCondition(ctx, sc, v, cond)
	if err == nil && changed && cond.Reason == ReasonIPBlockNarrowed {
		sc.Recorder.Eventf(v, corev1.EventTypeWarning, ReasonIPBlockNarrowed, "%s", cond.Message)
	}
	return syncer.Result{}, err
}

// Refused implements syncer.RefusalHandler: the condition says why.
func (*Syncer) Refused(ctx context.Context, sc *syncer.Context, obj client.Object, refusal *syncer.RefusedError) error {
	_, err := setCondition(ctx, sc, obj.(*networkingv1.NetworkPolicy), metav1.Condition{Type: ConditionSynced, Status: metav1.ConditionFalse, Reason: refusal.Reason, Message: refusal.Message})
	return err
}

// Condition returns the condition the syncer recorded on a virtual
// policy, and false when there is none.
func Condition(v *networkingv1.NetworkPolicy) (metav1.Condition, bool) {
	var c metav1.Condition
	raw, ok := v.Annotations[AnnotationCondition]
	if !ok || json.Unmarshal([]byte(raw), &c) != nil {
		return metav1.Condition{}, false
	}
	return c, true
}

func setCondition(ctx context.Context, sc *syncer.Context, v *networkingv1.NetworkPolicy, c metav1.Condition) (bool, error) {
	if old, ok := Condition(v); ok && old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message && old.ObservedGeneration == v.Generation {
		return false, nil
	}
	c.ObservedGeneration = v.Generation
	c.LastTransitionTime = metav1.Now()
	raw, err := json.Marshal(c)
	if err != nil {
		return false, err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{AnnotationCondition: string(raw)}}})
	if err != nil {
		return false, err
	}
	if err := sc.Virtual.Patch(ctx, v.DeepCopy(), client.RawPatch(types.MergePatchType, patch)); err != nil {
		return false, client.IgnoreNotFound(fmt.Errorf("set condition: %w", err))
	}
	return true, nil
}

// errList marks a failure to read the virtual namespaces, which is
// retried rather than refused.
var errList = errors.New("list virtual namespaces")

// Watches implements syncer.Watcher: a namespace created, relabelled or
// deleted in the virtual cluster translates again every policy whose
// namespaceSelector looks at namespace labels.
func (*Syncer) Watches() []syncer.Watch {
	return []syncer.Watch{{
		Object: &corev1.Namespace{},
		Map: func(ctx context.Context, sc *syncer.Context, _ client.Object) []types.NamespacedName {
			var l networkingv1.NetworkPolicyList
			if err := sc.Virtual.List(ctx, &l); err != nil {
				return nil
			}
			var out []types.NamespacedName
			for i := range l.Items {
				if usesNamespaceLabels(&l.Items[i]) {
					out = append(out, client.ObjectKeyFromObject(&l.Items[i]))
				}
			}
			return out
		},
	}}
}
