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
