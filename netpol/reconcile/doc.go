// Package reconcile keeps generated NetworkPolicies in place in a cluster: Apply makes a
// namespace's policies labelled as ours (netpol.LabelManagedBy) exactly the desired ones,
// and Reconciler re-applies them whenever one is edited or deleted by hand, or a
// namespace appears. Policies without the label (a tenant's own) are never touched.
//
// It does not decide what is desired: DesiredFunc does, typically netpol.Generate on the
// namespace's netpol.Target.
package reconcile
