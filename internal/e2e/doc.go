// Package e2e holds end-to-end tests of the whole engine on a KWOK host
// cluster, driven through sigs.k8s.io/e2e-framework, where the engine runs
// as a separate process that the tests kill and restart. It has no
// non-test code.
package e2e
