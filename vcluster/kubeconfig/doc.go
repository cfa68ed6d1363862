// Package kubeconfig builds and reads kubeconfigs for virtual clusters and
// maps tenant members to RBAC inside them.
//
// Admin access: FromSecret reads the admin kubeconfig a provisioner stored
// in a host Secret (VirtualCluster.Status.KubeconfigSecret); Build writes a
// kubeconfig from a server URL, a CA and a client certificate.
//
// Member access: a tenant member's role maps to a ClusterRoleBinding inside
// the virtual cluster (admin → cluster-admin, edit → edit, view → view).
// BindMembers keeps those bindings in step with a member list; ForMember asks
// a provisioner that implements vcluster.UserKubeconfigIssuer for a
// kubeconfig whose client certificate names the user (and groups). RBAC, not
// the certificate, decides what the member may do, so removing a member from
// the list takes effect at once even though its certificate stays valid.
//
// This package does not decide who is a member (package tenancy does) nor
// run any control plane.
package kubeconfig
