// Package syncer is the engine that keeps a virtual cluster and its host
// namespace in step, and the Syncer interface a resource kind implements to
// be synced — the built-in kinds in sync/resources and a user's own kinds
// alike (see examples/syncer).
//
// # Model
//
// One Host (NewHost) per process holds the host client and one host cache,
// filtered to objects carrying translate.LabelVirtualCluster (and to the
// given namespaces), shared by every Engine. One Engine (New) per virtual
// cluster runs a controller per Syncer. Each reconcile is keyed by the
// virtual object's namespace and name and converges both sides:
//
//   - virtual object present, host copy absent: the host copy is created
//     from Syncer.ToHost with the translated name and the ownership mark;
//   - both present: the host copy is brought to what the virtual object
//     asks for with a forced server-side apply (a three-way merge done by
//     the API server: fields the engine set are restored after hand edits,
//     fields it stopped setting are removed, fields set by anybody else are
//     kept); nothing is written when the host copy already matches; then
//     Syncer.ToVirtual copies what the host observed (status, allocated
//     fields) back;
//   - virtual object gone: the host copy is deleted (uid-preconditioned).
//     Because the informers' initial lists enqueue every virtual object and
//     every managed host object, a started Engine garbage-collects host
//     copies whose virtual object was deleted while it was down, and a
//     restart converges without duplicates (host names are deterministic);
//   - virtual object terminating: the host copy is deleted with the same
//     grace period; VirtualFinalizer completes the virtual deletion;
//   - host copy deleted while the virtual object remains: it is created
//     again, unless HostDeletion says to delete the virtual object.
//
// A host object without this virtual cluster's mark (and matching origin
// annotations) is never modified or deleted, even when its name collides: a
// HostNameCollision event is recorded on the virtual object instead.
// Objects a Syncer refuses (ErrRefused, Refuse) get a SyncRefused event and
// are not synced. Resource-version conflicts and stale cache reads are
// retried shortly without error logs or events. Cluster-scoped kinds are
// rejected by New (ErrClusterScoped): no sync path creates a cluster-scoped
// host object.
//
// # Tenant policy
//
// Syncers that enforce a tenant's policy (Pod Security Standard, node
// selector, allowed classes) implement PolicyUpdater. Engine.SetPolicy hands
// them a changed Policy while they run and syncs every object of the kinds
// whose rules changed again, so a policy change takes effect within seconds
// without restarting the engine.
//
// # Host to virtual
//
// Kinds whose source of truth is the host (events, nodes) implement
// FromHost and are keyed by the host object. Importer, built on it, copies
// host objects the platform marks (translate.LabelVirtualCluster plus
// AnnotationImport) into the virtual cluster, read-only: imported objects
// are never synced back, and an import never overwrites a tenant's object.
//
// # Metrics
//
// Registered in controller-runtime's metrics.Registry unless
// Options.Registerer says otherwise: vclusterkit_sync_objects_total
// {vcluster,kind,direction,op}, vclusterkit_sync_duration_seconds
// {vcluster,kind}, vclusterkit_sync_errors_total {vcluster,kind},
// vclusterkit_sync_refused_total {vcluster,kind,reason} and
// vclusterkit_sync_queue_depth {vcluster,kind},
// vclusterkit_sync_echoes_skipped_total {vcluster,kind,side},
// vclusterkit_sync_status_only_total {vcluster,kind} and
// vclusterkit_sync_client_rate_limiter_wait_seconds {side}, next to
// controller-runtime's own workqueue_* and controller_runtime_* series.
//
// # Work per object
//
// A reconcile translates only when something a translation reads may have
// changed: the watch events of the engine's own writes are skipped on both
// sides, and a host change of status alone (a pod turning Running) only
// carries the status back (ToVirtual). On a KWOK host a synced pod costs
// one host request (its create) and three virtual ones (the Binding and two
// status patches), measured by go run ./internal/bench/sync.
//
// # Rate limits
//
// Each side has one client-side budget, shared by every kind, the
// informers and the token requests: HostOptions.QPS/Burst for everything
// the process sends to the host (all virtual clusters together; default
// DefaultHostQPS/DefaultHostBurst, 200/400), Options.QPS/Burst for
// everything one Engine sends to its virtual cluster (default
// DefaultVirtualQPS/DefaultVirtualBurst). A QPS the rest.Config passed in
// sets is used when the option is zero; a negative QPS turns the limiter
// off. The time requests waited is exported per side, and
// Host.RateLimiterWait and Engine.RateLimiterWait return it. vcluster ships
// 40 QPS.
//
// # Permissions
//
// On the host the engine needs, in each tenant's host namespace, get, list,
// watch, create, update, patch and delete on the kinds it syncs (plus
// Secrets for pod tokens); list and watch of Nodes and Events when the node
// and event syncers run; and list of Ingresses in all namespaces for the
// ingress host check. In the virtual cluster it needs the same on the
// synced kinds, update of their status, pods/binding, the
// serviceaccounts/token subresource, Events, Nodes and node Leases. It
// never creates cluster-scoped objects on the host.
//
// This package does not decide how a kind is translated (sync/resources
// does) and does not provision virtual clusters (package vcluster does).
package syncer
