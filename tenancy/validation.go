package tenancy

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ReservedNames are names no Tenant or Space may take: they are host
// namespaces Kubernetes itself owns.
func ReservedNames() []string {
	return []string{"default", "kube-node-lease", "kube-public", "kube-system"}
}

func isReserved(name string) bool {
	switch name {
	case "default", "kube-node-lease", "kube-public", "kube-system":
		return true
	}
	return false
}

// isDNSLabel is a fast path for validation.IsDNS1123Label, which is
// consulted only to word the error.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > validation.DNS1123LabelMaxLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// ValidateName checks a Tenant or Space name: a DNS-1123 label (at most 63
// characters of lower-case ASCII letters, digits and '-') that is not
// reserved.
func ValidateName(fld *field.Path, name string) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fld, "a name is required")}
	}
	if !isDNSLabel(name) {
		var errs field.ErrorList
		for _, msg := range validation.IsDNS1123Label(name) {
			errs = append(errs, field.Invalid(fld, name, msg))
		}
		return errs
	}
	if isReserved(name) {
		return field.ErrorList{field.Forbidden(fld, fmt.Sprintf("%q is reserved (reserved: %s)", name, strings.Join(ReservedNames(), ", ")))}
	}
	return nil
}

// ValidateTenant checks everything about a Tenant that can be checked
// without looking at other objects: names, enums, quantities, label syntax.
// The tree-level checks (parent exists, no cycle, depth, policy only
// tightens, quota within the parent's) are the Validator's.
func ValidateTenant(t *Tenant) field.ErrorList {
	var errs field.ErrorList
	if !isDNSLabel(t.Name) || isReserved(t.Name) {
		errs = ValidateName(field.NewPath("metadata", "name"), t.Name)
	}
	spec := field.NewPath("spec")
	if t.Spec.Parent != "" {
		pf := spec.Child("parent")
		if !isDNSLabel(t.Spec.Parent) {
			for _, msg := range validation.IsDNS1123Label(t.Spec.Parent) {
				errs = append(errs, field.Invalid(pf, t.Spec.Parent, msg))
			}
		} else if t.Spec.Parent == t.Name {
			errs = append(errs, field.Invalid(pf, t.Spec.Parent, "a tenant cannot be its own parent (cycle)"))
		}
	}
	if len(t.Spec.DisplayName) > 256 {
		errs = append(errs, field.TooLong(spec.Child("displayName"), "", 256))
	}
	if len(t.Spec.Members) > 0 {
		errs = append(errs, validateMembers(spec.Child("members"), t.Spec.Members)...)
	}
	if len(t.Spec.Quota) > 0 {
		errs = append(errs, ValidateResourceList(spec.Child("quota"), t.Spec.Quota)...)
	}
	if lr := t.Spec.LimitRange; lr != nil {
		f := spec.Child("limitRange")
		errs = append(errs, ValidateResourceList(f.Child("default"), lr.Default)...)
		errs = append(errs, ValidateResourceList(f.Child("defaultRequest"), lr.DefaultRequest)...)
		errs = append(errs, ValidateResourceList(f.Child("max"), lr.Max)...)
		errs = append(errs, ValidateResourceList(f.Child("min"), lr.Min)...)
	}
	if !t.Spec.Policy.isZero() {
		errs = append(errs, validatePolicy(spec.Child("policy"), &t.Spec.Policy)...)
	}
	return errs
}

// ValidateSpace checks a Space without looking at other objects.
func ValidateSpace(s *Space) field.ErrorList {
	errs := ValidateName(field.NewPath("metadata", "name"), s.Name)
	spec := field.NewPath("spec")
	tf := spec.Child("tenant")
	switch {
	case s.Spec.Tenant == "":
		errs = append(errs, field.Required(tf, "a space must name its tenant"))
	case !isDNSLabel(s.Spec.Tenant):
		for _, msg := range validation.IsDNS1123Label(s.Spec.Tenant) {
			errs = append(errs, field.Invalid(tf, s.Spec.Tenant, msg))
		}
	}
	errs = append(errs, ValidateResourceList(spec.Child("quota"), s.Spec.Quota)...)
	lf := spec.Child("labels")
	errs = append(errs, metav1validation.ValidateLabels(s.Spec.Labels, lf)...)
	for _, k := range sortedKeys(s.Spec.Labels) {
		if ownedKey(k) {
			errs = append(errs, field.Forbidden(lf.Key(k), "labels of the tenancy.vclusterkit.io domain are set by the engine only"))
		}
	}
	if len(s.Spec.Template) > 253 {
		errs = append(errs, field.TooLong(spec.Child("template"), "", 253))
	}
	return errs
}

// ownedKey reports whether a label key is one the engine owns.
func ownedKey(k string) bool {
	prefix, _, found := strings.Cut(k, "/")
	if !found {
		return false
	}
	return prefix == Group || strings.HasSuffix(prefix, "."+Group)
}

func validateMembers(fld *field.Path, members []Member) field.ErrorList {
	var errs field.ErrorList
	seen := make(map[Member]int, len(members))
	for i, m := range members {
		f := fld.Index(i)
		switch m.Kind {
		case MemberUser, MemberGroup:
		default:
			errs = append(errs, field.NotSupported(f.Child("kind"), m.Kind, []MemberKind{MemberUser, MemberGroup}))
		}
		if m.Name == "" {
			errs = append(errs, field.Required(f.Child("name"), ""))
		} else if len(m.Name) > 253 {
			errs = append(errs, field.TooLong(f.Child("name"), "", 253))
		}
		if m.Role.rank() == 0 {
			errs = append(errs, field.NotSupported(f.Child("role"), m.Role, []Role{RoleAdmin, RoleEdit, RoleView}))
		}
		key := Member{Kind: m.Kind, Name: m.Name}
		if j, dup := seen[key]; dup {
			errs = append(errs, field.Duplicate(f, fmt.Sprintf("%s %q is already listed at index %d", m.Kind, m.Name, j)))
		} else {
			seen[key] = i
		}
	}
	return errs
}

// ValidateResourceList checks that every resource name is valid and every
// quantity is non-negative.
func ValidateResourceList(fld *field.Path, rl corev1.ResourceList) field.ErrorList {
	var errs field.ErrorList
	for _, name := range sortedResourceNames(rl) {
		f := fld.Key(string(name))
		for _, msg := range validation.IsQualifiedName(string(name)) {
			errs = append(errs, field.Invalid(f, string(name), msg))
		}
		q := rl[name]
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(f, q.String(), "must be greater than or equal to 0"))
		}
	}
	return errs
}

// ParseResourceList turns user input such as {"cpu": "2", "memory": "4Gi"}
// into a ResourceList, naming each key whose quantity does not parse or is
// negative. Portals and CLIs use it before building a Tenant or Space.
func ParseResourceList(fld *field.Path, in map[string]string) (corev1.ResourceList, field.ErrorList) {
	out := make(corev1.ResourceList, len(in))
	var errs field.ErrorList
	for _, k := range sortedKeys(in) {
		q, err := resource.ParseQuantity(in[k])
		if err != nil {
			errs = append(errs, field.Invalid(fld.Key(k), in[k], "not a quantity: "+err.Error()))
			continue
		}
		out[corev1.ResourceName(k)] = q
	}
	errs = append(errs, ValidateResourceList(fld, out)...)
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

func validatePolicy(fld *field.Path, p *Policy) field.ErrorList {
	var errs field.ErrorList
	if p.PodSecurity != "" && p.PodSecurity.rank() == 0 {
		errs = append(errs, field.NotSupported(fld.Child("podSecurity"), p.PodSecurity,
			[]PodSecurityLevel{PodSecurityPrivileged, PodSecurityBaseline, PodSecurityRestricted}))
	}
	if p.NetworkIsolation != "" && p.NetworkIsolation.rank() == 0 {
		errs = append(errs, field.NotSupported(fld.Child("networkIsolation"), p.NetworkIsolation,
			[]IsolationMode{IsolationNone, IsolationTenant, IsolationStrict}))
	}
	for _, l := range listFields {
		if len(l.get(p)) > 0 {
			errs = append(errs, validateNameList(fld.Child(l.name), l.get(p))...)
		}
	}
	errs = append(errs, metav1validation.ValidateLabels(p.NodeSelector, fld.Child("nodeSelector"))...)
	errs = append(errs, metav1validation.ValidateLabels(p.RequiredNamespaceLabels, fld.Child("requiredNamespaceLabels"))...)
	lf := fld.Child("requiredNamespaceLabels")
	for _, k := range sortedKeys(p.RequiredNamespaceLabels) {
		if engineOwnedKey(k) {
			errs = append(errs, field.Forbidden(lf.Key(k), "keys of the engine's own domains (*tenancy.vclusterkit.io, vcluster.vclusterkit.io) carry tenancy and are set by the engine only"))
		}
	}
	af := fld.Child("requiredNamespaceAnnotations")
	for _, k := range sortedKeys(p.RequiredNamespaceAnnotations) {
		for _, msg := range validation.IsQualifiedName(strings.ToLower(k)) {
			errs = append(errs, field.Invalid(af.Key(k), k, msg))
		}
		if engineOwnedKey(k) {
			errs = append(errs, field.Forbidden(af.Key(k), "keys of the engine's own domains (*tenancy.vclusterkit.io, vcluster.vclusterkit.io) carry tenancy and are set by the engine only"))
		}
	}
	if p.SleepAfter != nil && p.SleepAfter.Duration < 0 {
		errs = append(errs, field.Invalid(fld.Child("sleepAfter"), p.SleepAfter.Duration.String(), "must not be negative"))
	}
	if p.MaxVirtualClusters != nil && *p.MaxVirtualClusters < 0 {
		errs = append(errs, field.Invalid(fld.Child("maxVirtualClusters"), *p.MaxVirtualClusters, "must be greater than or equal to 0"))
	}
	if p.MaxSpaces != nil && *p.MaxSpaces < 0 {
		errs = append(errs, field.Invalid(fld.Child("maxSpaces"), *p.MaxSpaces, "must be greater than or equal to 0"))
	}
	return errs
}

func validateNameList(fld *field.Path, names []string) field.ErrorList {
	var errs field.ErrorList
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		if n == "" {
			errs = append(errs, field.Required(fld.Index(i), "names must not be empty"))
			continue
		}
		if len(n) > 253 {
			errs = append(errs, field.TooLong(fld.Index(i), "", 253))
		}
		if seen[n] {
			errs = append(errs, field.Duplicate(fld.Index(i), n))
		}
		seen[n] = true
	}
	return errs
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedResourceNames(rl corev1.ResourceList) []corev1.ResourceName {
	keys := make([]corev1.ResourceName, 0, len(rl))
	for k := range rl {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// engineOwnedKey reports whether a label or annotation key is in a domain
// the engine owns on host namespaces: tenancy.vclusterkit.io and its
// subdomains (tree labels, policy annotations) and vcluster.vclusterkit.io.
// A policy that required such a key would fight the engine over it.
func engineOwnedKey(k string) bool {
	prefix, _, ok := strings.Cut(k, "/")
	if !ok {
		return false
	}
	prefix = strings.ToLower(prefix)
	return prefix == Group || strings.HasSuffix(prefix, "."+Group) || prefix == "vcluster.vclusterkit.io"
}
