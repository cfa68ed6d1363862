package fleet

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConnectionMode says how the management side reaches a Cluster.
// +kubebuilder:validation:Enum=Credential;Agent
type ConnectionMode string

const (
	// ConnectionCredential: the management side holds a kubeconfig for the
	// cluster (a Secret) and connects to it.
	ConnectionCredential ConnectionMode = "Credential"
	// ConnectionAgent: an agent runs in the cluster and connects out to
	// the management API (package fleet/agent); the management side
	// never dials the cluster, so a cluster behind NAT works.
	ConnectionAgent ConnectionMode = "Agent"
)

// SecretKeyRef points at one key of a Secret.
type SecretKeyRef struct {
	// Namespace of the Secret.
	// +kubebuilder:validation:MinLength=1
	Namespace string `json:"namespace"`
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Key holding the kubeconfig; empty means "kubeconfig".
	// +optional
	Key string `json:"key,omitempty"`
}

// ClusterSpec is the desired state of a Cluster.
// +kubebuilder:validation:XValidation:rule="self.connection != 'Credential' || has(self.kubeconfigSecret)",message="spec.kubeconfigSecret is required when spec.connection is Credential"
type ClusterSpec struct {
	// Connection is how the cluster is reached.
	// +kubebuilder:default=Credential
	Connection ConnectionMode `json:"connection"`
	// KubeconfigSecret holds the credential (Connection Credential).
	// +optional
	KubeconfigSecret *SecretKeyRef `json:"kubeconfigSecret,omitempty"`
	// Class is matched by ClusterClaims that ask for a class.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Class string `json:"class,omitempty"`
	// Capacity overrides the room the cluster offers to claims; empty
	// means the sum of its nodes' allocatable resources, as observed.
	// +optional
	Capacity corev1.ResourceList `json:"capacity,omitempty"`
	// Unschedulable keeps new claims and placements off the cluster;
	// what runs there stays.
	// +optional
	Unschedulable bool `json:"unschedulable,omitempty"`
}

// ClusterStatus is the observed state of a Cluster.
type ClusterStatus struct {
	// Conditions: Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Capacity is the room the cluster offers: Spec.Capacity, else the sum
	// of its nodes' allocatable resources as last observed.
	// +optional
	Capacity corev1.ResourceList `json:"capacity,omitempty"`
	// Allocated is the sum of the resources of the claims bound to it.
	// +optional
	Allocated corev1.ResourceList `json:"allocated,omitempty"`
	// Nodes is the number of nodes last observed.
	// +optional
	Nodes int32 `json:"nodes,omitempty"`
	// KubernetesVersion last observed.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// LastHeartbeatTime is when the cluster was last reached (by a probe
	// or an agent's report).
	// +optional
	LastHeartbeatTime *metav1.Time `json:"lastHeartbeatTime,omitempty"`
}

// Cluster is a host cluster registered with the management side. Its
// labels are what ClusterClaims select on.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=hc
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Connection",type=string,JSONPath=`.spec.connection`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.nodes`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name must be no more than 63 characters"
type Cluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ClusterSpec `json:"spec"`
	// +optional
	Status ClusterStatus `json:"status,omitempty"`
}

// ClusterList is a list of Clusters.
//
// +kubebuilder:object:root=true
type ClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Cluster `json:"items"`
}
