// Package ingresses is the optional built-in syncer for Ingresses:
// backends and TLS secrets are translated into the Ingress's namespace,
// resource backends are refused, and a host name already claimed on the
// host by anybody but this virtual cluster (another tenant, the platform)
// is refused with an IngressHostClaimed event, so one tenant cannot take
// over another's traffic. Load balancer status flows back.
package ingresses
