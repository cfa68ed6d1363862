package poddisruptionbudgets

import (
	"context"

	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// ReasonInvalid refuses a budget.
const ReasonInvalid = "InvalidPodDisruptionBudget"

// Syncer syncs PodDisruptionBudgets to the host with their selector scoped
// to the virtual cluster and namespace, so a budget can never block the
// eviction of another tenant's pods. Status flows back.
type Syncer struct{}

var _ syncer.Syncer = (*Syncer)(nil)

// New returns a PodDisruptionBudget syncer.
func New() *Syncer { return &Syncer{} }

// Name implements syncer.Syncer.
func (*Syncer) Name() string { return "poddisruptionbudgets" }

// New implements syncer.Syncer.
func (*Syncer) New() client.Object { return &policyv1.PodDisruptionBudget{} }

// ToHost implements syncer.Syncer.
func (*Syncer) ToHost(_ context.Context, sc *syncer.Context, obj client.Object) (client.Object, error) {
	h, err := ToHost(sc.Translator, obj.(*policyv1.PodDisruptionBudget))
	if err != nil {
		return nil, syncer.Refuse(ReasonInvalid, "%v", err)
	}
	return h, nil
}

// ToHost returns the host copy's spec with a scoped selector.
func ToHost(tr *translate.Translator, v *policyv1.PodDisruptionBudget) (*policyv1.PodDisruptionBudget, error) {
	spec := v.Spec.DeepCopy()
	sel, err := tr.ScopeSelector(field.NewPath("spec", "selector"), v.Namespace, spec.Selector)
	if err != nil {
		return nil, err
	}
	spec.Selector = sel
	return &policyv1.PodDisruptionBudget{Spec: *spec}, nil
}

// ToVirtual implements syncer.Syncer: the host's disruption status flows
// back (disrupted pods are keyed by host pod names; they are dropped).
func (*Syncer) ToVirtual(ctx context.Context, sc *syncer.Context, obj, hostObj client.Object) (syncer.Result, error) {
	v, h := obj.(*policyv1.PodDisruptionBudget), hostObj.(*policyv1.PodDisruptionBudget)
	st := *h.Status.DeepCopy()
	st.DisruptedPods = nil
	st.ObservedGeneration = v.Generation
	if equality.Semantic.DeepEqual(v.Status, st) {
		return syncer.Result{}, nil
	}
	nv := v.DeepCopy()
	nv.Status = st
	return syncer.Result{}, sc.Virtual.Status().Update(ctx, nv)
}
