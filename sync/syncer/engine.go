package syncer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// FieldManager is the field manager of every write the engine makes.
const FieldManager = "vclusterkit-syncer"

// DefaultWorkers is the number of objects of one kind synced concurrently.
const DefaultWorkers = 16

// Options configure an Engine. Name, HostNamespace and Syncers are
// required; the other zero values are sane defaults.
type Options struct {
	// Name of the virtual cluster (a DNS-1123 label). Host objects carry it
	// in translate.LabelVirtualCluster.
	Name string
	// HostNamespace is where the virtual cluster's objects go on the host.
	HostNamespace string
	// Syncers are the kinds to sync; names must be unique.
	Syncers []Syncer
	// Scheme of the virtual cluster. Default: client-go's.
	Scheme *runtime.Scheme
	// QPS and Burst of the virtual client: one budget for every request
	// the engine makes to this virtual cluster (all kinds, tokens, the
	// informers). Defaults DefaultVirtualQPS and DefaultVirtualBurst (or
	// the config's own when set); a negative QPS turns the limiter off.
	// The wait is exported as MetricRateLimiterWait{side=<Name>}.
	QPS   float32
	Burst int
	// Workers per kind. Default DefaultWorkers.
	Workers int
	// Registerer for metrics. Default controller-runtime's metrics.Registry.
	Registerer prometheus.Registerer
	// Admit, when set, is asked before a host object is created, with the
	// virtual object and the host object about to be written (a quota
	// reservation, a policy check). An error wrapping ErrRefused (see
	// Refuse) refuses the object like a Syncer refusal, and the object is
	// tried again after AdmitRetry; any other error is retried with
	// backoff.
	Admit AdmitFunc
	// AdmitRetry is when a refused admission is tried again (the quota
	// may have been freed); zero means 15 seconds.
	AdmitRetry time.Duration
	// Kubelet, optional, is where the virtual API server reaches the
	// kubelet API of the virtual cluster's nodes (a kubeletproxy.Server);
	// syncers read it from Context.Kubelet (the nodes syncer advertises it
	// on every virtual Node). Nil: no kubelet API is served.
	Kubelet *KubeletEndpoint
}

// KubeletEndpoint is an address and port of a kubelet API server.
type KubeletEndpoint struct {
	// Address is an IP address the virtual API server can dial.
	Address string
	// Port is its TCP port.
	Port int32
}

// AdmitFunc decides whether a host object may be created; see
// Options.Admit.
type AdmitFunc func(ctx context.Context, virtual, host client.Object) error

// Engine syncs one virtual cluster with its host namespace. Create it with
// New and run it with Start; it is a manager.Runnable. Several Engines share
// one Host. An Engine can be started once.
type Engine struct {
	opts        Options
	host        *Host
	virtual     cluster.Cluster
	sc          *Context
	metrics     *metrics
	kinds       []*kind
	virtualCfg  *rest.Config
	echoes      *echoes
	started     bool
	startedLock sync.Mutex
}

// kind is one Syncer with what the engine derived for it.
type kind struct {
	syncer Syncer
	gvk    schema.GroupVersionKind
	ctrl   controller.Controller
	// queue is the controller's queue once it has started, read by
	// other goroutines (queue depth, Engine.SetPolicy).
	queue atomic.Pointer[workqueue.TypedRateLimitingInterface[reconcile.Request]]
	e     *Engine
	// written maps host object names to the resourceVersion of the
	// engine's own last write, so the watch event of that write does not
	// cost another reconcile.
	written sync.Map
	// dirty marks the objects whose next reconcile translates (echo.go).
	dirty dirtyKeys
}

// New returns an Engine for the virtual cluster reachable through
// virtualCfg (copied). It validates opts and fails naming the field.
func New(host *Host, virtualCfg *rest.Config, opts Options) (*Engine, error) {
	if host == nil {
		return nil, errors.New("syncer.New: host is nil")
	}
	if virtualCfg == nil {
		return nil, errors.New("syncer.New: virtual config is nil")
	}
	tr, err := translate.New(opts.Name, opts.HostNamespace)
	if err != nil {
		return nil, fmt.Errorf("syncer.New: Options: %w", err)
	}
	if len(opts.Syncers) == 0 {
		return nil, errors.New("syncer.New: Options.Syncers is empty")
	}
	if opts.Scheme == nil {
		opts.Scheme = clientgoscheme.Scheme
	}
	if k := opts.Kubelet; k != nil {
		if ip := net.ParseIP(k.Address); ip == nil || ip.IsUnspecified() {
			return nil, fmt.Errorf("syncer.New: Options.Kubelet.Address %q: want a specific IP address", k.Address)
		}
		if k.Port <= 0 || k.Port > 65535 {
			return nil, fmt.Errorf("syncer.New: Options.Kubelet.Port %d: want 1-65535", k.Port)
		}
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Registerer == nil {
		opts.Registerer = ctrlmetrics.Registry
	}
	cfg := rest.CopyConfig(virtualCfg)
	qps, burst := budget(cfg, opts.QPS, opts.Burst, DefaultVirtualQPS, DefaultVirtualBurst)
	if err := limit(cfg, opts.Registerer, opts.Name, qps, burst); err != nil {
		return nil, fmt.Errorf("syncer.New: %w", err)
	}
	virtual, err := cluster.New(cfg, func(o *cluster.Options) { o.Scheme = opts.Scheme })
	if err != nil {
		return nil, fmt.Errorf("syncer.New: virtual cluster: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("syncer.New: metrics: %w", err)
	}
	e := &Engine{opts: opts, host: host, virtual: virtual, metrics: m, virtualCfg: cfg, echoes: &echoes{scheme: opts.Scheme}}
	e.sc = &Context{
		Translator:    tr,
		Virtual:       &recordingClient{Client: virtual.GetClient(), echoes: e.echoes},
		VirtualReader: virtual.GetAPIReader(),
		VirtualConfig: cfg,
		Host:          host.cluster.GetClient(),
		HostReader:    host.cluster.GetAPIReader(),
		Kubelet:       opts.Kubelet,
		metrics:       m,
		// core/v1 events on purpose: the events.k8s.io recorder that
		// replaces this deprecated call caps a note at 1,024 characters,
		// and refusals (a Pod Security violation list, say) are longer;
		// such an event would be rejected and the reason lost.
		Recorder: recorderAdapter{virtual.GetEventRecorderFor("vclusterkit-syncer-" + opts.Name)}, //nolint:staticcheck // see above
	}
	seen := map[string]bool{}
	for i, s := range opts.Syncers {
		if s == nil {
			return nil, fmt.Errorf("syncer.New: Options.Syncers[%d] is nil", i)
		}
		name := s.Name()
		if name == "" || seen[name] {
			return nil, fmt.Errorf("syncer.New: Options.Syncers[%d].Name() %q is empty or not unique", i, name)
		}
		seen[name] = true
		k, err := e.newKind(s)
		if err != nil {
			return nil, fmt.Errorf("syncer.New: Options.Syncers[%d] (%s): %w", i, name, err)
		}
		e.kinds = append(e.kinds, k)
	}
	return e, nil
}

// ErrClusterScoped is returned by New for a Syncer of a cluster-scoped
// kind: the engine never creates cluster-scoped host objects for a tenant.
var ErrClusterScoped = errors.New("cluster-scoped kinds are not synced to the host")

func (e *Engine) newKind(s Syncer) (*kind, error) {
	obj := s.New()
	gvks, _, err := e.opts.Scheme.ObjectKinds(obj)
	if err != nil {
		return nil, fmt.Errorf("kind not in the virtual scheme: %w", err)
	}
	if _, _, err := e.host.cluster.GetScheme().ObjectKinds(obj); err != nil {
		return nil, fmt.Errorf("kind not in the host scheme: %w", err)
	}
	gvk := gvks[0]
	if _, ok := s.(FromHost); ok {
		return &kind{syncer: s, gvk: gvk, e: e}, nil
	}
	namespaced, err := apiutil.IsObjectNamespaced(obj, e.opts.Scheme, e.virtual.GetRESTMapper())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", gvk, err)
	}
	if !namespaced {
		return nil, fmt.Errorf("%s: %w", gvk.Kind, ErrClusterScoped)
	}
	return &kind{syncer: s, gvk: gvk, e: e}, nil
}

// RateLimiterWait is how long this engine's virtual requests have waited
// for the client-side rate limiter, in total.
func (e *Engine) RateLimiterWait() time.Duration { return waited(e.virtualCfg) }

// Context returns what syncers of this engine work with.
func (e *Engine) Context() *Context { return e.sc }

// VirtualCluster returns the controller-runtime cluster of the virtual side.
func (e *Engine) VirtualCluster() cluster.Cluster { return e.virtual }

// Start syncs until ctx is done. It returns an error when a cache cannot
// be started or synced; the host cache is started by Host.Start.
func (e *Engine) Start(ctx context.Context) error {
	e.startedLock.Lock()
	if e.started {
		e.startedLock.Unlock()
		return errors.New("syncer: Engine started twice")
	}
	e.started = true
	e.startedLock.Unlock()

	log := ctrl.LoggerFrom(ctx).WithValues("vcluster", e.opts.Name)
	ctx = ctrl.LoggerInto(ctx, log)
	for _, k := range e.kinds {
		if ix, ok := k.syncer.(Indexer); ok {
			if err := ix.IndexVirtual(ctx, e.virtual.GetFieldIndexer()); err != nil {
				return fmt.Errorf("syncer: %s: indexes: %w", k.syncer.Name(), err)
			}
		}
		if err := k.setup(log); err != nil {
			return fmt.Errorf("syncer: %s: %w", k.syncer.Name(), err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(e.kinds)+1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := e.virtual.Start(ctx); err != nil {
			errs <- fmt.Errorf("syncer: virtual cluster: %w", err)
		}
	}()
	for _, k := range e.kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := k.ctrl.Start(ctx); err != nil {
				errs <- fmt.Errorf("syncer: %s: %w", k.syncer.Name(), err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.reportQueueDepth(ctx)
	}()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
		cancel()
	}
	wg.Wait()
	return err
}

func (e *Engine) reportQueueDepth(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, k := range e.kinds {
				if q := k.queue.Load(); q != nil {
					e.metrics.depth.WithLabelValues(e.opts.Name, k.syncer.Name()).Set(float64((*q).Len()))
				}
			}
		}
	}
}

func (k *kind) setup(log logr.Logger) error {
	name := "sync-" + k.e.opts.Name + "-" + k.syncer.Name()
	c, err := controller.NewUnmanaged(name, controller.Options{
		Reconciler:              k,
		MaxConcurrentReconciles: k.e.opts.Workers,
		SkipNameValidation:      ptr.To(true),
		Logger:                  log.WithValues("kind", k.syncer.Name()),
		NewQueue: func(controllerName string, rl workqueue.TypedRateLimiter[reconcile.Request]) workqueue.TypedRateLimitingInterface[reconcile.Request] {
			q := priorityqueue.New(controllerName, func(o *priorityqueue.Opts[reconcile.Request]) {
				o.Log = log.WithValues("controller", controllerName)
				o.RateLimiter = rl
			})
			var wq workqueue.TypedRateLimitingInterface[reconcile.Request] = q
			k.queue.Store(&wq)
			return q
		},
	})
	if err != nil {
		return err
	}
	k.ctrl = c
	sc := k.e.sc
	if _, ok := k.syncer.(FromHost); ok {
		if err := c.Watch(source.Kind(k.e.host.cluster.GetCache(), k.syncer.New(), &handler.EnqueueRequestForObject{})); err != nil {
			return err
		}
	} else {
		if err := c.Watch(source.Kind(k.e.virtual.GetCache(), k.syncer.New(), k.virtualHandler())); err != nil {
			return err
		}
		if err := c.Watch(source.Kind(k.e.host.cluster.GetCache(), k.syncer.New(), k.hostHandler())); err != nil {
			return err
		}
	}
	if w, ok := k.syncer.(Watcher); ok {
		for _, watch := range w.Watches() {
			c2 := k.e.virtual.GetCache()
			if watch.Host {
				c2 = k.e.host.cluster.GetCache()
			}
			m := watch.Map
			if err := c.Watch(source.Kind(c2, watch.Object, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, obj client.Object) []reconcile.Request {
				var out []reconcile.Request
				for _, key := range m(ctx, sc, obj) {
					k.dirty.mark(key)
					out = append(out, reconcile.Request{NamespacedName: key})
				}
				return out
			}))); err != nil {
				return err
			}
		}
	}
	return nil
}

// virtualHandler enqueues a changed virtual object, marked dirty, except
// for the echo of the engine's own last write to it (a periodic resync,
// which repeats a version, is always enqueued).
func (k *kind) virtualHandler() handler.EventHandler {
	enqueue := func(obj client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		key := client.ObjectKeyFromObject(obj)
		k.dirty.mark(key)
		q.Add(reconcile.Request{NamespacedName: key})
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(e.Object, q)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if e.ObjectOld.GetResourceVersion() != e.ObjectNew.GetResourceVersion() && k.e.echoes.own(e.ObjectNew) {
				k.e.metrics.echoes.WithLabelValues(k.e.opts.Name, k.syncer.Name(), "virtual").Inc()
				return
			}
			enqueue(e.ObjectNew, q)
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			k.e.echoes.forget(e.Object)
			enqueue(e.Object, q)
		},
		GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(e.Object, q)
		},
	}
}

// hostHandler enqueues the virtual twin of a changed host object, except
// for the echo of the engine's own last write to it; only a change of
// more than status marks the twin dirty.
func (k *kind) hostHandler() handler.EventHandler {
	enqueue := func(ctx context.Context, obj client.Object, dirty bool, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		for _, r := range k.mapHost(ctx, obj) {
			if dirty {
				k.dirty.mark(r.NamespacedName)
			}
			q.Add(r)
		}
	}
	own := func(obj client.Object) bool {
		rv, ok := k.written.Load(obj.GetName())
		return ok && rv == obj.GetResourceVersion()
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if !own(e.Object) {
				enqueue(ctx, e.Object, true, q)
			}
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			resync := e.ObjectOld.GetResourceVersion() == e.ObjectNew.GetResourceVersion()
			switch {
			case !resync && own(e.ObjectNew):
				k.e.metrics.echoes.WithLabelValues(k.e.opts.Name, k.syncer.Name(), "host").Inc()
			case !resync && statusOnly(e.ObjectOld, e.ObjectNew):
				enqueue(ctx, e.ObjectNew, false, q)
			default:
				enqueue(ctx, e.ObjectNew, true, q)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			k.written.Delete(e.Object.GetName())
			enqueue(ctx, e.Object, true, q)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, e.Object, true, q)
		},
	}
}

// mapHost maps a host object to the virtual object it comes from, when it
// belongs to this virtual cluster and kind.
func (k *kind) mapHost(_ context.Context, obj client.Object) []reconcile.Request {
	o, ok := k.e.sc.Translator.Origin(obj)
	if !ok || o.Kind != k.gvk.Kind || obj.GetNamespace() != k.e.sc.Translator.HostNamespace() {
		return nil
	}
	return []reconcile.Request{{NamespacedName: o.Key()}}
}

type recorderAdapter struct {
	r interface {
		Eventf(object runtime.Object, eventtype, reason, messageFmt string, args ...any)
	}
}

func (r recorderAdapter) Eventf(obj client.Object, eventType, reason, messageFmt string, args ...any) {
	r.r.Eventf(obj, eventType, reason, messageFmt, args...)
}
