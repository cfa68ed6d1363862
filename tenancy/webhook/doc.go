// Package webhook refuses, at admission, Tenant and Space writes that
// would break the rules of the tenant tree, so that `kubectl apply` of a
// bad tenant fails with a message instead of producing an object the
// engine later marks invalid (PolicyValid=False and the like).
//
// The CRDs' OpenAPI and CEL rules check each object alone (names, enums,
// quantities). What needs the other objects — the parent exists, no
// cycle, the depth limit, a policy only tightens its ancestors', a quota
// stays within its ancestors', a space's tenant exists, MaxSpaces — is
// decided here, by the same code every store runs on its writes:
// tenancy.Validator over a snapshot of the current tenants and spaces.
// Messages are that code's, naming the field and the ancestor:
//
//	admission webhook "vclusterkit-tenancy.tenancy.vclusterkit.io" denied the request:
//	Tenant.tenancy.vclusterkit.io "team" is invalid: spec.quota[cpu]: Invalid value: "8":
//	exceeds 4 set by ancestor "org"
//
// # Pieces
//
//   - Validator is the http.Handler (admission.k8s.io/v1). It reads the
//     tree through a Source: ClientSource (a controller-runtime cache or
//     client), StoreSource (a tenancy store) or a SourceFunc. CheckTenant
//     and CheckSpace are its decisions as plain functions of a snapshot.
//   - Install writes the ValidatingWebhookConfiguration (default name
//     "vclusterkit-tenancy"): CREATE and UPDATE of tenants and spaces,
//     reached by URL or Service, with the CA bundle.
//   - Serving is quota/admission's: GenerateCerts makes a CA and a serving
//     certificate, Serve runs any http.Handler over TLS. Path is offered to
//     embedders that mount the Validator on their own mux.
//
// # What is decided
//
// A create is checked as tenancy.Validator.ValidateTenantCreate or
// ValidateSpaceCreate would check it in a store, plus, for a space, every
// MaxSpaces on the way up: each tenant's MaxSpaces caps its whole subtree,
// so a limit on an ancestor counts the spaces of its other branches too.
// An update is checked as ValidateTenantUpdate or ValidateSpaceUpdate,
// with the API server's old object in place of the snapshot's (a cache may
// lag behind). Dry runs are decided exactly like writes (the webhook has
// no side effects). DELETE is not sent to the webhook: tearing a subtree
// down in order is the engine's job, through finalizers. Status writes are
// not sent either.
//
// A parent that tightens its policy or lowers its quota below what a child
// or space already has is refused, with the descendant named
// (spec.quota: descendant "team" would become invalid: spec.quota[cpu]:
// exceeds 4 set by ancestor "org"). That is what tenancy.Validator and
// every store decide, and it keeps the blame where it belongs: admitted,
// the change would leave the child — whose owner did nothing — flagged
// invalid by the engine, which judges the child against its ancestors. To
// tighten a subtree, tighten the leaves first.
//
// # Objects that are already invalid
//
// Invalid objects can exist: written while no webhook ran, or admitted
// when it could not be reached (failure policy Ignore). The webhook never
// stands between them and their repair or removal:
//
//   - an update that leaves the spec alone (finalizers, labels,
//     annotations, owner references) is always allowed, without reading
//     the tree; the engine's own metadata writes and every deletion go
//     through;
//   - an update that changes the spec is refused only for problems the
//     object (and, for a tenant, its subtree) did not already have, word
//     for word: adding a member to a tenant whose quota is already above
//     its parent's is allowed, raising that quota further is not, nor is
//     a partial repair that leaves it above a different limit. The same
//     holds for a parent whose child is already invalid: its unrelated
//     changes go through, a change that alters the child's violation does
//     not. Repairs that make the object valid are always allowed, and a
//     tree can always be repaired from the leaves up.
//
// # Failure policy
//
// Install writes failurePolicy Ignore unless InstallOptions.FailurePolicy
// says Fail. The webhook is an early answer, not the enforcement: the
// engine re-validates the whole tree on every change, marks offending
// objects with conditions and leaves them (and their subtrees) out of what
// it renders, so nothing a refused write could loosen takes effect either
// way. With Ignore, a platform whose engine is down, being upgraded or
// uninstalled (its configuration left behind) keeps working: admins can
// still create, repair and remove tenants. With Fail, every tenant and
// space write — including the finalizer removal that ends a deletion —
// waits for the webhook; choose it when a late PolicyValid=False is not
// acceptable and the webhook runs highly available. A Source error (an
// unsynced cache) is answered with HTTP 500, so the API server applies the
// same policy to it as to an unreachable webhook.
//
// # Limits
//
// Decisions are made from a snapshot, not atomically with the write as a
// store's are: two concurrent writes that are each valid alone (A moved
// under B while B is moved under A; two spaces taking the last MaxSpaces
// place) can both be admitted. The engine sees the result and marks it.
// A parent must exist before its child is admitted: apply parents first
// (GitOps tools retry until they exist). Spaces being deleted still count
// towards MaxSpaces until they are gone, and lowering a MaxSpaces below
// the current count is allowed (existing spaces stay; new ones are
// refused). MaxVirtualClusters is counted where virtual clusters are
// admitted, not here. Creating a tenant whose name existing orphans already
// give as their parent does not check those orphans against it.
//
// This package does not mutate objects and does not reconcile anything.
package webhook
