// Package ingresses is the optional built-in syncer for Ingresses:
// backends and TLS secrets are translated into the Ingress's namespace,
// resource backends are refused, and a host name already claimed on the
// host by anybody but this virtual cluster (another tenant, the platform)
// is refused with an IngressHostClaimed event, so one tenant cannot take
// over another's traffic. Load balancer status flows back.
//
// The allowed ingress classes (Options.AllowedIngressClasses) follow the
// tenant's policy while the syncer runs (UpdatePolicy, through
// syncer.Engine.SetPolicy): every Ingress is checked again, one refused
// before is synced once allowed, and the host copy of one whose class is
// no longer allowed is deleted (it holds no data) with a SyncRefused event
// saying why.
package ingresses
