// Package admissionpolicy renders the ValidatingAdmissionPolicy objects
// (admissionregistration.k8s.io/v1) with which the host API server itself
// enforces a tenant's policy in its spaces, where members write with
// kubectl and no syncer stands in between:
//
//   - ForTenant / ForTree: per tenant with a restriction, a policy and a
//     binding that refuse pods with a runtime or priority class outside
//     the tenant's effective allowed lists or without its node selector,
//     claims with a storage class outside its list, and ingresses with an
//     ingress class outside its list, in the namespaces of that tenant's
//     spaces;
//   - NamespaceGuard: one policy and binding that refuse changes, by anyone
//     but the engine's own identity, to the labels, annotations and
//     ownerReferences that carry tenancy on a namespace.
//
// The functions are pure: they take a tenant tree or a policy and return
// objects. Applying them, deleting those no longer wanted and learning the
// engine's identity is the engine's job (the root package does it when
// tenants change); nothing here talks to an API server.
//
// # Why inlined per-tenant policies, not one parameterised policy
//
// Each tenant's allowed lists are written into its own policy's CEL as
// literals, and its binding selects its spaces by tenancy.LabelTenant
// (which the namespace guard keeps out of the members' hands) and
// tenancy.LabelSpace. The alternative — one policy per rule family and a
// binding per tenant whose paramRef names a ConfigMap holding the lists in
// the engine's namespace — was rejected:
//
//   - a policy whose paramKind is ConfigMap makes every API server watch
//     and cache every ConfigMap of the cluster (the param informer is not
//     namespace-scoped), a real cost on a large shared host;
//   - the lists would live in a second object whose write access has to be
//     kept from tenants, in a namespace that has to exist first, with data
//     encoded in strings and parsed in CEL;
//   - a missing or stale param would need a parameterNotFoundAction
//     decision; an inlined policy is complete or absent, and the policy
//     and its binding are one tenant's pair, replaced together.
//
// The cost is one compiled policy per restricted tenant in each API server:
// two small objects per tenant (never per namespace), and only for tenants
// whose effective policy restricts something. The lists are the tenant's
// effective policy from tenancy.Tree (inherited and tightened), so a child
// of a restricted tenant has its own pair with the inherited lists.
//
// # Semantics
//
// Messages name the field and the allowed list, like the syncers':
// `spec.runtimeClassName: "kata" is not allowed (allowed: [gvisor])`.
// Pods are checked on create; claims and ingresses on create and when an
// update changes their class, so objects older than a restriction stay
// updatable and deletable. The policies use failurePolicy Fail: a policy
// that cannot be evaluated refuses. No webhook is involved, so nothing
// fails open when the engine is down; the objects stay in force until the
// engine deletes them.
//
// This package does not cover virtual clusters' host namespaces (the sync
// engine enforces the same rules there before a pod reaches the host) and
// does not mutate anything: admission cannot add a node selector the way
// the pod syncer does, it refuses a pod without it.
package admissionpolicy
