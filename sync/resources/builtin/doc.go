// Package builtin is the registration table of the built-in syncers: one
// Options value says which kinds a virtual cluster syncs and how, and
// Syncers returns them ready for syncer.Options.Syncers. HostOptions lists
// the host kinds the chosen syncers read unfiltered, for
// syncer.HostOptions.Unfiltered.
//
// The policy-dependent options (Pods' Pod Security Standard, node selector
// and allowed runtime and priority classes, PersistentVolumeClaims' and
// Ingresses' allowed classes) are where a syncer starts; the pods, claim
// and ingress syncers implement syncer.PolicyUpdater, so a tenant's policy
// change reaches them while they run through syncer.Engine.SetPolicy.
//
// It is for platforms that want the standard set; a platform that wants
// a different mix picks the packages under sync/resources directly.
package builtin
