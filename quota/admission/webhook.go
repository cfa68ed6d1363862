package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/webhookkit"
	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// Path is where the webhook serves admission reviews (pods, claims and Services alike;
// the name is kept from when it served pods only).
const Path = "/validate-pods"

// Namespace is what the webhook needs to know about a host namespace.
type Namespace struct {
	// Node is the ledger node the namespace's objects are charged to; empty means the
	// namespace is not managed and its pods are not checked.
	Node string
	// Defaults are the LimitRange defaults in force in the namespace (may be nil).
	Defaults *tenancy.LimitRangeDefaults
}

// Resolver maps a host namespace to its ledger node. An error for which
// apierrors.IsNotFound holds says the namespace is gone: the webhook denies,
// and a resync takes the namespace's objects as gone with it (nothing
// charged), as LabelResolver's errors do.
type Resolver interface {
	Resolve(ctx context.Context, namespace string) (Namespace, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(ctx context.Context, namespace string) (Namespace, error)

// Resolve implements Resolver.
func (f ResolverFunc) Resolve(ctx context.Context, namespace string) (Namespace, error) {
	return f(ctx, namespace)
}

// LabelResolver resolves a namespace by reading it and taking its tenancy.LabelTenant
// label as the ledger node. That label is engine-owned, so a tenant cannot move its usage
// to another node by relabelling.
type LabelResolver struct {
	Reader client.Reader
	// Defaults returns the LimitRange defaults of a tenant; optional.
	Defaults func(tenant string) *tenancy.LimitRangeDefaults
}

// Resolve implements Resolver.
func (r LabelResolver) Resolve(ctx context.Context, namespace string) (Namespace, error) {
	var ns corev1.Namespace
	if err := r.Reader.Get(ctx, client.ObjectKey{Name: namespace}, &ns); err != nil {
		return Namespace{}, fmt.Errorf("namespace %s: %w", namespace, err)
	}
	tenant := ns.Labels[tenancy.LabelTenant]
	out := Namespace{Node: tenant}
	if tenant != "" && r.Defaults != nil {
		out.Defaults = r.Defaults(tenant)
	}
	return out, nil
}

// Admitter is what the webhook needs of a ledger.
type Admitter interface {
	Admit(ctx context.Context, uid types.UID, node string, requested corev1.ResourceList) error
	Check(node string, requested corev1.ResourceList) error
}

// Recorder is what the Tracker needs of a ledger.
type Recorder interface {
	Observe(o quota.Object) error
	Release(uid types.UID) bool
	Holds(uid types.UID) (charged, committed bool)
	Reconcile(objects []quota.Object) error
}

var (
	_ Admitter = (*quota.Ledger)(nil)
	_ Admitter = (*quota.SharedLedger)(nil)
	_ Recorder = (*quota.Ledger)(nil)
	_ Recorder = (*quota.SharedLedger)(nil)
)

// Webhook admits pod creates and resizes, creates and updates of PersistentVolumeClaims
// and Services, and creates of any resource an object-count limit counts, against a
// quota ledger (see Review). It is fail closed: any error — an
// unknown namespace, a request it cannot decode, an object without UID — is a denial.
// Safe for concurrent use.
type Webhook struct {
	// Ledger is a *quota.Ledger (one replica) or a *quota.SharedLedger (several).
	Ledger   Admitter
	Resolver Resolver
	// KeyFor is the ledger key of a pod; default its UID. The syncer reserves a host
	// pod in process (Ledger.Admit) before creating it, under the UID of the virtual
	// pod; a KeyFor that reads that UID from the host pod's annotations makes the
	// webhook find the same reservation (Admit is idempotent per key) instead of
	// charging twice. Use the same function in Tracker.
	KeyFor func(*corev1.Pod) types.UID
	// ObjectKeyFor is the ledger key of a PersistentVolumeClaim, a Service or a Counted
	// object; default its UID. Use the same function in ObjectTracker.
	ObjectKeyFor func(metav1.Object) types.UID
	// Counted reports whether creates of a resource other than pods, claims and
	// Services are charged their count (quota.CountUsage): the resources some limit
	// in the tree counts (quota.CountedResources). Register them with
	// InstallOptions.Counted so the API server sends them. Nil counts nothing more.
	// Called concurrently.
	Counted func(schema.GroupResource) bool
}

func objectKeyFor(f func(metav1.Object) types.UID, obj metav1.Object) types.UID {
	if f != nil {
		if k := f(obj); k != "" {
			return k
		}
	}
	return obj.GetUID()
}

func keyFor(f func(*corev1.Pod) types.UID, pod *corev1.Pod) types.UID {
	if f != nil {
		if k := f(pod); k != "" {
			return k
		}
	}
	return pod.UID
}

// ServeHTTP implements http.Handler for admission.k8s.io/v1 AdmissionReview.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	req := webhookkit.ReadRequest(rw, r)
	if req == nil {
		return
	}
	webhookkit.WriteResponse(rw, req, w.Review(r.Context(), req))
}

// Review decides one admission request: a pod create or resize, a create or update of
// a PersistentVolumeClaim or a Service, or a create of a resource Counted; anything else
// is allowed untouched.
//
// A create is charged its whole usage (quota.PodUsage, quota.PersistentVolumeClaimUsage,
// quota.ServiceUsage, and quota.CountUsage for a Counted resource) under the object's
// key. An update of a claim or Service, and an in-place resize of a pod (UPDATE of
// pods/resize), is charged only its quota.Increase over the old object — a Service going
// from ClusterIP to LoadBalancer reserves services.loadbalancers 1 (and its node ports),
// a claim expanded from 1Gi to 3Gi reserves requests.storage 2Gi, a container resized
// from 1 to 3 cpu reserves 2 — under UpdateKey(key, old resourceVersion), and is refused
// like a create when that would exceed a limit; a change that adds nothing (a shrink, a
// relabel) is allowed without a check. The ObjectTracker moves the object's charge to its
// new usage when it sees the update and then releases that reservation; if the update
// never lands, the reservation expires.
func (w *Webhook) Review(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	log := ctrl.LoggerFrom(ctx).WithValues("namespace", req.Namespace, "name", req.Name, "kind", req.Kind.Kind)
	gr := schema.GroupResource{Group: req.Resource.Group, Resource: req.Resource.Resource}
	var (
		key    types.UID
		usage  func(Namespace) corev1.ResourceList
		noun   string
		object = req.Object.Raw
	)
	switch {
	case req.Kind.Group == "" && req.Kind.Kind == "Pod" && req.SubResource == "" && req.Operation == admissionv1.Create:
		var pod corev1.Pod
		if err := json.Unmarshal(object, &pod); err != nil {
			return deny(http.StatusBadRequest, fmt.Sprintf("quota: cannot decode pod: %v", err))
		}
		noun, key = "pod", keyFor(w.KeyFor, &pod)
		usage = func(ns Namespace) corev1.ResourceList { return quota.PodUsage(&pod, ns.Defaults) }
	case req.Kind.Group == "" && req.Kind.Kind == "Pod" && req.SubResource == "resize" && req.Operation == admissionv1.Update:
		var pod, old corev1.Pod
		if err := json.Unmarshal(object, &pod); err != nil {
			return deny(http.StatusBadRequest, fmt.Sprintf("quota: cannot decode pod: %v", err))
		}
		if err := json.Unmarshal(req.OldObject.Raw, &old); err != nil || len(req.OldObject.Raw) == 0 {
			return deny(http.StatusBadRequest, fmt.Sprintf("quota: cannot decode old pod: %v", err))
		}
		noun, key = "pod", keyFor(w.KeyFor, &pod)
		if key != "" {
			key = UpdateKey(key, old.ResourceVersion)
		}
		usage = func(ns Namespace) corev1.ResourceList {
			return quota.Increase(quota.PodUsage(&old, ns.Defaults), quota.PodUsage(&pod, ns.Defaults))
		}
	case req.SubResource != "":
		return allow()
	case req.Kind.Group == "" && (req.Kind.Kind == "PersistentVolumeClaim" || req.Kind.Kind == "Service"):
		if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
			return allow()
		}
		noun = strings.ToLower(req.Kind.Kind)
		obj, err := decodeCharged(req.Kind.Kind, object)
		if err != nil {
			return deny(http.StatusBadRequest, fmt.Sprintf("quota: cannot decode %s: %v", noun, err))
		}
		key = objectKeyFor(w.ObjectKeyFor, obj)
		newUsage, _ := ObjectUsage(obj, nil)
		usage = func(Namespace) corev1.ResourceList { return newUsage }
		if req.Operation == admissionv1.Update {
			old, err := decodeCharged(req.Kind.Kind, req.OldObject.Raw)
			if err != nil {
				return deny(http.StatusBadRequest, fmt.Sprintf("quota: cannot decode old %s: %v", noun, err))
			}
			oldUsage, _ := ObjectUsage(old, nil)
			increase := quota.Increase(oldUsage, newUsage)
			if len(increase) == 0 {
				return allow()
			}
			if key != "" {
				key = UpdateKey(key, old.GetResourceVersion())
			}
			usage = func(Namespace) corev1.ResourceList { return increase }
		}
	case req.Operation == admissionv1.Create && !quota.Priced(gr) && w.Counted != nil && w.Counted(gr):
		noun = gr.String()
		var meta metav1.PartialObjectMetadata
		if len(object) == 0 {
			return deny(http.StatusBadRequest, fmt.Sprintf("quota: %s: empty object", noun))
		}
		if err := json.Unmarshal(object, &meta); err != nil {
			return deny(http.StatusBadRequest, fmt.Sprintf("quota: cannot decode %s: %v", noun, err))
		}
		key = objectKeyFor(w.ObjectKeyFor, &meta)
		usage = func(Namespace) corev1.ResourceList { return quota.CountUsage(gr) }
	default:
		return allow()
	}
	ns, err := w.Resolver.Resolve(ctx, req.Namespace)
	if err != nil {
		log.Error(err, "resolving namespace")
		return deny(http.StatusInternalServerError, fmt.Sprintf("quota: cannot resolve namespace %s: %v", req.Namespace, err))
	}
	if ns.Node == "" {
		return allow()
	}
	requested := usage(ns)
	if len(requested) == 0 {
		// A resize that adds nothing (a shrink) needs no quota.
		return allow()
	}
	if req.DryRun != nil && *req.DryRun {
		err = w.Ledger.Check(ns.Node, requested)
	} else {
		if key == "" {
			return deny(http.StatusBadRequest, "quota: "+noun+" has no uid")
		}
		err = w.Ledger.Admit(ctx, key, ns.Node, requested)
	}
	if err != nil {
		if errors.Is(err, quota.ErrQuotaExceeded) {
			return deny(http.StatusForbidden, err.Error())
		}
		log.Error(err, "quota admission")
		return deny(http.StatusInternalServerError, "quota: "+err.Error())
	}
	return allow()
}

// UpdateKey is the ledger key under which the Increase of an update is reserved: the
// object's key and the resourceVersion of the object the update started from, so that
// each transition is admitted (and charged) once, however often it is retried.
func UpdateKey(key types.UID, oldResourceVersion string) types.UID {
	return key + "/update/" + types.UID(oldResourceVersion)
}

func decodeCharged(kind string, raw []byte) (client.Object, error) {
	var obj client.Object
	switch kind {
	case "PersistentVolumeClaim":
		obj = &corev1.PersistentVolumeClaim{}
	case "Service":
		obj = &corev1.Service{}
	default:
		return nil, fmt.Errorf("kind %s is not charged", kind)
	}
	if len(raw) == 0 {
		return nil, errors.New("empty object")
	}
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// Counted is an object of a resource charged only its count (quota.CountUsage): the
// metadata of a ConfigMap, a Deployment, a custom resource…, with the resource it
// belongs to. Wrap the objects of a metadata informer (or a PartialObjectMetadataList)
// in it before handing them to ObjectTracker.
type Counted struct {
	*metav1.PartialObjectMetadata
	Resource schema.GroupResource
}

// ObjectUsage is what obj is charged: quota.PodUsage (with defaults) for a pod,
// quota.PersistentVolumeClaimUsage for a claim, quota.ServiceUsage for a Service,
// quota.CountUsage for a *Counted. ok is false for any other type, which the webhook and
// ObjectTracker do not charge.
func ObjectUsage(obj client.Object, defaults *tenancy.LimitRangeDefaults) (usage corev1.ResourceList, ok bool) {
	switch o := obj.(type) {
	case *Counted:
		return quota.CountUsage(o.Resource), true
	case *corev1.Pod:
		return quota.PodUsage(o, defaults), true
	case *corev1.PersistentVolumeClaim:
		return quota.PersistentVolumeClaimUsage(o), true
	case *corev1.Service:
		return quota.ServiceUsage(o), true
	}
	return nil, false
}

func allow() *admissionv1.AdmissionResponse { return &admissionv1.AdmissionResponse{Allowed: true} }

func deny(code int32, msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: code, Message: msg, Reason: metav1.StatusReasonForbidden,
	}}
}

// ServerOptions configure Serve.
type ServerOptions struct {
	// Addr to listen on; default 127.0.0.1:0 (a free loopback port).
	Addr string
	// Certs to serve with; required.
	Certs *Certs
	// Handlers are served beside the webhook, each at its path (another
	// admission webhook of the same program, say tenancy/webhook's Validator at
	// its Path), so that one listener, one certificate and one Service do for
	// all. Path itself is taken.
	Handlers map[string]http.Handler
}

// Server is a running webhook server.
type Server struct {
	// URL is the webhook's address, for InstallOptions.URL.
	URL  string
	base string
	srv  *http.Server
	done chan error
}

// URLFor is the address of the handler served at path (ServerOptions.Handlers).
func (s *Server) URLFor(path string) string { return s.base + path }

// Serve starts serving h over TLS at Path and returns once it listens. It stops when ctx
// ends or Close is called.
func Serve(ctx context.Context, h http.Handler, opts ServerOptions) (*Server, error) {
	if opts.Certs == nil {
		return nil, errors.New("admission: ServerOptions.Certs is required")
	}
	tlsConfig, err := opts.Certs.TLSConfig()
	if err != nil {
		return nil, err
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admission: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, h)
	for p, extra := range opts.Handlers {
		if p == Path || !strings.HasPrefix(p, "/") {
			_ = ln.Close()
			return nil, fmt.Errorf("admission: ServerOptions.Handlers[%q]: a path of its own, starting with /, is required", p)
		}
		mux.Handle(p, extra)
	}
	s := &Server{
		URL:  "https://" + ln.Addr().String() + Path,
		base: "https://" + ln.Addr().String(),
		srv:  &http.Server{Handler: mux, TLSConfig: tlsConfig, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.ServeTLS(ln, "", "") }()
	go func() {
		<-ctx.Done()
		_ = s.srv.Close()
	}()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error {
	err := s.srv.Close()
	if e := <-s.done; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}
