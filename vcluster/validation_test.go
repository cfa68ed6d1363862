package vcluster

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func validVC() *VirtualCluster {
	return &VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "team-a"},
		Spec:       VirtualClusterSpec{Tenant: "team-a"},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*VirtualCluster)
		want   []string // field paths with errors, in order
	}{
		{"valid minimal", func(*VirtualCluster) {}, nil},
		{"valid full", func(vc *VirtualCluster) {
			vc.Spec.HostNamespace = "team-a-host"
			vc.Spec.Provisioner = "helm"
			vc.Spec.KubernetesVersion = "v1.37"
			vc.Spec.BackingStore = BackingStore{Type: BackingStorePostgres, DSNSecretRef: &SecretKeyRef{Name: "db", Key: "dsn"}}
			vc.Spec.Sync = SyncSpec{ToHost: []string{"pods", "services"}, FromHost: []string{"events"}, Nodes: NodeSyncReal}
			vc.Spec.Isolation = &IsolationOverrides{PodSecurity: "restricted", NetworkIsolation: "strict"}
			vc.Spec.Sleep = &SleepSpec{AfterInactivity: &metav1.Duration{Duration: 3600e9}}
			vc.Spec.Expose = &ExposeSpec{Type: ExposeLoadBalancer, Hostname: "dev.example.com", ExtraSANs: []string{"10.0.0.1", "*.dev.example.com"}}
			vc.Spec.Values = &apiextensionsv1.JSON{Raw: []byte(`{"a":1}`)}
		}, nil},
		{"empty name", func(vc *VirtualCluster) { vc.Name = "" }, []string{"metadata.name"}},
		{"upper case name", func(vc *VirtualCluster) { vc.Name = "Dev" }, []string{"metadata.name"}},
		{"unicode name", func(vc *VirtualCluster) { vc.Name = "dév" }, []string{"metadata.name"}},
		{"name starting with digit", func(vc *VirtualCluster) { vc.Name = "1dev" }, []string{"metadata.name"}},
		{"too long name", func(vc *VirtualCluster) { vc.Name = strings.Repeat("a", MaxNameLength+1) }, []string{"metadata.name"}},
		{"no namespace", func(vc *VirtualCluster) { vc.Namespace = "" }, []string{"metadata.namespace"}},
		{"no tenant", func(vc *VirtualCluster) { vc.Spec.Tenant = "" }, []string{"spec.tenant"}},
		{"reserved host namespace", func(vc *VirtualCluster) { vc.Spec.HostNamespace = "kube-system" }, []string{"spec.hostNamespace"}},
		{"reserved own namespace", func(vc *VirtualCluster) { vc.Namespace = "default" }, []string{"metadata.namespace"}},
		{"bad host namespace", func(vc *VirtualCluster) { vc.Spec.HostNamespace = "Team_A" }, []string{"spec.hostNamespace"}},
		{"bad provisioner name", func(vc *VirtualCluster) { vc.Spec.Provisioner = "My Provisioner" }, []string{"spec.provisioner"}},
		{"unsupported version", func(vc *VirtualCluster) { vc.Spec.KubernetesVersion = "v1.20" }, []string{"spec.kubernetesVersion"}},
		{"malformed version", func(vc *VirtualCluster) { vc.Spec.KubernetesVersion = "latest" }, []string{"spec.kubernetesVersion"}},
		{"unknown patch", func(vc *VirtualCluster) { vc.Spec.KubernetesVersion = "v1.37.99" }, []string{"spec.kubernetesVersion"}},
		{"postgres without DSN", func(vc *VirtualCluster) { vc.Spec.BackingStore.Type = BackingStorePostgres }, []string{"spec.backingStore.dsnSecretRef"}},
		{"sqlite with DSN", func(vc *VirtualCluster) {
			vc.Spec.BackingStore.DSNSecretRef = &SecretKeyRef{Name: "db", Key: "dsn"}
		}, []string{"spec.backingStore.dsnSecretRef"}},
		{"DSN ref without key", func(vc *VirtualCluster) {
			vc.Spec.BackingStore = BackingStore{Type: BackingStoreEtcd, DSNSecretRef: &SecretKeyRef{Name: "db"}}
		}, []string{"spec.backingStore.dsnSecretRef.key"}},
		{"unknown store", func(vc *VirtualCluster) { vc.Spec.BackingStore.Type = "mysql" }, []string{"spec.backingStore.type"}},
		{"duplicate sync kind", func(vc *VirtualCluster) { vc.Spec.Sync.ToHost = []string{"pods", "pods"} }, []string{"spec.sync.toHost[1]"}},
		{"bad sync kind", func(vc *VirtualCluster) { vc.Spec.Sync.FromHost = []string{"Events"} }, []string{"spec.sync.fromHost[0]"}},
		{"bad nodes mode", func(vc *VirtualCluster) { vc.Spec.Sync.Nodes = "Both" }, []string{"spec.sync.nodes"}},
		{"bad pod security", func(vc *VirtualCluster) { vc.Spec.Isolation = &IsolationOverrides{PodSecurity: "strict"} }, []string{"spec.isolation.podSecurity"}},
		{"negative sleep", func(vc *VirtualCluster) {
			vc.Spec.Sleep = &SleepSpec{AfterInactivity: &metav1.Duration{Duration: -1}}
		}, []string{"spec.sleep.afterInactivity"}},
		{"bad expose", func(vc *VirtualCluster) {
			vc.Spec.Expose = &ExposeSpec{Type: "Ingress", Hostname: "not a host", ExtraSANs: []string{"ok.example", "b@d"}}
		}, []string{"spec.expose.type", "spec.expose.hostname", "spec.expose.extraSANs[1]"}},
		{"values not an object", func(vc *VirtualCluster) { vc.Spec.Values = &apiextensionsv1.JSON{Raw: []byte(`[1]`)} }, []string{"spec.values"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vc := validVC()
			tt.mutate(vc)
			var got []string
			for _, e := range Validate(vc) {
				got = append(got, e.Field)
				if e.Error() == "" {
					t.Errorf("empty message for %s", e.Field)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("field errors (-want +got):\n%s\nall: %v", diff, Validate(vc))
			}
		})
	}
}

func TestValidateUpdateImmutable(t *testing.T) {
	old := validVC()
	vc := old.DeepCopy()
	vc.Spec.Provisioner = "helm"
	vc.Spec.HostNamespace = "other"
	vc.Spec.BackingStore.Type = BackingStoreEtcd
	var got []string
	for _, e := range ValidateUpdate(old, vc) {
		got = append(got, e.Field)
	}
	want := []string{"spec.hostNamespace", "spec.provisioner", "spec.backingStore"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// "" and "local" are the same provisioner: not a change.
	same := old.DeepCopy()
	same.Spec.Provisioner = DefaultProvisioner
	same.Spec.BackingStore.Type = BackingStoreSQLite
	if errs := ValidateUpdate(old, same); len(errs) > 0 {
		t.Errorf("defaults spelled out counted as a change: %v", errs)
	}
}

func TestResolveKubernetesVersion(t *testing.T) {
	for in, want := range map[string]string{"": DefaultKubernetesVersion, "1.37": "v1.37.2", "v1.37": "v1.37.2", "v1.37.2": "v1.37.2"} {
		got, err := ResolveKubernetesVersion(in)
		if err != nil || got != want {
			t.Errorf("ResolveKubernetesVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"v1.36", "v1.37.1", "2.0", "banana", "v1", "v1.37.2.1"} {
		_, err := ResolveKubernetesVersion(in)
		if !errors.Is(err, ErrUnsupportedVersion) {
			t.Errorf("ResolveKubernetesVersion(%q) error = %v, want ErrUnsupportedVersion", in, err)
		}
	}
	_, err := ResolveKubernetesVersion("v1.20")
	if err == nil || !strings.Contains(err.Error(), "v1.37.2") {
		t.Errorf("error does not list supported versions: %v", err)
	}
}

func TestValidateDSN(t *testing.T) {
	good := []struct {
		t   BackingStoreType
		dsn string
	}{
		{BackingStoreSQLite, ""},
		{BackingStoreEtcd, ""},
		{BackingStoreEtcd, "http://10.0.0.1:2379,https://etcd.example:2379"},
		{BackingStorePostgres, "postgres://kine:pw@db.example:5432/kine?sslmode=disable"},
		{BackingStorePostgres, "postgresql://db/kine"},
	}
	for _, g := range good {
		if err := ValidateDSN(g.t, g.dsn); err != nil {
			t.Errorf("ValidateDSN(%s, %q) = %v", g.t, g.dsn, err)
		}
	}
	bad := []struct {
		t   BackingStoreType
		dsn string
	}{
		{BackingStoreSQLite, "file:x.db"},
		{BackingStoreEtcd, "10.0.0.1:2379"},
		{BackingStoreEtcd, "http://10.0.0.1"},
		{BackingStorePostgres, ""},
		{BackingStorePostgres, "mysql://db/kine"},
		{BackingStorePostgres, "postgres:///kine"},
		{BackingStorePostgres, "postgres://user:secret@db"},
		{"mysql", "x"},
	}
	for _, b := range bad {
		err := ValidateDSN(b.t, b.dsn)
		if !errors.Is(err, ErrInvalidDSN) {
			t.Errorf("ValidateDSN(%s, %q) = %v, want ErrInvalidDSN", b.t, b.dsn, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

func TestValidateIsolation(t *testing.T) {
	if errs := ValidateIsolation(&IsolationOverrides{PodSecurity: "restricted", NetworkIsolation: "strict"}, "baseline", "tenant"); len(errs) > 0 {
		t.Errorf("tighter overrides rejected: %v", errs)
	}
	if errs := ValidateIsolation(&IsolationOverrides{PodSecurity: "baseline"}, "baseline", ""); len(errs) > 0 {
		t.Errorf("equal override rejected: %v", errs)
	}
	errs := ValidateIsolation(&IsolationOverrides{PodSecurity: "privileged", NetworkIsolation: "none"}, "restricted", "tenant")
	var got []string
	for _, e := range errs {
		got = append(got, e.Field)
	}
	if diff := cmp.Diff([]string{"spec.isolation.podSecurity", "spec.isolation.networkIsolation"}, got); diff != "" {
		t.Errorf("looser overrides (-want +got):\n%s", diff)
	}
}
