// Package lifecycle is a small, generic, finalizer-driven reconciliation
// framework for vclusterkit's objects (Tenant, Space, VirtualCluster) and for
// an embedder's own.
//
// A Reconciler[T] runs ordered, idempotent Steps: Provision steps while the
// object lives, Sleep steps while it should sleep, Teardown steps once it is
// being deleted. Every step has a condition of its own (type = the step's
// name) so a stuck step is never a silent hang: its condition says False with
// the step's error, the Ready condition names it, and a Warning event is
// recorded. The finalizer is added before any step runs and removed only
// after every teardown step has reported done, so a crash anywhere resumes
// where the object stands: each step is re-run and must find its work
// already done.
//
// Phases summarise: Pending → Provisioning → Ready ⇄ Sleeping → Deleting,
// and Failed when a step reports an error a retry cannot fix (Permanent).
//
// Embedders insert their own steps by name (Steps.InsertBefore /
// InsertAfter), in the spirit of kcp's initializers and terminators.
//
// What it is not: it does not know what a tenant or a virtual cluster is;
// the engine's controllers (internal/controllers) supply the steps, and an
// embedder edits them through Customize.
package lifecycle
