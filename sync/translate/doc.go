// Package translate maps Kubernetes object metadata between a virtual
// cluster and the host namespace its workloads run in: names, namespaces,
// labels, annotations and label selectors, in both directions.
//
// Every function here is pure: it does no I/O, holds no global state and is
// safe for concurrent use. A Translator is a value bound to one virtual
// cluster and one host namespace; create one per virtual cluster with New.
//
// # Names
//
// A namespaced virtual object NAME in virtual namespace NS of virtual cluster
// VC is written to the host as "NAME-x-NS-x-VC". When that is longer than 63
// characters, or when it could be split into its three parts in more than
// one way (a part contains "-x-", as in "a-x-b" in namespace "c" versus "a"
// in namespace "b-x-c"), it becomes its first 52 characters (with trailing '-' and '.'
// trimmed), '-', and the first 10 hex characters of the SHA-256 of the full
// string, so the result is at most 63 characters, ends in an alphanumeric
// character and stays distinct for distinct inputs. Host names are not parsed
// back: the way back is the origin annotations every host copy carries
// (AnnotationName, AnnotationNamespace, AnnotationUID, AnnotationKind), read
// with Translator.Origin.
//
// # Labels and annotations
//
// Host copies carry LabelVirtualCluster (the owning virtual cluster's name)
// and LabelNamespace (the virtual namespace). Label and annotation keys whose
// prefix is reserved by vclusterkit (the domain vclusterkit.io and its
// subdomains) are rewritten reversibly so a tenant can neither forge nor
// strip the marks the engine relies on: the domain suffix "vclusterkit.io"
// becomes "tenant.vclusterkit.io" on the way to the host and back again on
// the way to the virtual cluster.
//
// # Selectors
//
// Label selectors are translated key by key and scoped with the virtual
// cluster and virtual namespace labels, so a translated selector can only
// match host pods of the same virtual cluster and virtual namespace.
//
// This package does not talk to any API server and does not decide what is
// synced; that is package sync/syncer and the kinds in sync/resources.
package translate
