// Package pods is the built-in syncer for Pods: virtual pods run on the
// host as translated copies in the tenant's host namespace, and what the
// host does to them (scheduling, status, pod IP, node) flows back.
//
// What the translation does (ToHostPod, pure and table-tested):
//
//   - ConfigMap, Secret, PVC and image-pull-secret references are
//     translated into the pod's own virtual namespace, so a pod can never
//     reach another namespace's objects on the host;
//   - service account tokens are requested from the virtual API server
//     (TokenRequest, bound to the virtual pod) and mounted from a companion
//     host Secret owned by the host pod; the host's own token is never
//     mounted (automountServiceAccountToken: false) and no token ever
//     appears in host labels or annotations. Tokens are renewed at 80% of
//     their lifetime;
//   - DNS points at the virtual cluster's DNS service, KUBERNETES_SERVICE_*
//     and host aliases point kubernetes.default at the virtual API server,
//     and the virtual services' link variables replace the host's
//     (enableServiceLinks is off on the host);
//   - downward-API references to name, namespace, uid and service account
//     read the virtual identity from host annotations;
//   - pod (anti-)affinity and topology spread selectors are scoped to the
//     virtual cluster and the namespaces they name; the enforced node
//     selector wins over the tenant's;
//   - a pod naming a runtime or priority class outside the tenant's
//     allowed lists (Options.AllowedRuntimeClasses, AllowedPriorityClasses;
//     CheckClasses) is refused with reason ClassNotAllowed, the field and
//     the allowed list in the message; a pod naming none is allowed. With
//     no priority list, every class is allowed but the system ones
//     (system-node-critical, system-cluster-critical: they preempt other
//     tenants' and the host's pods), which a tenant gets only when its
//     policy lists them. Refused, not dropped: the pod stays Pending and
//     says why, rather than running with a priority it did not ask for.
//     spec.priority and spec.preemptionPolicy are never copied to the host,
//     whose admission computes them from the class name;
//   - the tenant's Pod Security Standard is checked with
//     k8s.io/pod-security-admission before the pod reaches the host; a
//     refused pod gets a SyncRefused event and stays Pending with a
//     PodScheduled=False condition whose reason is PodSecurity.
//
// An in-place resize of a virtual pod (pods/resize) is carried to the host
// pod through the host's own pods/resize, where quota admission charges the
// increase; a refusal leaves the host pod as it was and shows on the virtual
// pod as a ResizeRefused event and a PodResizePending condition. Only the
// requests and limits the virtual pod names are carried: those the host
// filled in from its LimitRange defaults are the host's and are neither
// resized nor taken away, so a pod without resources is not "resized"
// forever to what the host will not accept. Status flows back with the
// virtual pod's own QoS class, which is immutable (BestEffort inside, while
// its host copy may be Burstable).
//
// The tenant's policy (Pod Security Standard, node selector, allowed
// runtime and priority classes) can change while the syncer runs
// (UpdatePolicy, called through syncer.Engine.SetPolicy), and every pod is
// then checked again: a pod refused before is synced if now allowed; a host
// pod not scheduled yet is refused if now disallowed, or created again when
// it lacks the new node selector; a scheduled pod keeps running (as with
// Kubernetes' own admission, a policy is not applied to what already runs)
// and gets a PolicyViolation warning event and condition saying what the
// policy no longer allows, until it is replaced or the policy allows it
// again.
//
// Pods are recreated on the host when the virtual pod is replaced, deleted
// on the host with the virtual grace period, and deleted in the virtual
// cluster when their scheduled host pod disappears.
//
// This package does not sync the ConfigMaps and Secrets pods reference; the
// configmaps and secrets syncers do, using References.
package pods
