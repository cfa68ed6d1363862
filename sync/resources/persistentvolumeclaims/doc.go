// Package persistentvolumeclaims is the built-in syncer for
// PersistentVolumeClaims: claims are written to the host namespace (where
// the host provisions and binds volumes) and their status — phase,
// capacity, conditions — flows back. Tenants cannot name or select host
// volumes, use cross-namespace data sources, or (with
// Options.AllowedStorageClasses) storage classes they were not given.
//
// The allowed storage classes follow the tenant's policy while the syncer
// runs (UpdatePolicy, through syncer.Engine.SetPolicy): a claim refused
// before is synced once its class is allowed; a claim already on the host
// is never deleted for a policy change (its volume holds data) and gets a
// PolicyViolation warning event instead.
package persistentvolumeclaims
