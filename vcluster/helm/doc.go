// Package helm is the Helm v3 provisioner: it installs, upgrades, rolls
// back and uninstalls one release of a control-plane chart per virtual
// cluster in the tenant's host namespace, through the Helm SDK
// (helm.sh/helm/v3/pkg/action), with Helm's Secret storage driver keeping
// each release's history in that namespace.
//
// It is the way to run virtual clusters on a real, multi-node host: the
// control plane runs as a pod the host schedules. It is not for a machine
// without a host cluster (use vcluster/local).
//
// # The default chart
//
// DefaultChart is embedded: a StatefulSet running kube-apiserver,
// kube-controller-manager and — for sqlite (on a PersistentVolumeClaim)
// and postgres — kine; with an external etcd no kine runs. A Service (and a
// headless one), a ServiceAccount, Role and RoleBinding for the syncer, and
// Secrets for the PKI, the admin kubeconfig and the store DSN. Every
// container sets CPU and memory requests and limits (so the control plane
// fits a namespace with a ResourceQuota) and runs as non-root with no
// privileges, a read-only root file system and the RuntimeDefault seccomp
// profile (the "restricted" Pod Security Standard). Every object carries
// the labels vcluster.vclusterkit.io/name, vcluster.vclusterkit.io/namespace
// and tenancy.vclusterkit.io/tenant and the owner annotations
// vcluster.vclusterkit.io/owner and vcluster.vclusterkit.io/owner-uid.
// No ownerReferences are set: the VirtualCluster may live in another
// namespace, and Helm, not the garbage collector, must remove a release.
//
// Values are merged as documented on the values function: chart defaults
// < values derived from the spec < Options.Values (platform) <
// VirtualCluster.Spec.Values (user) < identity values the provisioner
// owns (name, owner, PKI, kubeconfig, store, etcd prefix, sleeping).
// The PKI is generated once and carried from revision to revision in the
// release values, so upgrades and rollbacks keep the cluster's identity;
// it is therefore as secret as the release's Helm Secrets.
//
// # Readiness and reach
//
// Provision does not block: it reports Ready once the StatefulSet has a
// ready replica, and a RequeueAfter until then.
//
// The API server answers at its Service's ClusterIP, which is the
// endpoint (https://CLUSTER-IP:443) and the server of the admin and user
// kubeconfigs. Before a first install the provisioner creates that Service
// itself, marked as the release's so that Helm adopts it, so the address
// is known when the PKI is made: the first revision's serving certificate
// covers it, beside the Service's in-cluster names
// (vcluster-NAME.NS.svc…) and kubernetes.default.svc. The ClusterIP is
// what every client can reach: the engine or any host pod, a node (through
// kube-proxy), and the virtual cluster's own pods, whose DNS is the
// virtual cluster's and does not know the host's Service names (the pods
// syncer points their KUBERNETES_SERVICE_HOST and kubernetes.default.svc
// at it). A custom chart must render that Service under the release's
// name. When the Service cannot be made before the install (an admission
// webhook that does not answer), Helm makes it and the next Provision
// signs the serving certificate again for its address (one more revision,
// and a restart of the control plane).
//
// Pause and Resume scale the StatefulSet to zero and back through an
// upgrade (the claim, hence every object, stays). Rollback and History
// expose Helm's release history.
//
// # Logs, exec and port-forward
//
// The Provisioner implements vcluster.KubeletServing: the PKI holds a
// kubelet CA of its own and the API server's kubelet client certificate,
// passed to kube-apiserver (--kubelet-client-certificate,
// --kubelet-certificate-authority), and the engine serves each virtual
// cluster's kubelet API, which admits only that client certificate, at
// Options.KubeletAddress (vcluster.KubeletAddresser). That address must be
// reachable from the control-plane pod: the engine pod's IP, or the node's
// when the engine runs on a node. Where the host isolates namespaces with
// NetworkPolicies, the provisioner adds one, RELEASE-kubelet, that lets
// the control-plane pods (selected by LabelControlPlane, a label no synced
// pod can carry) and nothing else reach that address.
//
// # Nodes
//
// On real nodes the control plane runs as a pod like any other: the
// images are values (Options.Images, images.pullPolicy), so a platform can
// point them at a mirror; vclusterkit's own real-node tests build them
// locally (internal/images) and run them with pullPolicy Never. The
// sqlite store needs a PersistentVolume for its claim. The root file
// systems are read-only, so every container gets an emptyDir at /tmp
// (SQLite writes temporary files there). extraArgs.apiServer,
// extraArgs.controllerManager and extraArgs.kine add flags. With the
// default resources the pod requests 350m CPU and 896Mi memory; on
// vclusterkit's real-node test bed an idle control plane's working set
// (the kubelet's /stats/summary) was 218–246 MiB: kube-apiserver 170–196,
// kube-controller-manager 25–36, kine 22–24.
//
// On a KWOK host (fake nodes), pods are scheduled and marked Running and
// Ready but no container runs: the rendered objects, upgrades, rollbacks,
// sleeping and uninstalling are real there, a kubeconfig that answers is
// not.
package helm
