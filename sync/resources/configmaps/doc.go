// Package configmaps is the built-in syncer for ConfigMaps: a virtual
// ConfigMap is copied into the host namespace when a virtual pod of its
// namespace references it (volumes, projected volumes, env, envFrom), or
// always with Options.All. When no pod references it any more, its host
// copy is deleted. Nothing flows back.
package configmaps
