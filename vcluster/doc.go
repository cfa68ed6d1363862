// Package vcluster defines virtual clusters: the VirtualCluster API type
// (group vcluster.vclusterkit.io/v1alpha1), its validation, and the
// Provisioner interface through which a control plane is created, reached,
// paused and removed.
//
// A virtual cluster is a real Kubernetes API server of a tenant's own,
// running on the shared host. This package says what one is and how a
// provisioner is plugged in; it runs nothing itself. Implementations live in
// subpackages (vcluster/local: child processes on this machine;
// vcluster/helm: a Helm chart in the host cluster), kubeconfig helpers in
// vcluster/kubeconfig, and the conformance kit every provisioner must pass in
// vcluster/provisionertest.
//
// # Provisioners
//
// Provisioner is the small core (Provision, Deprovision, Kubeconfig).
// Further capabilities are optional interfaces detected by type assertion:
// Sleeper (pause and resume, keeping every object), Upgrader, Snapshotter,
// HealthReporter (is every component still running?) and
// UserKubeconfigIssuer (client certificates for tenant members). A custom
// provisioner can be three functions wrapped in Funcs.
//
// Provisioners are looked up by name in a Registry, a value the embedder
// builds (there is no global registry):
//
//	reg := vcluster.NewRegistry()
//	_ = reg.Register("local", localProvisioner)
//	p, err := reg.For(vc) // error lists the registered names when unknown
//
// # Validation
//
// Validate checks names against the host's naming rules, the Kubernetes
// version against SupportedKubernetesVersions, and the backing store
// settings; ResolveDSN reads and checks a DSN Secret; CheckClaim refuses a
// second VirtualCluster claiming the same host namespace and name;
// ValidateIsolation refuses overrides looser than the tenant's policy.
//
// This package does not reconcile VirtualCluster objects; the root
// package's Engine does (its VirtualCluster controller, built on the
// lifecycle package's steps), using the helpers here. A provisioner that
// runs control-plane processes itself reports their exits through
// ExitReporter and stops them on the engine's exit through Shutdowner; the
// engine finds both by type assertion.
package vcluster
