package tenancy

import "strconv"

// Labels the engine owns on host namespaces and on the host objects it
// creates for a tenant. Tenants must not be able to set or change them.
const (
	// LabelTenant names the tenant that owns a host namespace or object.
	LabelTenant = "tenancy.vclusterkit.io/tenant"
	// LabelSpace names the Space a host object belongs to.
	LabelSpace = "tenancy.vclusterkit.io/space"
	// TreeLabelSuffix is appended to an ancestor's name to form its tree
	// label; see TreeLabel.
	TreeLabelSuffix = ".tree.tenancy.vclusterkit.io/depth"
)

// TreeLabel returns the HNC-style label key that marks a host namespace as
// part of ancestor's subtree. Its value is the distance from the
// namespace's tenant to ancestor as a decimal string ("0" for the tenant
// itself), so a selector {TreeLabel(t): Exists} selects t's whole subtree.
func TreeLabel(ancestor string) string {
	return ancestor + TreeLabelSuffix
}

// TreeLabels returns the tree labels for a namespace owned by the tenant
// whose path from the root is path (root first, the tenant last).
func TreeLabels(path []string) map[string]string {
	out := make(map[string]string, len(path))
	for i, name := range path {
		out[TreeLabel(name)] = strconv.Itoa(len(path) - 1 - i)
	}
	return out
}

// Finalizers and annotations the engine (the root package's Tenant and
// Space controllers) puts on Tenant and Space objects.
const (
	// FinalizerTenant is on every Tenant the engine reconciles; it is
	// removed once the tenant's teardown is done.
	FinalizerTenant = "tenancy.vclusterkit.io/tenant"
	// FinalizerSpace is on every Space the engine reconciles.
	FinalizerSpace = "tenancy.vclusterkit.io/space"

	// AnnotationCascade on a Tenant asks for its deletion to delete its
	// whole subtree (child tenants, spaces, virtual clusters). Without it,
	// deleting a tenant that still has any is refused: the tenant stays,
	// with a Deleting condition that lists what is in the way.
	AnnotationCascade = "tenancy.vclusterkit.io/cascade-delete"

	// AnnotationNamespaceUID on a Space or VirtualCluster records the UID
	// of the host namespace the engine created for it, which is how the
	// engine knows its namespace even after someone rewrote its labels.
	AnnotationNamespaceUID = "tenancy.vclusterkit.io/namespace-uid"

	// LabelProjected marks Tenant and Space objects on the host that the
	// engine projects from a tenancy.Store that is the source of truth.
	// Only objects with it are updated or deleted by the projection.
	LabelProjected = "tenancy.vclusterkit.io/projected"

	// LabelTemplate marks the objects a space template put in a space's
	// namespace; its value is the template's name.
	LabelTemplate = "tenancy.vclusterkit.io/template"
	// AnnotationTemplateKinds on a Space records the kinds of the objects
	// its template put in its namespace, so that the ones later dropped
	// from the template (all of them, when the Space's template is
	// removed) can be found and pruned.
	AnnotationTemplateKinds = "tenancy.vclusterkit.io/template-kinds"
)
