package ingresses

import (
	"context"
	"fmt"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// Refusal reasons.
const (
	ReasonHostClaimed = "IngressHostClaimed"
	ReasonInvalid     = "InvalidIngress"
)

// Options configure the Ingress syncer.
type Options struct {
	// AllowedIngressClasses limits spec.ingressClassName; empty allows all.
	// UpdatePolicy replaces it at run time.
	AllowedIngressClasses []string
}

// Syncer syncs Ingresses to the host. A host name already claimed on the
// host by an Ingress this virtual cluster does not own (another tenant's,
// or the platform's) is refused. The check reads every Ingress of the host
// (uncached), so the engine's host identity needs to list Ingresses in all
// namespaces. Two tenants claiming the same new host at the same instant
// can both pass the check; the first one synced keeps it on later
// reconciles only if the other is refused then (it is, on its next update).
type Syncer struct {
	// allowed is the current AllowedIngressClasses (nil: all).
	allowed syncer.AllowedNames
}

var (
	_ syncer.Syncer        = (*Syncer)(nil)
	_ syncer.PolicyUpdater = (*Syncer)(nil)
)

// New returns an Ingress syncer.
func New(opts Options) *Syncer {
	s := &Syncer{}
	s.allowed.Set(opts.AllowedIngressClasses)
	return s
}

// UpdatePolicy implements syncer.PolicyUpdater: the allowed ingress
// classes are replaced, and every Ingress is checked again. One refused
// before is synced if now allowed; one synced before whose class is no
// longer allowed is refused like a new one: its host copy is deleted (an
// Ingress holds no data, and leaving it would keep routing through a class
// the tenant may no longer use), and a SyncRefused event says why. It
// comes back if the policy allows it again.
func (s *Syncer) UpdatePolicy(p syncer.Policy) bool {
	return s.allowed.Set(p.AllowedIngressClasses)
}

// Name implements syncer.Syncer.
func (*Syncer) Name() string { return "ingresses" }

// New implements syncer.Syncer.
func (*Syncer) New() client.Object { return &networkingv1.Ingress{} }

// ToHost implements syncer.Syncer.
func (s *Syncer) ToHost(ctx context.Context, sc *syncer.Context, obj client.Object) (client.Object, error) {
	v := obj.(*networkingv1.Ingress)
	if allowed := s.allowed.Get(); len(allowed) > 0 {
		class := ""
		if v.Spec.IngressClassName != nil {
			class = *v.Spec.IngressClassName
		}
		if !slices.Contains(allowed, class) {
			return nil, syncer.Refuse(ReasonInvalid, "spec.ingressClassName: %q is not allowed (allowed: %v)", class, allowed)
		}
	}
	h, err := ToHostIngress(sc.Translator, v)
	if err != nil {
		return nil, syncer.Refuse(ReasonInvalid, "%v", err)
	}
	hosts := Hosts(v)
	if len(hosts) > 0 {
		var all networkingv1.IngressList
		if err := sc.HostReader.List(ctx, &all); err != nil {
			return nil, fmt.Errorf("list host ingresses: %w", err)
		}
		self := sc.Translator.HostName(v.Name, v.Namespace)
		for _, other := range all.Items {
			if other.Namespace == sc.Translator.HostNamespace() && other.Name == self && sc.Translator.IsManaged(&other) {
				continue
			}
			// Another ingress of the same virtual cluster may share a host
			// (as within one cluster); anyone else's may not.
			if sc.Translator.IsManaged(&other) && other.Namespace == sc.Translator.HostNamespace() {
				continue
			}
			for _, mine := range hosts {
				for _, theirs := range Hosts(&other) {
					if Overlap(mine, theirs) {
						owner := "the host"
						if o := translate.Owner(&other); o != "" {
							owner = "another virtual cluster"
						}
						return nil, syncer.Refuse(ReasonHostClaimed, "host %q is already claimed by %s (%q)", mine, owner, theirs)
					}
				}
			}
		}
	}
	return h, nil
}

// ToVirtual implements syncer.Syncer: the load balancer status flows back.
func (*Syncer) ToVirtual(ctx context.Context, sc *syncer.Context, obj, hostObj client.Object) (syncer.Result, error) {
	v, h := obj.(*networkingv1.Ingress), hostObj.(*networkingv1.Ingress)
	if equality.Semantic.DeepEqual(v.Status, h.Status) {
		return syncer.Result{}, nil
	}
	nv := v.DeepCopy()
	nv.Status = *h.Status.DeepCopy()
	return syncer.Result{}, sc.Virtual.Status().Update(ctx, nv)
}
