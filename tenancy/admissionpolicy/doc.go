// Package admissionpolicy renders the ValidatingAdmissionPolicy objects
// (admissionregistration.k8s.io/v1) with which the host API server itself
// enforces a tenant's policy in its spaces, where members write with
// kubectl and no syncer stands in between:
//
//   - SpacePolicy: one policy and binding for every space that refuse pods
//     with a runtime or priority class outside the tenant's effective
//     allowed lists or without its node selector, claims with a storage
//     class outside its list, and ingresses with an ingress class outside
//     its list. The lists come from annotations on the space's namespace;
//   - SpaceAnnotations / ForTree: those annotations, per space namespace,
//     from a tenant's effective policy (tenancy.Tree: inherited and
//     tightened);
//   - NamespaceGuard: one policy and binding that refuse changes, by anyone
//     but the engine's own identities, to the labels, annotations (those
//     above included) and ownerReferences that carry tenancy on a
//     namespace.
//
// The functions are pure: they take a tenant tree or a policy and return
// objects or annotations. Applying them, annotating namespaces and learning
// the engine's identity is the engine's job (the root package does it when
// tenants change); nothing here talks to an API server.
//
// # Why one policy reading namespace annotations
//
// Three designs were weighed; the first was built and measured.
//
//   - A policy and binding per restricted tenant, its lists inlined in CEL.
//     Simple and tamper-proof, but the API server matches every binding of
//     every policy against every pod, claim and ingress created anywhere in
//     the cluster: with 1,000 tenants' policies loaded, a pod create (dry
//     run, envtest kube-apiserver v1.37 on a shared 2-core machine) went
//     from about 1.7 ms to 12.6 ms, in namespaces no policy binds as well:
//     about 11 µs per tenant on every create.
//   - One policy per rule family and a binding per tenant whose paramRef
//     names a ConfigMap of lists in the engine's namespace: the same
//     per-binding matching cost, and a paramKind of ConfigMap makes every
//     API server watch and cache every ConfigMap of the cluster.
//   - One policy and one binding for all spaces, reading the tenant's lists
//     from its namespace (namespaceObject in CEL), where the engine writes
//     them as annotations (a few short strings per space, on an object that
//     exists anyway). Admission cost is constant (BenchmarkAdmissionManySpaces:
//     3–5 ms per create with 1 or 1,000 restricted spaces, the noise of the
//     shared machine). Tamper-proofing comes from NamespaceGuard: only the
//     engine may write those annotations or the tenancy labels that put a
//     namespace in a space. This is the design here.
//
// The lists are encoded as comma-separated names and the node selector as
// key=value pairs; names that would break the encoding (a comma, or an
// equals sign in a key — never valid Kubernetes names) are refused by
// SpaceAnnotations with an error naming the field.
//
// # Semantics
//
// Messages name the field and the allowed list, like the syncers':
// `spec.runtimeClassName: "kata" is not allowed (allowed: [gvisor])`.
// Pods are checked on create; claims and ingresses on create and when an
// update changes their class, so objects older than a restriction stay
// updatable and deletable. A space namespace that does not carry its
// policy annotations yet refuses creates (closed rather than open for the
// moment between its creation and the engine's annotation). The policies
// use failurePolicy Fail: a policy that cannot be evaluated refuses. No
// webhook is involved, so nothing fails open while the engine is down.
//
// This package does not cover virtual clusters' host namespaces (the sync
// engine enforces the same rules there before a pod reaches the host) and
// does not mutate anything: admission cannot add a node selector the way
// the pod syncer does, it refuses a pod without it.
package admissionpolicy
