package tenancy

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MemberKind says whether a Member is a user or a group.
// +kubebuilder:validation:Enum=User;Group
type MemberKind string

// Member kinds.
const (
	MemberUser  MemberKind = "User"
	MemberGroup MemberKind = "Group"
)

// Role is what a member may do in a tenant and its whole subtree.
// +kubebuilder:validation:Enum=admin;edit;view
type Role string

// Roles, from most to least powerful.
const (
	RoleAdmin Role = "admin"
	RoleEdit  Role = "edit"
	RoleView  Role = "view"
)

// rank orders roles: a higher rank includes every right of a lower one.
func (r Role) rank() int {
	switch r {
	case RoleView:
		return 1
	case RoleEdit:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// PodSecurityLevel is a Pod Security Standard level.
// +kubebuilder:validation:Enum=privileged;baseline;restricted
type PodSecurityLevel string

// Pod Security Standard levels, from loosest to tightest.
const (
	PodSecurityPrivileged PodSecurityLevel = "privileged"
	PodSecurityBaseline   PodSecurityLevel = "baseline"
	PodSecurityRestricted PodSecurityLevel = "restricted"
)

func (l PodSecurityLevel) rank() int {
	switch l {
	case PodSecurityPrivileged:
		return 1
	case PodSecurityBaseline:
		return 2
	case PodSecurityRestricted:
		return 3
	}
	return 0
}

// IsolationMode is how far a tenant's workloads are cut off on the network.
// +kubebuilder:validation:Enum=none;tenant;strict
type IsolationMode string

// Isolation modes, from loosest to tightest.
const (
	// IsolationNone adds no NetworkPolicies.
	IsolationNone IsolationMode = "none"
	// IsolationTenant allows traffic within the tenant's subtree only.
	IsolationTenant IsolationMode = "tenant"
	// IsolationStrict allows traffic within one space or virtual cluster only.
	IsolationStrict IsolationMode = "strict"
)

func (m IsolationMode) rank() int {
	switch m {
	case IsolationNone:
		return 1
	case IsolationTenant:
		return 2
	case IsolationStrict:
		return 3
	}
	return 0
}

// Member grants a user or a group a role in a tenant and, by inheritance,
// in every descendant.
// +kubebuilder:object:generate=true
type Member struct {
	// Kind is User or Group.
	// +required
	Kind MemberKind `json:"kind"`
	// Name is the user or group name as the authenticator reports it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Role is admin, edit or view.
	// +required
	Role Role `json:"role"`
}

// LimitRangeDefaults are the container defaults rendered into a LimitRange
// in each of the tenant's host namespaces.
// +kubebuilder:object:generate=true
type LimitRangeDefaults struct {
	// Default limits for containers that set none.
	// +optional
	Default corev1.ResourceList `json:"default,omitempty"`
	// DefaultRequest is the request for containers that set none.
	// +optional
	DefaultRequest corev1.ResourceList `json:"defaultRequest,omitempty"`
	// Max is the largest limit a container may set.
	// +optional
	Max corev1.ResourceList `json:"max,omitempty"`
	// Min is the smallest request a container may set.
	// +optional
	Min corev1.ResourceList `json:"min,omitempty"`
}

// Policy is what a tenant's subtree may do. Children inherit it and may
// only tighten it. An empty field means "inherit from the parent", or
// "unrestricted" at a root.
// +kubebuilder:object:generate=true
type Policy struct {
	// PodSecurity is the Pod Security Standard enforced on workloads.
	// +optional
	PodSecurity PodSecurityLevel `json:"podSecurity,omitempty"`
	// NetworkIsolation is the NetworkPolicy isolation mode.
	// +optional
	NetworkIsolation IsolationMode `json:"networkIsolation,omitempty"`
	// AllowedProvisioners names the virtual-cluster provisioners the
	// subtree may use. Empty means all; a child may only narrow the list.
	// +optional
	// +listType=set
	AllowedProvisioners []string `json:"allowedProvisioners,omitempty"`
	// AllowedClusters names the host clusters (fleet Clusters) the
	// subtree's spaces, virtual clusters and cluster claims may be placed
	// on. Empty means all; a child may only narrow the list.
	// +optional
	// +listType=set
	AllowedClusters []string `json:"allowedClusters,omitempty"`
	// AllowedStorageClasses, empty means all.
	// +optional
	// +listType=set
	AllowedStorageClasses []string `json:"allowedStorageClasses,omitempty"`
	// AllowedIngressClasses, empty means all.
	// +optional
	// +listType=set
	AllowedIngressClasses []string `json:"allowedIngressClasses,omitempty"`
	// AllowedRuntimeClasses, empty means all.
	// +optional
	// +listType=set
	AllowedRuntimeClasses []string `json:"allowedRuntimeClasses,omitempty"`
	// AllowedPriorityClasses, empty means all.
	// +optional
	// +listType=set
	AllowedPriorityClasses []string `json:"allowedPriorityClasses,omitempty"`
	// NodeSelector is forced onto every pod of the subtree. A child may add
	// keys but not change an inherited value.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// RequiredNamespaceLabels are set on every host namespace of the
	// subtree. A child may add keys but not change an inherited value.
	// +optional
	RequiredNamespaceLabels map[string]string `json:"requiredNamespaceLabels,omitempty"`
	// RequiredNamespaceAnnotations, like RequiredNamespaceLabels.
	// +optional
	RequiredNamespaceAnnotations map[string]string `json:"requiredNamespaceAnnotations,omitempty"`
	// SleepAfter puts virtual clusters to sleep after this much
	// inactivity. A child may only shorten it.
	// +optional
	SleepAfter *metav1.Duration `json:"sleepAfter,omitempty"`
	// MaxVirtualClusters caps the virtual clusters of the whole subtree. A
	// child may only lower it. Stores check only that; counting is done
	// where virtual clusters are admitted.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxVirtualClusters *int32 `json:"maxVirtualClusters,omitempty"`
	// MaxSpaces caps the spaces of the whole subtree. A child may only
	// lower it; counting is done where spaces are admitted.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxSpaces *int32 `json:"maxSpaces,omitempty"`
}

// TenantSpec is the desired state of a Tenant.
// +kubebuilder:object:generate=true
type TenantSpec struct {
	// Parent is the name of the parent tenant; empty for a root.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Parent string `json:"parent,omitempty"`
	// DisplayName is a human-readable name.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	DisplayName string `json:"displayName,omitempty"`
	// Members are granted their role in this tenant and every descendant.
	// +optional
	// +listType=map
	// +listMapKey=kind
	// +listMapKey=name
	Members []Member `json:"members,omitempty"`
	// Quota is the hard limit for the tenant's whole subtree. A child's
	// quota may not exceed its parent's.
	// +optional
	Quota corev1.ResourceList `json:"quota,omitempty"`
	// LimitRange holds container defaults for the tenant's namespaces.
	// +optional
	LimitRange *LimitRangeDefaults `json:"limitRange,omitempty"`
	// Policy is inherited by every descendant, which may only tighten it.
	// +optional
	Policy Policy `json:"policy,omitempty"`
}

// TenantStatus is the observed state of a Tenant.
// +kubebuilder:object:generate=true
type TenantStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready, QuotaExceeded, PolicyValid...
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Usage is the observed resource usage of the whole subtree: what the
	// tenant's quota limits.
	// +optional
	Usage corev1.ResourceList `json:"usage,omitempty"`
	// OwnUsage is the part of Usage charged to the tenant itself (its own
	// spaces and virtual clusters), without its descendants.
	// +optional
	OwnUsage corev1.ResourceList `json:"ownUsage,omitempty"`
	// Spaces is the observed number of spaces in the subtree.
	// +optional
	Spaces int32 `json:"spaces,omitempty"`
	// VirtualClusters is the observed number of virtual clusters in the
	// subtree.
	// +optional
	VirtualClusters int32 `json:"virtualClusters,omitempty"`
}

// Tenant is a node of the organisation tree: an org, a team or a project.
// It owns spaces and virtual clusters; its members, quota and policy apply
// to its whole subtree.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=tn
// +kubebuilder:subresource:status
// +kubebuilder:selectablefield:JSONPath=`.spec.parent`
// +kubebuilder:printcolumn:name="Parent",type=string,JSONPath=`.spec.parent`
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="metadata.name must be no more than 63 characters"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS-1123 label: lower case alphanumerics and '-', starting and ending with an alphanumeric"
// +kubebuilder:validation:XValidation:rule="!(self.metadata.name in ['default', 'kube-system', 'kube-public', 'kube-node-lease'])",message="metadata.name is reserved"
// +kubebuilder:validation:XValidation:rule="!has(self.spec) || !has(self.spec.parent) || self.spec.parent != self.metadata.name",message="spec.parent must not name the tenant itself"
type Tenant struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec TenantSpec `json:"spec,omitempty"`
	// +optional
	Status TenantStatus `json:"status,omitempty"`
}

// TenantList is a list of Tenants. Its ResourceVersion is the version a
// watch resumes from to see every later change.
//
// +kubebuilder:object:root=true
type TenantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Tenant `json:"items"`
}
