package helm

import (
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vclusterkit/vclusterkit/vcluster"
)

// render renders the default chart for vc without a cluster.
func render(t *testing.T, p *Provisioner, vc *vcluster.VirtualCluster, dsn string) string {
	t.Helper()
	vals, err := p.values(vcluster.Request{Cluster: vc, BackingStoreDSN: dsn}, ReleaseName(vc), vcluster.DefaultKubernetesVersion, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := registry.NewClient()
	cfg := &action.Configuration{Releases: storage.Init(driver.NewMemory()), KubeClient: &kubefake.PrintingKubeClient{},
		Capabilities: chartutil.DefaultCapabilities, RegistryClient: rc, Log: func(string, ...any) {}}
	in := action.NewInstall(cfg)
	in.ClientOnly, in.DryRun, in.ReleaseName, in.Namespace = true, true, ReleaseName(vc), vc.EffectiveHostNamespace()
	rel, err := in.Run(p.chart, vals)
	if err != nil {
		t.Fatal(err)
	}
	return rel.Manifest
}

func TestRenderValuesPrecedence(t *testing.T) {
	ch, err := DefaultChart()
	if err != nil {
		t.Fatal(err)
	}
	p := &Provisioner{chart: ch, opts: Options{
		Images: Images{Kine: "mirror.example/kine:v0.17.5"},
		Values: map[string]any{"storage": map[string]any{"size": "2Gi"}, "name": "platform-cannot-rename",
			"extraArgs": map[string]any{"apiServer": []any{"--v=3"}, "kine": []any{"--debug"}}},
	}}
	vc := &vcluster.VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "team-a", UID: types.UID("u1")},
		Spec: vcluster.VirtualClusterSpec{Tenant: "acme", Values: &apiextensionsv1.JSON{Raw: []byte(
			`{"storage":{"storageClassName":"fast"},"owner":{"uid":"stolen"},"resources":{"apiServer":{"limits":{"memory":"2Gi"}}}}`)}},
	}
	m := render(t, p, vc, "")
	for _, want := range []string{
		"storage: 2Gi",               // platform value
		"storageClassName: fast",     // user value
		"memory: 2Gi",                // user value over chart default
		"image: mirror.example/kine", // Options.Images
		"image: registry.k8s.io/kube-apiserver:v1.37.2",
		`vcluster.vclusterkit.io/name: "dev"`, // identity wins over platform
		`vcluster.vclusterkit.io/owner-uid: "u1"`,
		`tenancy.vclusterkit.io/tenant: "acme"`,
		"namespace: team-a",
		"--etcd-prefix=/vclusterkit/team-a/dev/registry",
		"runAsNonRoot: true",
		"readOnlyRootFilesystem: true",
		"--kubelet-client-certificate=/pki/kubelet-client.crt",
		"--kubelet-certificate-authority=/pki/kubelet-ca.crt",
		"--kubelet-preferred-address-types=InternalIP",
		"vcluster.vclusterkit.io/control-plane: vcluster-dev",
		"- --v=3", // extra flags (platform value)
		"- --debug",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("manifest lacks %q", want)
		}
	}
	// Read-only root file systems: every container writes its temporary
	// files to an emptyDir (kine's SQLite silently lost writes without one).
	if n := strings.Count(m, "mountPath: /tmp"); n != 3 {
		t.Errorf("%d containers mount a writable /tmp, want all 3", n)
	}
	for _, bad := range []string{"platform-cannot-rename", "stolen"} {
		if strings.Contains(m, bad) {
			t.Errorf("identity value overridden: manifest contains %q", bad)
		}
	}
}

func TestRenderStores(t *testing.T) {
	ch, _ := DefaultChart()
	p := &Provisioner{chart: ch}
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "pg", Namespace: "team-a"}, Spec: vcluster.VirtualClusterSpec{Tenant: "acme"}}
	vc.Spec.BackingStore = vcluster.BackingStore{Type: vcluster.BackingStorePostgres, DSNSecretRef: &vcluster.SecretKeyRef{Name: "db", Key: "dsn"}}
	m := render(t, p, vc, "postgres://u:p@db:5432/kine")
	if !strings.Contains(m, "--endpoint=$(KINE_DSN)") || strings.Contains(m, "volumeClaimTemplates") || !strings.Contains(m, "name: vcluster-pg-store") {
		t.Errorf("postgres manifest wrong:\n%s", m)
	}
	vc.Spec.BackingStore.Type = vcluster.BackingStoreEtcd
	m = render(t, p, vc, "https://etcd.example:2379")
	if strings.Contains(m, "name: kine") || !strings.Contains(m, "--etcd-servers=https://etcd.example:2379") {
		t.Errorf("etcd manifest wrong:\n%s", m)
	}
}
