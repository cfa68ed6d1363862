// Command provisioner shows how a platform plugs its own provisioner into
// vclusterkit: a few dozen lines that put the platform's rules around the
// built-in local provisioner, registered in a vcluster.Registry and used by
// the Engine.
//
// The provisioner, Inventory, adds three things a platform team typically
// wants before a control plane is started:
//
//   - a labelling policy: every VirtualCluster must carry the labels the
//     platform bills by (Options.RequiredLabels, e.g. a cost center);
//   - a capacity policy: at most Options.MaxPerTenant control planes per
//     tenant;
//   - an inventory: one ConfigMap per control plane in a platform namespace,
//     carrying those labels, created after the control plane is up and
//     removed when it is deprovisioned, so billing and dashboards can list
//     them with a label selector.
//
// Everything else — processes, PKI, state, pause and resume, member
// kubeconfigs, health — comes from the embedded *local.Provisioner, whose
// optional capabilities (vcluster.Sleeper, HealthReporter,
// UserKubeconfigIssuer) are promoted. A provisioner that only needs the three
// core methods can be a vcluster.Funcs value instead.
//
// Replace local with vcluster/helm (or your own cloud API) in your copy; the
// policy and inventory code does not change. The test runs it through
// vcluster/provisionertest, the conformance kit every provisioner passes.
package main
