// Package persistentvolumeclaims is the built-in syncer for
// PersistentVolumeClaims: claims are written to the host namespace (where
// the host provisions and binds volumes) and their status — phase,
// capacity, conditions — flows back. Tenants cannot name or select host
// volumes, use cross-namespace data sources, or (with
// Options.AllowedStorageClasses) storage classes they were not given.
package persistentvolumeclaims
