package tenancy

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SpaceSpec is the desired state of a Space.
// +kubebuilder:object:generate=true
type SpaceSpec struct {
	// Tenant owns the space. It cannot change once set.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.tenant is immutable"
	Tenant string `json:"tenant"`
	// Quota is this space's slice of its tenant's quota.
	// +optional
	Quota corev1.ResourceList `json:"quota,omitempty"`
	// Labels are set on the host namespace besides the engine's own.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Template names a set of objects created in the namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Template string `json:"template,omitempty"`
	// Placement chooses the host cluster of the space when several are
	// registered (package fleet); nil means the fleet's default rule.
	// +optional
	Placement *Placement `json:"placement,omitempty"`
}

// Placement names the host cluster an object runs on, directly or through
// a fleet ClusterClaim of the same tenant; at most one of the two is set.
// Neither means the fleet's default placement rule. A single-host engine
// ignores it.
// +kubebuilder:object:generate=true
// +kubebuilder:validation:XValidation:rule="!(has(self.cluster) && has(self.claim))",message="placement: set cluster or claim, not both"
type Placement struct {
	// Cluster is the name of a fleet Cluster.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Cluster string `json:"cluster,omitempty"`
	// Claim is the name of a fleet ClusterClaim; the object runs on the
	// cluster the claim is bound to.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Claim string `json:"claim,omitempty"`
}

// SpaceStatus is the observed state of a Space.
// +kubebuilder:object:generate=true
type SpaceStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, NamespaceReady...
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Usage is the observed resource usage in the namespace.
	// +optional
	Usage corev1.ResourceList `json:"usage,omitempty"`
}

// Space is a host namespace owned by a tenant. The Space's name is the
// namespace's name.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=sp
// +kubebuilder:subresource:status
// +kubebuilder:selectablefield:JSONPath=`.spec.tenant`
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenant`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name must be no more than 63 characters"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS-1123 label: lower case alphanumerics and '-', starting and ending with an alphanumeric"
// +kubebuilder:validation:XValidation:rule="!(self.metadata.name in ['default', 'kube-system', 'kube-public', 'kube-node-lease'])",message="metadata.name is reserved"
type Space struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec SpaceSpec `json:"spec"`
	// +optional
	Status SpaceStatus `json:"status,omitempty"`
}

// SpaceList is a list of Spaces.
//
// +kubebuilder:object:root=true
type SpaceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Space `json:"items"`
}
