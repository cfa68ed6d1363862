package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Labels and annotations the engine writes on host copies. They all live
// under the reserved domain, so tenants cannot set them (see HostKey).
const (
	// LabelVirtualCluster marks a host object as managed by the virtual
	// cluster named by its value. Objects without it, or with another
	// virtual cluster's name, are never modified or deleted by the engine.
	// It has the same key as vcluster.LabelVirtualCluster; it is repeated
	// here so translation does not depend on the vcluster package.
	LabelVirtualCluster = "vcluster.vclusterkit.io/name"
	// LabelNamespace holds the virtual namespace of a host copy. Scoped
	// selectors match on it.
	LabelNamespace = "vcluster.vclusterkit.io/namespace"

	// AnnotationName is the name of the virtual object a host copy comes from.
	AnnotationName = "vcluster.vclusterkit.io/object-name"
	// AnnotationNamespace is its virtual namespace (empty for cluster-scoped).
	AnnotationNamespace = "vcluster.vclusterkit.io/object-namespace"
	// AnnotationUID is its uid in the virtual cluster.
	AnnotationUID = "vcluster.vclusterkit.io/object-uid"
	// AnnotationKind is its kind, for example "Pod".
	AnnotationKind = "vcluster.vclusterkit.io/object-kind"

	// ReservedDomain is the label and annotation domain owned by
	// vclusterkit. Keys under it or any subdomain of it are escaped when
	// they come from a tenant.
	ReservedDomain = "vclusterkit.io"
	// EscapedDomain is what ReservedDomain becomes in escaped tenant keys.
	EscapedDomain = "tenant." + ReservedDomain

	// MaxNameLength is the longest host name this package produces.
	MaxNameLength      = validation.DNS1123LabelMaxLength
	hashedPrefixLength = 52
	hashLength         = 10
)

// ErrInvalid is wrapped by every error about bad input (names, keys,
// selectors). The error text names the offending field.
var ErrInvalid = errors.New("invalid input")

// Translator translates metadata of one virtual cluster to and from one
// host namespace. The zero value is not usable; create it with New. A
// Translator is immutable and safe for concurrent use.
type Translator struct {
	vcluster      string
	hostNamespace string
}

// New returns a Translator for the virtual cluster vclusterName whose
// objects live in hostNamespace on the host. Both must be DNS-1123 labels;
// vclusterName is also used as a label value.
func New(vclusterName, hostNamespace string) (*Translator, error) {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(vclusterName) {
		errs = append(errs, field.Invalid(field.NewPath("vclusterName"), vclusterName, msg))
	}
	for _, msg := range validation.IsDNS1123Label(hostNamespace) {
		errs = append(errs, field.Invalid(field.NewPath("hostNamespace"), hostNamespace, msg))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, errs.ToAggregate())
	}
	return &Translator{vcluster: vclusterName, hostNamespace: hostNamespace}, nil
}

// VirtualCluster returns the name of the virtual cluster.
func (t *Translator) VirtualCluster() string { return t.vcluster }

// HostNamespace returns the host namespace every namespaced virtual object
// is written to, whatever its virtual namespace.
func (t *Translator) HostNamespace() string { return t.hostNamespace }

// HostName returns the host name of the namespaced virtual object
// name/namespace. See the package documentation for the scheme. The result
// is a valid DNS-1123 subdomain of at most 63 characters for every valid
// virtual name and namespace; when the virtual name is a DNS-1123 (or
// DNS-1035) label, so is the result.
func (t *Translator) HostName(name, namespace string) string {
	return hostName(2, name, namespace, t.vcluster)
}

// HostCompanionName returns the host name of a companion object the
// engine creates for the namespaced virtual object name/namespace, such as
// the Secret holding a pod's service account token. suffix tells
// companions apart (for example "token"). The result never equals a
// HostName of any virtual object: it has one more "-x-" separated part.
func (t *Translator) HostCompanionName(name, namespace, suffix string) string {
	return hostName(3, name, namespace, t.vcluster, suffix)
}

// HostClusterName returns the host name for a virtual object without a
// namespace, for the few syncers that write such an object into the host
// namespace (never as a cluster-scoped host object).
func (t *Translator) HostClusterName(name string) string {
	return hostName(1, name, t.vcluster)
}

// hostName returns full when it is short enough and splits into its parts
// in exactly one way (it contains the separator "-x-" exactly seps times,
// counting overlaps), and the hashed form otherwise. Without the second
// condition "a-x-b" in namespace "c" and "a" in namespace "b-x-c" would
// share a host name. The hash is of the full string when the split is
// unambiguous (the scheme vcluster users know) and of the parts joined by
// '/', which no part contains, when it is not.
func hostName(seps int, parts ...string) string {
	full := strings.Join(parts, "-x-")
	unambiguous := separators(full) == seps
	if len(full) <= MaxNameLength && unambiguous {
		return full
	}
	hashed := full
	if !unambiguous {
		hashed = strings.Join(parts, "/")
	}
	sum := sha256.Sum256([]byte(hashed))
	prefix := strings.TrimRight(full[:min(len(full), hashedPrefixLength)], "-.")
	return prefix + "-" + hex.EncodeToString(sum[:])[:hashLength]
}

func separators(s string) int {
	n := 0
	for i := 0; i+3 <= len(s); i++ {
		if s[i:i+3] == "-x-" {
			n++
		}
	}
	return n
}

// Origin identifies the virtual object a host copy comes from.
type Origin struct {
	Kind      string
	Namespace string
	Name      string
	UID       types.UID
}

// Key returns the origin's virtual namespace and name.
func (o Origin) Key() types.NamespacedName {
	return types.NamespacedName{Namespace: o.Namespace, Name: o.Name}
}

// Owner returns the virtual cluster named by the host object's
// LabelVirtualCluster, or "" when it has none.
func Owner(host metav1.Object) string {
	return host.GetLabels()[LabelVirtualCluster]
}

// IsManaged reports whether host carries this virtual cluster's mark. Only
// such objects may be modified or deleted.
func (t *Translator) IsManaged(host metav1.Object) bool {
	return Owner(host) == t.vcluster
}

// Origin returns where a host copy comes from. ok is false when host is not
// managed by this virtual cluster or lacks the origin annotations.
func (t *Translator) Origin(host metav1.Object) (o Origin, ok bool) {
	if !t.IsManaged(host) {
		return Origin{}, false
	}
	a := host.GetAnnotations()
	o = Origin{Kind: a[AnnotationKind], Namespace: a[AnnotationNamespace], Name: a[AnnotationName], UID: types.UID(a[AnnotationUID])}
	if o.Name == "" || o.Kind == "" {
		return Origin{}, false
	}
	return o, true
}

// HostMeta returns the metadata of the host copy of the namespaced virtual
// object v of the given kind: host name and namespace, translated labels
// plus LabelVirtualCluster and LabelNamespace, and translated annotations
// plus the origin annotations. Owner references, finalizers and
// server-populated fields are not copied.
func (t *Translator) HostMeta(kind string, v metav1.Object) (metav1.ObjectMeta, error) {
	if v.GetNamespace() == "" {
		return metav1.ObjectMeta{}, fmt.Errorf("%w: metadata.namespace: %s %q is cluster-scoped; only namespaced objects are written to the host", ErrInvalid, kind, v.GetName())
	}
	labels, err := t.HostLabels(v.GetNamespace(), v.GetLabels())
	if err != nil {
		return metav1.ObjectMeta{}, err
	}
	annotations, err := t.HostAnnotations(v.GetAnnotations())
	if err != nil {
		return metav1.ObjectMeta{}, err
	}
	annotations[AnnotationName] = v.GetName()
	annotations[AnnotationNamespace] = v.GetNamespace()
	annotations[AnnotationUID] = string(v.GetUID())
	annotations[AnnotationKind] = kind
	return metav1.ObjectMeta{
		Name:        t.HostName(v.GetName(), v.GetNamespace()),
		Namespace:   t.hostNamespace,
		Labels:      labels,
		Annotations: annotations,
	}, nil
}

// HostLabels translates virtual labels of an object in virtual namespace
// vNamespace: reserved keys are escaped and the scope labels
// (LabelVirtualCluster, LabelNamespace) are added. The result is never nil.
func (t *Translator) HostLabels(vNamespace string, labels map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(labels)+2)
	var errs field.ErrorList
	for k, v := range labels {
		hk, err := HostKey(k)
		if err != nil {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "labels").Key(k), k, err.Error()))
			continue
		}
		out[hk] = v
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, errs.ToAggregate())
	}
	out[LabelVirtualCluster] = t.vcluster
	if vNamespace != "" {
		out[LabelNamespace] = vNamespace
	}
	return out, nil
}

// VirtualLabels is the inverse of HostLabels: it drops the engine's own
// labels (and any other key under the reserved domain that is not an
// escaped tenant key) and unescapes tenant keys. The result is nil when no
// label remains.
func VirtualLabels(host map[string]string) map[string]string {
	return virtualMap(host)
}

// HostAnnotations translates virtual annotations the way HostLabels
// translates labels, without adding the origin annotations (HostMeta does).
// The result is never nil.
func (t *Translator) HostAnnotations(annotations map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(annotations)+4)
	var errs field.ErrorList
	for k, v := range annotations {
		hk, err := HostKey(k)
		if err != nil {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "annotations").Key(k), k, err.Error()))
			continue
		}
		out[hk] = v
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, errs.ToAggregate())
	}
	return out, nil
}

// VirtualAnnotations is the inverse of HostAnnotations: it drops the
// engine's annotations and unescapes tenant keys.
func VirtualAnnotations(host map[string]string) map[string]string {
	return virtualMap(host)
}

func virtualMap(host map[string]string) map[string]string {
	var out map[string]string
	for k, v := range host {
		vk, ok := VirtualKey(k)
		if !ok {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(host))
		}
		out[vk] = v
	}
	return out
}

// splitKey splits a label or annotation key into its prefix and name.
func splitKey(key string) (prefix, name string) {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[:i], key[i+1:]
	}
	return "", key
}

// isUnder reports whether domain is d or a subdomain of d.
func isUnder(domain, d string) bool {
	return domain == d || strings.HasSuffix(domain, "."+d)
}

// IsReserved reports whether a label or annotation key uses the domain
// reserved by vclusterkit (ReservedDomain or a subdomain).
func IsReserved(key string) bool {
	prefix, _ := splitKey(key)
	return isUnder(prefix, ReservedDomain)
}

// HostKey translates a tenant's label or annotation key for the host.
// Keys under ReservedDomain are escaped: the domain suffix
// "vclusterkit.io" becomes "tenant.vclusterkit.io", so
// "vcluster.vclusterkit.io/name" becomes "vcluster.tenant.vclusterkit.io/name".
// The mapping is injective and its image never contains a key the engine
// writes. Other keys are returned unchanged. It fails only when the escaped
// key would exceed the 253-character prefix limit, or the key is malformed.
func HostKey(key string) (string, error) {
	if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
		return "", fmt.Errorf("%w: key %q: %s", ErrInvalid, key, strings.Join(msgs, "; "))
	}
	prefix, name := splitKey(key)
	if !isUnder(prefix, ReservedDomain) {
		return key, nil
	}
	escaped := strings.TrimSuffix(prefix, ReservedDomain) + EscapedDomain + "/" + name
	if msgs := validation.IsQualifiedName(escaped); len(msgs) > 0 {
		return "", fmt.Errorf("%w: key %q uses the reserved domain %s and cannot be escaped: %s", ErrInvalid, key, ReservedDomain, strings.Join(msgs, "; "))
	}
	return escaped, nil
}

// VirtualKey is the inverse of HostKey. ok is false for keys the engine
// owns (under ReservedDomain but not escaped), which never reach the
// virtual cluster.
func VirtualKey(key string) (string, bool) {
	prefix, name := splitKey(key)
	if !isUnder(prefix, ReservedDomain) {
		return key, true
	}
	if !isUnder(prefix, EscapedDomain) {
		return "", false
	}
	return strings.TrimSuffix(prefix, EscapedDomain) + ReservedDomain + "/" + name, true
}
