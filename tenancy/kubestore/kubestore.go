package kubestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation/field"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// Defaults of Options.
const (
	DefaultLockNamespace = "default"
	DefaultLockName      = "vclusterkit-tenancy-tree"
	DefaultLockDuration  = 15 * time.Second
	DefaultSyncTimeout   = 10 * time.Second
)

// Options configure New. The zero value is ready to use.
type Options struct {
	// Validator checks every write; its zero value uses the defaults.
	Validator tenancy.Validator
	// Cache serves reads. When nil, New starts a cache of its own (for
	// Tenants and Spaces only) and Close stops it; pass a manager's cache
	// to share its informers (the manager then starts it).
	Cache cache.Cache
	// LockNamespace and LockName name the coordination.k8s.io Lease that
	// serializes tree writes across processes; defaults DefaultLockNamespace
	// and DefaultLockName. The namespace must exist.
	LockNamespace, LockName string
	// LockDuration is how long a crashed holder blocks others; default
	// DefaultLockDuration.
	LockDuration time.Duration
	// Identity names this store as the Lease holder; default host name
	// plus a random suffix.
	Identity string
	// SyncTimeout bounds how long a write waits for the cache to see it
	// (so a Get after a write reads it); default DefaultSyncTimeout.
	SyncTimeout time.Duration
}

// Store keeps Tenants and Spaces as custom resources (install them with
// tenancy.InstallCRDs). Reads are served from an informer cache; writes go
// directly to the API server.
//
// Writes that change the tree (every spec write and delete) hold a Lease
// while they validate, against direct reads of the API server, and write:
// the check and the write are atomic with respect to every other Store
// using the same Lease, in this process or another. Writes made around the
// Store (kubectl) are checked only by the CRDs' OpenAPI and CEL rules.
//
// Safe for concurrent use.
type Store struct {
	opts   Options
	c      client.WithWatch // direct
	cache  cache.Cache
	stop   context.CancelFunc // of the cache we started, if any
	local  sync.Mutex         // serializes this process's tree writes before the Lease
	scheme *runtime.Scheme
}

var _ tenancy.Store = (*Store)(nil)

// Scheme returns a scheme with the types the store uses.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := tenancy.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// New returns a Store talking to the API server of cfg. Unless
// opts.Cache is set it starts a cache and waits for it to sync, within ctx.
func New(ctx context.Context, cfg *rest.Config, opts Options) (*Store, error) {
	if cfg == nil {
		return nil, errors.New("kubestore: a rest.Config is required")
	}
	if opts.LockNamespace == "" {
		opts.LockNamespace = DefaultLockNamespace
	}
	if opts.LockName == "" {
		opts.LockName = DefaultLockName
	}
	if opts.LockDuration <= 0 {
		opts.LockDuration = DefaultLockDuration
	}
	if opts.SyncTimeout <= 0 {
		opts.SyncTimeout = DefaultSyncTimeout
	}
	if opts.Identity == "" {
		host, _ := os.Hostname()
		opts.Identity = host + "-" + rand.String(8)
	}
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("kubestore: client: %w", err)
	}
	s := &Store{opts: opts, c: c, cache: opts.Cache, scheme: scheme}
	if s.cache == nil {
		s.cache, err = cache.New(cfg, cache.Options{Scheme: scheme})
		if err != nil {
			return nil, fmt.Errorf("kubestore: cache: %w", err)
		}
		cctx, cancel := context.WithCancel(context.Background())
		s.stop = cancel
		go func() { _ = s.cache.Start(cctx) }()
	}
	for _, obj := range []client.Object{&tenancy.Tenant{}, &tenancy.Space{}} {
		if _, err := s.cache.GetInformer(ctx, obj); err != nil {
			s.Close()
			return nil, fmt.Errorf("kubestore: informer for %T (are the CRDs installed?): %w", obj, err)
		}
	}
	if s.stop != nil && !s.cache.WaitForCacheSync(ctx) {
		s.Close()
		return nil, fmt.Errorf("kubestore: the cache did not sync: %w", ctx.Err())
	}
	return s, nil
}

// Close stops the cache New started. Watches end when their contexts do.
func (s *Store) Close() error {
	if s.stop != nil {
		s.stop()
	}
	return nil
}

// Client returns the direct (uncached) client the store writes with.
func (s *Store) Client() client.WithWatch { return s.c }

// mapErr turns API errors into the tenancy sentinels.
func mapErr(kind, name string, err error) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w (%v)", tenancy.NotFoundError(kind, name), err)
	case apierrors.IsAlreadyExists(err):
		return tenancy.AlreadyExistsError(kind, name)
	case apierrors.IsConflict(err):
		return fmt.Errorf("%s %q: %v: %w", kind, name, err, tenancy.ErrConflict)
	case apierrors.IsInvalid(err):
		var errs field.ErrorList
		var status apierrors.APIStatus
		if errors.As(err, &status) && status.Status().Details != nil {
			for _, c := range status.Status().Details.Causes {
				errs = append(errs, &field.Error{Type: field.ErrorTypeInvalid, Field: c.Field, Detail: c.Message, BadValue: field.OmitValueType{}})
			}
		}
		if len(errs) == 0 {
			errs = field.ErrorList{field.Invalid(nil, name, err.Error())}
		}
		return tenancy.NewInvalidError(kind, name, errs)
	case apierrors.IsResourceExpired(err) || apierrors.IsGone(err):
		return fmt.Errorf("%v: %w", err, tenancy.ErrExpired)
	}
	return fmt.Errorf("kubestore: %s %q: %w", kind, name, err)
}

// lock takes the tree Lease; the returned func releases it.
func (s *Store) lock(ctx context.Context) (func(), error) {
	s.local.Lock()
	key := client.ObjectKey{Namespace: s.opts.LockNamespace, Name: s.opts.LockName}
	secs := int32(s.opts.LockDuration / time.Second)
	backoff := 5 * time.Millisecond
	for {
		if err := ctx.Err(); err != nil {
			s.local.Unlock()
			return nil, err
		}
		lease := &coordinationv1.Lease{}
		err := s.c.Get(ctx, key, lease)
		now := metav1.NewMicroTime(time.Now())
		switch {
		case apierrors.IsNotFound(err):
			lease = &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: &s.opts.Identity, LeaseDurationSeconds: &secs,
					AcquireTime: &now, RenewTime: &now},
			}
			err = s.c.Create(ctx, lease)
		case err != nil:
		case free(lease, time.Now()):
			lease.Spec.HolderIdentity = &s.opts.Identity
			lease.Spec.LeaseDurationSeconds = &secs
			lease.Spec.AcquireTime = &now
			lease.Spec.RenewTime = &now
			err = s.c.Update(ctx, lease)
		default:
			err = errHeld
		}
		if err == nil {
			return s.holdLease(lease), nil
		}
		if !errors.Is(err, errHeld) && !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
			s.local.Unlock()
			return nil, fmt.Errorf("kubestore: taking Lease %s: %w", key, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff + time.Duration(rand.Intn(int(backoff)))):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// locked runs fn holding the tree Lease, with a view of the API server.
func (s *Store) locked(ctx context.Context, fn func(view) error) error {
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return fn(view{ctx: ctx, c: s.c})
}

var errHeld = errors.New("lease held")

func free(l *coordinationv1.Lease, now time.Time) bool {
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
		return true
	}
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return true
	}
	return now.After(l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second))
}

// holdLease renews the Lease while held and returns its release.
func (s *Store) holdLease(lease *coordinationv1.Lease) func() {
	var mu sync.Mutex
	cur := lease
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(s.opts.LockDuration / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				mu.Lock()
				renewed := cur.DeepCopy()
				now := metav1.NewMicroTime(time.Now())
				renewed.Spec.RenewTime = &now
				if err := s.c.Update(context.Background(), renewed); err == nil {
					cur = renewed
				}
				mu.Unlock()
			}
		}
	}()
	return func() {
		close(done)
		mu.Lock()
		defer mu.Unlock()
		released := cur.DeepCopy()
		empty := ""
		released.Spec.HolderIdentity = &empty
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// A conflict means the Lease expired and was taken: nothing to do.
		if err := s.c.Update(ctx, released); err != nil && !apierrors.IsConflict(err) {
			ctrl.Log.WithName("kubestore").Info("releasing the tree Lease failed; it expires on its own",
				"lease", client.ObjectKeyFromObject(released), "err", err.Error())
		}
		s.local.Unlock()
	}
}

// version parses an API server resourceVersion. Kubernetes resource
// versions are etcd revisions: integers that grow with every write.
func version(rv string) uint64 {
	v, _ := strconv.ParseUint(rv, 10, 64)
	return v
}

// waitCached waits until the cache holds obj at version rv or later, or
// (rv == "") no longer holds it, so that a Get after a write sees it.
func (s *Store) waitCached(ctx context.Context, obj client.Object, name, rv string) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.SyncTimeout)
	defer cancel()
	want := version(rv)
	for {
		err := s.cache.Get(ctx, client.ObjectKey{Name: name}, obj)
		if rv == "" && apierrors.IsNotFound(err) {
			return
		}
		if rv != "" && err == nil && version(obj.GetResourceVersion()) >= want {
			return
		}
		select {
		case <-ctx.Done():
			// The write happened; only the cache is slow.
			ctrl.LoggerFrom(ctx).Info("cache did not catch up with a write", "name", name,
				"resourceVersion", rv, "timeout", s.opts.SyncTimeout)
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// cachedList lists from the cache and returns the informer's version,
// retrying until the version is the same before and after the list.
func (s *Store) cachedList(ctx context.Context, obj client.Object, list client.ObjectList) (string, error) {
	inf, err := s.cache.GetInformer(ctx, obj)
	if err != nil {
		return "", err
	}
	versioned, ok := inf.(interface{ LastSyncResourceVersion() string })
	for attempt := 0; ; attempt++ {
		before := ""
		if ok {
			before = versioned.LastSyncResourceVersion()
		}
		if err := s.cache.List(ctx, list); err != nil {
			return "", err
		}
		if !ok {
			return "", nil
		}
		if after := versioned.LastSyncResourceVersion(); after == before || attempt >= 10 {
			return after, nil
		}
	}
}

// view reads the API server directly, under the Lease.
type view struct {
	ctx context.Context
	c   client.Reader
}

func (v view) LookupTenant(name string) (*tenancy.Tenant, error) { return tenantKind.lookup(v, name) }

func (v view) ListChildren(name string) ([]*tenancy.Tenant, error) {
	list := &tenancy.TenantList{}
	if err := v.c.List(v.ctx, list, client.MatchingFields{"spec.parent": name}); err != nil {
		return nil, fmt.Errorf("kubestore: listing children of %q: %w", name, err)
	}
	return pointers(list.Items), nil
}

func (v view) ListSpaces(tenant string) ([]*tenancy.Space, error) {
	list := &tenancy.SpaceList{}
	if err := v.c.List(v.ctx, list, client.MatchingFields{"spec.tenant": tenant}); err != nil {
		return nil, fmt.Errorf("kubestore: listing spaces of %q: %w", tenant, err)
	}
	return pointers(list.Items), nil
}
