// Package secrets is the built-in syncer for Secrets: a virtual Secret is
// copied into the host namespace when a virtual pod of its namespace
// references it (volumes, projected volumes, env, envFrom, image pull
// secrets), or always with Options.All; its host copy is deleted when no
// pod needs it any more. Service account token Secrets become Opaque on
// the host. Nothing flows back.
package secrets
