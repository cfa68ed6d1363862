// Package vcluster contains API Schema definitions for the vcluster v1alpha1 API group.
// +kubebuilder:object:generate=true
// +groupName=vcluster.vclusterkit.io
// +versionName=v1alpha1
package vcluster

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group version of the VirtualCluster API.
	GroupVersion = schema.GroupVersion{Group: "vcluster.vclusterkit.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this group version with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types of this group version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// LabelVirtualCluster marks host objects owned by a virtual cluster; the
// value is the VirtualCluster's name.
const LabelVirtualCluster = "vcluster.vclusterkit.io/name"

// LabelVirtualClusterNamespace marks host objects owned by a virtual cluster
// with the namespace of the owning VirtualCluster object.
const LabelVirtualClusterNamespace = "vcluster.vclusterkit.io/namespace"

// LabelTenant is the label the tenancy package puts on host objects of a
// tenant ("tenancy.vclusterkit.io/tenant"); repeated here so this package
// does not import tenancy for one string.
const LabelTenant = "tenancy.vclusterkit.io/tenant"

// Finalizer, annotation and condition the engine (the root package's
// VirtualCluster controller) uses on VirtualCluster objects.
const (
	// FinalizerVirtualCluster is on every VirtualCluster the engine
	// reconciles; it is removed once the teardown is done.
	FinalizerVirtualCluster = "vcluster.vclusterkit.io/virtualcluster"
	// AnnotationAsleepSince is set by the engine on a VirtualCluster it put
	// to sleep for inactivity (Spec.Sleep.AfterInactivity). Remove it, or
	// call the Engine's Wake, to wake the virtual cluster on demand; the
	// inactivity clock starts again then.
	AnnotationAsleepSince = "vcluster.vclusterkit.io/asleep-since"
	// ConditionComponentsHealthy is False (Reason ComponentExited) while a
	// control-plane process has died; the reconcile brings it back. Once
	// back it is True with Reason Recovered, its message naming the last
	// exit, until the health changes again; Reason Running otherwise. Each
	// exit is also a Warning event ComponentExited on the VirtualCluster.
	ConditionComponentsHealthy = "ComponentsHealthy"
)
