// Package nodes is the built-in host → virtual syncer for Nodes. A virtual
// cluster has no nodes of its own; when one of its pods is bound to a host
// node, the node appears in the virtual cluster — a copy of the host Node
// (Mode Real) or a minimal stand-in (Mode Fake) — with a Lease in
// kube-node-lease renewed every heartbeat so the virtual cluster's node
// lifecycle controller and pod garbage collector keep the pods. When the
// last pod leaves, the virtual Node and its Lease go. Only Nodes the
// syncer created (AnnotationSynced) are ever changed.
//
// The host Node cache must not be filtered by the managed label: list
// &corev1.Node{} in syncer.HostOptions.Unfiltered.
package nodes
