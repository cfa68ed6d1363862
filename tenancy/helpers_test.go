package tenancy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

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

func isolation(m tenancy.IsolationMode) func(*tenancy.Tenant) {
	return func(t *tenancy.Tenant) { t.Spec.Policy.NetworkIsolation = m }
}

func storageClasses(c ...string) func(*tenancy.Tenant) {
	return func(t *tenancy.Tenant) { t.Spec.Policy.AllowedStorageClasses = c }
}

func nodeSelector(kv ...string) func(*tenancy.Tenant) {
	return func(t *tenancy.Tenant) {
		t.Spec.Policy.NodeSelector = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			t.Spec.Policy.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func sleepAfter(d time.Duration) func(*tenancy.Tenant) {
	return func(t *tenancy.Tenant) { t.Spec.Policy.SleepAfter = &metav1.Duration{Duration: d} }
}

func maxVCs(n int32) func(*tenancy.Tenant) {
	return func(t *tenancy.Tenant) { t.Spec.Policy.MaxVirtualClusters = &n }
}

func quota(kv ...string) func(*tenancy.Tenant) {
	return func(t *tenancy.Tenant) { t.Spec.Quota = rl(kv...) }
}

func member(kind tenancy.MemberKind, name string, role tenancy.Role) func(*tenancy.Tenant) {
	return func(t *tenancy.Tenant) {
		t.Spec.Members = append(t.Spec.Members, tenancy.Member{Kind: kind, Name: name, Role: role})
	}
}

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

// wantInvalid checks that err is an *InvalidError with an error on each of
// fields whose message contains the matching substring (field=substr).
func wantInvalid(t *testing.T, err error, want ...string) {
	t.Helper()
	if !errors.Is(err, tenancy.ErrInvalid) {
		t.Fatalf("want ErrInvalid, got %v", err)
	}
	var ie *tenancy.InvalidError
	if !errors.As(err, &ie) {
		t.Fatalf("want *InvalidError, got %T", err)
	}
	for _, w := range want {
		f, sub, _ := strings.Cut(w, "=")
		found := false
		for _, fe := range ie.Errs {
			if fe.Field == f && strings.Contains(fe.Error(), sub) {
				found = true
			}
		}
		if !found {
			t.Errorf("no error on %s containing %q in: %v", f, sub, err)
		}
	}
}
