// Package netpol generates the NetworkPolicies that isolate tenants, spaces and virtual
// clusters on the host, and answers — with an explanation — whether one pod may reach
// another under a set of NetworkPolicies.
//
// The evaluator (Evaluate, NewEvaluator, Evaluator.Check, Evaluator.Matrix) implements the
// Kubernetes NetworkPolicy semantics: ingress and egress, podSelector, namespaceSelector
// and their combination, ipBlock with except, named ports, port ranges (endPort),
// protocols, the implicit policy types, the default-allow when no policy selects a pod,
// and the need for both the source's egress and the destination's ingress to allow a
// connection. It is checked against the truth tables of the upstream e2e suite
// (kubernetes test/e2e/network/netpol). It works on plain corev1 and networkingv1 objects
// and needs no cluster.
//
// The generator (Generate) renders, for one host namespace, the policies of an isolation
// mode: none, tenant (pods reach the isolation boundary's whole subtree, DNS and the
// virtual control plane) or strict (the same namespace only). Generated policies rely only
// on labels the engine owns (package tenancy's LabelTenant and TreeLabel, and the
// API-server-set kubernetes.io/metadata.name), and carry LabelManagedBy so they can be
// told apart from a tenant's own. Report prints the reachability between namespaces.
//
// netpol is not a CNI and does not talk to the API server itself: package
// netpol/reconcile applies the generated policies and puts hand edits back. Behaviour a
// NetworkPolicy implementation leaves undefined (hostNetwork pods, Services, the node's
// own traffic) is not modelled; ipBlock peers are taken to match pod addresses too, the
// most permissive reading and so the safe one when proving isolation.
package netpol
