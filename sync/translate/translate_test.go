package translate

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func mustNew(t testing.TB, vc, ns string) *Translator {
	t.Helper()
	tr, err := New(vc, ns)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestNewRejectsBadNames(t *testing.T) {
	for _, tc := range []struct{ vc, ns, field string }{
		{"", "host", "vclusterName"},
		{"Upper", "host", "vclusterName"},
		{"vc", "", "hostNamespace"},
		{"vc", "bad_ns", "hostNamespace"},
		{strings.Repeat("a", 64), "host", "vclusterName"},
	} {
		_, err := New(tc.vc, tc.ns)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("New(%q, %q) = %v, want ErrInvalid naming %s", tc.vc, tc.ns, err, tc.field)
		}
	}
}

func TestHostName(t *testing.T) {
	tr := mustNew(t, "vc1", "host")
	long := strings.Repeat("a", 60)
	dotted51 := strings.Repeat("b", 51)
	for _, tc := range []struct{ name, ns, want string }{
		{"web", "default", "web-x-default-x-vc1"},
		{"a", "b", "a-x-b-x-vc1"},
		// exactly 63 characters: kept as is.
		{strings.Repeat("n", 63-len("-x-ns-x-vc1")), "ns", strings.Repeat("n", 52) + "-x-ns-x-vc1"},
		// 64 characters: hashed.
		{long, "default", long[:52] + "-" + hashOf(long+"-x-default-x-vc1")},
		// the 52-character cut ends in '.': trimmed so the result is valid.
		{dotted51 + ".xyz" + strings.Repeat("e", 20), "ns", dotted51 + "-" + hashOf(dotted51+".xyz"+strings.Repeat("e", 20)+"-x-ns-x-vc1")},
	} {
		got := tr.HostName(tc.name, tc.ns)
		if got != tc.want {
			t.Errorf("HostName(%q, %q) = %q, want %q", tc.name, tc.ns, got, tc.want)
		}
		if len(got) > MaxNameLength {
			t.Errorf("HostName(%q, %q) has %d characters", tc.name, tc.ns, len(got))
		}
		if msgs := validation.IsDNS1123Subdomain(got); len(msgs) > 0 {
			t.Errorf("HostName(%q, %q) = %q is not a DNS subdomain: %v", tc.name, tc.ns, got, msgs)
		}
	}
}

// Regression: the plain scheme maps ("a-x-b", ns "c") and ("a", ns "b-x-c")
// to the same "a-x-b-x-c-x-vc"; both must be hashed, and differently.
func TestHostNameAmbiguousSeparator(t *testing.T) {
	tr := mustNew(t, "vc", "host")
	a, b := tr.HostName("a-x-b", "c"), tr.HostName("a", "b-x-c")
	if a == b {
		t.Fatalf("collision: %q", a)
	}
	for _, h := range []string{a, b} {
		if h == "a-x-b-x-c-x-vc" {
			t.Fatalf("ambiguous plain name %q used", h)
		}
	}
	if got, want := a, "a-x-b-x-c-x-vc-"+hashOf("a-x-b/c/vc"); got != want {
		t.Fatalf("HostName = %q, want %q", got, want)
	}
}

func TestHostCompanionName(t *testing.T) {
	tr := mustNew(t, "vc", "host")
	if got, want := tr.HostCompanionName("web", "ns", "token"), "web-x-ns-x-vc-x-token"; got != want {
		t.Fatalf("HostCompanionName = %q, want %q", got, want)
	}
	// a virtual object named like a companion gets a different host name.
	if a, b := tr.HostCompanionName("web", "ns", "token"), tr.HostName("web-x-ns-x-vc-x-token", "ns"); a == b {
		t.Fatalf("companion and object share %q", a)
	}
	if a, b := tr.HostCompanionName("web", "ns", "token"), tr.HostName("web", "ns-x-vc-x-token"); a == b {
		t.Fatalf("companion and object share %q", a)
	}
}

func TestHostNameLimits(t *testing.T) {
	tr := mustNew(t, strings.Repeat("v", 63), "host")
	name253 := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
	if len(name253) != 253 {
		t.Fatalf("test name has %d characters", len(name253))
	}
	ns63 := strings.Repeat("n", 63)
	seen := map[string]string{}
	for _, name := range []string{name253, name253[:252], strings.Repeat("a", 63), strings.Repeat("a", 62) + "-" + "b"} {
		got := tr.HostName(name, ns63)
		if len(got) != MaxNameLength {
			t.Errorf("HostName(%d chars) has %d characters, want %d", len(name), len(got), MaxNameLength)
		}
		if msgs := validation.IsDNS1123Subdomain(got); len(msgs) > 0 {
			t.Errorf("HostName(%q) = %q invalid: %v", name, got, msgs)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("HostName(%q) = HostName(%q) = %q", name, prev, got)
		}
		seen[got] = name
	}
}

func TestHostNameIsDNSLabelForLabels(t *testing.T) {
	tr := mustNew(t, "vc", "host")
	// a 63-character label whose cut would end in '-'.
	name := strings.Repeat("a", 51) + "-" + strings.Repeat("b", 11)
	got := tr.HostName(name, "ns")
	if msgs := validation.IsDNS1123Label(got); len(msgs) > 0 {
		t.Fatalf("HostName(%q) = %q is not a DNS label: %v", name, got, msgs)
	}
	if msgs := validation.IsDNS1035Label(tr.HostName("svc-"+strings.Repeat("z", 59), "ns")); len(msgs) > 0 {
		t.Fatalf("service name is not a DNS-1035 label: %v", msgs)
	}
}

func TestHostKey(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		wantErr  bool
	}{
		{"app", "app", false},
		{"example.com/app", "example.com/app", false},
		{"app.kubernetes.io/name", "app.kubernetes.io/name", false},
		{"evilvclusterkit.io/x", "evilvclusterkit.io/x", false},
		{LabelVirtualCluster, "vcluster.tenant.vclusterkit.io/name", false},
		{"vclusterkit.io/x", "tenant.vclusterkit.io/x", false},
		{"tenant.vclusterkit.io/x", "tenant.tenant.vclusterkit.io/x", false},
		{"tenancy.vclusterkit.io/tenant", "tenancy.tenant.vclusterkit.io/tenant", false},
		{strings.Repeat("a", 240) + ".vclusterkit.io/x", "", true},
		{"bad key", "", true},
	} {
		got, err := HostKey(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("HostKey(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("HostKey(%q) error %v does not wrap ErrInvalid", tc.in, err)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("HostKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
		back, ok := VirtualKey(got)
		if !ok || back != tc.in {
			t.Errorf("VirtualKey(%q) = %q, %v; want %q", got, back, ok, tc.in)
		}
	}
	for _, own := range []string{LabelVirtualCluster, LabelNamespace, AnnotationUID, "tenancy.vclusterkit.io/tenant"} {
		if _, ok := VirtualKey(own); ok {
			t.Errorf("VirtualKey(%q) kept an engine key", own)
		}
	}
}

func TestHostMetaRoundTrip(t *testing.T) {
	tr := mustNew(t, "vc1", "tenant-a")
	v := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: "web", Namespace: "shop", UID: "u-1",
		Labels:      map[string]string{"app": "web", LabelVirtualCluster: "other", LabelNamespace: "kube-system"},
		Annotations: map[string]string{"note": "x", AnnotationUID: "forged"},
		Finalizers:  []string{"keep"},
	}}
	got, err := tr.HostMeta("Pod", v)
	if err != nil {
		t.Fatal(err)
	}
	want := metav1.ObjectMeta{
		Name: "web-x-shop-x-vc1", Namespace: "tenant-a",
		Labels: map[string]string{
			"app":                                 "web",
			"vcluster.tenant.vclusterkit.io/name": "other",
			"vcluster.tenant.vclusterkit.io/namespace": "kube-system",
			LabelVirtualCluster:                        "vc1",
			LabelNamespace:                             "shop",
		},
		Annotations: map[string]string{
			"note": "x",
			"vcluster.tenant.vclusterkit.io/object-uid": "forged",
			AnnotationName: "web", AnnotationNamespace: "shop", AnnotationUID: "u-1", AnnotationKind: "Pod",
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("HostMeta (-want +got):\n%s", d)
	}
	host := &corev1.Pod{ObjectMeta: got}
	o, ok := tr.Origin(host)
	if !ok || o != (Origin{Kind: "Pod", Namespace: "shop", Name: "web", UID: "u-1"}) {
		t.Fatalf("Origin = %+v, %v", o, ok)
	}
	if d := cmp.Diff(v.Labels, VirtualLabels(got.Labels)); d != "" {
		t.Errorf("VirtualLabels (-want +got):\n%s", d)
	}
	if d := cmp.Diff(v.Annotations, VirtualAnnotations(got.Annotations)); d != "" {
		t.Errorf("VirtualAnnotations (-want +got):\n%s", d)
	}
	other := mustNew(t, "vc2", "tenant-a")
	if other.IsManaged(host) {
		t.Error("vc2 claims vc1's object")
	}
	if _, ok := other.Origin(host); ok {
		t.Error("vc2 reads the origin of vc1's object")
	}
}

func TestHostMetaRefusesClusterScoped(t *testing.T) {
	tr := mustNew(t, "vc1", "tenant-a")
	_, err := tr.HostMeta("ClusterRole", &metav1.ObjectMeta{Name: "admin"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "metadata.namespace") {
		t.Fatalf("HostMeta(cluster-scoped) = %v, want ErrInvalid naming metadata.namespace", err)
	}
}

func TestHostMetaBadLabelNamesField(t *testing.T) {
	tr := mustNew(t, "vc1", "tenant-a")
	key := strings.Repeat("a", 240) + ".vclusterkit.io/x"
	_, err := tr.HostMeta("Pod", &metav1.ObjectMeta{Name: "p", Namespace: "n", Labels: map[string]string{key: "v"}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "metadata.labels["+key+"]") {
		t.Fatalf("got %v, want error naming metadata.labels[%s]", err, key)
	}
}

func TestScopeSelector(t *testing.T) {
	tr := mustNew(t, "vc1", "tenant-a")
	p := field.NewPath("spec", "selector")
	sel := &metav1.LabelSelector{
		MatchLabels:      map[string]string{"app": "web", LabelNamespace: "victim"},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"a"}}},
	}
	got, err := tr.ScopeSelector(p, "shop", sel)
	if err != nil {
		t.Fatal(err)
	}
	want := &metav1.LabelSelector{
		MatchLabels: map[string]string{
			"app": "web", "vcluster.tenant.vclusterkit.io/namespace": "victim",
			LabelVirtualCluster: "vc1", LabelNamespace: "shop",
		},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"a"}}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("ScopeSelector (-want +got):\n%s", d)
	}
	if s, _ := tr.ScopeSelector(p, "shop", nil); s != nil {
		t.Errorf("nil selector became %v", s)
	}

	// Behaviour: the scoped selector matches the host copy of a matching pod
	// of the same namespace and nothing of another namespace or vcluster.
	match := func(sel *metav1.LabelSelector, l map[string]string) bool {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			t.Fatal(err)
		}
		return s.Matches(labels.Set(l))
	}
	hl := func(tr *Translator, ns string, l map[string]string) map[string]string {
		out, err := tr.HostLabels(ns, l)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	all, _ := tr.ScopeSelector(p, "shop", &metav1.LabelSelector{})
	other := mustNew(t, "vc2", "tenant-a")
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"same ns", hl(tr, "shop", map[string]string{"app": "web"}), true},
		{"other ns", hl(tr, "blog", map[string]string{"app": "web"}), false},
		{"other vcluster", hl(other, "shop", map[string]string{"app": "web"}), false},
		{"forged scope labels", hl(other, "x", map[string]string{"app": "web", LabelVirtualCluster: "vc1", LabelNamespace: "shop"}), false},
		{"host pod", map[string]string{"app": "web"}, false},
	} {
		if got := match(all, tc.labels); got != tc.want {
			t.Errorf("%s: empty selector matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestScopeSelectorNamespaces(t *testing.T) {
	tr := mustNew(t, "vc1", "tenant-a")
	got, err := tr.ScopeSelectorNamespaces(field.NewPath("x"), []string{"b", "a", "b"}, &metav1.LabelSelector{})
	if err != nil {
		t.Fatal(err)
	}
	want := &metav1.LabelSelector{
		MatchLabels:      map[string]string{LabelVirtualCluster: "vc1"},
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: LabelNamespace, Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	got, _ = tr.ScopeSelectorNamespaces(field.NewPath("x"), nil, &metav1.LabelSelector{})
	if len(got.MatchExpressions) != 1 || got.MatchExpressions[0].Operator != metav1.LabelSelectorOpExists {
		t.Fatalf("all namespaces: %+v", got)
	}
}

func TestScopeMapSelector(t *testing.T) {
	tr := mustNew(t, "vc1", "tenant-a")
	p := field.NewPath("spec", "selector")
	got, err := tr.ScopeMapSelector(p, "shop", map[string]string{"app": "web", LabelVirtualCluster: "vc2"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"app": "web", "vcluster.tenant.vclusterkit.io/name": "vc2", LabelVirtualCluster: "vc1", LabelNamespace: "shop"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"app": "web", LabelVirtualCluster: "vc2"}, VirtualMapSelector(got)); d != "" {
		t.Fatalf("VirtualMapSelector (-want +got):\n%s", d)
	}
	if got, _ := tr.ScopeMapSelector(p, "shop", nil); got != nil {
		t.Fatalf("empty selector became %v", got)
	}
	_, err = tr.ScopeMapSelector(p, "shop", map[string]string{"bad key": "x"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "spec.selector[bad key]") {
		t.Fatalf("got %v, want error naming spec.selector[bad key]", err)
	}
}
