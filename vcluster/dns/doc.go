// Package dns gives a virtual cluster its own cluster DNS: CoreDNS running
// inside the virtual cluster (kube-system/coredns behind the Service
// kube-system/kube-dns, as in a kubeadm cluster), reading Services,
// EndpointSlices and pods from the virtual API server with its in-cluster
// configuration, the way vcluster does.
//
// Because it is an ordinary workload of the virtual cluster, it works the
// same for every provisioner: the pods syncer runs it on the host like any
// pod, its ServiceAccount token and the kubernetes.default rewrite let it
// reach its own API server, and the services syncer gives its Service a
// host cluster IP that host pods can reach. The pods syncer then writes
// that IP, with kubelet's search paths for the virtual namespace
// (NS.svc.cluster.local, svc.cluster.local, cluster.local) and ndots:5,
// into every host pod of the virtual cluster (dnsPolicy None), so
//
//   - svc, svc.ns and svc.ns.svc.cluster.local resolve to the Service's
//     cluster IP (the host's, which the virtual Service mirrors);
//   - headless Services resolve to their pods' IPs, and StatefulSet pods to
//     pod.svc.ns.svc.cluster.local, from the EndpointSlices the virtual
//     cluster's controller manager maintains;
//   - every other name is forwarded to Options.Upstreams; the engine sets
//     the host cluster's DNS there (vclusterkit.Options.DNS), so outside
//     names resolve as they do for the host's own pods.
//
// Names of the host cluster or of other virtual clusters do not resolve:
// this CoreDNS is authoritative for the cluster domain and answers only
// from its own API server.
//
// # Cost
//
// One pod per virtual cluster: requests of 20m CPU and 32Mi memory and a
// 170Mi memory limit by default (Options.Resources). Measured on the real
// node of vclusterkit's tests (internal/e2e/realnode TestDNS, from
// /proc/PID/smaps_rollup of the CoreDNS process found by its pod's
// cgroup), a virtual cluster's CoreDNS with a handful of Services uses
// 11 MB of anonymous memory, 62 MB RSS and 37 MB PSS: most of its RSS is
// the CoreDNS binary's pages (112 MB on disk), shared with every other CoreDNS on the node
// (the host's own included), so the marginal cost of one more virtual
// cluster is close to the anonymous 11 MB. It counts against the
// tenant's pod and resource quota like the tenant's own pods, as
// vcluster's does, and it is not activity: a virtual cluster whose only
// running pod is its DNS may fall asleep.
//
// Apply is idempotent and forced: the engine applies the objects at every
// resync, so a tenant who deletes or edits them gets them back.
package dns
