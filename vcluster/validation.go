package vcluster

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MaxNameLength is the longest VirtualCluster name accepted. Host objects are
// named after the virtual cluster with suffixes ("-kubeconfig", StatefulSet
// pod "-0" plus a 10-character revision hash, Helm's 53-character release
// limit), which all fit when the name does.
const MaxNameLength = 40

// reservedHostNamespaces may never hold a virtual cluster.
var reservedHostNamespaces = map[string]bool{
	"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true,
}

// Validate checks a VirtualCluster before anything is written: names fit the
// host's naming rules, the Kubernetes version is supported, the backing store
// settings are consistent, and every enum holds a known value. It does not
// look anything up (provisioner names: Registry.Get; DSN values: ResolveDSN;
// claims: CheckClaim).
func Validate(vc *VirtualCluster) field.ErrorList {
	var errs field.ErrorList
	meta := field.NewPath("metadata")
	errs = append(errs, validateName(meta.Child("name"), vc.Name)...)
	if vc.Namespace == "" {
		errs = append(errs, field.Required(meta.Child("namespace"), "a VirtualCluster is namespaced"))
	} else {
		for _, m := range validation.IsDNS1123Label(vc.Namespace) {
			errs = append(errs, field.Invalid(meta.Child("namespace"), vc.Namespace, m))
		}
	}
	return append(errs, ValidateSpec(field.NewPath("spec"), &vc.Spec, vc.Namespace)...)
}

func validateName(p *field.Path, name string) field.ErrorList {
	var errs field.ErrorList
	switch {
	case name == "":
		errs = append(errs, field.Required(p, "a name is required"))
	case len(name) > MaxNameLength:
		errs = append(errs, field.TooLong(p, name, MaxNameLength))
	default:
		for _, m := range validation.IsDNS1035Label(name) {
			errs = append(errs, field.Invalid(p, name, m))
		}
	}
	return errs
}

// ValidateSpec checks a VirtualClusterSpec; namespace is the object's
// namespace (the default host namespace), empty when unknown.
func ValidateSpec(p *field.Path, s *VirtualClusterSpec, namespace string) field.ErrorList {
	var errs field.ErrorList
	if s.Tenant == "" {
		errs = append(errs, field.Required(p.Child("tenant"), "the owning tenant is required"))
	} else {
		for _, m := range validation.IsDNS1123Label(s.Tenant) {
			errs = append(errs, field.Invalid(p.Child("tenant"), s.Tenant, m))
		}
	}
	hostNS := s.HostNamespace
	hp := p.Child("hostNamespace")
	if hostNS == "" {
		hostNS, hp = namespace, field.NewPath("metadata", "namespace")
	}
	if hostNS != "" {
		for _, m := range validation.IsDNS1123Label(hostNS) {
			errs = append(errs, field.Invalid(hp, hostNS, m))
		}
		if reservedHostNamespaces[hostNS] {
			errs = append(errs, field.Forbidden(hp, fmt.Sprintf("%q is reserved for the host and cannot hold a virtual cluster", hostNS)))
		}
	}
	if s.Provisioner != "" {
		for _, m := range validation.IsDNS1123Subdomain(s.Provisioner) {
			errs = append(errs, field.Invalid(p.Child("provisioner"), s.Provisioner, m))
		}
	}
	if _, err := ResolveKubernetesVersion(s.KubernetesVersion); err != nil {
		errs = append(errs, field.NotSupported(p.Child("kubernetesVersion"), s.KubernetesVersion, SupportedKubernetesVersions()))
	}
	errs = append(errs, validateBackingStore(p.Child("backingStore"), &s.BackingStore)...)
	errs = append(errs, validateSync(p.Child("sync"), &s.Sync)...)
	if s.Isolation != nil {
		errs = append(errs, validateEnum(p.Child("isolation", "podSecurity"), s.Isolation.PodSecurity, podSecurityOrder)...)
		errs = append(errs, validateEnum(p.Child("isolation", "networkIsolation"), s.Isolation.NetworkIsolation, networkOrder)...)
	}
	if s.Sleep != nil && s.Sleep.AfterInactivity != nil && s.Sleep.AfterInactivity.Duration <= 0 {
		errs = append(errs, field.Invalid(p.Child("sleep", "afterInactivity"), s.Sleep.AfterInactivity.Duration.String(), "must be positive"))
	}
	if s.Expose != nil {
		errs = append(errs, validateExpose(p.Child("expose"), s.Expose)...)
	}
	if s.Values != nil && len(s.Values.Raw) > 0 {
		var m map[string]any
		if err := json.Unmarshal(s.Values.Raw, &m); err != nil {
			errs = append(errs, field.Invalid(p.Child("values"), string(s.Values.Raw), "must be a JSON object"))
		}
	}
	return errs
}

func validateBackingStore(p *field.Path, b *BackingStore) field.ErrorList {
	var errs field.ErrorList
	ref := p.Child("dsnSecretRef")
	if b.DSNSecretRef != nil {
		if b.DSNSecretRef.Name == "" {
			errs = append(errs, field.Required(ref.Child("name"), "the Secret holding the DSN"))
		} else {
			for _, m := range validation.IsDNS1123Subdomain(b.DSNSecretRef.Name) {
				errs = append(errs, field.Invalid(ref.Child("name"), b.DSNSecretRef.Name, m))
			}
		}
		if b.DSNSecretRef.Key == "" {
			errs = append(errs, field.Required(ref.Child("key"), "the Secret key holding the DSN"))
		} else {
			for _, m := range validation.IsConfigMapKey(b.DSNSecretRef.Key) {
				errs = append(errs, field.Invalid(ref.Child("key"), b.DSNSecretRef.Key, m))
			}
		}
	}
	switch b.Type {
	case "", BackingStoreSQLite:
		if b.DSNSecretRef != nil {
			errs = append(errs, field.Forbidden(ref, "sqlite keeps its file in the provisioner's state; a DSN is only for etcd or postgres"))
		}
	case BackingStoreEtcd:
	case BackingStorePostgres:
		if b.DSNSecretRef == nil {
			errs = append(errs, field.Required(ref, "postgres needs a DSN Secret (postgres://user:password@host:5432/database)"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), b.Type,
			[]BackingStoreType{BackingStoreSQLite, BackingStoreEtcd, BackingStorePostgres}))
	}
	return errs
}

func validateSync(p *field.Path, s *SyncSpec) field.ErrorList {
	var errs field.ErrorList
	for _, l := range []struct {
		name  string
		kinds []string
	}{{"toHost", s.ToHost}, {"fromHost", s.FromHost}} {
		seen := map[string]bool{}
		for i, k := range l.kinds {
			ip := p.Child(l.name).Index(i)
			if seen[k] {
				errs = append(errs, field.Duplicate(ip, k))
				continue
			}
			seen[k] = true
			for _, m := range validation.IsDNS1123Subdomain(k) {
				errs = append(errs, field.Invalid(ip, k, "must be a lower-case plural resource name such as \"pods\": "+m))
			}
		}
	}
	if s.Nodes != "" && s.Nodes != NodeSyncFake && s.Nodes != NodeSyncReal {
		errs = append(errs, field.NotSupported(p.Child("nodes"), s.Nodes, []NodeSyncMode{NodeSyncFake, NodeSyncReal}))
	}
	return errs
}

func validateExpose(p *field.Path, e *ExposeSpec) field.ErrorList {
	var errs field.ErrorList
	switch e.Type {
	case "", ExposeClusterIP, ExposeNodePort, ExposeLoadBalancer:
	default:
		errs = append(errs, field.NotSupported(p.Child("type"), e.Type, []ExposeType{ExposeClusterIP, ExposeNodePort, ExposeLoadBalancer}))
	}
	if e.Hostname != "" {
		for _, m := range validation.IsDNS1123Subdomain(e.Hostname) {
			errs = append(errs, field.Invalid(p.Child("hostname"), e.Hostname, m))
		}
	}
	for i, san := range e.ExtraSANs {
		if net.ParseIP(san) != nil {
			continue
		}
		for _, m := range validation.IsDNS1123Subdomain(strings.TrimPrefix(san, "*.")) {
			errs = append(errs, field.Invalid(p.Child("extraSANs").Index(i), san, "must be an IP address or DNS name: "+m))
		}
	}
	return errs
}

// ValidateUpdate checks an update: the new object must be valid and the
// immutable fields (host namespace, provisioner, backing store) unchanged.
func ValidateUpdate(old, vc *VirtualCluster) field.ErrorList {
	errs := Validate(vc)
	p := field.NewPath("spec")
	if old.EffectiveHostNamespace() != vc.EffectiveHostNamespace() {
		errs = append(errs, field.Forbidden(p.Child("hostNamespace"), "is immutable"))
	}
	if old.EffectiveProvisioner() != vc.EffectiveProvisioner() {
		errs = append(errs, field.Forbidden(p.Child("provisioner"), "is immutable"))
	}
	if old.EffectiveBackingStore() != vc.EffectiveBackingStore() ||
		!equality.Semantic.DeepEqual(old.Spec.BackingStore.DSNSecretRef, vc.Spec.BackingStore.DSNSecretRef) {
		errs = append(errs, field.Forbidden(p.Child("backingStore"), "is immutable"))
	}
	return errs
}

var (
	podSecurityOrder = []string{"privileged", "baseline", "restricted"}
	networkOrder     = []string{"none", "tenant", "strict"}
)

func validateEnum(p *field.Path, v string, allowed []string) field.ErrorList {
	if v == "" || rank(allowed, v) >= 0 {
		return nil
	}
	return field.ErrorList{field.NotSupported(p, v, allowed)}
}

func rank(order []string, v string) int {
	for i, o := range order {
		if o == v {
			return i
		}
	}
	return -1
}

// ValidateIsolation checks that overrides only tighten the tenant's
// effective policy: podSecurity at least as strict as tenantPodSecurity
// (privileged < baseline < restricted) and networkIsolation at least as strict
// as tenantNetworkIsolation (none < tenant < strict). Empty tenant values mean
// unrestricted (privileged, none).
func ValidateIsolation(o *IsolationOverrides, tenantPodSecurity, tenantNetworkIsolation string) field.ErrorList {
	if o == nil {
		return nil
	}
	p := field.NewPath("spec", "isolation")
	var errs field.ErrorList
	check := func(fp *field.Path, v, tenant string, order []string) {
		if v == "" {
			return
		}
		if e := validateEnum(fp, v, order); len(e) > 0 {
			errs = append(errs, e...)
			return
		}
		t := max(rank(order, tenant), 0)
		if rank(order, v) < t {
			errs = append(errs, field.Forbidden(fp, fmt.Sprintf("%q is looser than the tenant's %q; overrides may only tighten", v, order[t])))
		}
	}
	check(p.Child("podSecurity"), o.PodSecurity, tenantPodSecurity, podSecurityOrder)
	check(p.Child("networkIsolation"), o.NetworkIsolation, tenantNetworkIsolation, networkOrder)
	return errs
}

// ValidateDSN checks a backing store DSN for the store type; errors wrap
// ErrInvalidDSN. Postgres needs a postgres:// or postgresql:// URL with a
// host and a database; etcd takes a comma-separated list of http(s) client
// URLs (empty: the provisioner runs etcd itself); sqlite takes none.
func ValidateDSN(t BackingStoreType, dsn string) error {
	switch t {
	case "", BackingStoreSQLite:
		if dsn != "" {
			return fmt.Errorf("%w: sqlite takes no DSN", ErrInvalidDSN)
		}
	case BackingStoreEtcd:
		if dsn == "" {
			return nil
		}
		for e := range strings.SplitSeq(dsn, ",") {
			u, err := url.Parse(strings.TrimSpace(e))
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Port() == "" {
				return fmt.Errorf("%w: etcd endpoint %q is not an http(s)://host:port URL", ErrInvalidDSN, redact(e))
			}
		}
	case BackingStorePostgres:
		if dsn == "" {
			return fmt.Errorf("%w: postgres needs a DSN", ErrInvalidDSN)
		}
		u, err := url.Parse(dsn)
		if err != nil {
			return fmt.Errorf("%w: postgres DSN is not a URL", ErrInvalidDSN)
		}
		if u.Scheme != "postgres" && u.Scheme != "postgresql" {
			return fmt.Errorf("%w: postgres DSN must start with postgres:// or postgresql://, not %q", ErrInvalidDSN, u.Scheme+"://")
		}
		if u.Hostname() == "" {
			return fmt.Errorf("%w: postgres DSN %q has no host", ErrInvalidDSN, redact(dsn))
		}
		if strings.Trim(u.Path, "/") == "" {
			return fmt.Errorf("%w: postgres DSN %q names no database", ErrInvalidDSN, redact(dsn))
		}
	default:
		return fmt.Errorf("%w: unknown backing store type %q", ErrInvalidDSN, t)
	}
	return nil
}

// redact hides a password in a DSN before it goes into an error message.
func redact(dsn string) string {
	u, err := url.Parse(strings.TrimSpace(dsn))
	if err != nil {
		return "(unparseable DSN)"
	}
	if u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
