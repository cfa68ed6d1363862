package nodes

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// DefaultHeartbeat is how often virtual Nodes and their Leases are renewed.
const DefaultHeartbeat = 10 * time.Second

const podNodeIndex = "vclusterkit.io/pod-node"

// Options configure the Node syncer. The zero value shows real nodes.
type Options struct {
	// Mode defaults to Real.
	Mode Mode
	// Heartbeat defaults to DefaultHeartbeat.
	Heartbeat time.Duration
}

// Syncer shows the virtual cluster the host nodes its pods run on. Host
// Nodes must be cached unfiltered: list &corev1.Node{} in
// syncer.HostOptions.Unfiltered.
type Syncer struct{ opts Options }

var (
	_ syncer.FromHost = (*Syncer)(nil)
	_ syncer.Indexer  = (*Syncer)(nil)
	_ syncer.Watcher  = (*Syncer)(nil)
)

// New returns a Node syncer.
func New(opts Options) (*Syncer, error) {
	switch opts.Mode {
	case "":
		opts.Mode = Real
	case Real, Fake:
	default:
		return nil, fmt.Errorf("nodes.New: Options.Mode: %q is neither %q nor %q", opts.Mode, Real, Fake)
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	return &Syncer{opts: opts}, nil
}

// Name implements syncer.Syncer.
func (*Syncer) Name() string { return "nodes" }

// New implements syncer.Syncer.
func (*Syncer) New() client.Object { return &corev1.Node{} }

// ToHost is never called for a FromHost syncer.
func (*Syncer) ToHost(context.Context, *syncer.Context, client.Object) (client.Object, error) {
	return nil, syncer.Refuse("NotSupported", "nodes are never written to the host")
}

// ToVirtual is never called for a FromHost syncer.
func (*Syncer) ToVirtual(context.Context, *syncer.Context, client.Object, client.Object) (syncer.Result, error) {
	return syncer.Result{}, nil
}

// IndexVirtual implements syncer.Indexer: virtual pods by node.
func (*Syncer) IndexVirtual(ctx context.Context, ix client.FieldIndexer) error {
	return ix.IndexField(ctx, &corev1.Pod{}, podNodeIndex, func(o client.Object) []string {
		if n := o.(*corev1.Pod).Spec.NodeName; n != "" {
			return []string{n}
		}
		return nil
	})
}

// Watches implements syncer.Watcher: a virtual pod bound to a node makes
// the node appear; the last one leaving makes it go.
func (*Syncer) Watches() []syncer.Watch {
	return []syncer.Watch{{Object: &corev1.Pod{}, Map: func(_ context.Context, _ *syncer.Context, obj client.Object) []types.NamespacedName {
		if n := obj.(*corev1.Pod).Spec.NodeName; n != "" {
			return []types.NamespacedName{{Name: n}}
		}
		return nil
	}}}
}

// SyncFromHost implements syncer.FromHost.
func (s *Syncer) SyncFromHost(ctx context.Context, sc *syncer.Context, key types.NamespacedName, hostObj client.Object) (syncer.Result, error) {
	var pods corev1.PodList
	if err := sc.Virtual.List(ctx, &pods, client.MatchingFields{podNodeIndex: key.Name}); err != nil {
		return syncer.Result{}, err
	}
	v := &corev1.Node{}
	exists := true
	if err := sc.Virtual.Get(ctx, key, v); err != nil {
		if !apierrors.IsNotFound(err) {
			return syncer.Result{}, err
		}
		exists = false
	}
	if exists && v.Annotations[AnnotationSynced] != "true" {
		return syncer.Result{}, nil // a Node somebody else made: not ours
	}
	if hostObj == nil || len(pods.Items) == 0 {
		// Most host nodes never run this tenant's pods: cost them nothing.
		if !exists {
			return syncer.Result{}, nil
		}
		lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: corev1.NamespaceNodeLease}}
		if err := sc.Virtual.Delete(ctx, lease); client.IgnoreNotFound(err) != nil {
			return syncer.Result{}, err
		}
		if err := sc.Virtual.Delete(ctx, v); client.IgnoreNotFound(err) != nil {
			return syncer.Result{}, err
		}
		sc.Count(s.Name(), syncer.DirectionToVirtual, syncer.OpDelete)
		return syncer.Result{}, nil
	}
	h := hostObj.(*corev1.Node)
	now := time.Now()
	want := ToVirtualNode(s.opts.Mode, h, now)
	if k := sc.Kubelet; k != nil {
		WithKubeletEndpoint(want, k.Address, k.Port)
	}
	if !exists {
		status := want.Status
		if err := sc.Virtual.Create(ctx, want); err != nil {
			return syncer.Result{}, fmt.Errorf("create virtual node: %w", err)
		}
		sc.Count(s.Name(), syncer.DirectionToVirtual, syncer.OpCreate)
		v = want
		v.Status = corev1.NodeStatus{}
		want = want.DeepCopy()
		want.Status = status
	} else if !equality.Semantic.DeepEqual(v.Labels, want.Labels) || !equality.Semantic.DeepEqual(v.Spec.Taints, want.Spec.Taints) || v.Spec.Unschedulable != want.Spec.Unschedulable {
		nv := v.DeepCopy()
		nv.Labels, nv.Spec.Taints, nv.Spec.Unschedulable = want.Labels, want.Spec.Taints, want.Spec.Unschedulable
		if err := sc.Virtual.Update(ctx, nv); err != nil {
			return syncer.Result{}, err
		}
		sc.Count(s.Name(), syncer.DirectionToVirtual, syncer.OpUpdate)
		v = nv
	}
	nv := v.DeepCopy()
	nv.Status = want.Status
	if err := sc.Virtual.Status().Update(ctx, nv); err != nil {
		return syncer.Result{}, fmt.Errorf("update virtual node status: %w", err)
	}
	if err := s.renewLease(ctx, sc, key.Name, now); err != nil {
		return syncer.Result{}, err
	}
	return syncer.Result{RequeueAfter: s.opts.Heartbeat}, nil
}

func (s *Syncer) renewLease(ctx context.Context, sc *syncer.Context, node string, now time.Time) error {
	l := &coordinationv1.Lease{}
	key := types.NamespacedName{Namespace: corev1.NamespaceNodeLease, Name: node}
	renew := metav1.NewMicroTime(now)
	dur := int32(4 * s.opts.Heartbeat / time.Second)
	if err := sc.VirtualReader.Get(ctx, key, l); err != nil {
		if !apierrors.IsNotFound(err) {
			return err
		}
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: corev1.NamespaceNodeLease},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &node, LeaseDurationSeconds: &dur, RenewTime: &renew}}
		return client.IgnoreAlreadyExists(sc.Virtual.Create(ctx, l))
	}
	l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &node, &dur, &renew
	return sc.Virtual.Update(ctx, l)
}
