// Package vclusterkit is an embeddable SDK for building virtual-cluster
// platforms on Kubernetes: the engine behind a Loft / vCluster-Platform-like
// product, as packages. A platform team imports it into its own operator or
// portal and keeps its own storage and UI.
//
// This page is the map. Each section names a package, what it is for, and
// how it composes with the others. Dependencies flow one way: quota and
// netpol build on tenancy; lifecycle depends on neither (it knows no
// tenant); this package's Engine composes them all, with its controllers
// (internal/controllers/tenant, space, virtualcluster) as types of their
// own. vcluster and the sync packages use tenancy types only where they
// need a tenant.
//
// # Tenancy: who owns what (package tenancy)
//
// A tree of tenants (org → team → project, any depth). Each Tenant carries
// members with roles, a quota for its whole subtree and a Policy (pod
// security level, network isolation, allowed classes and provisioners, …)
// that children inherit and may only tighten. A Space is a host namespace
// owned by a tenant. tenancy.Tree answers ancestors, descendants, effective
// policy and validation in O(depth) or O(subtree).
//
// Tenants and spaces live in a tenancy.Store, split by capability (read,
// write, watch) with optimistic concurrency and sentinel errors every store
// returns alike: tenancy/memstore (in memory), tenancy/sqlstore
// (database/sql; SQLite by default, PostgreSQL for scale) and
// tenancy/kubestore (CRDs). tenancy/storetest is the conformance suite an
// embedder runs against a store of their own.
//
// # Virtual clusters (package vcluster)
//
// A VirtualCluster is a real kube-apiserver of a tenant's own, with its own
// backing store, running on the shared host. vcluster.Provisioner is the
// small interface that creates, reaches and removes one; optional
// interfaces (Sleeper, Upgrader, Snapshotter) add capabilities. Provisioners
// are kept in a vcluster.Registry value. vcluster/local runs the control
// plane as processes on this machine (kine on SQLite by default);
// vcluster/helm installs a chart into the tenant's host namespace on a real
// cluster; vcluster/provisionertest is the conformance kit.
//
// # Sync (packages sync/translate, sync/syncer, sync/resources/...)
//
// Workloads created in a virtual cluster run in the tenant's host namespace.
// sync/translate maps names, namespaces, labels and selectors between the
// two sides; sync/syncer is the engine and the Syncer interface a resource
// kind implements (also how users add their own kinds); the built-in
// syncers live in sync/resources/<kind>.
//
// # Quota and isolation (packages quota, netpol)
//
// quota enforces a tenant's limits — any ResourceQuota key: compute,
// storage, load balancers, node ports, object counts of any resource —
// over its whole subtree with a reservation ledger that is never overshot
// under concurrent creates, as an admission webhook on the host (creates,
// claim and Service updates, in-place pod resizes) and an in-process call
// for the syncer. The Engine follows whatever resources the tree's limits
// count, and serves beside the quota webhook the tenancy webhook, which
// refuses Tenant and Space writes that break the tree's rules. In spaces,
// where members write with kubectl, the API server itself enforces the
// tenant's allowed classes and node selector and guards the engine-owned
// namespace labels (tenancy/admissionpolicy: ValidatingAdmissionPolicies,
// no webhook involved).
// netpol renders NetworkPolicies from a tenant's isolation mode and
// evaluates any set of policies, so "may A reach B on port P" has a proven
// answer.
//
// # Lifecycle and the Engine
//
// lifecycle is the finalizer-driven reconciliation framework (phases,
// ordered steps, conditions, events, sleep and wake) behind the Tenant,
// Space and VirtualCluster controllers (Options.TenantSteps, SpaceSteps and
// VirtualClusterSteps add or replace steps); the Engine in this package
// composes everything into one controller-runtime manager, every goroutine
// of which ends when Start returns:
//
//	eng, err := vclusterkit.New(hostConfig, vclusterkit.Options{
//		Provisioners: registry, // nil: the local provisioner
//		Store:        store,    // nil: Tenant and Space objects on the host are the truth
//	})
//	if err != nil {
//		return err
//	}
//	return eng.Start(ctx)
//
// A Space becomes a host namespace with the tenant's engine-owned labels,
// Pod Security Admission level, ResourceQuota, LimitRange, NetworkPolicies
// and member RoleBindings. A VirtualCluster gets a host namespace, a control
// plane from its provisioner, an admin kubeconfig Secret, member RBAC inside
// it with a kubeconfig Secret per member, and a syncer; it sleeps when asked
// (Spec.Sleep.Paused) or after inactivity, and wakes on demand. Deleting
// runs the teardown in order: revoke access, stop syncing, delete
// workloads, deprovision the control plane, delete namespaces, release
// quota, remove the finalizer. A tenant that still owns anything is deleted
// only with AnnotationCascade; otherwise its Deleting condition lists what
// is in the way.
//
// # Examples
//
// examples/quickstart runs the whole flow on one machine (make demo);
// examples/operator, examples/provisioner and examples/syncer are
// templates to start from; examples/vck (CLI) and examples/console (web
// portal) are front doors on the platform API (package api).
package vclusterkit
