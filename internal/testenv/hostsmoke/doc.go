// Package hostsmoke holds the end-to-end smoke test of testenv.Host: a
// whole host cluster on KWOK fake nodes, driven through
// sigs.k8s.io/e2e-framework. It has no non-test code.
package hostsmoke
