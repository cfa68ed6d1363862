// Package tenancy is the tenant model of vclusterkit: the Tenant and Space
// API types (group tenancy.vclusterkit.io/v1alpha1), the tenant tree, and
// the Store interfaces that every storage backend implements.
//
// # Types
//
// A Tenant is a node of an organisation tree (org → team → project, any
// depth, DefaultMaxDepth levels unless configured). It carries members with
// a role (admin, edit, view), a quota for its whole subtree, LimitRange
// defaults, and a Policy (pod security level, network isolation, allowed
// provisioners and classes, node selector, required namespace labels and
// annotations, sleep-after, maximum virtual clusters and spaces) that its
// descendants inherit and may only tighten. A Space is a host namespace
// owned by a tenant. The CRDs are generated from these types (CRDs,
// InstallCRDs) with OpenAPI and CEL rules for what can be checked without
// looking at other objects.
//
// # Tree
//
// NewTree builds and validates a Tree from a snapshot of tenants and spaces
// in O(n·depth): names (DNS-1123 labels, not reserved), duplicates, missing
// parents, cycles, the depth limit, policies that loosen an ancestor's and
// quotas above an ancestor's. Lookups cost O(depth) (Path, Ancestors,
// EffectivePolicy, EffectiveMembers) or O(subtree) (Descendants), never
// O(all tenants). CheckReparent says whether a move is allowed.
//
// # Stores
//
// Store composes narrow interfaces (TenantReader, TenantWriter,
// TenantWatcher, ...); accept the narrowest one you need. Implementations:
// tenancy/memstore (in memory), tenancy/sqlstore (SQLite or PostgreSQL) and
// tenancy/kubestore (the CRDs). They return the same sentinel errors
// (ErrNotFound, ErrAlreadyExists, ErrConflict, ErrInvalid with an
// *InvalidError listing the fields, ErrHasDependents, ErrExpired), use
// optimistic concurrency through resourceVersion, and check every write
// with the same Validator atomically with the write. tenancy/storetest is
// the conformance suite they pass, for embedders' own stores too.
//
// This package does not reconcile anything: rendering quota, network
// policies and namespaces from tenants is the job of the quota, netpol and
// lifecycle packages.
package tenancy
