package nodes

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnnotationSynced marks virtual Nodes the syncer created; only those are
// updated or deleted.
const AnnotationSynced = "vcluster.vclusterkit.io/synced-node"

// Mode says what the virtual cluster sees of host nodes.
type Mode string

// Modes.
const (
	// Real copies the host Node (labels, taints, addresses, capacity,
	// conditions, node info) of every node running the tenant's pods.
	Real Mode = "real"
	// Fake shows a minimal Node with the host node's name, a hostname
	// label, its capacity and a Ready condition, and nothing else about
	// the host.
	Fake Mode = "fake"
)

// ToVirtualNode returns the virtual Node for host node h at time now.
// Heartbeats are set to now, because the virtual cluster's node lifecycle
// controller judges node health by them.
func ToVirtualNode(mode Mode, h *corev1.Node, now time.Time) *corev1.Node {
	t := metav1.NewTime(now.Truncate(time.Second))
	v := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: h.Name, Annotations: map[string]string{AnnotationSynced: "true"}}}
	switch mode {
	case Fake:
		v.Labels = map[string]string{corev1.LabelHostname: h.Name, corev1.LabelOSStable: "linux"}
		v.Status.Capacity = h.Status.Capacity.DeepCopy()
		v.Status.Allocatable = h.Status.Allocatable.DeepCopy()
		if v.Status.Capacity == nil {
			v.Status.Capacity = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")}
			v.Status.Allocatable = v.Status.Capacity.DeepCopy()
		}
		ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "HostNodeReady", Message: "host node is ready"}
		for _, c := range h.Status.Conditions {
			if c.Type == corev1.NodeReady {
				ready.Status, ready.Reason, ready.Message = c.Status, c.Reason, c.Message
				ready.LastTransitionTime = c.LastTransitionTime
			}
		}
		ready.LastHeartbeatTime = t
		if ready.LastTransitionTime.IsZero() {
			ready.LastTransitionTime = t
		}
		v.Status.Conditions = []corev1.NodeCondition{ready}
	default:
		v.Labels = h.Labels
		v.Spec.Taints = h.Spec.Taints
		v.Spec.Unschedulable = h.Spec.Unschedulable
		v.Status = *h.Status.DeepCopy()
		v.Status.Images = nil
		v.Status.VolumesAttached, v.Status.VolumesInUse = nil, nil
		for i := range v.Status.Conditions {
			v.Status.Conditions[i].LastHeartbeatTime = t
		}
	}
	return v
}

// WithKubeletEndpoint points the virtual Node v at the kubelet API server
// of its virtual cluster: its only InternalIP is address and its kubelet
// port is port, so the virtual API server (which dials InternalIP) sends
// logs, exec, attach and port-forward there, never to the host's kubelet.
// The host node's own addresses are not shown.
func WithKubeletEndpoint(v *corev1.Node, address string, port int32) {
	v.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: address}, {Type: corev1.NodeHostName, Address: v.Name}}
	v.Status.DaemonEndpoints = corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: port}}
}
