// Package e2e holds the end-to-end test of the sync engine: a virtual
// cluster from the local provisioner (its own kube-apiserver and
// kube-controller-manager) synced onto a whole host cluster whose KWOK
// nodes "run" the pods. It has no importable API.
package e2e
