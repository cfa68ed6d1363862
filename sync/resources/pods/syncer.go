package pods

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	ctrl "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// Event and condition reasons.
const (
	// ReasonPodSecurity refuses a pod that violates the tenant's Pod
	// Security Standard.
	ReasonPodSecurity = "PodSecurity"
	// ReasonInvalid refuses a pod that cannot be translated.
	ReasonInvalid = "InvalidPod"
	// ReasonClassNotAllowed refuses a pod whose runtime or priority class
	// the tenant's policy does not allow.
	ReasonClassNotAllowed = "ClassNotAllowed"
	// AnnotationTokenRefresh on the token Secret is when its tokens are
	// requested again (RFC 3339).
	AnnotationTokenRefresh = "vcluster.vclusterkit.io/token-refresh-at"
)

// DefaultTokenExpiration is the lifetime of the tokens requested for a pod
// whose projection does not say; they are renewed at 80% of it.
const DefaultTokenExpiration = time.Hour

// Options configure the pod syncer. The zero value enforces the baseline
// Pod Security Standard and finds the DNS service by name. PodSecurity,
// NodeSelector, AllowedRuntimeClasses and AllowedPriorityClasses are the
// tenant's policy when the syncer starts; UpdatePolicy replaces them while
// it runs.
type Options struct {
	// PodSecurity is the tenant's Pod Security Standard, checked with
	// k8s.io/pod-security-admission before a pod reaches the host.
	// Default baseline.
	PodSecurity psapi.Level
	// DNSServer is the virtual cluster's DNS IP. Empty: the ClusterIP of
	// the virtual Service DNSService (which mirrors its host copy's).
	DNSServer string
	// DNSService defaults to kube-system/kube-dns.
	DNSService types.NamespacedName
	// ClusterDomain defaults to cluster.local.
	ClusterDomain string
	// APIServerHost and APIServerPort reach the virtual API server from
	// host pods (kubernetes.default). Empty: pods get no override.
	APIServerHost string
	APIServerPort int32
	// HostServiceAccounts runs host pods as the host copies of their
	// service accounts (sync them with the serviceaccounts syncer).
	HostServiceAccounts bool
	// NodeSelector is enforced on every host pod.
	NodeSelector map[string]string
	// AllowedRuntimeClasses limits spec.runtimeClassName; empty allows
	// all. A pod that names no runtime class (the node's default handler)
	// is always allowed.
	AllowedRuntimeClasses []string
	// AllowedPriorityClasses limits spec.priorityClassName; empty allows
	// all but the system classes (SystemPriorityClassPrefix), which are
	// allowed only when listed. A pod that names none is allowed. The host
	// pod never carries the virtual spec.priority or preemptionPolicy: the
	// host's admission computes them from the class.
	AllowedPriorityClasses []string
	// NetworkPolicyLabels marks host pods that NetworkPolicies inside the
	// virtual cluster select (netpol.LabelIngressPolicies,
	// netpol.LabelEgressPolicies), so the host namespace's isolation
	// leaves those directions to the tenant's policies (netpol.Generate
	// for a virtual cluster's host namespace). Set it only when the
	// networkpolicies syncer runs, which carries those policies to the
	// host; builtin.Syncers does.
	NetworkPolicyLabels bool
	// TokenExpiration default DefaultTokenExpiration.
	TokenExpiration time.Duration
}

// Syncer syncs pods to the host. Create it with New.
type Syncer struct {
	opts      Options
	evaluator policy.Evaluator
	// policy is what the tenant's policy asks, from Options at first,
	// replaced by UpdatePolicy; each reconcile reads it once.
	policy atomic.Pointer[podPolicy]
}

var (
	_ syncer.Syncer           = (*Syncer)(nil)
	_ syncer.Updater          = (*Syncer)(nil)
	_ syncer.Recreator        = (*Syncer)(nil)
	_ syncer.VirtualFinalizer = (*Syncer)(nil)
	_ syncer.HostDeletion     = (*Syncer)(nil)
	_ syncer.RefusalHandler   = (*Syncer)(nil)
	_ syncer.PolicyUpdater    = (*Syncer)(nil)
)

// New returns a pod syncer.
func New(opts Options) (*Syncer, error) {
	if opts.PodSecurity == "" {
		opts.PodSecurity = psapi.LevelBaseline
	}
	if _, err := psapi.ParseLevel(string(opts.PodSecurity)); err != nil {
		return nil, fmt.Errorf("pods.New: Options.PodSecurity: %w", err)
	}
	if opts.DNSService.Name == "" {
		opts.DNSService = types.NamespacedName{Namespace: "kube-system", Name: "kube-dns"}
	}
	if opts.TokenExpiration <= 0 {
		opts.TokenExpiration = DefaultTokenExpiration
	}
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return nil, fmt.Errorf("pods.New: pod security evaluator: %w", err)
	}
	s := &Syncer{opts: opts, evaluator: ev}
	s.policy.Store(newPodPolicy(opts.PodSecurity, opts.NodeSelector, opts.AllowedRuntimeClasses, opts.AllowedPriorityClasses))
	return s, nil
}

// Name implements syncer.Syncer.
func (*Syncer) Name() string { return "pods" }

// New implements syncer.Syncer.
func (*Syncer) New() ctrl.Object { return &corev1.Pod{} }

// RecreateOnNewUID implements syncer.Recreator: pod specs are immutable.
func (*Syncer) RecreateOnNewUID() bool { return true }

// waitDNS is how long a pod waits for the host copy of its virtual
// cluster's DNS Service.
const waitDNS = 250 * time.Millisecond

// dnsServer is the IP host pods resolve through: the host copy's ClusterIP
// of the virtual DNS Service, which is what the host routes (the virtual
// Service shows the same IP only once the services syncer has mirrored
// it). No virtual DNS Service: "" (pods keep the host's DNS policy). A
// virtual one whose host copy has no IP yet holds the pod back
// (syncer.Wait): a pod's DNS configuration cannot change once it runs, so
// one created meanwhile would resolve through the wrong server for life.
func (s *Syncer) dnsServer(ctx context.Context, sc *syncer.Context) (string, error) {
	var v corev1.Service
	if err := sc.Virtual.Get(ctx, s.opts.DNSService, &v); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", err
	}
	if v.Spec.ClusterIP == corev1.ClusterIPNone {
		return "", nil
	}
	var h corev1.Service
	key := types.NamespacedName{Namespace: sc.Translator.HostNamespace(), Name: sc.Translator.HostName(v.Name, v.Namespace)}
	err := sc.Host.Get(ctx, key, &h)
	switch {
	case apierrors.IsNotFound(err):
		return "", syncer.Wait(waitDNS, "the DNS Service %s is not on the host yet", s.opts.DNSService)
	case err != nil:
		return "", err
	case h.Spec.ClusterIP == "" || h.Spec.ClusterIP == corev1.ClusterIPNone:
		return "", syncer.Wait(waitDNS, "the host copy of the DNS Service %s has no cluster IP", s.opts.DNSService)
	}
	return h.Spec.ClusterIP, nil
}

func (s *Syncer) input(ctx context.Context, sc *syncer.Context, pol *podPolicy, v *corev1.Pod) (TranslateInput, error) {
	in := TranslateInput{
		Translator:    sc.Translator,
		DNSServer:     s.opts.DNSServer,
		ClusterDomain: s.opts.ClusterDomain,
		APIServerHost: s.opts.APIServerHost,
		APIServerPort: s.opts.APIServerPort,
		NodeSelector:  pol.nodeSelector,

		HostServiceAccounts: s.opts.HostServiceAccounts,
	}
	if in.DNSServer == "" {
		ip, err := s.dnsServer(ctx, sc)
		if err != nil {
			return in, err
		}
		in.DNSServer = ip
	}
	if v.Spec.EnableServiceLinks == nil || *v.Spec.EnableServiceLinks {
		var svcs corev1.ServiceList
		if err := sc.Virtual.List(ctx, &svcs, ctrl.InNamespace(v.Namespace)); err != nil {
			return in, err
		}
		in.Services = svcs.Items
	}
	in.Namespaces = func(sel *metav1.LabelSelector) ([]string, bool, error) {
		if len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
			return nil, true, nil
		}
		ls, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return nil, false, err
		}
		var nss corev1.NamespaceList
		if err := sc.Virtual.List(ctx, &nss, ctrl.MatchingLabelsSelector{Selector: ls}); err != nil {
			return nil, false, err
		}
		var names []string
		for _, n := range nss.Items {
			names = append(names, n.Name)
		}
		if len(names) == 0 {
			// matches no namespace: keep the term unsatisfiable rather
			// than widen it to the pod's own namespace.
			names = []string{""}
		}
		return names, false, nil
	}
	return in, nil
}

// ToHost implements syncer.Syncer: the allowed runtime and priority
// classes, translation, then the Pod Security Standard check on what would
// run on the host.
func (s *Syncer) ToHost(ctx context.Context, sc *syncer.Context, obj ctrl.Object) (ctrl.Object, error) {
	v := obj.(*corev1.Pod)
	pol := s.policy.Load()
	if err := CheckClasses(v, pol.runtimeClasses, pol.priorityClasses); err != nil {
		return nil, syncer.Refuse(ReasonClassNotAllowed, "%v", err)
	}
	in, err := s.input(ctx, sc, pol, v)
	if err != nil {
		return nil, err
	}
	h, err := ToHostPod(in, v)
	if err != nil {
		return nil, syncer.Refuse(ReasonInvalid, "%v", err)
	}
	if err := s.checkSecurity(pol, v, h); err != nil {
		return nil, err
	}
	if err := s.ensureMounts(ctx, sc, v); err != nil {
		return nil, err
	}
	if err := s.setPolicyLabels(ctx, sc, v, h); err != nil {
		return nil, err
	}
	return h, nil
}

func (s *Syncer) setPolicyLabels(ctx context.Context, sc *syncer.Context, v, h *corev1.Pod) error {
	pl, err := s.policyLabels(ctx, sc, v)
	if err != nil || len(pl) == 0 {
		return err
	}
	if h.Labels == nil {
		h.Labels = map[string]string{}
	}
	for k, val := range pl {
		h.Labels[k] = val
	}
	return nil
}

func (s *Syncer) checkSecurity(pol *podPolicy, v, h *corev1.Pod) error {
	lv := psapi.LevelVersion{Level: pol.level, Version: psapi.LatestVersion()}
	agg := policy.AggregateCheckResults(s.evaluator.EvaluatePod(lv, &v.ObjectMeta, &h.Spec))
	if !agg.Allowed {
		return syncer.Refuse(ReasonPodSecurity, "pod violates PodSecurity %q: %s", pol.level, agg.ForbiddenDetail())
	}
	return nil
}

// ToHostUpdate implements syncer.Updater. A pod's spec is immutable but
// for images, activeDeadlineSeconds, added tolerations and removed
// scheduling gates; everything else is kept as it was created. A host pod
// not scheduled yet is held to the tenant's current policy (refused, or
// created again when the enforced node selector changed); a scheduled one
// is not stopped by a policy change (ToVirtual marks it instead).
func (s *Syncer) ToHostUpdate(ctx context.Context, sc *syncer.Context, obj, hostObj ctrl.Object) (ctrl.Object, error) {
	v, h := obj.(*corev1.Pod), hostObj.(*corev1.Pod)
	d := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{}}, Spec: *h.Spec.DeepCopy()}
	for _, k := range []string{AnnotationServiceAccount, AnnotationServiceEnv} {
		if val, ok := h.Annotations[k]; ok {
			d.Annotations[k] = val
		}
	}
	setImages(d.Spec.Containers, v.Spec.Containers)
	setImages(d.Spec.InitContainers, v.Spec.InitContainers)
	d.Spec.ActiveDeadlineSeconds = v.Spec.ActiveDeadlineSeconds
	for _, t := range v.Spec.Tolerations {
		found := false
		for _, ht := range d.Spec.Tolerations {
			if equality.Semantic.DeepEqual(t, ht) {
				found = true
				break
			}
		}
		if !found {
			d.Spec.Tolerations = append(d.Spec.Tolerations, t)
		}
	}
	if len(v.Spec.SchedulingGates) < len(d.Spec.SchedulingGates) {
		d.Spec.SchedulingGates = v.Spec.SchedulingGates
	}
	if h.Spec.NodeName == "" {
		if err := s.checkPending(s.policy.Load(), v, d); err != nil {
			return nil, err
		}
	}
	if err := s.setPolicyLabels(ctx, sc, v, d); err != nil {
		return nil, err
	}
	return d, nil
}

// HashSource implements syncer.HashSource: the virtual pod without the
// node name the engine's own Binding set, so binding the virtual pod does
// not cost a host update.
func (*Syncer) HashSource(obj ctrl.Object) ctrl.Object {
	v := obj.(*corev1.Pod).DeepCopy()
	v.Spec.NodeName = ""
	return v
}

func setImages(dst, src []corev1.Container) {
	for i := range dst {
		for _, c := range src {
			if c.Name == dst[i].Name {
				dst[i].Image = c.Image
			}
		}
	}
}

// ToVirtual implements syncer.Syncer: maintains the token Secret, binds
// the virtual pod to the host's node, carries an in-place resize to the host
// and copies the status back, with a PolicyViolation condition (and an
// event when it appears) on a scheduled pod the tenant's current policy
// would refuse.
func (s *Syncer) ToVirtual(ctx context.Context, sc *syncer.Context, obj, hostObj ctrl.Object) (syncer.Result, error) {
	v, h := obj.(*corev1.Pod), hostObj.(*corev1.Pod)
	refresh, err := s.ensureTokens(ctx, sc, v, h)
	if err != nil {
		return syncer.Result{}, fmt.Errorf("service account token: %w", err)
	}
	if h.Spec.NodeName != "" && v.Spec.NodeName == "" {
		b := &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: v.Name, Namespace: v.Namespace, UID: v.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: h.Spec.NodeName},
		}
		if err := sc.Virtual.SubResource("binding").Create(ctx, v, b); err != nil && !apierrors.IsConflict(err) {
			return syncer.Result{}, fmt.Errorf("bind virtual pod to %s: %w", h.Spec.NodeName, err)
		}
	}
	refused, err := s.resize(ctx, sc, v, h)
	if err != nil {
		return syncer.Result{}, err
	}
	violation := ""
	if h.Spec.NodeName != "" && h.DeletionTimestamp == nil && h.Status.Phase != corev1.PodSucceeded && h.Status.Phase != corev1.PodFailed {
		violation = s.violations(s.policy.Load(), v, h)
	}
	if violation != "" && !hasCondition(v, ConditionPolicyViolation, violation) {
		sc.Recorder.Eventf(v, corev1.EventTypeWarning, ReasonPolicyViolation, "%s", violation)
	}
	ephemeral, err := s.syncEphemeral(ctx, sc, v, h)
	if err != nil {
		return syncer.Result{}, err
	}
	if ephemeral != "" && !hasCondition(v, ConditionEphemeralContainerRefused, ephemeral) {
		sc.Recorder.Eventf(v, corev1.EventTypeWarning, ReasonEphemeralContainerRefused, "%s", ephemeral)
	}
	want := virtualStatus(h, v, refused, violation)
	ephemeralStatus(&want, v.Status.Conditions, ephemeral)
	if !equality.Semantic.DeepEqual(v.Status, want) && h.Status.Phase != "" {
		nv := v.DeepCopy()
		nv.Status = want
		// A merge patch without a resourceVersion: the Binding just
		// posted changed the pod, so an Update from v would always
		// conflict (409) and be retried. The syncer is the only writer
		// of a virtual pod's status (there is no kubelet inside).
		if err := sc.Virtual.Status().Patch(ctx, nv, ctrl.MergeFrom(v)); err != nil {
			return syncer.Result{}, fmt.Errorf("update virtual status: %w", err)
		}
	}
	return syncer.Result{RequeueAfter: refresh}, nil
}

// ensureTokens keeps the companion Secret with the pod's service account
// tokens, requested from the virtual API server and bound to the virtual
// pod. It is first written before the host pod (h nil: ToHost), so the
// kubelet finds it when it mounts the pod's volumes, and owned by the host
// pod once that exists (h set: ToVirtual), so it goes with it. It returns
// when to look again.
func (s *Syncer) ensureTokens(ctx context.Context, sc *syncer.Context, v, h *corev1.Pod) (time.Duration, error) {
	sources := TokenSources(v)
	if len(sources) == 0 {
		return 0, nil
	}
	tr := sc.Translator
	key := types.NamespacedName{Namespace: tr.HostNamespace(), Name: tr.HostCompanionName(v.Name, v.Namespace, TokenSuffix)}
	sec := &corev1.Secret{}
	exists := true
	if err := sc.Host.Get(ctx, key, sec); err != nil {
		if !apierrors.IsNotFound(err) {
			return 0, err
		}
		exists = false
	}
	now := time.Now()
	if exists && !tr.IsManaged(sec) {
		return 0, fmt.Errorf("host secret %s exists and is not managed by this virtual cluster", key)
	}
	// Tokens of this virtual pod that are not due are kept. Before the host
	// pod exists (h nil) the Secret must have no owner: one owned by an
	// earlier host copy would be collected with it.
	if exists && sec.Annotations[translate.AnnotationUID] == string(v.UID) {
		if at, err := time.Parse(time.RFC3339, sec.Annotations[AnnotationTokenRefresh]); err == nil && at.After(now) {
			switch {
			case h == nil && len(sec.OwnerReferences) == 0, h != nil && ownedBy(sec, h):
				return at.Sub(now), nil
			case h != nil:
				// Written before the host pod: it now belongs to it.
				patch := ctrl.MergeFrom(sec.DeepCopy())
				sec.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: h.Name, UID: h.UID}}
				if err := sc.Host.Patch(ctx, sec, patch); err != nil {
					return 0, err
				}
				return at.Sub(now), nil
			}
		}
	}
	sa := v.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	data := map[string][]byte{}
	refreshAt := now.Add(s.opts.TokenExpiration)
	for i, src := range sources {
		exp := int64(s.opts.TokenExpiration.Seconds())
		if src.ExpirationSeconds != nil {
			exp = *src.ExpirationSeconds
		}
		req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: &exp,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: v.Name, UID: v.UID},
		}}
		if src.Audience != "" {
			req.Spec.Audiences = []string{src.Audience}
		}
		if err := sc.Virtual.SubResource("token").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: v.Namespace}}, req); err != nil {
			return 0, fmt.Errorf("token request for service account %s/%s: %w", v.Namespace, sa, err)
		}
		data[tokenKeyPrefix+strconv.Itoa(i)] = []byte(req.Status.Token)
		lifetime := req.Status.ExpirationTimestamp.Sub(now)
		if at := now.Add(lifetime * 8 / 10); at.Before(refreshAt) {
			refreshAt = at
		}
	}
	labels, err := tr.HostLabels(v.Namespace, nil)
	if err != nil {
		return 0, err
	}
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: key.Name, Namespace: key.Namespace, Labels: labels,
			Annotations: map[string]string{
				translate.AnnotationName: v.Name, translate.AnnotationNamespace: v.Namespace,
				translate.AnnotationUID: string(v.UID), translate.AnnotationKind: "Pod",
				AnnotationTokenRefresh: refreshAt.UTC().Format(time.RFC3339),
			},
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
	if h != nil {
		want.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: h.Name, UID: h.UID}}
	}
	if exists {
		want.ResourceVersion = sec.ResourceVersion
		if err := sc.Host.Update(ctx, want); err != nil {
			return 0, err
		}
	} else if err := sc.Host.Create(ctx, want); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Written by an earlier reconcile the cache has not seen
			// yet: retried quietly, like a conflict.
			return 0, apierrors.NewConflict(corev1.Resource("secrets"), key.Name, err)
		}
		return 0, err
	}
	return time.Until(refreshAt), nil
}

func hasCondition(p *corev1.Pod, t corev1.PodConditionType, msg string) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue && c.Message == msg {
			return true
		}
	}
	return false
}

func ownedBy(obj metav1.Object, owner metav1.Object) bool {
	for _, r := range obj.GetOwnerReferences() {
		if r.UID == owner.GetUID() {
			return true
		}
	}
	return false
}

// Refused implements syncer.RefusalHandler: the virtual pod stays Pending
// with a PodScheduled=False condition carrying the reason.
func (*Syncer) Refused(ctx context.Context, sc *syncer.Context, obj ctrl.Object, refusal *syncer.RefusedError) error {
	v := obj.(*corev1.Pod)
	nv := v.DeepCopy()
	nv.Status.Phase = corev1.PodPending
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: refusal.Reason, Message: refusal.Message}
	replaced := false
	for i, c := range nv.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			if c.Status == cond.Status && c.Reason == cond.Reason && c.Message == cond.Message {
				return nil
			}
			cond.LastTransitionTime = metav1.Now()
			nv.Status.Conditions[i] = cond
			replaced = true
		}
	}
	if !replaced {
		cond.LastTransitionTime = metav1.Now()
		nv.Status.Conditions = append(nv.Status.Conditions, cond)
	}
	return sc.Virtual.Status().Update(ctx, nv)
}

// FinalizeVirtual implements syncer.VirtualFinalizer: once the host pod
// is gone the virtual pod, which no kubelet will confirm, is removed.
func (*Syncer) FinalizeVirtual(ctx context.Context, sc *syncer.Context, obj ctrl.Object) error {
	uid := obj.GetUID()
	// A token Secret written for a host pod that was never created (the
	// quota refused it, say) has no owner to be collected with.
	tr := sc.Translator
	sec := &corev1.Secret{}
	key := types.NamespacedName{Namespace: tr.HostNamespace(), Name: tr.HostCompanionName(obj.GetName(), obj.GetNamespace(), TokenSuffix)}
	if err := sc.Host.Get(ctx, key, sec); err == nil && tr.IsManaged(sec) && sec.Annotations[translate.AnnotationUID] == string(uid) {
		if err := sc.Host.Delete(ctx, sec, ctrl.Preconditions{UID: &sec.UID}); ctrl.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete token secret %s: %w", key, err)
		}
	} else if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return ctrl.IgnoreNotFound(sc.Virtual.Delete(ctx, obj, ctrl.GracePeriodSeconds(0), ctrl.Preconditions{UID: &uid}))
}

// DeleteVirtual implements syncer.HostDeletion: a pod that was running on
// the host and disappeared there (evicted, deleted by an admin) is gone;
// one that never got scheduled is created again.
func (*Syncer) DeleteVirtual(_ context.Context, _ *syncer.Context, obj ctrl.Object) bool {
	p := obj.(*corev1.Pod)
	if p.Spec.NodeName == "" {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
