// Deep-copy functions are generated only for the API types, which opt in
// one by one, not for the tree, validator and store types of this package.

// +groupName=tenancy.vclusterkit.io
// +versionName=v1alpha1

package tenancy

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

// Group is the API group of Tenant and Space.
const Group = "tenancy.vclusterkit.io"

var (
	// GroupVersion is the group version of the tenancy API.
	GroupVersion = schema.GroupVersion{Group: Group, Version: "v1alpha1"}

	// SchemeBuilder registers Tenant and Space with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds Tenant, TenantList, Space and SpaceList to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func init() {
	SchemeBuilder.Register(&Tenant{}, &TenantList{}, &Space{}, &SpaceList{})
}
