package fleet

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterClaimSpec is a tenant's request for room on a cluster.
type ClusterClaimSpec struct {
	// Tenant owns the claim; the tenant policy's AllowedClusters bound it.
	// Immutable.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.tenant is immutable"
	Tenant string `json:"tenant"`
	// Selector chooses clusters by their labels; nil means any.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Class chooses clusters whose Spec.Class is this; empty means any.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Class string `json:"class,omitempty"`
	// Resources the claim needs free on the cluster (cpu, memory, pods…).
	// +optional
	Resources corev1.ResourceList `json:"resources,omitempty"`
}

// ClusterClaimStatus is the observed state of a ClusterClaim.
type ClusterClaimStatus struct {
	// Cluster the claim is bound to; once set it never changes.
	// +optional
	Cluster string `json:"cluster,omitempty"`
	// Conditions: Bound.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ClusterClaim is a tenant's request for room on a host cluster, bound to
// one Cluster by the placement policy (see Place). Spaces and
// VirtualClusters name it in spec.placement.claim.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=ccl
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenant`
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.status.cluster`
// +kubebuilder:printcolumn:name="Bound",type=string,JSONPath=`.status.conditions[?(@.type=="Bound")].reason`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name must be no more than 63 characters"
type ClusterClaim struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ClusterClaimSpec `json:"spec"`
	// +optional
	Status ClusterClaimStatus `json:"status,omitempty"`
}

// ClusterClaimList is a list of ClusterClaims.
//
// +kubebuilder:object:root=true
type ClusterClaimList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterClaim `json:"items"`
}
