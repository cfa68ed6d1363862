// Package kubestore is a tenancy.Store on Kubernetes: Tenants and Spaces
// are the custom resources of package tenancy (install them with
// tenancy.InstallCRDs), read through a controller-runtime cache and
// written directly to the API server.
//
// Every write that can change the validity of the tree holds a
// coordination.k8s.io Lease (Options.LockNamespace/LockName) while it
// validates against direct reads and writes, so engine replicas using the
// same Lease never store a cycle or a loosened policy between them; the
// CRDs' OpenAPI and CEL rules catch what a single object can show for
// writes made around the Store. A write returns once the cache has seen
// it, so a Get right after it reads it.
//
// Resource versions are the API server's, so a watch resumes from any
// version etcd still holds (a few minutes by default, then ErrExpired):
// for longer history use sqlstore. Not for use without the CRDs installed.
package kubestore
