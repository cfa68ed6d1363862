package tenancy

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// listField is one of the Policy's "allowed" lists: empty means all, a
// child may only narrow it.
type listField struct {
	name string
	get  func(*Policy) []string
	set  func(*Policy, []string)
}

var listFields = [...]listField{
	{"allowedProvisioners", func(p *Policy) []string { return p.AllowedProvisioners }, func(p *Policy, v []string) { p.AllowedProvisioners = v }},
	{"allowedClusters", func(p *Policy) []string { return p.AllowedClusters }, func(p *Policy, v []string) { p.AllowedClusters = v }},
	{"allowedStorageClasses", func(p *Policy) []string { return p.AllowedStorageClasses }, func(p *Policy, v []string) { p.AllowedStorageClasses = v }},
	{"allowedIngressClasses", func(p *Policy) []string { return p.AllowedIngressClasses }, func(p *Policy, v []string) { p.AllowedIngressClasses = v }},
	{"allowedRuntimeClasses", func(p *Policy) []string { return p.AllowedRuntimeClasses }, func(p *Policy, v []string) { p.AllowedRuntimeClasses = v }},
	{"allowedPriorityClasses", func(p *Policy) []string { return p.AllowedPriorityClasses }, func(p *Policy, v []string) { p.AllowedPriorityClasses = v }},
}

// mapField is one of the Policy's maps: inherited keys are fixed, a child
// may add keys.
type mapField struct {
	name string
	get  func(*Policy) map[string]string
	set  func(*Policy, map[string]string)
}

var mapFields = [...]mapField{
	{"nodeSelector", func(p *Policy) map[string]string { return p.NodeSelector }, func(p *Policy, v map[string]string) { p.NodeSelector = v }},
	{"requiredNamespaceLabels", func(p *Policy) map[string]string { return p.RequiredNamespaceLabels }, func(p *Policy, v map[string]string) { p.RequiredNamespaceLabels = v }},
	{"requiredNamespaceAnnotations", func(p *Policy) map[string]string { return p.RequiredNamespaceAnnotations }, func(p *Policy, v map[string]string) { p.RequiredNamespaceAnnotations = v }},
}

// mergePolicy tightens eff (the effective policy so far) by child. eff's
// maps and slices may be shared with stored objects: they are replaced,
// never written to.
func mergePolicy(eff *Policy, child *Policy) {
	if child.PodSecurity.rank() > eff.PodSecurity.rank() {
		eff.PodSecurity = child.PodSecurity
	}
	if child.NetworkIsolation.rank() > eff.NetworkIsolation.rank() {
		eff.NetworkIsolation = child.NetworkIsolation
	}
	for _, l := range listFields {
		if c := l.get(child); len(c) > 0 {
			l.set(eff, c)
		}
	}
	for _, m := range mapFields {
		c := m.get(child)
		if len(c) == 0 {
			continue
		}
		cur := m.get(eff)
		if len(cur) == 0 {
			m.set(eff, c)
			continue
		}
		merged := make(map[string]string, len(cur)+len(c))
		for k, v := range c {
			merged[k] = v
		}
		for k, v := range cur { // inherited values win
			merged[k] = v
		}
		m.set(eff, merged)
	}
	if child.SleepAfter != nil && (eff.SleepAfter == nil || child.SleepAfter.Duration < eff.SleepAfter.Duration) {
		eff.SleepAfter = child.SleepAfter
	}
	if child.MaxVirtualClusters != nil && (eff.MaxVirtualClusters == nil || *child.MaxVirtualClusters < *eff.MaxVirtualClusters) {
		eff.MaxVirtualClusters = child.MaxVirtualClusters
	}
	if child.MaxSpaces != nil && (eff.MaxSpaces == nil || *child.MaxSpaces < *eff.MaxSpaces) {
		eff.MaxSpaces = child.MaxSpaces
	}
}

// effectiveOf folds the policies along chain (root first).
func effectiveOf(chain []*Tenant) Policy {
	var eff Policy
	for _, t := range chain {
		mergePolicy(&eff, &t.Spec.Policy)
	}
	return eff
}

// checkPolicy reports every field of child that loosens eff, the effective
// policy of chain (root first). Each error names the field and the ancestor
// that set the inherited value.
func checkPolicy(fld *field.Path, eff *Policy, child *Policy, chain []*Tenant) field.ErrorList {
	var errs field.ErrorList
	if child.PodSecurity != "" && child.PodSecurity.rank() < eff.PodSecurity.rank() {
		from := originOf(chain, func(p *Policy) bool { return p.PodSecurity == eff.PodSecurity })
		errs = append(errs, field.Invalid(fld.Child("podSecurity"), child.PodSecurity,
			fmt.Sprintf("looser than %q set by ancestor %q; a child may only tighten its parent's policy", eff.PodSecurity, from)))
	}
	if child.NetworkIsolation != "" && child.NetworkIsolation.rank() < eff.NetworkIsolation.rank() {
		from := originOf(chain, func(p *Policy) bool { return p.NetworkIsolation == eff.NetworkIsolation })
		errs = append(errs, field.Invalid(fld.Child("networkIsolation"), child.NetworkIsolation,
			fmt.Sprintf("looser than %q set by ancestor %q; a child may only tighten its parent's policy", eff.NetworkIsolation, from)))
	}
	for _, l := range listFields {
		allowed := l.get(eff)
		if len(allowed) == 0 {
			continue
		}
		for i, v := range l.get(child) {
			if !slices.Contains(allowed, v) {
				from := originOf(chain, func(p *Policy) bool { return len(l.get(p)) > 0 })
				errs = append(errs, field.Invalid(fld.Child(l.name).Index(i), v,
					fmt.Sprintf("not allowed by ancestor %q, which allows only [%s]", from, strings.Join(allowed, ", "))))
			}
		}
	}
	for _, m := range mapFields {
		inherited := m.get(eff)
		c := m.get(child)
		for _, k := range sortedKeys(c) {
			want, ok := inherited[k]
			if !ok || want == c[k] {
				continue
			}
			from := originOf(chain, func(p *Policy) bool { v, ok := m.get(p)[k]; return ok && v == want })
			errs = append(errs, field.Invalid(fld.Child(m.name).Key(k), c[k],
				fmt.Sprintf("ancestor %q requires %q; a child may add keys but not change inherited ones", from, want)))
		}
	}
	if child.SleepAfter != nil && eff.SleepAfter != nil && child.SleepAfter.Duration > eff.SleepAfter.Duration {
		from := originOf(chain, func(p *Policy) bool { return p.SleepAfter != nil && p.SleepAfter.Duration == eff.SleepAfter.Duration })
		errs = append(errs, field.Invalid(fld.Child("sleepAfter"), child.SleepAfter.Duration.String(),
			fmt.Sprintf("longer than %s set by ancestor %q; a child may only shorten it", eff.SleepAfter.Duration, from)))
	}
	if child.MaxVirtualClusters != nil && eff.MaxVirtualClusters != nil && *child.MaxVirtualClusters > *eff.MaxVirtualClusters {
		from := originOf(chain, func(p *Policy) bool {
			return p.MaxVirtualClusters != nil && *p.MaxVirtualClusters == *eff.MaxVirtualClusters
		})
		errs = append(errs, field.Invalid(fld.Child("maxVirtualClusters"), *child.MaxVirtualClusters,
			fmt.Sprintf("above %d set by ancestor %q", *eff.MaxVirtualClusters, from)))
	}
	if child.MaxSpaces != nil && eff.MaxSpaces != nil && *child.MaxSpaces > *eff.MaxSpaces {
		from := originOf(chain, func(p *Policy) bool { return p.MaxSpaces != nil && *p.MaxSpaces == *eff.MaxSpaces })
		errs = append(errs, field.Invalid(fld.Child("maxSpaces"), *child.MaxSpaces,
			fmt.Sprintf("above %d set by ancestor %q", *eff.MaxSpaces, from)))
	}
	return errs
}

// originOf returns the nearest tenant in chain (root first) whose own
// policy satisfies set.
func originOf(chain []*Tenant, set func(*Policy) bool) string {
	for i := len(chain) - 1; i >= 0; i-- {
		if set(&chain[i].Spec.Policy) {
			return chain[i].Name
		}
	}
	return "?"
}

// checkNotLoosened reports every field in which after is looser than
// before: what a moved subtree relied on and would lose by re-parenting.
func checkNotLoosened(fld *field.Path, before, after *Policy, oldChain []*Tenant) field.ErrorList {
	errs := checkPolicy(fld, before, after, oldChain)
	// checkPolicy ignores fields the child leaves empty; dropping an
	// inherited restriction altogether is loosening too.
	if before.PodSecurity != "" && after.PodSecurity == "" {
		errs = append(errs, lostField(fld.Child("podSecurity"), string(before.PodSecurity), oldChain, func(p *Policy) bool { return p.PodSecurity == before.PodSecurity }))
	}
	if before.NetworkIsolation != "" && after.NetworkIsolation == "" {
		errs = append(errs, lostField(fld.Child("networkIsolation"), string(before.NetworkIsolation), oldChain, func(p *Policy) bool { return p.NetworkIsolation == before.NetworkIsolation }))
	}
	for _, l := range listFields {
		if len(l.get(before)) > 0 && len(l.get(after)) == 0 {
			errs = append(errs, lostField(fld.Child(l.name), strings.Join(l.get(before), ","), oldChain, func(p *Policy) bool { return len(l.get(p)) > 0 }))
		}
	}
	for _, m := range mapFields {
		b, a := m.get(before), m.get(after)
		for _, k := range sortedKeys(b) {
			if _, ok := a[k]; !ok {
				errs = append(errs, lostField(fld.Child(m.name).Key(k), b[k], oldChain, func(p *Policy) bool { _, ok := m.get(p)[k]; return ok }))
			}
		}
	}
	if before.SleepAfter != nil && after.SleepAfter == nil {
		errs = append(errs, lostField(fld.Child("sleepAfter"), before.SleepAfter.Duration.String(), oldChain, func(p *Policy) bool { return p.SleepAfter != nil }))
	}
	if before.MaxVirtualClusters != nil && after.MaxVirtualClusters == nil {
		errs = append(errs, lostField(fld.Child("maxVirtualClusters"), fmt.Sprint(*before.MaxVirtualClusters), oldChain, func(p *Policy) bool { return p.MaxVirtualClusters != nil }))
	}
	if before.MaxSpaces != nil && after.MaxSpaces == nil {
		errs = append(errs, lostField(fld.Child("maxSpaces"), fmt.Sprint(*before.MaxSpaces), oldChain, func(p *Policy) bool { return p.MaxSpaces != nil }))
	}
	return errs
}

func lostField(fld *field.Path, was string, oldChain []*Tenant, set func(*Policy) bool) *field.Error {
	return field.Forbidden(fld, fmt.Sprintf("re-parenting would drop %q inherited from ancestor %q, which the moved subtree relies on", was, originOf(oldChain, set)))
}

// isZero reports whether p sets nothing (inherits everything).
func (p *Policy) isZero() bool {
	if p.PodSecurity != "" || p.NetworkIsolation != "" || p.SleepAfter != nil || p.MaxVirtualClusters != nil || p.MaxSpaces != nil {
		return false
	}
	for _, l := range listFields {
		if len(l.get(p)) > 0 {
			return false
		}
	}
	for _, m := range mapFields {
		if len(m.get(p)) > 0 {
			return false
		}
	}
	return true
}
