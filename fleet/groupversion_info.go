// +kubebuilder:object:generate=true
// +groupName=fleet.vclusterkit.io
// +versionName=v1alpha1

package fleet

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// Group is the API group of Cluster and ClusterClaim.
const Group = "fleet.vclusterkit.io"

var (
	// GroupVersion is the group version of the fleet API.
	GroupVersion = schema.GroupVersion{Group: Group, Version: "v1alpha1"}

	// SchemeBuilder registers Cluster and ClusterClaim with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds Cluster, ClusterList, ClusterClaim and
	// ClusterClaimList to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func init() {
	SchemeBuilder.Register(&Cluster{}, &ClusterList{}, &ClusterClaim{}, &ClusterClaimList{})
}

// Labels, annotations and condition types of the fleet.
const (
	// AnnotationCluster is set by the placement controller on a Space or
	// VirtualCluster of the management API: the name of the Cluster it
	// was placed on. Once set it never changes (placement is sticky; a
	// lost cluster does not move what runs there).
	AnnotationCluster = "fleet.vclusterkit.io/cluster"
	// LabelMirrored marks the copies a Member writes into its host
	// cluster (value: the Cluster's name). A Member only ever updates or
	// deletes objects with this mark.
	LabelMirrored = "fleet.vclusterkit.io/mirrored-from"

	// ConditionReady on a Cluster: True while the management side can
	// reach it (a probe through its credential succeeds, or its agent's
	// heartbeat is recent); reason Unreachable otherwise.
	ConditionReady = "Ready"
	// ConditionBound on a ClusterClaim: True once bound (reason Placed,
	// the message says why that cluster); False with reason Unplaceable
	// and a message naming each cluster and why it does not fit.
	ConditionBound = "Bound"
	// ConditionPlaced on a Space or VirtualCluster of the management API:
	// True once it has a cluster (reason Placed); False with the reason
	// why not (ClaimNotFound, ClaimNotBound, ClusterNotFound,
	// ClusterNotAllowed, NoCluster).
	ConditionPlaced = "Placed"
	// ConditionClusterReachable on a placed Space or VirtualCluster: the
	// Ready condition of its Cluster, so that a lost cluster shows on
	// what runs there.
	ConditionClusterReachable = "ClusterReachable"

	// ReasonUnreachable is the Ready reason of a Cluster that cannot be
	// reached, and the ClusterReachable reason of what is placed on it.
	ReasonUnreachable = "Unreachable"
	// ReasonUnplaceable is the Bound reason of a claim no cluster fits.
	ReasonUnplaceable = "Unplaceable"
)
