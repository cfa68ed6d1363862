package helm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/pki"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

// Name is the name the helm provisioner is usually registered under.
const Name = "helm"

// ReleasePrefix starts every release name: "vcluster-<name>". Object names
// in the chart are the release name plus a suffix.
const ReleasePrefix = "vcluster-"

// Options configure a Provisioner.
type Options struct {
	// Config reaches the host cluster. Required.
	Config *rest.Config
	// Chart replaces the embedded default chart (DefaultChart). A custom
	// chart receives the same values.
	Chart *chart.Chart
	// Images override the images derived from the Kubernetes version.
	Images Images
	// Values are the platform's chart values for every virtual cluster
	// (see the precedence on Provisioner).
	Values map[string]any
	// Timeout bounds each Helm operation, and Resume's wait for readiness;
	// zero means 5 minutes.
	Timeout time.Duration
	// MaxHistory is how many release revisions Helm keeps; zero means 10.
	MaxHistory int
	// KubeletAddress is where the engine serves the kubelet APIs of these
	// virtual clusters (vcluster.KubeletAddresser): an address of the
	// engine's reachable from the control-plane pods (the engine pod's
	// IP, or the node's when it runs on a node). Nil means loopback,
	// which a control plane in a pod cannot reach: kubectl logs and exec
	// then fail inside the virtual clusters.
	KubeletAddress net.IP
}

// Images are container image references.
type Images struct {
	APIServer, ControllerManager, Kine string
}

// Provisioner installs the control-plane chart as one Helm release per
// virtual cluster, named ReleasePrefix+name, in the host namespace, with
// Helm's Secret storage driver keeping the release history there. Safe for
// concurrent use.
//
// Provision does not wait for the control plane to run: it installs or
// upgrades and reports Ready once the StatefulSet has a ready replica,
// asking to be called again (Result.RequeueAfter) until then.
type Provisioner struct {
	opts  Options
	chart *chart.Chart
	host  client.Client
	disc  *discoveryCache

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

var (
	_ vcluster.Provisioner          = (*Provisioner)(nil)
	_ vcluster.Sleeper              = (*Provisioner)(nil)
	_ vcluster.Upgrader             = (*Provisioner)(nil)
	_ vcluster.HealthReporter       = (*Provisioner)(nil)
	_ vcluster.UserKubeconfigIssuer = (*Provisioner)(nil)
)

// New returns a Provisioner for the host cluster opts.Config reaches.
func New(opts Options) (*Provisioner, error) {
	if opts.Config == nil {
		return nil, errors.New("helm: Options.Config is required")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.MaxHistory <= 0 {
		opts.MaxHistory = 10
	}
	ch := opts.Chart
	if ch == nil {
		var err error
		if ch, err = DefaultChart(); err != nil {
			return nil, err
		}
	}
	sch := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		return nil, err
	}
	c, err := client.New(opts.Config, client.Options{Scheme: sch})
	if err != nil {
		return nil, fmt.Errorf("helm: host client: %w", err)
	}
	return &Provisioner{opts: opts, chart: ch, host: c, disc: &discoveryCache{}, locks: map[string]*sync.Mutex{}}, nil
}

// ReleaseName is the Helm release of a VirtualCluster.
func ReleaseName(vc *vcluster.VirtualCluster) string { return ReleasePrefix + vc.Name }

// KubeconfigSecret is where the chart puts the admin kubeconfig; it is what
// VirtualCluster.Status.KubeconfigSecret should point at.
func KubeconfigSecret(vc *vcluster.VirtualCluster) vcluster.SecretRef {
	return vcluster.SecretRef{Namespace: vc.EffectiveHostNamespace(), Name: ReleaseName(vc) + "-kubeconfig", Key: kubeconfig.DefaultSecretKey}
}

func (p *Provisioner) lock(key string) func() {
	p.mu.Lock()
	l, ok := p.locks[key]
	if !ok {
		l = &sync.Mutex{}
		p.locks[key] = l
	}
	p.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (p *Provisioner) actionConfig(ctx context.Context, namespace string) (*action.Configuration, error) {
	log := ctrl.LoggerFrom(ctx).WithName("helm")
	cfg := new(action.Configuration)
	g := &restGetter{cfg: p.opts.Config, namespace: namespace, disc: p.disc}
	if err := cfg.Init(g, namespace, "secret", func(format string, v ...any) { log.V(2).Info(fmt.Sprintf(format, v...)) }); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	return cfg, nil
}

// current returns the latest release of vc, or nil when there is none.
func current(cfg *action.Configuration, name string) (*release.Release, error) {
	rel, err := cfg.Releases.Last(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("helm: reading release %s: %w", name, err)
	}
	return rel, nil
}

func ownedBy(rel *release.Release, vc *vcluster.VirtualCluster) bool {
	o, _ := rel.Config["owner"].(map[string]any)
	ns, _ := o["namespace"].(string)
	name, _ := o["name"].(string)
	uid, _ := o["uid"].(string)
	if ns != vc.Namespace || name != vc.Name {
		return false
	}
	return uid == "" || vc.UID == "" || uid == string(vc.UID)
}

func conflict(vc *vcluster.VirtualCluster, rel *release.Release) error {
	o, _ := rel.Config["owner"].(map[string]any)
	return fmt.Errorf("%w: release %s in host namespace %q belongs to VirtualCluster %v/%v",
		vcluster.ErrConflict, rel.Name, vc.EffectiveHostNamespace(), o["namespace"], o["name"])
}

func (p *Provisioner) check(req vcluster.Request) (string, error) {
	vc := req.Cluster
	if vc == nil {
		return "", errors.New("helm: nil VirtualCluster")
	}
	version, err := vcluster.ResolveKubernetesVersion(vc.Spec.KubernetesVersion)
	if err != nil {
		return "", fmt.Errorf("spec.kubernetesVersion: %w", err)
	}
	if errs := vcluster.Validate(vc); len(errs) > 0 {
		return "", fmt.Errorf("helm: %w", errs.ToAggregate())
	}
	store := vc.EffectiveBackingStore()
	if err := vcluster.ValidateDSN(store, req.BackingStoreDSN); err != nil {
		return "", fmt.Errorf("spec.backingStore: %w", err)
	}
	if store == vcluster.BackingStoreEtcd && req.BackingStoreDSN == "" {
		return "", fmt.Errorf("spec.backingStore.dsnSecretRef: %w: the helm provisioner runs no etcd of its own; give the client URLs of an external etcd", vcluster.ErrInvalidDSN)
	}
	return version, nil
}

// Provision installs the release, or upgrades it when the values derived
// from the spec changed; an unchanged spec makes no new revision. A
// sleeping release is left as it is (Result.Sleeping). If a first install
// fails, the release and everything it created are removed.
func (p *Provisioner) Provision(ctx context.Context, req vcluster.Request) (vcluster.Result, error) {
	return p.apply(ctx, req, false)
}

// Upgrade applies a changed spec (for example a new Kubernetes version) to
// an installed release. It fails with vcluster.ErrNotFound when there is
// none.
func (p *Provisioner) Upgrade(ctx context.Context, req vcluster.Request) (vcluster.Result, error) {
	return p.apply(ctx, req, true)
}

func (p *Provisioner) apply(ctx context.Context, req vcluster.Request, mustExist bool) (vcluster.Result, error) {
	version, err := p.check(req)
	if err != nil {
		return vcluster.Result{}, err
	}
	vc := req.Cluster
	ns, name := vc.EffectiveHostNamespace(), ReleaseName(vc)
	defer p.lock(ns + "/" + name)()
	var nsObj corev1.Namespace
	if err := p.host.Get(ctx, client.ObjectKey{Name: ns}, &nsObj); err != nil {
		if apierrors.IsNotFound(err) {
			return vcluster.Result{}, fmt.Errorf("spec.hostNamespace: host namespace %q does not exist", ns)
		}
		return vcluster.Result{}, fmt.Errorf("helm: reading host namespace %q: %w", ns, err)
	}
	cfg, err := p.actionConfig(ctx, ns)
	if err != nil {
		return vcluster.Result{}, err
	}
	rel, err := current(cfg, name)
	if err != nil {
		return vcluster.Result{}, err
	}
	if rel != nil && !ownedBy(rel, vc) {
		return vcluster.Result{}, conflict(vc, rel)
	}
	if rel == nil && mustExist {
		return vcluster.Result{}, fmt.Errorf("%w: no release %s in %s", vcluster.ErrNotFound, name, ns)
	}
	var existing map[string]any
	if rel != nil {
		existing = rel.Config
	}
	addr, err := p.serviceAddress(ctx, vc, rel == nil)
	if err != nil {
		return vcluster.Result{}, err
	}
	vals, err := p.values(req, name, version, addr, existing)
	if err != nil {
		return vcluster.Result{}, err
	}
	switch {
	case rel == nil:
		req.Report("install", "installing release "+name+" in "+ns)
		in := action.NewInstall(cfg)
		in.ReleaseName, in.Namespace, in.Timeout = name, ns, p.opts.Timeout
		if _, err := in.RunWithContext(ctx, p.chart, vals); err != nil {
			// Leave nothing half-created.
			if cerr := p.remove(ctx, cfg, vc); cerr != nil {
				err = errors.Join(err, fmt.Errorf("cleaning up: %w", cerr))
			}
			return vcluster.Result{}, fmt.Errorf("helm: installing %s: %w", name, err)
		}
	case rel.Info.Status == release.StatusDeployed && sameValues(rel.Config, vals) && !mustExist:
		// Nothing changed: no new revision.
	default:
		req.Report("upgrade", "upgrading release "+name)
		up := action.NewUpgrade(cfg)
		up.Namespace, up.Timeout, up.MaxHistory = ns, p.opts.Timeout, p.opts.MaxHistory
		if _, err := up.RunWithContext(ctx, name, p.chart, vals); err != nil {
			return vcluster.Result{}, fmt.Errorf("helm: upgrading %s: %w", name, err)
		}
	}
	if s, _ := vals["sleeping"].(bool); s {
		return vcluster.Result{Sleeping: true, Endpoint: serverURLFor(name, ns, addr), KubernetesVersion: version, Message: "sleeping"}, nil
	}
	ready, msg, err := p.ready(ctx, vc)
	if err != nil {
		return vcluster.Result{}, err
	}
	res := vcluster.Result{Ready: ready, Endpoint: serverURLFor(name, ns, addr), KubernetesVersion: version, Message: msg}
	if !ready {
		res.RequeueAfter = 2 * time.Second
	}
	return res, nil
}

// ready reports whether the StatefulSet has a ready, current replica.
func (p *Provisioner) ready(ctx context.Context, vc *vcluster.VirtualCluster) (bool, string, error) {
	var sts appsv1.StatefulSet
	err := p.host.Get(ctx, client.ObjectKey{Namespace: vc.EffectiveHostNamespace(), Name: ReleaseName(vc)}, &sts)
	if apierrors.IsNotFound(err) {
		return false, "StatefulSet not created yet", nil
	}
	if err != nil {
		return false, "", err
	}
	if sts.Status.ObservedGeneration < sts.Generation || sts.Status.ReadyReplicas < 1 || sts.Status.UpdatedReplicas < 1 {
		return false, fmt.Sprintf("StatefulSet %s: %d ready, %d updated", sts.Name, sts.Status.ReadyReplicas, sts.Status.UpdatedReplicas), nil
	}
	return true, "StatefulSet ready", nil
}

// Deprovision uninstalls the release, waiting until its objects are gone,
// and deletes the store's PersistentVolumeClaims. Idempotent; a release
// owned by another VirtualCluster is left alone.
func (p *Provisioner) Deprovision(ctx context.Context, vc *vcluster.VirtualCluster) error {
	if vc == nil {
		return errors.New("helm: nil VirtualCluster")
	}
	ns, name := vc.EffectiveHostNamespace(), ReleaseName(vc)
	defer p.lock(ns + "/" + name)()
	cfg, err := p.actionConfig(ctx, ns)
	if err != nil {
		return err
	}
	rel, err := current(cfg, name)
	if err != nil {
		return err
	}
	if rel != nil && !ownedBy(rel, vc) {
		ctrl.LoggerFrom(ctx).Info("not deprovisioning a release owned by another VirtualCluster", "release", name, "namespace", ns)
		return nil
	}
	return p.remove(ctx, cfg, vc)
}

// remove uninstalls the release (if any) and deletes the claims of its
// StatefulSet.
func (p *Provisioner) remove(ctx context.Context, cfg *action.Configuration, vc *vcluster.VirtualCluster) error {
	ns, name := vc.EffectiveHostNamespace(), ReleaseName(vc)
	un := action.NewUninstall(cfg)
	// Helm's uninstall takes no context: when ctx is already done (an
	// engine shutting down, cleaning up after a cancelled install) it
	// deletes without waiting, and a wait in progress is abandoned when
	// ctx ends, so a caller is never held for the whole Timeout.
	un.Wait, un.Timeout, un.DeletionPropagation = ctx.Err() == nil, p.opts.Timeout, "foreground"
	done := make(chan error, 1)
	go func() {
		_, err := un.Run(name)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
			return fmt.Errorf("helm: uninstalling %s: %w", name, err)
		}
	case <-ctx.Done():
		return fmt.Errorf("helm: uninstalling %s: %w (the uninstall goes on in the background)", name, ctx.Err())
	}
	err := p.host.DeleteAllOf(ctx, &corev1.PersistentVolumeClaim{}, client.InNamespace(ns),
		client.MatchingLabels{"app.kubernetes.io/instance": name, vcluster.LabelVirtualCluster: vc.Name})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("helm: deleting claims of %s: %w", name, err)
	}
	// What the provisioner made beside the chart: the kubelet API's
	// NetworkPolicy, and the Service made before an install that failed
	// before Helm adopted it.
	var np networkingv1.NetworkPolicy
	err = p.host.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-kubelet"}, &np)
	if err == nil && np.Labels["app.kubernetes.io/instance"] == name && np.Labels[vcluster.LabelVirtualCluster] == vc.Name {
		err = p.host.Delete(ctx, &np, client.Preconditions{UID: &np.UID})
	}
	if client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("helm: deleting NetworkPolicy %s/%s-kubelet: %w", ns, name, err)
	}
	var svc corev1.Service
	err = p.host.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &svc)
	if err == nil && svc.Annotations[helmReleaseName] == name && svc.Annotations[helmReleaseNamespace] == ns {
		err = p.host.Delete(ctx, &svc, client.Preconditions{UID: &svc.UID})
	}
	if client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("helm: deleting Service %s/%s: %w", ns, name, err)
	}
	return nil
}

// Kubeconfig returns the admin kubeconfig from the chart's Secret. Its
// server is the ClusterIP of the API server's Service
// (https://CLUSTER-IP:443): it answers from pods and nodes of the host
// cluster, or through a port-forward to the Service (the certificate also
// covers https://vcluster-NAME.NS.svc).
func (p *Provisioner) Kubeconfig(ctx context.Context, vc *vcluster.VirtualCluster) ([]byte, error) {
	if vc == nil {
		return nil, errors.New("helm: nil VirtualCluster")
	}
	return kubeconfig.FromSecret(ctx, p.host, KubeconfigSecret(vc))
}

// UserKubeconfig signs a client certificate for user with the virtual
// cluster's CA (from the chart's PKI Secret).
func (p *Provisioner) UserKubeconfig(ctx context.Context, vc *vcluster.VirtualCluster, user vcluster.User) ([]byte, error) {
	ns, name := vc.EffectiveHostNamespace(), ReleaseName(vc)
	var s corev1.Secret
	if err := p.host.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-pki"}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: PKI Secret %s/%s-pki not found", vcluster.ErrNotFound, ns, name)
		}
		return nil, err
	}
	ca := pki.KeyPair{Cert: s.Data["ca.crt"], Key: s.Data["ca.key"]}
	kp, err := pki.ClientCert(ca, user.Name, user.Groups)
	if err != nil {
		return nil, err
	}
	addr, err := p.serviceAddress(ctx, vc, false)
	if err != nil {
		return nil, err
	}
	return kubeconfig.Build(kubeconfig.Config{Server: serverURLFor(name, ns, addr), CA: ca.Cert, ClientCert: kp.Cert, ClientKey: kp.Key,
		User: user.Name, Name: ns + "-" + vc.Name})
}
