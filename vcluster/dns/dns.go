package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// DefaultImage is upstream CoreDNS of the version vclusterkit builds
	// and tests (internal/tools/coredns).
	DefaultImage = "registry.k8s.io/coredns/coredns:v1.15.0"
	// DefaultClusterDomain is the domain names resolve under.
	DefaultClusterDomain = "cluster.local"
	// ResolvConf as an upstream forwards to the resolvers of the node the
	// DNS pod runs on.
	ResolvConf = "/etc/resolv.conf"

	// Namespace, Name and ServiceName are where the DNS runs inside the
	// virtual cluster: kube-system/coredns behind the Service
	// kube-system/kube-dns, as in kubeadm clusters (the pods syncer's
	// default DNS Service).
	Namespace   = "kube-system"
	Name        = "coredns"
	ServiceName = "kube-dns"
	// Port is the unprivileged port CoreDNS listens on; the Service maps
	// port 53 to it, so the pod needs no capability.
	Port = 1053
	// FieldManager owns the applied objects.
	FieldManager = "vclusterkit-dns"
)

// Labels select the DNS pods, as kubeadm's do (so NetworkPolicies written
// for a kubeadm cluster's DNS work inside a virtual cluster unchanged).
var Labels = map[string]string{"k8s-app": "kube-dns"}

// Options configure the DNS of a virtual cluster. The zero value is a
// working default: the upstream image, cluster.local, one replica with
// small requests, forwarding to the node's resolvers.
type Options struct {
	// Disabled leaves DNS out: pods then resolve through the host
	// cluster's DNS, which knows none of the virtual cluster's names.
	Disabled bool
	// Image is the CoreDNS image. Default DefaultImage.
	Image string
	// ImagePullPolicy of the container; empty leaves the cluster's default.
	ImagePullPolicy corev1.PullPolicy
	// ClusterDomain default DefaultClusterDomain. It must be the domain the
	// pods syncer writes into pods' search paths (pods.Options.ClusterDomain).
	ClusterDomain string
	// Upstreams answer every name outside the cluster domain: IP
	// addresses (optionally with a port) or ResolvConf. Default
	// ResolvConf. The engine sets the host cluster's DNS Service IP, so
	// outside names resolve as they do for the host's own pods.
	Upstreams []string
	// Resources of the CoreDNS container. Default: requests 20m CPU and
	// 32Mi memory, limit 170Mi memory (kubeadm's limit), so the pod fits a
	// namespace whose ResourceQuota requires requests and limits.
	Resources *corev1.ResourceRequirements
}

// Validate checks o, naming the field at fld.
func (o Options) Validate(fld *field.Path) error {
	var errs field.ErrorList
	if o.ClusterDomain != "" {
		for _, msg := range validation.IsDNS1123Subdomain(o.ClusterDomain) {
			errs = append(errs, field.Invalid(fld.Child("ClusterDomain"), o.ClusterDomain, msg))
		}
	}
	for i, u := range o.Upstreams {
		if err := checkUpstream(u); err != nil {
			errs = append(errs, field.Invalid(fld.Child("Upstreams").Index(i), u, err.Error()))
		}
	}
	switch o.ImagePullPolicy {
	case "", corev1.PullAlways, corev1.PullNever, corev1.PullIfNotPresent:
	default:
		errs = append(errs, field.NotSupported(fld.Child("ImagePullPolicy"), o.ImagePullPolicy, []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}))
	}
	if strings.ContainsAny(o.Image, " \t\n{}") {
		errs = append(errs, field.Invalid(fld.Child("Image"), o.Image, "must be an image reference"))
	}
	return errs.ToAggregate()
}

func checkUpstream(u string) error {
	if u == ResolvConf {
		return nil
	}
	if net.ParseIP(u) != nil {
		return nil
	}
	host, port, err := net.SplitHostPort(u)
	if err != nil || net.ParseIP(host) == nil {
		return errors.New("want an IP address, IP:port or " + ResolvConf)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return errors.New("port must be 1-65535")
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.ClusterDomain == "" {
		o.ClusterDomain = DefaultClusterDomain
	}
	if len(o.Upstreams) == 0 {
		o.Upstreams = []string{ResolvConf}
	}
	if o.Resources == nil {
		o.Resources = &corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("20m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("170Mi")},
		}
	}
	return o
}

// Corefile is the CoreDNS configuration: the cluster domain and reverse
// zones from the virtual cluster's API (Services, headless Services'
// endpoints, StatefulSet pod hostnames, pod A records as kube-dns does
// with "pods insecure"), everything else forwarded to the upstreams.
func Corefile(o Options) string {
	o = o.withDefaults()
	return fmt.Sprintf(`.:%d {
    errors
    health :8080
    ready :8181
    kubernetes %s in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    forward . %s
    cache 30
    loop
    reload
    loadbalance
}
`, Port, o.ClusterDomain, strings.Join(o.Upstreams, " "))
}

// Objects are what Apply writes into a virtual cluster: the ServiceAccount,
// ClusterRole and ClusterRoleBinding CoreDNS reads the API with, its
// ConfigMap, Deployment and Service. The pod passes the restricted Pod
// Security Standard (non-root, no capabilities, read-only root, the
// RuntimeDefault seccomp profile) and names no priority class, so any
// tenant policy admits it; it counts against the tenant's quota like any
// pod of the virtual cluster.
func Objects(o Options) ([]client.Object, error) {
	if err := o.Validate(field.NewPath("dns")); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	labels := func() map[string]string {
		m := map[string]string{"app.kubernetes.io/managed-by": FieldManager}
		for k, v := range Labels {
			m[k] = v
		}
		return m
	}
	meta := func(kind, apiVersion, name, ns string) (metav1.TypeMeta, metav1.ObjectMeta) {
		return metav1.TypeMeta{Kind: kind, APIVersion: apiVersion}, metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels()}
	}
	var sa corev1.ServiceAccount
	sa.TypeMeta, sa.ObjectMeta = meta("ServiceAccount", "v1", Name, Namespace)
	var role rbacv1.ClusterRole
	role.TypeMeta, role.ObjectMeta = meta("ClusterRole", "rbac.authorization.k8s.io/v1", "system:coredns", "")
	role.Rules = []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
	}
	var binding rbacv1.ClusterRoleBinding
	binding.TypeMeta, binding.ObjectMeta = meta("ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "system:coredns", "")
	binding.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name}
	binding.Subjects = []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: Name, Namespace: Namespace}}
	var cm corev1.ConfigMap
	cm.TypeMeta, cm.ObjectMeta = meta("ConfigMap", "v1", Name, Namespace)
	cm.Data = map[string]string{"Corefile": Corefile(o)}

	var dep appsv1.Deployment
	dep.TypeMeta, dep.ObjectMeta = meta("Deployment", "apps/v1", Name, Namespace)
	dep.Spec = appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](1),
		Selector: &metav1.LabelSelector{MatchLabels: Labels},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels()},
			Spec: corev1.PodSpec{
				ServiceAccountName: Name,
				// Default: CoreDNS itself resolves through the node, not
				// through itself.
				DNSPolicy: corev1.DNSDefault,
				SecurityContext: &corev1.PodSecurityContext{
					RunAsNonRoot:   ptr.To(true),
					RunAsUser:      ptr.To[int64](65532),
					RunAsGroup:     ptr.To[int64](65532),
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
				Containers: []corev1.Container{{
					Name: "coredns", Image: o.Image, ImagePullPolicy: o.ImagePullPolicy,
					Args:      []string{"-conf", "/etc/coredns/Corefile"},
					Resources: *o.Resources,
					Ports: []corev1.ContainerPort{
						{Name: "dns", ContainerPort: Port, Protocol: corev1.ProtocolUDP},
						{Name: "dns-tcp", ContainerPort: Port, Protocol: corev1.ProtocolTCP},
					},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8181)}},
						PeriodSeconds: 2,
					},
					LivenessProbe: &corev1.Probe{
						ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(8080)}},
						InitialDelaySeconds: 60, PeriodSeconds: 10, TimeoutSeconds: 5, FailureThreshold: 5,
					},
					SecurityContext: &corev1.SecurityContext{
						AllowPrivilegeEscalation: ptr.To(false),
						ReadOnlyRootFilesystem:   ptr.To(true),
						Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
					},
					VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/coredns", ReadOnly: true}},
				}},
				Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
					ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: Name}},
				}}},
			},
		},
	}
	var svc corev1.Service
	svc.TypeMeta, svc.ObjectMeta = meta("Service", "v1", ServiceName, Namespace)
	svc.Spec = corev1.ServiceSpec{
		Selector: Labels,
		Ports: []corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")},
			{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("dns-tcp")},
		},
	}
	return []client.Object{&sa, &role, &binding, &cm, &dep, &svc}, nil
}

// Apply writes Objects(o) into the virtual cluster behind c with
// server-side apply (field manager FieldManager, forced): a tenant who
// edits or deletes them gets them back at the next apply (the engine
// applies at every resync of the VirtualCluster), while fields these
// objects do not set (annotations, more Corefile-independent settings)
// stay theirs. With o.Disabled it writes nothing and leaves what an
// earlier apply wrote.
func Apply(ctx context.Context, c client.Client, o Options) error {
	if o.Disabled {
		return nil
	}
	objs, err := Objects(o)
	if err != nil {
		return err
	}
	var ns corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: Namespace}, &ns); err != nil {
		return fmt.Errorf("dns: namespace %s: %w", Namespace, err)
	}
	for _, obj := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return err
		}
		delete(m, "status")
		unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(m, "spec", "template", "metadata", "creationTimestamp")
		u := &unstructured.Unstructured{Object: m}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("dns: apply %s %s: %w", u.GetKind(), client.ObjectKeyFromObject(u), err)
		}
	}
	return nil
}
