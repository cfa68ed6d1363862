package helm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
	"github.com/vclusterkit/vclusterkit/vcluster/provisionertest"
)

func newProvisioner(t *testing.T) *Provisioner {
	t.Helper()
	p, err := New(Options{Config: host.Config, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// leftovers lists every host object the release could have left: its
// objects (by label), its store claims and Helm's release Secrets.
func leftovers(p *Provisioner) func(context.Context, *vcluster.VirtualCluster) ([]string, error) {
	return func(ctx context.Context, vc *vcluster.VirtualCluster) ([]string, error) {
		ns, rel := vc.EffectiveHostNamespace(), ReleaseName(vc)
		byLabel := client.MatchingLabels{"app.kubernetes.io/instance": rel}
		var out []string
		lists := []struct {
			kind string
			list client.ObjectList
			opts []client.ListOption
		}{
			{"StatefulSet", &appsv1.StatefulSetList{}, []client.ListOption{byLabel}},
			{"Pod", &corev1.PodList{}, []client.ListOption{byLabel}},
			{"Service", &corev1.ServiceList{}, []client.ListOption{byLabel}},
			{"Secret", &corev1.SecretList{}, []client.ListOption{byLabel}},
			{"ServiceAccount", &corev1.ServiceAccountList{}, []client.ListOption{byLabel}},
			{"Role", &rbacv1.RoleList{}, []client.ListOption{byLabel}},
			{"RoleBinding", &rbacv1.RoleBindingList{}, []client.ListOption{byLabel}},
			{"PersistentVolumeClaim", &corev1.PersistentVolumeClaimList{}, []client.ListOption{byLabel}},
			{"Helm release Secret", &corev1.SecretList{}, []client.ListOption{client.MatchingLabels{"owner": "helm", "name": rel}}},
		}
		for _, l := range lists {
			if err := p.host.List(ctx, l.list, append(l.opts, client.InNamespace(ns))...); err != nil {
				return nil, err
			}
			items, err := metaNames(l.list)
			if err != nil {
				return nil, err
			}
			for _, n := range items {
				out = append(out, l.kind+" "+ns+"/"+n)
			}
		}
		return out, nil
	}
}

func metaNames(l client.ObjectList) ([]string, error) {
	var out []string
	switch l := l.(type) {
	case *appsv1.StatefulSetList:
		for _, i := range l.Items {
			out = append(out, i.Name)
		}
	case *corev1.PodList:
		for _, i := range l.Items {
			out = append(out, i.Name)
		}
	case *corev1.ServiceList:
		for _, i := range l.Items {
			out = append(out, i.Name)
		}
	case *corev1.SecretList:
		for _, i := range l.Items {
			out = append(out, i.Name)
		}
	case *corev1.ServiceAccountList:
		for _, i := range l.Items {
			out = append(out, i.Name)
		}
	case *rbacv1.RoleList:
		for _, i := range l.Items {
			out = append(out, i.Name)
		}
	case *rbacv1.RoleBindingList:
		for _, i := range l.Items {
			out = append(out, i.Name)
		}
	case *corev1.PersistentVolumeClaimList:
		for _, i := range l.Items {
			out = append(out, i.Name)
		}
	default:
		return nil, fmt.Errorf("unknown list %T", l)
	}
	return out, nil
}

// TestConformanceOnKWOK runs the kit as far as KWOK is real: the release,
// its objects, readiness as the host reports it, idempotence, sleep and
// wake, deprovision. KWOK runs no containers, so nothing answers on the
// virtual API server: NoAPIServer is set and the kit logs what it skips.
// The postgres store is used so no volume is needed (the DSN is only
// rendered into a Secret; nothing connects to it on KWOK).
func TestConformanceOnKWOK(t *testing.T) {
	p := newProvisioner(t)
	hostNamespace(t, p, "conformance")
	provisionertest.Run(t, provisionertest.Options{
		Provisioner: p,
		NoAPIServer: true,
		Leftovers:   leftovers(p),
		Customize: func(vc *vcluster.VirtualCluster) string {
			vc.Spec.BackingStore = vcluster.BackingStore{Type: vcluster.BackingStorePostgres,
				DSNSecretRef: &vcluster.SecretKeyRef{Name: "db", Key: "dsn"}}
			return "postgres://kine:pw@postgres.db.svc:5432/" + vc.Name + "?sslmode=disable"
		},
	})
}

func TestLifecycleOnKWOK(t *testing.T) {
	ctx := context.Background()
	p := newProvisioner(t)
	hostNamespace(t, p, "team-a")
	hostVolume(t, p, "pv-team-a-dev")
	vc := &vcluster.VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "dev", Namespace: "team-a", UID: types.UID("uid-dev")},
		Spec:       vcluster.VirtualClusterSpec{Tenant: "acme"},
	}
	req := vcluster.Request{Cluster: vc}
	res := provisionReady(t, p, req)
	// The endpoint is the Service's ClusterIP, which host pods, virtual
	// pods (whose DNS is the virtual cluster's) and nodes all reach.
	var svc corev1.Service
	mustGet(t, p, "team-a", "vcluster-dev", &svc)
	endpoint := "https://" + svc.Spec.ClusterIP + ":443"
	if svc.Spec.ClusterIP == "" || res.Endpoint != endpoint {
		t.Errorf("endpoint %q, want %q", res.Endpoint, endpoint)
	}
	if svc.Labels["app.kubernetes.io/managed-by"] != "Helm" || svc.Labels["helm.sh/chart"] == "" {
		t.Errorf("Service made before the install not adopted by Helm: labels %v", svc.Labels)
	}

	// Rendered objects: namespace, labels, owner marks, requests and limits, security context.
	var sts appsv1.StatefulSet
	mustGet(t, p, "team-a", "vcluster-dev", &sts)
	wantLabels := map[string]string{
		vcluster.LabelVirtualCluster: "dev", vcluster.LabelVirtualClusterNamespace: "team-a",
		vcluster.LabelTenant: "acme", "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/instance": "vcluster-dev",
	}
	for k, v := range wantLabels {
		if sts.Labels[k] != v || sts.Spec.Template.Labels[k] != v {
			t.Errorf("label %s=%q on StatefulSet, %q on pods; want %q", k, sts.Labels[k], sts.Spec.Template.Labels[k], v)
		}
	}
	if sts.Annotations["vcluster.vclusterkit.io/owner"] != "team-a/dev" || sts.Annotations["vcluster.vclusterkit.io/owner-uid"] != "uid-dev" {
		t.Errorf("owner marks: %v", sts.Annotations)
	}
	if sts.Annotations["meta.helm.sh/release-name"] != "vcluster-dev" {
		t.Errorf("Helm ownership annotations missing: %v", sts.Annotations)
	}
	psc := sts.Spec.Template.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context: %+v", psc)
	}
	names := []string{}
	for _, c := range sts.Spec.Template.Spec.Containers {
		names = append(names, c.Name)
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if c.Resources.Requests.Name(r, "").IsZero() || c.Resources.Limits.Name(r, "").IsZero() {
				t.Errorf("container %s lacks a %s request or limit: %+v", c.Name, r, c.Resources)
			}
		}
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
			len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s security context: %+v", c.Name, sc)
		}
	}
	if strings.Join(names, ",") != "kine,kube-apiserver,kube-controller-manager" {
		t.Errorf("containers %v", names)
	}
	for _, obj := range []struct {
		name string
		o    client.Object
	}{
		{"vcluster-dev", &corev1.Service{}}, {"vcluster-dev-headless", &corev1.Service{}},
		{"vcluster-dev-pki", &corev1.Secret{}}, {"vcluster-dev-kubeconfig", &corev1.Secret{}},
		{"vcluster-dev-syncer", &corev1.ServiceAccount{}}, {"vcluster-dev-syncer", &rbacv1.Role{}}, {"vcluster-dev-syncer", &rbacv1.RoleBinding{}},
		{"sh.helm.release.v1.vcluster-dev.v1", &corev1.Secret{}},
		{"data-vcluster-dev-0", &corev1.PersistentVolumeClaim{}},
	} {
		mustGet(t, p, "team-a", obj.name, obj.o)
		if !strings.HasPrefix(obj.name, "sh.helm") && obj.o.GetLabels()[vcluster.LabelVirtualCluster] != "dev" {
			t.Errorf("%T %s lacks the virtual cluster label: %v", obj.o, obj.name, obj.o.GetLabels())
		}
	}
	kc, err := p.Kubeconfig(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := kubeconfig.RESTConfig(kc); err != nil || cfg.Host != endpoint {
		t.Errorf("kubeconfig: %v %v", cfg, err)
	}
	if h, err := p.Health(ctx, vc); err != nil || !h.Ready {
		t.Errorf("health (as KWOK reports it): %+v %v", h, err)
	}

	// Idempotent: no new revision.
	provisionReady(t, p, req)
	expectRevisions(t, p, vc, 1)

	// Upgrade: a user value changes the rendered StatefulSet.
	vc.Spec.Values = &apiextensionsv1.JSON{Raw: []byte(`{"resources":{"apiServer":{"requests":{"cpu":"300m"}}}}`)}
	provisionReady(t, p, req)
	expectRevisions(t, p, vc, 2)
	if got := apiServerCPU(t, p); got != "300m" {
		t.Errorf("cpu request after upgrade %s, want 300m", got)
	}
	// Rollback restores the first revision's objects (and keeps the PKI).
	pkiBefore := secretData(t, p, "vcluster-dev-pki")
	if err := p.Rollback(ctx, vc, 1); err != nil {
		t.Fatal(err)
	}
	expectRevisions(t, p, vc, 3)
	if got := apiServerCPU(t, p); got != "200m" {
		t.Errorf("cpu request after rollback %s, want 200m", got)
	}
	if secretData(t, p, "vcluster-dev-pki") != pkiBefore {
		t.Error("rollback changed the PKI")
	}

	// Sleep scales to zero and keeps the claim; wake scales back.
	if err := p.Pause(ctx, vc); err != nil {
		t.Fatal(err)
	}
	mustGet(t, p, "team-a", "vcluster-dev", &sts)
	if *sts.Spec.Replicas != 0 {
		t.Errorf("replicas while sleeping: %d", *sts.Spec.Replicas)
	}
	mustGet(t, p, "team-a", "data-vcluster-dev-0", &corev1.PersistentVolumeClaim{})
	if h, _ := p.Health(ctx, vc); !h.Sleeping {
		t.Errorf("health while sleeping: %+v", h)
	}
	if err := p.Resume(ctx, vc); err != nil {
		t.Fatal(err)
	}
	mustGet(t, p, "team-a", "vcluster-dev", &sts)
	if *sts.Spec.Replicas != 1 {
		t.Errorf("replicas after resume: %d", *sts.Spec.Replicas)
	}

	// Uninstall leaves nothing.
	if err := p.Deprovision(ctx, vc); err != nil {
		t.Fatal(err)
	}
	waitNothingLeft(t, p, vc)
}

func TestBadInputOnKWOK(t *testing.T) {
	ctx := context.Background()
	p := newProvisioner(t)
	t.Run("host namespace missing", func(t *testing.T) {
		vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "lost", Namespace: "nowhere"}, Spec: vcluster.VirtualClusterSpec{Tenant: "acme"}}
		_, err := p.Provision(ctx, vcluster.Request{Cluster: vc})
		if err == nil || !strings.Contains(err.Error(), `host namespace "nowhere" does not exist`) {
			t.Errorf("error = %v", err)
		}
		waitNothingLeft(t, p, vc)
	})
	t.Run("etcd without DSN", func(t *testing.T) {
		hostNamespace(t, p, "team-etcd")
		vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "team-etcd"}, Spec: vcluster.VirtualClusterSpec{Tenant: "acme"}}
		vc.Spec.BackingStore.Type = vcluster.BackingStoreEtcd
		_, err := p.Provision(ctx, vcluster.Request{Cluster: vc})
		if !errors.Is(err, vcluster.ErrInvalidDSN) {
			t.Errorf("error = %v", err)
		}
		waitNothingLeft(t, p, vc)
	})
	t.Run("a foreign Service holds the release's name", func(t *testing.T) {
		// The provisioner makes the API server's Service before the
		// install; one of that name that is not the release's is left
		// alone and the install refused.
		hostNamespace(t, p, "team-svc")
		foreign := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "vcluster-taken", Namespace: "team-svc"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
		if err := p.host.Create(ctx, foreign); err != nil {
			t.Fatal(err)
		}
		vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: "team-svc"}, Spec: vcluster.VirtualClusterSpec{Tenant: "acme"}}
		_, err := p.Provision(ctx, vcluster.Request{Cluster: vc})
		if !errors.Is(err, vcluster.ErrConflict) {
			t.Errorf("error = %v, want ErrConflict", err)
		}
		var got corev1.Service
		mustGet(t, p, "team-svc", "vcluster-taken", &got)
		if got.UID != foreign.UID || len(got.Annotations) != 0 {
			t.Errorf("the foreign Service was modified: %+v", got.ObjectMeta)
		}
		if err := p.Deprovision(ctx, vc); err != nil {
			t.Fatal(err)
		}
		mustGet(t, p, "team-svc", "vcluster-taken", &got)
		if got.UID != foreign.UID {
			t.Error("Deprovision deleted the foreign Service")
		}
	})
	t.Run("chart fails to install", func(t *testing.T) {
		// A user value the API server rejects: the failed install is rolled
		// away completely.
		hostNamespace(t, p, "team-bad")
		vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: "team-bad"}, Spec: vcluster.VirtualClusterSpec{Tenant: "acme"}}
		vc.Spec.Values = &apiextensionsv1.JSON{Raw: []byte(`{"service":{"type":"Bogus"}}`)}
		_, err := p.Provision(ctx, vcluster.Request{Cluster: vc})
		if err == nil || !strings.Contains(err.Error(), "installing vcluster-bad") {
			t.Fatalf("error = %v", err)
		}
		waitNothingLeft(t, p, vc)
		if _, err := p.Kubeconfig(ctx, vc); !errors.Is(err, vcluster.ErrNotFound) {
			t.Errorf("kubeconfig after failed install: %v", err)
		}
	})
}

func provisionReady(t *testing.T, p *Provisioner, req vcluster.Request) vcluster.Result {
	t.Helper()
	for end := time.Now().Add(2 * time.Minute); ; {
		res, err := p.Provision(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Ready {
			return res
		}
		if time.Now().After(end) {
			host.LogsOnFailure(t)
			t.Fatalf("not ready: %+v", res)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func mustGet(t *testing.T, p *Provisioner, ns, name string, o client.Object) {
	t.Helper()
	if err := p.host.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, o); err != nil {
		t.Fatalf("%T %s/%s: %v", o, ns, name, err)
	}
}

func expectRevisions(t *testing.T, p *Provisioner, vc *vcluster.VirtualCluster, n int) {
	t.Helper()
	h, err := p.History(context.Background(), vc)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != n {
		t.Fatalf("%d revisions, want %d: %+v", len(h), n, h)
	}
}

func apiServerCPU(t *testing.T, p *Provisioner) string {
	t.Helper()
	var sts appsv1.StatefulSet
	mustGet(t, p, "team-a", "vcluster-dev", &sts)
	for _, c := range sts.Spec.Template.Spec.Containers {
		if c.Name == "kube-apiserver" {
			return c.Resources.Requests.Cpu().String()
		}
	}
	return ""
}

func secretData(t *testing.T, p *Provisioner, name string) string {
	t.Helper()
	var s corev1.Secret
	mustGet(t, p, "team-a", name, &s)
	return string(s.Data["ca.crt"]) + string(s.Data["sa.key"])
}

func waitNothingLeft(t *testing.T, p *Provisioner, vc *vcluster.VirtualCluster) {
	t.Helper()
	var left []string
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		var err error
		if left, err = leftovers(p)(context.Background(), vc); err == nil && len(left) == 0 {
			return
		} else if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	t.Errorf("left behind: %v", left)
}
