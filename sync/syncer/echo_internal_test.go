package syncer

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestStatusOnly(t *testing.T) {
	base := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "n", ResourceVersion: "1", Labels: map[string]string{"a": "b"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
	}
	change := func(f func(p *corev1.Pod)) *corev1.Pod {
		p := base.DeepCopy()
		p.ResourceVersion = "2"
		f(p)
		return p
	}
	now := metav1.Now()
	for _, tc := range []struct {
		name    string
		updated client.Object
		want    bool
	}{
		{"phase", change(func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }), true},
		{"condition and IP", change(func(p *corev1.Pod) {
			p.Status.PodIP = "10.0.0.1"
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}), true},
		{"managed fields only", change(func(p *corev1.Pod) { p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet"}} }), true},
		{"node name (a binding)", change(func(p *corev1.Pod) { p.Spec.NodeName = "n1" }), false},
		{"image", change(func(p *corev1.Pod) { p.Spec.Containers[0].Image = "j" }), false},
		{"label", change(func(p *corev1.Pod) { p.Labels["a"] = "c" }), false},
		{"annotation", change(func(p *corev1.Pod) { p.Annotations = map[string]string{"x": "y"} }), false},
		{"deletion", change(func(p *corev1.Pod) { p.DeletionTimestamp = &now }), false},
		{"finalizer", change(func(p *corev1.Pod) { p.Finalizers = []string{"f"} }), false},
		{"owner", change(func(p *corev1.Pod) { p.OwnerReferences = []metav1.OwnerReference{{Name: "o"}} }), false},
		{"generation", change(func(p *corev1.Pod) { p.Generation = 2 }), false},
	} {
		if got := statusOnly(base, tc.updated); got != tc.want {
			t.Errorf("%s: statusOnly = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Kinds without status, and unstructured objects, always translate.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", ResourceVersion: "1"}}
	cm2 := cm.DeepCopy()
	cm2.ResourceVersion = "2"
	if statusOnly(cm, cm2) {
		t.Error("a ConfigMap update counted as status-only")
	}
	u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "u"}}}
	if statusOnly(u, u.DeepCopy()) {
		t.Error("an unstructured update counted as status-only")
	}
	if statusOnly(base, cm) {
		t.Error("objects of two kinds counted as status-only")
	}
}
