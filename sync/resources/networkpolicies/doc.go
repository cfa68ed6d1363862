// Package networkpolicies is the built-in syncer for NetworkPolicies
// written inside a virtual cluster. Every virtual namespace of a virtual
// cluster lives in one host namespace, so a policy cannot be copied as it
// is: its selectors are rewritten onto the labels the engine puts on host
// pods (translate.LabelVirtualCluster, translate.LabelNamespace), and the
// result only ever selects, allows or opens pods of the same virtual
// cluster — never another tenant's pods, never the host's own networks.
//
// Translation rules (ToHost, pure; the Syncer adds I/O):
//
//   - spec.podSelector: translate.ScopeSelector — the virtual cluster's
//     name and the policy's virtual namespace are required, tenant keys
//     under the reserved domain are escaped, so a selector that forges
//     vcluster.vclusterkit.io/name: other matches nothing of "other".
//   - A peer with a podSelector only: the same scoping, in the policy's own
//     virtual namespace.
//   - A peer with a namespaceSelector (with or without a podSelector): the
//     selector is resolved against the virtual cluster's own namespaces and
//     their labels (kubernetes.io/metadata.name included); the host peer is
//     a podSelector requiring this virtual cluster and a virtual namespace
//     in that list. An empty namespaceSelector means every namespace of
//     this virtual cluster (translate.LabelNamespace exists), never the
//     host's namespaces; one that matches no namespace yields a peer that
//     matches nothing. Host peers never carry a namespaceSelector, so they
//     only match pods in the virtual cluster's host namespace. The Syncer
//     watches virtual namespaces and translates such policies again when
//     one is created, relabelled or deleted.
//   - ipBlock: the host ranges (Options.HostCIDRs, default
//     DefaultHostCIDRs: the private, shared, loopback and link-local ranges
//     that hold the pod, service and node networks of almost every
//     cluster) are cut out. A host range inside the block is added to
//     except (unless an except the tenant wrote covers it already); a block
//     inside a host range becomes a peer that matches nothing. 0.0.0.0/0
//     thus allows the internet and not the cluster. Narrowing, not
//     refusal, is the rule on purpose: refusing a policy would remove the
//     isolation it gives the tenant's own pods, narrowing keeps it.
//     A narrowed policy gets an IPBlockNarrowed Warning event and its
//     condition (AnnotationCondition) names the ranges cut out.
//   - An empty from/to (every peer) becomes every pod of this virtual
//     cluster plus 0.0.0.0/0 and ::/0 narrowed as above: the world as seen
//     from inside the virtual cluster.
//   - A rule's peers never become an empty list (which would mean
//     "everything"): a peer narrowed away is replaced by one that matches
//     nothing.
//   - ports (numbers, names, endPort, protocols) and policyTypes are copied
//     as they are: named ports resolve against the host pods, whose
//     container ports keep their names.
//
// A policy the host cannot express (a label key that cannot be escaped)
// is refused: SyncRefused event, no host copy, and the condition says why.
// A NetworkPolicy has no status, so the condition (type Synced) is kept as
// JSON in the annotation AnnotationCondition on the virtual object; read
// it with Condition.
//
// # With the platform's isolation
//
// A virtual cluster's host namespace usually carries the tenant's
// generated isolation (netpol.Generate), which allows the tenant's whole
// scope. NetworkPolicies only ever add allowances, so without more a
// deny-all written inside the virtual cluster could not deny a neighbour
// the isolation allows. The pods syncer therefore marks each host pod with
// the directions its virtual namespace's policies select
// (netpol.LabelIngressPolicies, netpol.LabelEgressPolicies; builtin sets
// pods.Options.NetworkPolicyLabels when this syncer runs), and the
// isolation of a virtual cluster's host namespace allows the scope only to
// pods not marked for that direction: a selected pod gets what the
// tenant's translated policies allow, plus the platform's own peers
// (netpol.Options.AllowedPeers, ControlPlane), as in a cluster of its own.
// Between a policy's creation and the relabelling of its pods (the same
// reconcile as the pods' next sync, usually milliseconds) the pods keep the
// isolation's allowance.
//
// Not modelled: a virtual cluster's pods that use the host network. DNS:
// pods reach the virtual cluster's own DNS (vcluster/dns), a pod of the
// virtual cluster, as the tenant's policies allow, as in any cluster; the
// host's DNS stays reachable through the isolation's DNS policy.
package networkpolicies
