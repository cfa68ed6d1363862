package vcluster

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BackingStoreType names the datastore behind a virtual cluster's API server.
// +kubebuilder:validation:Enum=sqlite;etcd;postgres
type BackingStoreType string

const (
	// BackingStoreSQLite is kine on an SQLite file owned by the provisioner (the default).
	BackingStoreSQLite BackingStoreType = "sqlite"
	// BackingStoreEtcd is etcd: run by the provisioner, or external when a DSN is given.
	BackingStoreEtcd BackingStoreType = "etcd"
	// BackingStorePostgres is kine on PostgreSQL; a DSN is required.
	BackingStorePostgres BackingStoreType = "postgres"
)

// SecretKeyRef points at one key of a Secret in the VirtualCluster's namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Key inside the Secret's data.
	// +kubebuilder:validation:MinLength=1
	Key string `json:"key"`
}

// BackingStore configures the datastore of the virtual API server.
type BackingStore struct {
	// Type of the store; empty means sqlite.
	// +optional
	Type BackingStoreType `json:"type,omitempty"`
	// DSNSecretRef names the Secret key holding the data source name:
	// required for postgres ("postgres://user:pass@host:5432/db?sslmode=disable"),
	// optional for etcd (comma-separated client URLs of an external etcd; when
	// absent the provisioner runs etcd itself), forbidden for sqlite.
	// +optional
	DSNSecretRef *SecretKeyRef `json:"dsnSecretRef,omitempty"`
}

// NodeSyncMode says what nodes a virtual cluster sees.
// +kubebuilder:validation:Enum=Fake;Real
type NodeSyncMode string

const (
	// NodeSyncFake shows one fake node per host node that runs a synced pod.
	NodeSyncFake NodeSyncMode = "Fake"
	// NodeSyncReal copies the host nodes that run synced pods.
	NodeSyncReal NodeSyncMode = "Real"
)

// SyncSpec says which kinds the syncer copies and in which direction. Kinds
// are lower-case plural resource names ("pods", "configmaps"); empty lists
// mean the syncer's defaults.
type SyncSpec struct {
	// ToHost lists the kinds synced from the virtual cluster to the host.
	// +optional
	// +listType=set
	ToHost []string `json:"toHost,omitempty"`
	// FromHost lists the kinds synced from the host into the virtual cluster.
	// +optional
	// +listType=set
	FromHost []string `json:"fromHost,omitempty"`
	// Nodes selects fake or real nodes inside the virtual cluster; empty means Fake.
	// +optional
	Nodes NodeSyncMode `json:"nodes,omitempty"`
	// AllConfigMaps syncs every ConfigMap, not only those a synced pod references.
	// +optional
	AllConfigMaps bool `json:"allConfigMaps,omitempty"`
	// AllSecrets syncs every Secret, not only those a synced pod references.
	// Secrets hold credentials: set it only when every Secret of the virtual
	// cluster may be copied into the tenant's host namespace.
	// +optional
	AllSecrets bool `json:"allSecrets,omitempty"`
}

// IsolationOverrides tighten the owning tenant's policy for this virtual
// cluster. They may only be as strict as or stricter than the tenant's
// effective policy; see ValidateIsolation.
type IsolationOverrides struct {
	// PodSecurity is the Pod Security Standard synced pods must meet.
	// +optional
	// +kubebuilder:validation:Enum=privileged;baseline;restricted
	PodSecurity string `json:"podSecurity,omitempty"`
	// NetworkIsolation is the NetworkPolicy mode for synced pods.
	// +optional
	// +kubebuilder:validation:Enum=none;tenant;strict
	NetworkIsolation string `json:"networkIsolation,omitempty"`
}

// SleepSpec configures putting the control plane to sleep. A sleeping
// virtual cluster keeps every object; only its processes stop.
type SleepSpec struct {
	// AfterInactivity puts the virtual cluster to sleep after this long
	// without API requests; nil means never by inactivity.
	// +optional
	AfterInactivity *metav1.Duration `json:"afterInactivity,omitempty"`
	// Paused asks for the control plane to sleep now.
	// +optional
	Paused bool `json:"paused,omitempty"`
}

// ExposeType says how the virtual API server is reachable from outside the host.
// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
type ExposeType string

// Expose types.
const (
	ExposeClusterIP    ExposeType = "ClusterIP"
	ExposeNodePort     ExposeType = "NodePort"
	ExposeLoadBalancer ExposeType = "LoadBalancer"
)

// ExposeSpec configures how the virtual API server is reached.
type ExposeSpec struct {
	// Type of the Service in front of the API server; empty means ClusterIP.
	// Provisioners that run no Service (local) ignore it.
	// +optional
	Type ExposeType `json:"type,omitempty"`
	// Hostname is a DNS name clients use; it is added to the serving certificate.
	// +optional
	Hostname string `json:"hostname,omitempty"`
	// ExtraSANs are further DNS names or IP addresses for the serving certificate.
	// +optional
	// +listType=set
	ExtraSANs []string `json:"extraSANs,omitempty"`
}

// VirtualClusterSpec is the desired state of a virtual cluster.
// +kubebuilder:validation:XValidation:rule="has(self.hostNamespace) == has(oldSelf.hostNamespace) && (!has(self.hostNamespace) || self.hostNamespace == oldSelf.hostNamespace)",message="hostNamespace is immutable"
// +kubebuilder:validation:XValidation:rule="(has(self.provisioner) ? self.provisioner : 'local') == (has(oldSelf.provisioner) ? oldSelf.provisioner : 'local')",message="provisioner is immutable"
// +kubebuilder:validation:XValidation:rule="(has(self.backingStore) && has(self.backingStore.type) ? self.backingStore.type : 'sqlite') == (has(oldSelf.backingStore) && has(oldSelf.backingStore.type) ? oldSelf.backingStore.type : 'sqlite')",message="backingStore.type is immutable"
type VirtualClusterSpec struct {
	// Tenant is the name of the owning tenancy Tenant.
	// +kubebuilder:validation:MinLength=1
	Tenant string `json:"tenant"`
	// HostNamespace is the host namespace the control plane and synced
	// workloads live in; empty means the VirtualCluster's own namespace.
	// Immutable.
	// +optional
	HostNamespace string `json:"hostNamespace,omitempty"`
	// Provisioner names the registered provisioner that runs the control
	// plane; empty means "local". Immutable.
	// +optional
	Provisioner string `json:"provisioner,omitempty"`
	// KubernetesVersion of the virtual control plane, "v1.37" or "v1.37.2";
	// empty means DefaultKubernetesVersion. Only SupportedKubernetesVersions
	// are accepted.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// BackingStore of the virtual API server; the zero value is SQLite. Immutable.
	// +optional
	BackingStore BackingStore `json:"backingStore,omitempty"`
	// Sync settings for the syncer.
	// +optional
	Sync SyncSpec `json:"sync,omitempty"`
	// Isolation overrides that tighten the tenant's policy.
	// +optional
	Isolation *IsolationOverrides `json:"isolation,omitempty"`
	// Sleep settings.
	// +optional
	Sleep *SleepSpec `json:"sleep,omitempty"`
	// Expose settings.
	// +optional
	Expose *ExposeSpec `json:"expose,omitempty"`
	// Placement chooses the host cluster when several are registered
	// (package fleet); nil means the fleet's default rule.
	// +optional
	Placement *Placement `json:"placement,omitempty"`
	// Values are provisioner-specific settings (for the helm provisioner:
	// chart values merged over the derived ones).
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Values *apiextensionsv1.JSON `json:"values,omitempty"`
}

// Phase is a coarse summary of a virtual cluster's state; conditions hold the detail.
// +kubebuilder:validation:Enum=Pending;Provisioning;Running;Sleeping;Failed;Deleting
type Phase string

// Phases.
const (
	PhasePending      Phase = "Pending"
	PhaseProvisioning Phase = "Provisioning"
	PhaseRunning      Phase = "Running"
	PhaseSleeping     Phase = "Sleeping"
	PhaseFailed       Phase = "Failed"
	PhaseDeleting     Phase = "Deleting"
)

// SecretRef names a Secret key in a given namespace.
type SecretRef struct {
	// Namespace of the Secret.
	Namespace string `json:"namespace"`
	// Name of the Secret.
	Name string `json:"name"`
	// Key holding the data.
	Key string `json:"key"`
}

// VirtualClusterStatus is the observed state of a virtual cluster.
type VirtualClusterStatus struct {
	// ObservedGeneration is the generation the status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase summarises the state.
	// +optional
	Phase Phase `json:"phase,omitempty"`
	// Conditions: ControlPlaneReady, SyncerReady, Sleeping, Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Endpoint is the URL of the virtual API server.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// KubeconfigSecret holds the admin kubeconfig.
	// +optional
	KubeconfigSecret *SecretRef `json:"kubeconfigSecret,omitempty"`
	// KubernetesVersion actually running.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// Provisioner that provisioned the control plane.
	// +optional
	Provisioner string `json:"provisioner,omitempty"`
}

// VirtualCluster is a tenant's own Kubernetes API server running on the host.
// It lives in a namespace of the owning tenant.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=vc;vcs,categories=vclusterkit
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenant`
// +kubebuilder:printcolumn:name="Provisioner",type=string,JSONPath=`.spec.provisioner`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoint`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 40",message="metadata.name may have at most 40 characters (MaxNameLength)"
type VirtualCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   VirtualClusterSpec   `json:"spec,omitempty"`
	Status VirtualClusterStatus `json:"status,omitempty"`
}

// VirtualClusterList is a list of VirtualClusters.
// +kubebuilder:object:root=true
type VirtualClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VirtualCluster `json:"items"`
}

func init() {
	SchemeBuilder.Register(&VirtualCluster{}, &VirtualClusterList{})
}

// EffectiveHostNamespace is Spec.HostNamespace, or the object's namespace when empty.
func (vc *VirtualCluster) EffectiveHostNamespace() string {
	if vc.Spec.HostNamespace != "" {
		return vc.Spec.HostNamespace
	}
	return vc.Namespace
}

// EffectiveProvisioner is Spec.Provisioner, or DefaultProvisioner when empty.
func (vc *VirtualCluster) EffectiveProvisioner() string {
	if vc.Spec.Provisioner != "" {
		return vc.Spec.Provisioner
	}
	return DefaultProvisioner
}

// EffectiveBackingStore is Spec.BackingStore.Type, or sqlite when empty.
func (vc *VirtualCluster) EffectiveBackingStore() BackingStoreType {
	if vc.Spec.BackingStore.Type != "" {
		return vc.Spec.BackingStore.Type
	}
	return BackingStoreSQLite
}

// Placement names the host cluster a virtual cluster runs on, directly or
// through a fleet ClusterClaim of the same tenant; at most one of the two
// is set. Neither means the fleet's default placement rule. A single-host
// engine ignores it. (The same shape as tenancy.Placement, repeated so this
// package does not import tenancy.)
// +kubebuilder:validation:XValidation:rule="!(has(self.cluster) && has(self.claim))",message="placement: set cluster or claim, not both"
type Placement struct {
	// Cluster is the name of a fleet Cluster.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Cluster string `json:"cluster,omitempty"`
	// Claim is the name of a fleet ClusterClaim; the virtual cluster runs
	// on the cluster the claim is bound to.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Claim string `json:"claim,omitempty"`
}
