package webhook_test

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

func tenant(name, parent string, mods ...func(*tenancy.Tenant)) tenancy.Tenant {
	t := tenancy.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: tenancy.TenantSpec{Parent: parent}}
	for _, m := range mods {
		m(&t)
	}
	return t
}

func space(name, owner string, mods ...func(*tenancy.Space)) tenancy.Space {
	s := tenancy.Space{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: tenancy.SpaceSpec{Tenant: owner}}
	for _, m := range mods {
		m(&s)
	}
	return s
}

func podSecurity(l tenancy.PodSecurityLevel) func(*tenancy.Tenant) {
	return func(t *tenancy.Tenant) { t.Spec.Policy.PodSecurity = l }
}

func storageClasses(c ...string) func(*tenancy.Tenant) {
	return func(t *tenancy.Tenant) { t.Spec.Policy.AllowedStorageClasses = c }
}

func maxSpaces(n int32) func(*tenancy.Tenant) {
	return func(t *tenancy.Tenant) { t.Spec.Policy.MaxSpaces = &n }
}

func quota(kv ...string) func(*tenancy.Tenant) {
	return func(t *tenancy.Tenant) { t.Spec.Quota = rl(kv...) }
}

func member(name string) func(*tenancy.Tenant) {
	return func(t *tenancy.Tenant) {
		t.Spec.Members = append(t.Spec.Members, tenancy.Member{Kind: tenancy.MemberUser, Name: name, Role: tenancy.RoleView})
	}
}

func spaceQuota(kv ...string) func(*tenancy.Space) {
	return func(s *tenancy.Space) { s.Spec.Quota = rl(kv...) }
}

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func ptr[T any](v T) *T { return &v }
