package services

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

// Reasons of events recorded by the Service syncer.
const (
	ReasonInvalid            = "InvalidService"
	ReasonClusterIPNotMirror = "ClusterIPNotMirrored"
)

// Syncer syncs Services to the host. The zero value is ready to use.
type Syncer struct{}

var (
	_ syncer.Syncer = (*Syncer)(nil)
	_ syncer.Filter = (*Syncer)(nil)
)

// New returns a Service syncer.
func New() *Syncer { return &Syncer{} }

// Name implements syncer.Syncer.
func (*Syncer) Name() string { return "services" }

// New implements syncer.Syncer.
func (*Syncer) New() client.Object { return &corev1.Service{} }

// ShouldSync implements syncer.Filter: default/kubernetes, which the
// virtual API server maintains for itself, is not synced.
func (*Syncer) ShouldSync(_ context.Context, _ *syncer.Context, obj client.Object) (bool, error) {
	return !(obj.GetNamespace() == "default" && obj.GetName() == "kubernetes"), nil
}

// ToHost implements syncer.Syncer.
func (*Syncer) ToHost(_ context.Context, sc *syncer.Context, obj client.Object) (client.Object, error) {
	h, err := ToHostService(sc.Translator, obj.(*corev1.Service))
	if err != nil {
		return nil, syncer.Refuse(ReasonInvalid, "%v", err)
	}
	return h, nil
}

// ToVirtual implements syncer.Syncer: the virtual Service takes the host's
// cluster IPs and node ports (they are immutable, so the virtual Service is
// recreated with them, which needs the virtual API server's service CIDR to
// contain the host's), and the load balancer status is copied back.
func (*Syncer) ToVirtual(ctx context.Context, sc *syncer.Context, obj, hostObj client.Object) (syncer.Result, error) {
	v, h := obj.(*corev1.Service), hostObj.(*corev1.Service)
	if needsMirror(v, h) {
		return syncer.Result{}, mirror(ctx, sc, v, h)
	}
	if !equality.Semantic.DeepEqual(v.Status.LoadBalancer, h.Status.LoadBalancer) {
		nv := v.DeepCopy()
		nv.Status.LoadBalancer = *h.Status.LoadBalancer.DeepCopy()
		if err := sc.Virtual.Status().Update(ctx, nv); err != nil {
			return syncer.Result{}, fmt.Errorf("update virtual status: %w", err)
		}
	}
	return syncer.Result{}, nil
}

func needsMirror(v, h *corev1.Service) bool {
	if h.Spec.ClusterIP == "" || h.Spec.ClusterIP == corev1.ClusterIPNone || v.Spec.ClusterIP == corev1.ClusterIPNone {
		return false
	}
	if v.Annotations[annotationNotMirrored] == h.Spec.ClusterIP {
		return false
	}
	return v.Spec.ClusterIP != h.Spec.ClusterIP
}

// annotationNotMirrored on a virtual Service records a host IP the virtual
// API server refused, so the syncer does not retry forever.
const annotationNotMirrored = "vcluster.vclusterkit.io/cluster-ip-not-mirrored"

func mirror(ctx context.Context, sc *syncer.Context, v, h *corev1.Service) error {
	nv := v.DeepCopy()
	nv.ResourceVersion, nv.UID, nv.CreationTimestamp, nv.ManagedFields = "", "", v.CreationTimestamp, nil
	nv.CreationTimestamp.Reset()
	nv.Spec.ClusterIP = h.Spec.ClusterIP
	nv.Spec.ClusterIPs = h.Spec.ClusterIPs
	for i := range nv.Spec.Ports {
		for _, hp := range h.Spec.Ports {
			if hp.Port == nv.Spec.Ports[i].Port && hp.Protocol == nv.Spec.Ports[i].Protocol {
				nv.Spec.Ports[i].NodePort = hp.NodePort
			}
		}
	}
	nv.Status = corev1.ServiceStatus{}
	uid := v.UID
	if err := sc.Virtual.Delete(ctx, v, client.Preconditions{UID: &uid}); err != nil {
		return client.IgnoreNotFound(err)
	}
	if err := sc.Virtual.Create(ctx, nv); err != nil {
		// The virtual API server refused the host's IP (outside its
		// service CIDR, or taken): recreate the Service as it was and
		// say so.
		again := v.DeepCopy()
		again.ResourceVersion, again.UID, again.ManagedFields = "", "", nil
		again.CreationTimestamp.Reset()
		again.Spec.ClusterIP, again.Spec.ClusterIPs = "", nil
		if again.Annotations == nil {
			again.Annotations = map[string]string{}
		}
		again.Annotations[annotationNotMirrored] = h.Spec.ClusterIP
		for i := range again.Spec.Ports {
			again.Spec.Ports[i].NodePort = 0
		}
		if err2 := sc.Virtual.Create(ctx, again); err2 != nil {
			return fmt.Errorf("recreate virtual service %s/%s: %w (mirroring the host IP failed: %v)", v.Namespace, v.Name, err2, err)
		}
		sc.Recorder.Eventf(again, corev1.EventTypeWarning, ReasonClusterIPNotMirror, "host cluster IP %s could not be used in the virtual cluster: %v", h.Spec.ClusterIP, err)
	}
	return nil
}
