package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// ClusterReconciler keeps a Cluster's status on the management side: it
// probes a Credential cluster through its kubeconfig Secret (nodes,
// capacity, version) every ProbeInterval, and marks an Agent cluster
// Unreachable when its agent's last heartbeat is older than
// HeartbeatGrace. It sums the resources of the claims bound to each
// cluster into Status.Allocated. It never writes to a member cluster.
type ClusterReconciler struct {
	// Client reads and writes the management API.
	Client client.Client
	// APIReader reads claims uncached (a just-bound claim counts at once).
	APIReader client.Reader
	// ProbeInterval between probes of Credential clusters; zero means 10 s.
	ProbeInterval time.Duration
	// HeartbeatGrace after which an Agent cluster without a heartbeat is
	// Unreachable; zero means 30 s.
	HeartbeatGrace time.Duration
	// ProbeTimeout bounds one probe; zero means 5 s.
	ProbeTimeout time.Duration
}

// SetupWithManager registers the reconciler; Client is required.
func (r *ClusterReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Client == nil {
		return errors.New("fleet.ClusterReconciler: Client is required")
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.ProbeInterval == 0 {
		r.ProbeInterval = 10 * time.Second
	}
	if r.HeartbeatGrace == 0 {
		r.HeartbeatGrace = 30 * time.Second
	}
	if r.ProbeTimeout == 0 {
		r.ProbeTimeout = 5 * time.Second
	}
	// Status writes (its own probes, the agent's heartbeats) do not
	// trigger a reconcile: probes are paced by RequeueAfter.
	return ctrl.NewControllerManagedBy(mgr).Named("fleet-cluster").For(&Cluster{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&ClusterClaim{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			if c := o.(*ClusterClaim).Status.Cluster; c != "" {
				return []ctrl.Request{{NamespacedName: client.ObjectKey{Name: c}}}
			}
			return nil
		})).
		Complete(r)
}

// Reconcile implements reconcile.Reconciler.
func (r *ClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	c := &Cluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, c); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	patch := client.MergeFromWithOptions(c.DeepCopy(), client.MergeFromWithOptimisticLock{})
	next := r.ProbeInterval
	switch c.Spec.Connection {
	case ConnectionAgent:
		next = r.checkHeartbeat(c)
	default:
		r.probe(ctx, c)
	}
	if len(c.Spec.Capacity) > 0 {
		c.Status.Capacity = c.Spec.Capacity.DeepCopy()
	}
	var claims ClusterClaimList
	if err := r.APIReader.List(ctx, &claims); err != nil {
		return ctrl.Result{}, err
	}
	var held []corev1.ResourceList
	for _, cl := range claims.Items {
		if cl.Status.Cluster == c.Name && cl.DeletionTimestamp == nil {
			held = append(held, cl.Spec.Resources)
		}
	}
	c.Status.Allocated = Sum(held...)
	if err := r.Client.Status().Patch(ctx, c, patch); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: next}, nil
}

// checkHeartbeat marks an Agent cluster Unreachable once its heartbeat is
// older than the grace period, and returns when to look again.
func (r *ClusterReconciler) checkHeartbeat(c *Cluster) time.Duration {
	hb := c.Status.LastHeartbeatTime
	switch {
	case hb == nil:
		setCondition(&c.Status.Conditions, c.Generation, ConditionReady, metav1.ConditionFalse, "AwaitingAgent",
			"no agent has reported yet: run the fleet agent in the cluster (package fleet/agent)")
		return r.HeartbeatGrace
	case time.Since(hb.Time) > r.HeartbeatGrace:
		setCondition(&c.Status.Conditions, c.Generation, ConditionReady, metav1.ConditionFalse, ReasonUnreachable,
			fmt.Sprintf("no heartbeat from the agent since %s (grace %s)", hb.UTC().Format(time.RFC3339), r.HeartbeatGrace))
		return r.HeartbeatGrace
	}
	return r.HeartbeatGrace - time.Since(hb.Time) + time.Second
}

// probe reaches a Credential cluster and records what it sees.
func (r *ClusterReconciler) probe(ctx context.Context, c *Cluster) {
	cfg, err := CredentialConfig(ctx, r.Client, c)
	if err != nil {
		setCondition(&c.Status.Conditions, c.Generation, ConditionReady, metav1.ConditionFalse, "CredentialInvalid", err.Error())
		return
	}
	cfg.Timeout = r.ProbeTimeout
	ctx, cancel := context.WithTimeout(ctx, r.ProbeTimeout)
	defer cancel()
	obs, err := Observe(ctx, cfg)
	if err != nil {
		setCondition(&c.Status.Conditions, c.Generation, ConditionReady, metav1.ConditionFalse, ReasonUnreachable, err.Error())
		return
	}
	obs.apply(c)
}

// CredentialConfig reads the kubeconfig Secret of a Credential cluster.
// Errors name the field (spec.kubeconfigSecret) and the Secret.
func CredentialConfig(ctx context.Context, c client.Reader, cl *Cluster) (*rest.Config, error) {
	ref := cl.Spec.KubeconfigSecret
	if ref == nil {
		return nil, errors.New("spec.kubeconfigSecret: required when spec.connection is Credential")
	}
	key := ref.Key
	if key == "" {
		key = "kubeconfig"
	}
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &s); err != nil {
		return nil, fmt.Errorf("spec.kubeconfigSecret: secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	raw, ok := s.Data[key]
	if !ok {
		return nil, fmt.Errorf("spec.kubeconfigSecret.key: secret %s/%s has no key %q", ref.Namespace, ref.Name, key)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("spec.kubeconfigSecret: secret %s/%s key %q: %w", ref.Namespace, ref.Name, key, err)
	}
	return cfg, nil
}

// Observation is what a probe or an agent sees of a cluster.
type Observation struct {
	Nodes             int32
	Allocatable       corev1.ResourceList
	KubernetesVersion string
}

// Observe lists the nodes of the cluster cfg reaches and sums their
// allocatable resources.
func Observe(ctx context.Context, cfg *rest.Config) (Observation, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return Observation{}, err
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		return Observation{}, fmt.Errorf("reaching the cluster: %w", err)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return Observation{}, fmt.Errorf("listing nodes: %w", err)
	}
	var alloc []corev1.ResourceList
	for _, n := range nodes.Items {
		if !n.Spec.Unschedulable {
			alloc = append(alloc, n.Status.Allocatable)
		}
	}
	return Observation{Nodes: int32(len(nodes.Items)), Allocatable: Sum(alloc...), KubernetesVersion: v.GitVersion}, nil
}

// apply records an observation on the cluster's status: capacity (unless
// Spec.Capacity overrides it), nodes, version, heartbeat and Ready.
func (o Observation) apply(c *Cluster) {
	c.Status.Nodes = o.Nodes
	c.Status.KubernetesVersion = o.KubernetesVersion
	c.Status.Capacity = o.Allocatable
	if len(c.Spec.Capacity) > 0 {
		c.Status.Capacity = c.Spec.Capacity.DeepCopy()
	}
	now := metav1.Now()
	c.Status.LastHeartbeatTime = &now
	setCondition(&c.Status.Conditions, c.Generation, ConditionReady, metav1.ConditionTrue, "Reachable",
		fmt.Sprintf("%d nodes, Kubernetes %s", o.Nodes, o.KubernetesVersion))
}

// Apply is apply for the agent, which reports its own cluster.
func (o Observation) Apply(c *Cluster) { o.apply(c) }

func setCondition(conds *[]metav1.Condition, gen int64, typ string, status metav1.ConditionStatus, reason, msg string) bool {
	return meta.SetStatusCondition(conds, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen})
}
