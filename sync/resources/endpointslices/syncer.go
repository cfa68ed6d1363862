package endpointslices

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// ManagedBy is the endpointslice.kubernetes.io/managed-by value of host
// copies, so the host's EndpointSlice controller leaves them alone.
const ManagedBy = "vclusterkit-syncer"

// Syncer syncs the EndpointSlices of virtual Services without a selector
// (whose endpoints the tenant manages) to the host, refusing slices with an
// address the address policy does not allow (see Options). Slices of
// Services with a selector are not synced: the host computes those from the
// synced pods.
type Syncer struct {
	policy policy
}

var (
	_ syncer.Syncer  = (*Syncer)(nil)
	_ syncer.Filter  = (*Syncer)(nil)
	_ syncer.Watcher = (*Syncer)(nil)
	_ syncer.Indexer = (*Syncer)(nil)
)

// New returns an EndpointSlice syncer. It fails when a DeniedCIDRs entry
// is not a CIDR, naming the entry.
func New(opts Options) (*Syncer, error) {
	p, err := newPolicy(opts)
	if err != nil {
		return nil, fmt.Errorf("endpointslices.New: %w", err)
	}
	return &Syncer{policy: p}, nil
}

// Name implements syncer.Syncer.
func (*Syncer) Name() string { return "endpointslices" }

// New implements syncer.Syncer.
func (*Syncer) New() client.Object { return &discoveryv1.EndpointSlice{} }

// ShouldSync implements syncer.Filter: only slices of selector-less
// services.
func (*Syncer) ShouldSync(ctx context.Context, sc *syncer.Context, obj client.Object) (bool, error) {
	svc := obj.GetLabels()[discoveryv1.LabelServiceName]
	if svc == "" {
		return false, nil
	}
	var s corev1.Service
	if err := sc.Virtual.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: svc}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return len(s.Spec.Selector) == 0 && !(s.Namespace == "default" && s.Name == "kubernetes"), nil
}

// IndexVirtual implements syncer.Indexer: slices are indexed by address.
func (*Syncer) IndexVirtual(ctx context.Context, indexer client.FieldIndexer) error {
	return indexer.IndexField(ctx, &discoveryv1.EndpointSlice{}, addressIndex, sliceAddresses)
}

// Watches implements syncer.Watcher: a Service changing (selector added or
// removed) reconciles its slices, and a host pod of this virtual cluster
// changing (getting an IP, terminating, going away) reconciles the slices
// naming its IPs, so a slice is refused and its host copy removed once an
// address stops being one of the tenant's pods.
func (*Syncer) Watches() []syncer.Watch {
	return []syncer.Watch{{Object: &corev1.Service{}, Map: serviceSlices}, {Object: &corev1.Pod{}, Host: true, Map: podSlices}}
}

// podSlices maps a host pod of this virtual cluster to the virtual slices
// naming one of its IPs.
func podSlices(ctx context.Context, sc *syncer.Context, obj client.Object) []types.NamespacedName {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Namespace != sc.Translator.HostNamespace() || !sc.Translator.IsManaged(p) {
		return nil
	}
	var out []types.NamespacedName
	seen := map[types.NamespacedName]bool{}
	for _, ip := range podIPs(p) {
		var l discoveryv1.EndpointSliceList
		if err := sc.Virtual.List(ctx, &l, client.MatchingFields{addressIndex: ip.String()}); err != nil {
			return out
		}
		for _, s := range l.Items {
			k := types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// serviceSlices maps a virtual Service to its slices.
func serviceSlices(ctx context.Context, sc *syncer.Context, obj client.Object) []types.NamespacedName {
	var l discoveryv1.EndpointSliceList
	if err := sc.Virtual.List(ctx, &l, client.InNamespace(obj.GetNamespace()), client.MatchingLabels{discoveryv1.LabelServiceName: obj.GetName()}); err != nil {
		return nil
	}
	var out []types.NamespacedName
	for _, s := range l.Items {
		out = append(out, types.NamespacedName{Namespace: s.Namespace, Name: s.Name})
	}
	return out
}

// ToHost implements syncer.Syncer: it refuses a slice with an address the
// policy does not allow (see Options), else returns ToHost of it.
func (s *Syncer) ToHost(ctx context.Context, sc *syncer.Context, obj client.Object) (client.Object, error) {
	v := obj.(*discoveryv1.EndpointSlice)
	if err := s.check(ctx, sc, v); err != nil {
		return nil, err
	}
	return ToHost(sc.Translator, v), nil
}

// ToHost returns the host copy of a slice: it names the host Service,
// is managed by the syncer, and its pod target references are translated.
func ToHost(tr *translate.Translator, v *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	h := &discoveryv1.EndpointSlice{AddressType: v.AddressType, Ports: v.Ports}
	h.Labels = map[string]string{
		discoveryv1.LabelServiceName: tr.HostName(v.Labels[discoveryv1.LabelServiceName], v.Namespace),
		discoveryv1.LabelManagedBy:   ManagedBy,
	}
	for _, ep := range v.Endpoints {
		ep = *ep.DeepCopy()
		if ep.TargetRef != nil {
			if ep.TargetRef.Kind == "Pod" {
				ep.TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: tr.HostNamespace(), Name: tr.HostName(ep.TargetRef.Name, v.Namespace)}
			} else {
				ep.TargetRef = nil
			}
		}
		ep.NodeName = nil
		h.Endpoints = append(h.Endpoints, ep)
	}
	return h
}

// ToVirtual implements syncer.Syncer; nothing flows back.
func (*Syncer) ToVirtual(context.Context, *syncer.Context, client.Object, client.Object) (syncer.Result, error) {
	return syncer.Result{}, nil
}
