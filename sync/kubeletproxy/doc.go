// Package kubeletproxy serves the kubelet API for one virtual cluster, so
// that kubectl logs, exec, attach, port-forward and debug inside it reach
// the real containers of its pods on the host.
//
// A virtual cluster's API server has no kubelets: its Nodes are stand-ins
// the nodes syncer writes. They advertise this server's address and port
// (status.addresses InternalIP and status.daemonEndpoints.kubeletEndpoint),
// so the virtual API server, acting as a kubelet client, calls it for
// pods/log, pods/exec, pods/attach and pods/portforward (and for the
// nodes/proxy paths a tenant may send). The Server
//
//   - accepts only the virtual API server: a TLS client certificate from
//     the CA it is given (a CA of the virtual cluster's own that signs
//     nothing a tenant can obtain) with the expected common name;
//   - serves only /containerLogs/{ns}/{pod}/{container},
//     /exec/{ns}/{pod}/{container}, /attach/{ns}/{pod}/{container} and
//     /portForward/{ns}/{pod}, with names that are valid Kubernetes names
//     (no "..", no encoded slashes), and refuses every other kubelet path;
//   - maps the virtual pod to its host copy only when the virtual pod
//     exists, names the container, and the host pod of its translated name
//     carries this virtual cluster's mark and origin annotations naming this
//     virtual namespace, name and uid (and runs on the node the virtual pod
//     is bound to);
//   - forwards to the host API server's pods/log, pods/exec, pods/attach or
//     pods/portforward subresource with the engine's host credentials,
//     carrying the query parameters through (translated from the kubelet's
//     names) and the SPDY or WebSocket upgrade; no header of the caller
//     that could carry identity is forwarded.
//
// It is not a kubelet: there are no /pods, /stats, /metrics, /logs, /run,
// /checkpoint or /configz, and nodes share one Server per virtual cluster.
// One Server serves one virtual cluster; the engine runs one per virtual
// cluster whose provisioner implements vcluster.KubeletServing.
package kubeletproxy
