package memstore

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/internal/feed"
)

// DefaultHistory is how many changes a Store keeps for watches to resume
// from when Options.History is 0.
const DefaultHistory = 100000

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// Validator checks every write; its zero value uses the defaults.
	Validator tenancy.Validator
	// History is how many changes are kept for watches to resume from;
	// 0 means DefaultHistory. A watch from an older version gets
	// tenancy.ErrExpired.
	History int
}

// Store keeps tenants and spaces in memory. It is safe for concurrent use;
// writes are serialized, so each check and write is atomic.
type Store struct {
	opts Options

	mu       sync.RWMutex
	rv       uint64
	tenants  map[string]*tenancy.Tenant
	children map[string]map[string]struct{}
	spaces   map[string]*tenancy.Space
	byTenant map[string]map[string]struct{}
	log      []change // contiguous versions log[0].rv .. rv
	notify   feed.Notifier
}

type change struct {
	rv     uint64
	typ    tenancy.EventType
	tenant *tenancy.Tenant
	space  *tenancy.Space
}

var _ tenancy.Store = (*Store)(nil)

// New returns an empty Store.
func New(opts Options) *Store {
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	return &Store{
		opts:     opts,
		tenants:  map[string]*tenancy.Tenant{},
		children: map[string]map[string]struct{}{},
		spaces:   map[string]*tenancy.Space{},
		byTenant: map[string]map[string]struct{}{},
	}
}

// view reads the store's state for validation; callers hold mu.
type view struct{ s *Store }

func (v view) LookupTenant(name string) (*tenancy.Tenant, error) { return v.s.tenants[name], nil }

func (v view) ListChildren(name string) ([]*tenancy.Tenant, error) {
	out := make([]*tenancy.Tenant, 0, len(v.s.children[name]))
	for c := range v.s.children[name] {
		out = append(out, v.s.tenants[c])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (v view) ListSpaces(tenant string) ([]*tenancy.Space, error) {
	out := make([]*tenancy.Space, 0, len(v.s.byTenant[tenant]))
	for c := range v.s.byTenant[tenant] {
		out = append(out, v.s.spaces[c])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *Store) next() string {
	s.rv++
	return strconv.FormatUint(s.rv, 10)
}

func (s *Store) record(c change) {
	s.log = append(s.log, c)
	if over := len(s.log) - s.opts.History; over > 0 {
		// Drop in chunks so trimming is amortised O(1).
		if over >= s.opts.History/4 || over > 1024 {
			s.log = append(s.log[:0:0], s.log[over:]...)
		}
	}
}

func now() metav1.Time { return metav1.NewTime(time.Now().UTC().Truncate(time.Second)) }

func addIndex(idx map[string]map[string]struct{}, key, name string) {
	m := idx[key]
	if m == nil {
		m = map[string]struct{}{}
		idx[key] = m
	}
	m[name] = struct{}{}
}

func delIndex(idx map[string]map[string]struct{}, key, name string) {
	delete(idx[key], name)
	if len(idx[key]) == 0 {
		delete(idx, key)
	}
}

func tenantTypeMeta() metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: tenancy.KindTenant}
}

func spaceTypeMeta() metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: tenancy.KindSpace}
}

// checkVersion returns ErrConflict when sent is set and not current.
func checkVersion(kind, name, sent, current string) error {
	if sent != "" && sent != current {
		return tenancy.ConflictError(kind, name, sent, current)
	}
	return nil
}

// GetTenant implements tenancy.TenantReader.
func (s *Store) GetTenant(ctx context.Context, name string) (*tenancy.Tenant, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tenants[name]
	if !ok {
		return nil, tenancy.NotFoundError(tenancy.KindTenant, name)
	}
	return t.DeepCopy(), nil
}

// ListTenants implements tenancy.TenantReader.
func (s *Store) ListTenants(ctx context.Context) (*tenancy.TenantList, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := &tenancy.TenantList{
		TypeMeta: metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: "TenantList"},
		ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatUint(s.rv, 10)},
		Items:    make([]tenancy.Tenant, 0, len(s.tenants)),
	}
	for _, t := range s.tenants {
		out.Items = append(out.Items, *t.DeepCopy())
	}
	sort.Slice(out.Items, func(i, j int) bool { return out.Items[i].Name < out.Items[j].Name })
	return out, nil
}

// CreateTenant implements tenancy.TenantWriter.
func (s *Store) CreateTenant(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in := t.DeepCopy()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tenants[in.Name]; ok {
		return nil, tenancy.AlreadyExistsError(tenancy.KindTenant, in.Name)
	}
	if err := s.opts.Validator.ValidateTenantCreate(view{s}, in); err != nil {
		return nil, err
	}
	in.TypeMeta = tenantTypeMeta()
	in.UID = uuid.NewUUID()
	in.CreationTimestamp = now()
	in.Generation = 1
	in.Status = tenancy.TenantStatus{}
	in.ResourceVersion = s.next()
	s.tenants[in.Name] = in
	if in.Spec.Parent != "" {
		addIndex(s.children, in.Spec.Parent, in.Name)
	}
	s.record(change{rv: s.rv, typ: tenancy.EventAdded, tenant: in})
	s.notify.Broadcast()
	return in.DeepCopy(), nil
}

// UpdateTenant implements tenancy.TenantWriter.
func (s *Store) UpdateTenant(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.tenants[t.Name]
	if !ok {
		return nil, tenancy.NotFoundError(tenancy.KindTenant, t.Name)
	}
	if err := checkVersion(tenancy.KindTenant, t.Name, t.ResourceVersion, cur.ResourceVersion); err != nil {
		return nil, err
	}
	next := cur.DeepCopy()
	next.Labels = t.DeepCopy().Labels
	next.Annotations = t.DeepCopy().Annotations
	next.Spec = *t.Spec.DeepCopy()
	if err := s.opts.Validator.ValidateTenantUpdate(view{s}, cur, next); err != nil {
		return nil, err
	}
	if !equality.Semantic.DeepEqual(cur.Spec, next.Spec) {
		next.Generation++
	}
	next.ResourceVersion = s.next()
	s.tenants[next.Name] = next
	if cur.Spec.Parent != next.Spec.Parent {
		if cur.Spec.Parent != "" {
			delIndex(s.children, cur.Spec.Parent, cur.Name)
		}
		if next.Spec.Parent != "" {
			addIndex(s.children, next.Spec.Parent, next.Name)
		}
	}
	s.record(change{rv: s.rv, typ: tenancy.EventModified, tenant: next})
	s.notify.Broadcast()
	return next.DeepCopy(), nil
}

// UpdateTenantStatus implements tenancy.TenantStatusWriter.
func (s *Store) UpdateTenantStatus(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.tenants[t.Name]
	if !ok {
		return nil, tenancy.NotFoundError(tenancy.KindTenant, t.Name)
	}
	if err := checkVersion(tenancy.KindTenant, t.Name, t.ResourceVersion, cur.ResourceVersion); err != nil {
		return nil, err
	}
	next := cur.DeepCopy()
	next.Status = *t.Status.DeepCopy()
	next.ResourceVersion = s.next()
	s.tenants[next.Name] = next
	s.record(change{rv: s.rv, typ: tenancy.EventModified, tenant: next})
	s.notify.Broadcast()
	return next.DeepCopy(), nil
}

// DeleteTenant implements tenancy.TenantWriter.
func (s *Store) DeleteTenant(ctx context.Context, name string, opts tenancy.DeleteOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	plan, err := tenancy.PlanTenantDelete(view{s}, name, opts.Cascade)
	if err != nil {
		return err
	}
	for _, sp := range plan.Spaces {
		s.deleteSpaceLocked(sp)
	}
	for _, tn := range plan.Tenants {
		cur := s.tenants[tn]
		delete(s.tenants, tn)
		if cur.Spec.Parent != "" {
			delIndex(s.children, cur.Spec.Parent, tn)
		}
		gone := cur.DeepCopy()
		gone.ResourceVersion = s.next()
		s.record(change{rv: s.rv, typ: tenancy.EventDeleted, tenant: gone})
	}
	s.notify.Broadcast()
	return nil
}

// WatchTenants implements tenancy.TenantWatcher.
func (s *Store) WatchTenants(ctx context.Context, resourceVersion string) (<-chan tenancy.TenantEvent, error) {
	from, err := s.watchStart(resourceVersion)
	if err != nil {
		return nil, err
	}
	fetch := func(ctx context.Context, after uint64) ([]tenancy.TenantEvent, uint64, error) {
		changes, next, err := s.changesAfter(after)
		var out []tenancy.TenantEvent
		for _, c := range changes {
			if c.tenant != nil {
				out = append(out, tenancy.TenantEvent{Type: c.typ, Tenant: c.tenant.DeepCopy()})
			}
		}
		return out, next, err
	}
	return feed.Pump(ctx, from, fetch, &s.notify, 0, func(err error) tenancy.TenantEvent {
		return tenancy.TenantEvent{Type: tenancy.EventError, Err: err}
	}), nil
}

// WatchSpaces implements tenancy.SpaceWatcher.
func (s *Store) WatchSpaces(ctx context.Context, resourceVersion string) (<-chan tenancy.SpaceEvent, error) {
	from, err := s.watchStart(resourceVersion)
	if err != nil {
		return nil, err
	}
	fetch := func(ctx context.Context, after uint64) ([]tenancy.SpaceEvent, uint64, error) {
		changes, next, err := s.changesAfter(after)
		var out []tenancy.SpaceEvent
		for _, c := range changes {
			if c.space != nil {
				out = append(out, tenancy.SpaceEvent{Type: c.typ, Space: c.space.DeepCopy()})
			}
		}
		return out, next, err
	}
	return feed.Pump(ctx, from, fetch, &s.notify, 0, func(err error) tenancy.SpaceEvent {
		return tenancy.SpaceEvent{Type: tenancy.EventError, Err: err}
	}), nil
}

func (s *Store) watchStart(rv string) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if rv == "" {
		return s.rv, nil
	}
	from, err := strconv.ParseUint(rv, 10, 64)
	if err != nil || from > s.rv {
		return 0, fmt.Errorf("watch from resourceVersion %q: not a version of this store: %w", rv, tenancy.ErrExpired)
	}
	if _, _, err := s.changesAfterLocked(from); err != nil {
		return 0, err
	}
	return from, nil
}

// changesAfter returns up to 1000 changes after version after.
func (s *Store) changesAfter(after uint64) ([]change, uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changesAfterLocked(after)
}

func (s *Store) changesAfterLocked(after uint64) ([]change, uint64, error) {
	if after >= s.rv {
		return nil, after, nil
	}
	first := s.log[0].rv
	if after+1 < first {
		return nil, 0, fmt.Errorf("watch from resourceVersion %d: changes before %d are no longer kept: %w", after, first, tenancy.ErrExpired)
	}
	i := int(after + 1 - first)
	end := min(len(s.log), i+1000)
	out := append([]change(nil), s.log[i:end]...)
	return out, out[len(out)-1].rv, nil
}
