package provisionertest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

// Options configure Run.
type Options struct {
	// Provisioner under test. Required.
	Provisioner vcluster.Provisioner
	// Namespace is the namespace (and host namespace) of the
	// VirtualClusters the kit creates; empty means "conformance".
	Namespace string
	// Prefix starts the names of the VirtualClusters the kit creates, so
	// parallel runs do not collide; empty means "pt".
	Prefix string
	// Customize, when set, adjusts each VirtualCluster before use and
	// returns the DSN for its request (e.g. a PostgreSQL DSN).
	Customize func(vc *vcluster.VirtualCluster) (dsn string)
	// Leftovers lists what is left of a VirtualCluster (processes,
	// directories, host objects, releases, Secrets); empty means nothing.
	// Required: "deprovision removes everything" is checked through it.
	Leftovers func(ctx context.Context, vc *vcluster.VirtualCluster) ([]string, error)
	// NoAPIServer says the environment cannot run the virtual API server
	// for real (KWOK); checks that talk to it are turned off and logged.
	NoAPIServer bool
	// Timeout bounds waiting for Ready; zero means 3 minutes.
	Timeout time.Duration
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, o Options) {
	t.Helper()
	if o.Provisioner == nil {
		t.Fatal("provisionertest: Options.Provisioner is required")
	}
	if o.Leftovers == nil {
		t.Fatal("provisionertest: Options.Leftovers is required")
	}
	if o.Namespace == "" {
		o.Namespace = "conformance"
	}
	if o.Prefix == "" {
		o.Prefix = "pt"
	}
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Minute
	}
	if o.NoAPIServer {
		t.Log("provisionertest: NoAPIServer set: checks that need a serving virtual API server are NOT run")
	}
	k := &kit{Options: o}
	t.Run("ProvisionIsIdempotent", k.provisionIdempotent)
	t.Run("InvalidRequestsLeaveNothing", k.invalidRequests)
	t.Run("KeysAreIsolated", k.isolation)
	t.Run("Capabilities", k.capabilities)
}

type kit struct{ Options }

func (k *kit) newVC(name string) (*vcluster.VirtualCluster, string) {
	vc := &vcluster.VirtualCluster{
		ObjectMeta: metav1.ObjectMeta{Name: k.Prefix + name, Namespace: k.Namespace, UID: types.UID("uid-" + k.Prefix + name)},
		Spec:       vcluster.VirtualClusterSpec{Tenant: "conformance"},
	}
	dsn := ""
	if k.Customize != nil {
		dsn = k.Customize(vc)
	}
	return vc, dsn
}

// provision calls Provision until Ready, as a controller would.
func (k *kit) provision(t *testing.T, ctx context.Context, req vcluster.Request) vcluster.Result {
	t.Helper()
	deadline := time.Now().Add(k.Timeout)
	for {
		res, err := k.Provisioner.Provision(ctx, req)
		if err != nil {
			t.Fatalf("Provision(%s): %v", req.Cluster.Name, err)
		}
		if res.Ready {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("Provision(%s) not ready after %s: %+v", req.Cluster.Name, k.Timeout, res)
		}
		time.Sleep(max(res.RequeueAfter, 200*time.Millisecond))
	}
}

// cleanup deprovisions vc at the end of the test and checks nothing is left.
func (k *kit) cleanup(t *testing.T, vc *vcluster.VirtualCluster) {
	t.Cleanup(func() {
		ctx := context.Background()
		if err := k.Provisioner.Deprovision(ctx, vc); err != nil {
			t.Errorf("Deprovision(%s): %v", vc.Name, err)
		}
		k.expectNothingLeft(t, ctx, vc)
	})
}

func (k *kit) expectNothingLeft(t *testing.T, ctx context.Context, vc *vcluster.VirtualCluster) {
	t.Helper()
	var left []string
	var err error
	// Deletion in a real host (namespaced objects, PVCs) may take a moment.
	for end := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		left, err = k.Leftovers(ctx, vc)
		if err == nil && len(left) == 0 || time.Now().After(end) {
			break
		}
	}
	if err != nil {
		t.Errorf("Leftovers(%s): %v", vc.Name, err)
	}
	if len(left) > 0 {
		t.Errorf("left behind for %s:\n  %s", vc.Name, strings.Join(left, "\n  "))
	}
}

func clientFor(t *testing.T, kc []byte) client.Client {
	t.Helper()
	cfg, err := kubeconfig.RESTConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 30 * time.Second
	sch := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(sch)
	c, err := client.New(cfg, client.Options{Scheme: sch})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (k *kit) provisionIdempotent(t *testing.T) {
	ctx := context.Background()
	vc, dsn := k.newVC("idem")
	k.cleanup(t, vc)
	req := vcluster.Request{Cluster: vc, BackingStoreDSN: dsn}
	first := k.provision(t, ctx, req)
	second := k.provision(t, ctx, req)
	if first.Endpoint != second.Endpoint {
		t.Errorf("second Provision moved the endpoint: %q → %q", first.Endpoint, second.Endpoint)
	}
	kc, err := k.Provisioner.Kubeconfig(ctx, vc)
	if err != nil {
		t.Fatalf("Kubeconfig: %v", err)
	}
	if _, err := kubeconfig.RESTConfig(kc); err != nil {
		t.Fatalf("Kubeconfig does not parse: %v", err)
	}
	if k.NoAPIServer {
		t.Log("NoAPIServer: not checking that the kubeconfig reaches an API server")
	} else {
		c := clientFor(t, kc)
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "conformance", Namespace: "default"}, Data: map[string]string{"k": "v"}}
		if err := c.Create(ctx, cm); err != nil {
			t.Fatalf("creating a ConfigMap through the admin kubeconfig: %v", err)
		}
		k.provision(t, ctx, req) // a third call must not disturb objects
		var got corev1.ConfigMap
		if err := c.Get(ctx, client.ObjectKeyFromObject(cm), &got); err != nil || got.Data["k"] != "v" {
			t.Fatalf("ConfigMap after re-provision: %v %v", got.Data, err)
		}
	}
	if err := k.Provisioner.Deprovision(ctx, vc); err != nil {
		t.Fatalf("Deprovision: %v", err)
	}
	if err := k.Provisioner.Deprovision(ctx, vc); err != nil {
		t.Fatalf("second Deprovision is not idempotent: %v", err)
	}
	k.expectNothingLeft(t, ctx, vc)
	if _, err := k.Provisioner.Kubeconfig(ctx, vc); !errors.Is(err, vcluster.ErrNotFound) {
		t.Errorf("Kubeconfig after Deprovision: %v, want ErrNotFound", err)
	}
}

func (k *kit) invalidRequests(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		mutate func(*vcluster.VirtualCluster)
		want   error
	}{
		{"unsupported version", func(vc *vcluster.VirtualCluster) { vc.Spec.KubernetesVersion = "v1.20" }, vcluster.ErrUnsupportedVersion},
		{"malformed version", func(vc *vcluster.VirtualCluster) { vc.Spec.KubernetesVersion = "latest" }, nil},
		{"upper-case name", func(vc *vcluster.VirtualCluster) { vc.Name = "Bad" + vc.Name }, nil},
		{"too long name", func(vc *vcluster.VirtualCluster) { vc.Name = strings.Repeat("x", vcluster.MaxNameLength+1) }, nil},
		{"postgres without DSN", func(vc *vcluster.VirtualCluster) {
			vc.Spec.BackingStore = vcluster.BackingStore{Type: vcluster.BackingStorePostgres}
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vc, dsn := k.newVC("bad")
			c.mutate(vc)
			_, err := k.Provisioner.Provision(ctx, vcluster.Request{Cluster: vc, BackingStoreDSN: dsn})
			if err == nil {
				t.Fatal("Provision accepted an invalid VirtualCluster")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("error %v does not wrap %v", err, c.want)
			}
			k.expectNothingLeft(t, ctx, vc)
		})
	}
	t.Run("malformed DSN", func(t *testing.T) {
		vc, _ := k.newVC("baddsn")
		vc.Spec.BackingStore = vcluster.BackingStore{Type: vcluster.BackingStorePostgres,
			DSNSecretRef: &vcluster.SecretKeyRef{Name: "db", Key: "dsn"}}
		_, err := k.Provisioner.Provision(ctx, vcluster.Request{Cluster: vc, BackingStoreDSN: "mysql://db/x"})
		if !errors.Is(err, vcluster.ErrInvalidDSN) {
			t.Errorf("error %v does not wrap ErrInvalidDSN", err)
		}
		k.expectNothingLeft(t, ctx, vc)
	})
	t.Run("second claimant of host namespace and name", func(t *testing.T) {
		vc, dsn := k.newVC("claim")
		k.cleanup(t, vc)
		k.provision(t, ctx, vcluster.Request{Cluster: vc, BackingStoreDSN: dsn})
		other := vc.DeepCopy()
		other.Namespace = vc.Namespace + "-other"
		other.Spec.HostNamespace = vc.EffectiveHostNamespace()
		other.UID = types.UID("uid-other")
		_, err := k.Provisioner.Provision(ctx, vcluster.Request{Cluster: other, BackingStoreDSN: dsn})
		if !errors.Is(err, vcluster.ErrConflict) {
			t.Errorf("second claimant: %v, want ErrConflict", err)
		}
		// Deprovisioning the refused claimant must not touch the first.
		if err := k.Provisioner.Deprovision(ctx, other); err != nil {
			t.Errorf("Deprovision of refused claimant: %v", err)
		}
		if _, err := k.Provisioner.Kubeconfig(ctx, vc); err != nil {
			t.Errorf("first claimant lost its control plane: %v", err)
		}
	})
}

func (k *kit) isolation(t *testing.T) {
	if k.NoAPIServer {
		t.Log("NoAPIServer: key isolation between \"a\" and \"aa\" is NOT checked here")
		return
	}
	ctx := context.Background()
	a, dsnA := k.newVC("a")
	aa, dsnAA := k.newVC("aa")
	k.cleanup(t, a)
	k.cleanup(t, aa)
	k.provision(t, ctx, vcluster.Request{Cluster: a, BackingStoreDSN: dsnA})
	k.provision(t, ctx, vcluster.Request{Cluster: aa, BackingStoreDSN: dsnAA})
	kcA, err := k.Provisioner.Kubeconfig(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	kcAA, err := k.Provisioner.Kubeconfig(ctx, aa)
	if err != nil {
		t.Fatal(err)
	}
	ca, caa := clientFor(t, kcA), clientFor(t, kcAA)
	if err := ca.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-in-a"}}); err != nil {
		t.Fatal(err)
	}
	var ns corev1.Namespace
	if err := caa.Get(ctx, client.ObjectKey{Name: "only-in-a"}, &ns); !apierrors.IsNotFound(err) {
		t.Errorf("cluster aa sees namespace of cluster a: %v", err)
	}
	if err := caa.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-in-a"}}); err != nil {
		t.Errorf("cluster aa cannot create a namespace with the same name: %v", err)
	}
}

func (k *kit) capabilities(t *testing.T) {
	ctx := context.Background()
	vc, dsn := k.newVC("caps")
	k.cleanup(t, vc)
	req := vcluster.Request{Cluster: vc, BackingStoreDSN: dsn}
	k.provision(t, ctx, req)

	if hr, ok := k.Provisioner.(vcluster.HealthReporter); ok {
		t.Run("HealthReporter", func(t *testing.T) {
			h, err := hr.Health(ctx, vc)
			if err != nil {
				t.Fatal(err)
			}
			if !h.Ready || h.Sleeping {
				t.Errorf("health of a provisioned cluster: %+v", h)
			}
			missing, _ := k.newVC("missing")
			if _, err := hr.Health(ctx, missing); !errors.Is(err, vcluster.ErrNotFound) {
				t.Errorf("Health of an unknown cluster: %v, want ErrNotFound", err)
			}
		})
	}
	if iss, ok := k.Provisioner.(vcluster.UserKubeconfigIssuer); ok {
		t.Run("UserKubeconfigIssuer", func(t *testing.T) {
			kc, err := iss.UserKubeconfig(ctx, vc, vcluster.User{Name: "alice@example.com", Groups: []string{"devs"}})
			if err != nil {
				t.Fatal(err)
			}
			if k.NoAPIServer {
				t.Log("NoAPIServer: not checking who the user kubeconfig authenticates as")
				return
			}
			review := &authenticationv1.SelfSubjectReview{}
			if err := clientFor(t, kc).Create(ctx, review); err != nil {
				t.Fatal(err)
			}
			ui := review.Status.UserInfo
			if ui.Username != "alice@example.com" || !contains(ui.Groups, "devs") {
				t.Errorf("authenticated as %q %v", ui.Username, ui.Groups)
			}
		})
	}
	if up, ok := k.Provisioner.(vcluster.Upgrader); ok {
		t.Run("Upgrader", func(t *testing.T) {
			res, err := up.Upgrade(ctx, req)
			if err != nil {
				t.Fatalf("Upgrade to the same spec: %v", err)
			}
			_ = res
			k.provision(t, ctx, req)
		})
	}
	if sn, ok := k.Provisioner.(vcluster.Snapshotter); ok {
		t.Run("Snapshotter", func(t *testing.T) { k.snapshotter(t, sn, vc) })
	}
	if sl, ok := k.Provisioner.(vcluster.Sleeper); ok {
		t.Run("Sleeper", func(t *testing.T) { k.sleeper(t, sl, vc, req) })
	}
}

func (k *kit) sleeper(t *testing.T, sl vcluster.Sleeper, vc *vcluster.VirtualCluster, req vcluster.Request) {
	ctx := context.Background()
	var c client.Client
	if !k.NoAPIServer {
		kc, err := k.Provisioner.Kubeconfig(ctx, vc)
		if err != nil {
			t.Fatal(err)
		}
		c = clientFor(t, kc)
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kept-while-asleep"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sl.Pause(ctx, vc); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if err := sl.Pause(ctx, vc); err != nil {
		t.Fatalf("second Pause is not idempotent: %v", err)
	}
	res, err := k.Provisioner.Provision(ctx, req)
	if err != nil || !res.Sleeping || res.Ready {
		t.Errorf("Provision of a paused cluster: %+v %v; want Sleeping and not Ready", res, err)
	}
	if hr, ok := k.Provisioner.(vcluster.HealthReporter); ok {
		if h, err := hr.Health(ctx, vc); err != nil || !h.Sleeping {
			t.Errorf("Health while paused: %+v %v", h, err)
		}
	}
	if err := sl.Resume(ctx, vc); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if err := sl.Resume(ctx, vc); err != nil {
		t.Fatalf("second Resume is not idempotent: %v", err)
	}
	k.provision(t, ctx, req)
	if c == nil {
		t.Log("NoAPIServer: not checking that objects survive pause and resume")
		return
	}
	kc, err := k.Provisioner.Kubeconfig(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	var ns corev1.Namespace
	if err := clientFor(t, kc).Get(ctx, client.ObjectKey{Name: "kept-while-asleep"}, &ns); err != nil {
		t.Errorf("namespace lost across pause/resume: %v", err)
	}
}

func (k *kit) snapshotter(t *testing.T, sn vcluster.Snapshotter, vc *vcluster.VirtualCluster) {
	ctx := context.Background()
	var c client.Client
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "in-snapshot", Namespace: "default"}, Data: map[string]string{"v": "1"}}
	if !k.NoAPIServer {
		kc, err := k.Provisioner.Kubeconfig(ctx, vc)
		if err != nil {
			t.Fatal(err)
		}
		c = clientFor(t, kc)
		if err := c.Create(ctx, cm); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	err := sn.Snapshot(ctx, vc, &buf)
	if errors.Is(err, vcluster.ErrUnsupported) {
		t.Logf("Snapshot not supported for this VirtualCluster: %v", err)
		return
	}
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if err := sn.Restore(ctx, vc, bytes.NewReader([]byte("not a snapshot"))); err == nil {
		t.Error("Restore accepted garbage")
	}
	if c == nil {
		t.Log("NoAPIServer: not checking that Restore brings objects back")
		return
	}
	kc, _ := k.Provisioner.Kubeconfig(ctx, vc)
	c = clientFor(t, kc)
	if err := c.Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if err := sn.Restore(ctx, vc, &buf); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	kc, _ = k.Provisioner.Kubeconfig(ctx, vc)
	var got corev1.ConfigMap
	if err := clientFor(t, kc).Get(ctx, client.ObjectKeyFromObject(cm), &got); err != nil || got.Data["v"] != "1" {
		t.Errorf("ConfigMap after Restore: %v %v", got.Data, err)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
