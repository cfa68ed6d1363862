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
// ready replica, and a RequeueAfter until then. The admin kubeconfig's
// server is the in-cluster Service URL (https://vcluster-NAME.NS.svc:443):
// it answers from inside the host cluster or through a port-forward.
//
// Pause and Resume scale the StatefulSet to zero and back through an
// upgrade (the claim, hence every object, stays). Rollback and History
// expose Helm's release history.
//
// On a KWOK host (what vclusterkit's tests use), pods are scheduled and
// marked Running and Ready but no container runs: the rendered objects,
// upgrades, rollbacks, sleeping and uninstalling are real there, a
// kubeconfig that answers is not.
package helm
