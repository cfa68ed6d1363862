// Package api is the platform's HTTP/JSON API, an http.Handler an embedder
// mounts in its own server: the tenant tree with usage against quota,
// members, spaces, virtual clusters (create, list, get, delete, sleep,
// wake, the caller's own short-lived kubeconfig), API keys, the network
// reachability matrix, and a server-sent event stream of changes. It
// serves its own OpenAPI document at /api/v1/openapi.json.
//
// Every request carries a bearer credential (an OIDC ID token or an API
// key, package api/auth); what the caller may do follows from its
// effective role in the tenant tree (tenancy.Tree.EffectiveMembers), capped
// by an API key's scope. Every call that changes something is recorded as
// an audit.Event (package api/audit). Bodies are limited in size and
// unknown fields are refused; errors are JSON naming the field at fault.
//
// The API reads and writes the host's Tenant, Space and VirtualCluster
// objects; the vclusterkit Engine reconciles them. It keeps no state of its
// own besides API keys (Secrets), so any number of replicas may serve it.
package api
