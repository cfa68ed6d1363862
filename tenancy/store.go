package tenancy

import "context"

// TenantReader reads tenants.
type TenantReader interface {
	// GetTenant returns the tenant or an error wrapping ErrNotFound.
	GetTenant(ctx context.Context, name string) (*Tenant, error)
	// ListTenants returns every tenant, sorted by name. The list's
	// ResourceVersion is the version to watch from to see every later
	// change.
	ListTenants(ctx context.Context) (*TenantList, error)
}

// TenantWriter writes tenants. Every write is checked by Validator first,
// atomically with the write: an invalid tenant is never stored, and of two
// concurrent writes that are each valid alone but not together (two
// re-parentings that would form a cycle) only one succeeds.
//
// Writes never modify their argument; they return the stored object with
// its new ResourceVersion.
type TenantWriter interface {
	// CreateTenant stores a new tenant. Errors: ErrInvalid,
	// ErrAlreadyExists.
	CreateTenant(ctx context.Context, t *Tenant) (*Tenant, error)
	// UpdateTenant replaces the tenant's labels, annotations and spec
	// (the status is kept). A non-empty ResourceVersion must be the
	// current one, else ErrConflict; an empty one writes unconditionally.
	// Errors: ErrInvalid, ErrNotFound, ErrConflict.
	UpdateTenant(ctx context.Context, t *Tenant) (*Tenant, error)
	// DeleteTenant deletes the tenant. A tenant with child tenants or
	// spaces is refused with ErrHasDependents unless opts.Cascade is set,
	// in which case its spaces and subtree go with it.
	DeleteTenant(ctx context.Context, name string, opts DeleteOptions) error
}

// TenantStatusWriter writes the status of tenants.
type TenantStatusWriter interface {
	// UpdateTenantStatus replaces the status only, with the same
	// ResourceVersion rules as UpdateTenant.
	UpdateTenantStatus(ctx context.Context, t *Tenant) (*Tenant, error)
}

// TenantWatcher streams changes to tenants.
type TenantWatcher interface {
	// WatchTenants delivers, in order, every change made after
	// resourceVersion: a version returned by this store (by a list, a
	// write or an event), or "" for changes from now on. A version the
	// store no longer keeps history for gives ErrExpired. The channel is
	// closed when ctx ends, or after an EventError event.
	WatchTenants(ctx context.Context, resourceVersion string) (<-chan TenantEvent, error)
}

// SpaceReader reads spaces.
type SpaceReader interface {
	GetSpace(ctx context.Context, name string) (*Space, error)
	// ListSpaces returns every space, sorted by name.
	ListSpaces(ctx context.Context) (*SpaceList, error)
}

// SpaceWriter writes spaces, with the same rules as TenantWriter. A space
// whose tenant does not exist is invalid; a space's tenant is immutable.
type SpaceWriter interface {
	CreateSpace(ctx context.Context, s *Space) (*Space, error)
	UpdateSpace(ctx context.Context, s *Space) (*Space, error)
	DeleteSpace(ctx context.Context, name string) error
}

// SpaceStatusWriter writes the status of spaces.
type SpaceStatusWriter interface {
	UpdateSpaceStatus(ctx context.Context, s *Space) (*Space, error)
}

// SpaceWatcher streams changes to spaces, like TenantWatcher.
type SpaceWatcher interface {
	WatchSpaces(ctx context.Context, resourceVersion string) (<-chan SpaceEvent, error)
}

// Store is a complete tenancy store. memstore, sqlstore and kubestore
// implement it; storetest checks that an implementation behaves like them.
// Accept the narrowest interface you need instead.
type Store interface {
	TenantReader
	TenantWriter
	TenantStatusWriter
	TenantWatcher
	SpaceReader
	SpaceWriter
	SpaceStatusWriter
	SpaceWatcher
}

// DeleteOptions modify a delete.
type DeleteOptions struct {
	// Cascade deletes the tenant's spaces and whole subtree with it.
	Cascade bool
}

// EventType says what happened to an object.
type EventType string

// Event types.
const (
	EventAdded    EventType = "Added"
	EventModified EventType = "Modified"
	EventDeleted  EventType = "Deleted"
	// EventError ends a watch; Err says why.
	EventError EventType = "Error"
)

// TenantEvent is one change to a tenant. For EventDeleted, Tenant is the
// last state with the ResourceVersion of the deletion.
type TenantEvent struct {
	Type   EventType
	Tenant *Tenant
	Err    error
}

// SpaceEvent is one change to a space.
type SpaceEvent struct {
	Type  EventType
	Space *Space
	Err   error
}

// TreeReader is what LoadTree reads.
type TreeReader interface {
	TenantReader
	SpaceReader
}

// LoadTree builds a Tree from what a store holds. Tenants are listed before
// spaces, and spaces whose tenant was created after the tenant list are
// left out, so the tree is consistent even while the store changes.
func LoadTree(ctx context.Context, r TreeReader, opts TreeOptions) (*Tree, error) {
	tenants, err := r.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	spaces, err := r.ListSpaces(ctx)
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(tenants.Items))
	for i := range tenants.Items {
		known[tenants.Items[i].Name] = true
	}
	kept := spaces.Items[:0:0]
	for _, s := range spaces.Items {
		if known[s.Spec.Tenant] {
			kept = append(kept, s)
		}
	}
	return NewTree(tenants.Items, kept, opts)
}
