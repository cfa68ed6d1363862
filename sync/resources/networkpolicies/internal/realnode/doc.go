// Package realnode holds the real-node test of the NetworkPolicy syncer:
// policies written inside a virtual cluster, synced by the pods and
// networkpolicies syncers to a host with a real node (kube-router enforcing
// NetworkPolicies), and every cell of the reachability matrix probed with
// a real TCP connection against the netpol evaluator's answer on the host
// objects. It has no code of its own; it is a package so that the fast
// envtest tests of package networkpolicies do not wait for the machine's
// one real node.
package realnode
