// Command portal is a small self-service web portal over the vclusterkit
// API types: net/http and html/template, no JavaScript. It is the template
// to start from for a platform UI; it embeds the SDK's packages, not the
// Engine (the engine runs elsewhere, for example examples/operator).
//
// Pages:
//
//   - / — the tenant tree (tenancy.Tree) with each tenant's members, quota
//     and usage, its spaces, and its virtual clusters with their phase and
//     endpoint; a "download kubeconfig" link where the signed-in user is a
//     member, and a form to create a virtual cluster where they are an admin;
//   - /reachability — the network reachability matrix between spaces and
//     virtual-cluster namespaces (netpol.Connectivity), either from the
//     NetworkPolicies in force on the host or (?policies=generated) from the
//     policies the engine generates for the tenants' isolation modes;
//   - /kubeconfig/{namespace}/{name} — the signed-in user's own kubeconfig
//     for a virtual cluster: the Secret vclusterkit.MemberKubeconfigSecret
//     names, served only to a User member of the owning tenant (directly or
//     through an ancestor), and only if its client certificate names them;
//   - POST /virtualclusters — create a VirtualCluster for a tenant the user
//     is an admin of.
//
// # Authentication
//
// The portal does not authenticate anyone. It must run behind an
// authenticating reverse proxy (oauth2-proxy, an ingress with external
// auth, …) that sets the user name in X-Forwarded-User and the groups,
// comma-separated, in X-Forwarded-Groups (Options.UserHeader and
// Options.GroupsHeader), and it must not be reachable except through that
// proxy: anyone who can reach it directly can claim any name. A request
// without the user header is refused with 401. State-changing requests are
// protected against cross-site forgery with http.CrossOriginProtection.
//
// What every signed-in user sees is the whole tree (names, quota, usage and
// phases); kubeconfigs and the create form are per membership. Filter the
// tree in your copy if tenant names are confidential.
package main
