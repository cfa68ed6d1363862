package translate

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// validName reports whether s may be a virtual object name, namespace or
// vcluster name for the fuzzers: name a DNS-1123 subdomain, the others
// DNS-1123 labels.
func validSubdomain(s string) bool { return len(validation.IsDNS1123Subdomain(s)) == 0 }
func validLabel(s string) bool     { return len(validation.IsDNS1123Label(s)) == 0 }

// FuzzNameInjective checks that two different (vcluster, namespace, name)
// triples never share a host name in the same host namespace, that host
// names are valid and at most 63 characters, that a label name stays a
// label, and that the origin annotations give the virtual object back.
func FuzzNameInjective(f *testing.F) {
	for _, s := range [][6]string{
		{"vc", "ns", "web", "vc", "ns", "web2"},
		{"a", "b-x-c", "d", "a-x-b", "c", "d"},
		{"vc", "ns", "a-x-b", "vc", "b-x-ns", "a"},
		{"vc", "default", strings.Repeat("a", 60), "vc", "default", strings.Repeat("a", 61)},
		{"v", "n", strings.Repeat("a", 51) + ".b", "v", "n", strings.Repeat("a", 51) + "-b"},
		{"vc1", "ns", "x", "vc", "1-x-ns", "x"},
		{"vc", "ns", "web", "vc", "ns", "web-x-ns-x-vc-x-token"},
		{"vc", "ns", "web", "vc", "ns-x-vc-x-token", "web"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	f.Fuzz(func(t *testing.T, vc1, ns1, n1, vc2, ns2, n2 string) {
		if !validLabel(vc1) || !validLabel(vc2) || !validLabel(ns1) || !validLabel(ns2) || !validSubdomain(n1) || !validSubdomain(n2) {
			return
		}
		t1, err := New(vc1, "host")
		if err != nil {
			t.Fatal(err)
		}
		t2, err := New(vc2, "host")
		if err != nil {
			t.Fatal(err)
		}
		h1, h2 := t1.HostName(n1, ns1), t2.HostName(n2, ns2)
		for _, h := range []string{h1, h2} {
			if len(h) > MaxNameLength {
				t.Fatalf("host name %q has %d characters", h, len(h))
			}
			if msgs := validation.IsDNS1123Subdomain(h); len(msgs) > 0 {
				t.Fatalf("host name %q invalid: %v", h, msgs)
			}
		}
		if validLabel(n1) && !validLabel(h1) {
			t.Fatalf("label %q became %q, not a label", n1, h1)
		}
		if h1 == h2 && (vc1 != vc2 || ns1 != ns2 || n1 != n2) {
			t.Fatalf("collision: (%q,%q,%q) and (%q,%q,%q) both map to %q", vc1, ns1, n1, vc2, ns2, n2, h1)
		}
		// a companion object of one virtual object never takes the host
		// name of another virtual object.
		if c := t1.HostCompanionName(n1, ns1, "token"); c == h2 {
			t.Fatalf("companion of (%q,%q,%q) collides with the host name of (%q,%q,%q): %q", vc1, ns1, n1, vc2, ns2, n2, c)
		} else if len(c) > MaxNameLength || len(validation.IsDNS1123Subdomain(c)) > 0 {
			t.Fatalf("companion name %q invalid", c)
		}
		meta, err := t1.HostMeta("Pod", &metav1.ObjectMeta{Name: n1, Namespace: ns1, UID: "u"})
		if err != nil {
			t.Fatal(err)
		}
		o, ok := t1.Origin(&meta)
		if !ok || o.Name != n1 || o.Namespace != ns1 || o.UID != "u" || o.Kind != "Pod" {
			t.Fatalf("Origin(HostMeta(%q/%q)) = %+v, %v", ns1, n1, o, ok)
		}
		if meta.Name != h1 || meta.Namespace != "host" {
			t.Fatalf("HostMeta name %s/%s, want host/%s", meta.Namespace, meta.Name, h1)
		}
		if _, ok := t2.Origin(&meta); ok && vc1 != vc2 {
			t.Fatalf("vcluster %q claims an object of %q", vc2, vc1)
		}
	})
}

// FuzzNameHashedSuffix checks the long-name scheme on single inputs: a
// host name longer than the virtual parts allow ends in 10 hex digits.
func FuzzNameHashedSuffix(f *testing.F) {
	f.Add("vc", "ns", strings.Repeat("z", 100))
	f.Add("vc", "ns", "short")
	f.Fuzz(func(t *testing.T, vc, ns, name string) {
		if !validLabel(vc) || !validLabel(ns) || !validSubdomain(name) {
			return
		}
		tr, err := New(vc, "host")
		if err != nil {
			t.Fatal(err)
		}
		full := name + "-x-" + ns + "-x-" + vc
		h := tr.HostName(name, ns)
		if len(full) <= MaxNameLength && separators(full) == 2 {
			if h != full {
				t.Fatalf("short name %q rewritten to %q", full, h)
			}
			return
		}
		hashed := full
		if separators(full) != 2 {
			hashed = name + "/" + ns + "/" + vc
		}
		if len(h) > MaxNameLength || !strings.HasSuffix(h, "-"+hashOf(hashed)) || !strings.HasPrefix(full, strings.TrimSuffix(h, "-"+hashOf(hashed))) {
			t.Fatalf("long name %q became %q", full, h)
		}
	})
}

// FuzzLabelKeyReversible checks that label key escaping is reversible,
// injective and never yields a key the engine owns.
func FuzzLabelKeyReversible(f *testing.F) {
	for _, k := range []string{"app", LabelVirtualCluster, LabelNamespace, "vclusterkit.io/a", "tenant.vclusterkit.io/a", "x.tenant.vclusterkit.io/a", "example.com/a", AnnotationUID} {
		f.Add(k, "b.vclusterkit.io/z")
	}
	f.Fuzz(func(t *testing.T, k1, k2 string) {
		h1, err1 := HostKey(k1)
		h2, err2 := HostKey(k2)
		if err1 == nil {
			if msgs := validation.IsQualifiedName(h1); len(msgs) > 0 {
				t.Fatalf("HostKey(%q) = %q invalid: %v", k1, h1, msgs)
			}
			back, ok := VirtualKey(h1)
			if !ok || back != k1 {
				t.Fatalf("VirtualKey(HostKey(%q)=%q) = %q, %v", k1, h1, back, ok)
			}
			for _, own := range []string{LabelVirtualCluster, LabelNamespace, AnnotationName, AnnotationNamespace, AnnotationUID, AnnotationKind} {
				if h1 == own {
					t.Fatalf("tenant key %q escaped to the engine key %q", k1, own)
				}
			}
		}
		if err1 == nil && err2 == nil && k1 != k2 && h1 == h2 {
			t.Fatalf("HostKey(%q) = HostKey(%q) = %q", k1, k2, h1)
		}
	})
}
