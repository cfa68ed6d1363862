package pods

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vclusterkit/vclusterkit/sync/translate"
)

// Annotations and names the pod translation uses on host pods.
const (
	// AnnotationServiceAccount holds the virtual service account name;
	// downward-API references to spec.serviceAccountName read it.
	AnnotationServiceAccount = "vcluster.vclusterkit.io/service-account"
	// AnnotationServiceEnv lists the environment variables the syncer
	// injected for virtual services, so they survive later updates.
	AnnotationServiceEnv = "vcluster.vclusterkit.io/service-env"
	// TokenSuffix names the companion Secret holding the pod's tokens.
	TokenSuffix = "token"
	// tokenKeyPrefix + index is the key of one projected token.
	tokenKeyPrefix = "token-"
)

// TranslateInput is the context a virtual pod is translated in.
type TranslateInput struct {
	// Translator of the virtual cluster.
	Translator *translate.Translator
	// DNSServer is the IP of the virtual cluster's DNS service on the
	// host; empty leaves DNS to the host (pods then resolve host names).
	DNSServer string
	// ClusterDomain of the virtual cluster. Default "cluster.local".
	ClusterDomain string
	// APIServerHost and APIServerPort reach the virtual API server from
	// host pods; they become KUBERNETES_SERVICE_HOST/PORT and, when the
	// host is an IP, host aliases for kubernetes.default.
	APIServerHost string
	APIServerPort int32
	// Services are the virtual Services of the pod's namespace, for the
	// service environment variables (when enableServiceLinks is not false).
	Services []corev1.Service
	// HostServiceAccounts runs the host pod as the host copy of its
	// service account (made by the serviceaccounts syncer) instead of the
	// host namespace's default; host tokens stay unmounted either way.
	HostServiceAccounts bool
	// NodeSelector is enforced on the host pod (wins over the tenant's).
	NodeSelector map[string]string
	// Namespaces resolves a pod affinity term's namespaceSelector to the
	// virtual namespaces it selects; all is true for the empty selector.
	Namespaces func(sel *metav1.LabelSelector) (names []string, all bool, err error)
}

// ToHostPod translates a virtual pod into the spec and extra metadata of
// its host copy (the engine adds name, namespace and ownership metadata).
// It is pure: everything it needs is in in. References to ConfigMaps,
// Secrets, PVCs and the service account are translated into the virtual
// pod's namespace, so a pod can never reach another namespace's objects;
// selectors in affinities and topology spread constraints are scoped to the
// virtual cluster; service account tokens are read from the companion
// Secret tokenSecret instead of being requested from the host; the
// priority and preemption policy are left to the host's admission, which
// computes them from the priority class name (checked by CheckClasses).
func ToHostPod(in TranslateInput, v *corev1.Pod) (*corev1.Pod, error) {
	tr := in.Translator
	ns := v.Namespace
	if in.ClusterDomain == "" {
		in.ClusterDomain = "cluster.local"
	}
	h := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{}}}
	spec := v.Spec.DeepCopy()
	specPath := field.NewPath("spec")
	tokenSecret := tr.HostCompanionName(v.Name, ns, TokenSuffix)

	sa := spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	h.Annotations[AnnotationServiceAccount] = sa
	spec.ServiceAccountName = ""
	if in.HostServiceAccounts {
		spec.ServiceAccountName = tr.HostName(sa, ns)
	}
	spec.DeprecatedServiceAccount = ""
	spec.AutomountServiceAccountToken = ptrBool(false)
	spec.NodeName = ""
	spec.EnableServiceLinks = ptrBool(false)
	// The priority and preemption policy are the host's to compute from
	// the class name (its Priority admission does): the virtual values
	// come from the tenant's own classes, which can say anything.
	spec.Priority = nil
	spec.PreemptionPolicy = nil

	name := func(n string) string { return tr.HostName(n, ns) }
	// Each pull secret once: server-side apply's key for the list is the
	// name, and the API server takes a name twice with a warning.
	if len(spec.ImagePullSecrets) > 1 {
		seen := map[string]bool{}
		spec.ImagePullSecrets = slices.DeleteFunc(spec.ImagePullSecrets, func(r corev1.LocalObjectReference) bool {
			twice := seen[r.Name]
			seen[r.Name] = true
			return twice
		})
	}
	for i := range spec.ImagePullSecrets {
		spec.ImagePullSecrets[i].Name = name(spec.ImagePullSecrets[i].Name)
	}
	tokenIndex := 0
	for i := range spec.Volumes {
		vol := &spec.Volumes[i]
		switch {
		case vol.ConfigMap != nil:
			vol.ConfigMap.Name = name(vol.ConfigMap.Name)
		case vol.Secret != nil:
			vol.Secret.SecretName = name(vol.Secret.SecretName)
		case vol.PersistentVolumeClaim != nil:
			vol.PersistentVolumeClaim.ClaimName = name(vol.PersistentVolumeClaim.ClaimName)
		case vol.Projected != nil:
			for j := range vol.Projected.Sources {
				src := &vol.Projected.Sources[j]
				switch {
				case src.ConfigMap != nil:
					src.ConfigMap.Name = name(src.ConfigMap.Name)
				case src.Secret != nil:
					src.Secret.Name = name(src.Secret.Name)
				case src.ServiceAccountToken != nil:
					src.Secret = &corev1.SecretProjection{
						LocalObjectReference: corev1.LocalObjectReference{Name: tokenSecret},
						Items:                []corev1.KeyToPath{{Key: tokenKeyPrefix + strconv.Itoa(tokenIndex), Path: src.ServiceAccountToken.Path}},
					}
					src.ServiceAccountToken = nil
					tokenIndex++
				case src.DownwardAPI != nil:
					for k := range src.DownwardAPI.Items {
						if err := translateFieldRef(src.DownwardAPI.Items[k].FieldRef); err != nil {
							return nil, fmt.Errorf("%s: %w", specPath.Child("volumes").Index(i).Child("projected", "sources").Index(j).Child("downwardAPI", "items").Index(k).Child("fieldRef"), err)
						}
					}
				}
			}
		case vol.DownwardAPI != nil:
			for k := range vol.DownwardAPI.Items {
				if err := translateFieldRef(vol.DownwardAPI.Items[k].FieldRef); err != nil {
					return nil, fmt.Errorf("%s: %w", specPath.Child("volumes").Index(i).Child("downwardAPI", "items").Index(k).Child("fieldRef"), err)
				}
			}
		}
	}

	serviceEnv := serviceEnvVars(in, v)
	var injected []string
	for _, e := range serviceEnv {
		injected = append(injected, e.Name)
	}
	if len(injected) > 0 {
		h.Annotations[AnnotationServiceEnv] = strings.Join(injected, ",")
	}
	for _, cs := range []struct {
		list []corev1.Container
		path *field.Path
	}{{spec.InitContainers, specPath.Child("initContainers")}, {spec.Containers, specPath.Child("containers")}} {
		for i := range cs.list {
			if err := translateContainer(tr, ns, &cs.list[i], serviceEnv); err != nil {
				return nil, fmt.Errorf("%s: %w", cs.path.Index(i), err)
			}
		}
	}
	spec.EphemeralContainers = nil

	if len(in.NodeSelector) > 0 {
		if spec.NodeSelector == nil {
			spec.NodeSelector = map[string]string{}
		}
		for k, val := range in.NodeSelector {
			spec.NodeSelector[k] = val
		}
	}
	if err := scopeAffinity(in, ns, spec.Affinity, specPath.Child("affinity")); err != nil {
		return nil, err
	}
	for i := range spec.TopologySpreadConstraints {
		c := &spec.TopologySpreadConstraints[i]
		p := specPath.Child("topologySpreadConstraints").Index(i)
		sel, err := tr.ScopeSelector(p.Child("labelSelector"), ns, c.LabelSelector)
		if err != nil {
			return nil, err
		}
		c.LabelSelector = sel
		if c.MatchLabelKeys, err = hostKeys(p.Child("matchLabelKeys"), c.MatchLabelKeys); err != nil {
			return nil, err
		}
	}

	switch spec.DNSPolicy {
	case "", corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet:
		if in.DNSServer != "" {
			spec.DNSPolicy = corev1.DNSNone
			cfg := &corev1.PodDNSConfig{
				Nameservers: []string{in.DNSServer},
				Searches:    []string{ns + ".svc." + in.ClusterDomain, "svc." + in.ClusterDomain, in.ClusterDomain},
				Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptrString("5")}},
			}
			if spec.DNSConfig != nil {
				cfg.Nameservers = append(cfg.Nameservers, spec.DNSConfig.Nameservers...)
				cfg.Searches = append(cfg.Searches, spec.DNSConfig.Searches...)
				cfg.Options = append(cfg.Options, spec.DNSConfig.Options...)
			}
			spec.DNSConfig = cfg
		}
	}
	if spec.Hostname == "" {
		spec.Hostname = hostnameOf(v.Name)
	}
	if in.APIServerHost != "" && isIP(in.APIServerHost) {
		spec.HostAliases = append(spec.HostAliases, corev1.HostAlias{IP: in.APIServerHost, Hostnames: []string{
			"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + in.ClusterDomain,
		}})
	}
	spec.HostAliases = uniqueHostAliases(spec.HostAliases)
	h.Spec = *spec
	return h, nil
}

func translateContainer(tr *translate.Translator, ns string, c *corev1.Container, serviceEnv []corev1.EnvVar) error {
	name := func(n string) string { return tr.HostName(n, ns) }
	for i := range c.Env {
		vf := c.Env[i].ValueFrom
		if vf == nil {
			continue
		}
		switch {
		case vf.ConfigMapKeyRef != nil:
			vf.ConfigMapKeyRef.Name = name(vf.ConfigMapKeyRef.Name)
		case vf.SecretKeyRef != nil:
			vf.SecretKeyRef.Name = name(vf.SecretKeyRef.Name)
		case vf.FieldRef != nil:
			if err := translateFieldRef(vf.FieldRef); err != nil {
				return fmt.Errorf("env[%d].valueFrom.fieldRef: %w", i, err)
			}
		}
	}
	for i := range c.EnvFrom {
		switch {
		case c.EnvFrom[i].ConfigMapRef != nil:
			c.EnvFrom[i].ConfigMapRef.Name = name(c.EnvFrom[i].ConfigMapRef.Name)
		case c.EnvFrom[i].SecretRef != nil:
			c.EnvFrom[i].SecretRef.Name = name(c.EnvFrom[i].SecretRef.Name)
		}
	}
	env, err := ownEnv(c.Env)
	if err != nil {
		return err
	}
	c.Env = env
	if c.Ports, err = uniquePorts(c.Ports); err != nil {
		return err
	}
	// Service variables come first, and only those the container does not
	// set itself: its own win, as with the kubelet, and the host pod never
	// has one name twice (which server-side apply refuses, so the host pod
	// could never be updated again).
	if len(serviceEnv) > 0 {
		own := make(map[string]bool, len(c.Env))
		for _, e := range c.Env {
			own[e.Name] = true
		}
		env := make([]corev1.EnvVar, 0, len(serviceEnv)+len(c.Env))
		for _, e := range serviceEnv {
			if !own[e.Name] {
				env = append(env, e)
			}
		}
		c.Env = append(env, c.Env...)
	}
	return nil
}

// translateFieldRef points downward-API references to the virtual
// identity (kept in host annotations) instead of the host pod's.
func translateFieldRef(ref *corev1.ObjectFieldSelector) error {
	if ref == nil {
		return nil
	}
	switch p := ref.FieldPath; {
	case p == "metadata.name":
		ref.FieldPath = "metadata.annotations['" + translate.AnnotationName + "']"
	case p == "metadata.namespace":
		ref.FieldPath = "metadata.annotations['" + translate.AnnotationNamespace + "']"
	case p == "metadata.uid":
		ref.FieldPath = "metadata.annotations['" + translate.AnnotationUID + "']"
	case p == "spec.serviceAccountName":
		ref.FieldPath = "metadata.annotations['" + AnnotationServiceAccount + "']"
	case strings.HasPrefix(p, "metadata.labels['") && strings.HasSuffix(p, "']"):
		key, err := translate.HostKey(strings.TrimSuffix(strings.TrimPrefix(p, "metadata.labels['"), "']"))
		if err != nil {
			return err
		}
		ref.FieldPath = "metadata.labels['" + key + "']"
	case strings.HasPrefix(p, "metadata.annotations['") && strings.HasSuffix(p, "']"):
		key, err := translate.HostKey(strings.TrimSuffix(strings.TrimPrefix(p, "metadata.annotations['"), "']"))
		if err != nil {
			return err
		}
		ref.FieldPath = "metadata.annotations['" + key + "']"
	}
	return nil
}

func scopeAffinity(in TranslateInput, ns string, a *corev1.Affinity, path *field.Path) error {
	if a == nil {
		return nil
	}
	scopeTerm := func(t *corev1.PodAffinityTerm, p *field.Path) error {
		namespaces := t.Namespaces
		all := false
		if t.NamespaceSelector != nil {
			if in.Namespaces == nil {
				return fmt.Errorf("%s: namespace selectors cannot be resolved", p.Child("namespaceSelector"))
			}
			names, a, err := in.Namespaces(t.NamespaceSelector)
			if err != nil {
				return fmt.Errorf("%s: %w", p.Child("namespaceSelector"), err)
			}
			namespaces, all = append(namespaces, names...), a
		}
		if len(namespaces) == 0 && !all {
			namespaces = []string{ns}
		}
		if all {
			namespaces = nil
		}
		// A nil selector matches nothing and stays nil.
		scoped, err := in.Translator.ScopeSelectorNamespaces(p.Child("labelSelector"), namespaces, t.LabelSelector)
		if err != nil {
			return err
		}
		t.LabelSelector = scoped
		t.Namespaces = nil
		t.NamespaceSelector = nil
		if t.MatchLabelKeys, err = hostKeys(p.Child("matchLabelKeys"), t.MatchLabelKeys); err != nil {
			return err
		}
		if t.MismatchLabelKeys, err = hostKeys(p.Child("mismatchLabelKeys"), t.MismatchLabelKeys); err != nil {
			return err
		}
		return nil
	}
	if a.PodAffinity != nil {
		p := path.Child("podAffinity")
		for i := range a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			if err := scopeTerm(&a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[i], p.Child("requiredDuringSchedulingIgnoredDuringExecution").Index(i)); err != nil {
				return err
			}
		}
		for i := range a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if err := scopeTerm(&a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm, p.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i).Child("podAffinityTerm")); err != nil {
				return err
			}
		}
	}
	if a.PodAntiAffinity != nil {
		p := path.Child("podAntiAffinity")
		for i := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			if err := scopeTerm(&a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[i], p.Child("requiredDuringSchedulingIgnoredDuringExecution").Index(i)); err != nil {
				return err
			}
		}
		for i := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if err := scopeTerm(&a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm, p.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i).Child("podAffinityTerm")); err != nil {
				return err
			}
		}
	}
	return nil
}

func hostKeys(p *field.Path, keys []string) ([]string, error) {
	if len(keys) == 0 {
		return keys, nil
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		hk, err := translate.HostKey(k)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Index(i), err)
		}
		out[i] = hk
	}
	return out, nil
}

// serviceEnvVars builds the Docker-link style variables the kubelet would
// set for the virtual services of the pod's namespace, plus
// KUBERNETES_SERVICE_HOST/PORT for the virtual API server.
func serviceEnvVars(in TranslateInput, v *corev1.Pod) []corev1.EnvVar {
	return uniqueEnv(serviceEnvList(in, v))
}

// ownEnv is a container's own variables with each name once. The API
// server takes a name set twice (with a warning) and the kubelet uses the
// last value, but server-side apply refuses a list with a key twice, so
// such a host pod could never be updated. Keeping the last value at the
// first one's place is what the kubelet does unless a variable refers to a
// name set twice with $(NAME): then the value it sees depends on where it
// stands, so the pod is refused, naming the field, rather than run with
// other values.
func ownEnv(env []corev1.EnvVar) ([]corev1.EnvVar, error) {
	seen := make(map[string]bool, len(env))
	var twice []int
	for i, e := range env {
		if seen[e.Name] {
			twice = append(twice, i)
		}
		seen[e.Name] = true
	}
	if len(twice) == 0 {
		return env, nil
	}
	for _, i := range twice {
		ref := "$(" + env[i].Name + ")"
		for j, e := range env {
			if strings.Contains(e.Value, ref) {
				return nil, fmt.Errorf("env[%d].name: %q is set a second time and env[%d] refers to it as %s, so its value would depend on the order: set it once",
					i, env[i].Name, j, ref)
			}
		}
	}
	return uniqueEnv(env), nil
}

// uniquePorts is a container's ports with each containerPort and protocol
// once, server-side apply's key for the list (the API server takes a port
// listed twice, with a warning; server-side apply refuses every update of
// such a pod). A name given to either entry is kept, since probes and
// Services' target ports refer to ports by name; a port named twice with
// two names cannot keep both and is refused, naming the field.
func uniquePorts(ports []corev1.ContainerPort) ([]corev1.ContainerPort, error) {
	if len(ports) < 2 {
		return ports, nil
	}
	type key struct {
		port  int32
		proto corev1.Protocol
	}
	at := make(map[key]int, len(ports))
	var out []corev1.ContainerPort
	for i, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		k := key{p.ContainerPort, proto}
		j, ok := at[k]
		if !ok {
			if out == nil {
				out = make([]corev1.ContainerPort, 0, len(ports))
			}
			at[k] = len(out)
			out = append(out, p)
			continue
		}
		kept := &out[j]
		switch {
		case p.Name != "" && kept.Name != "" && p.Name != kept.Name:
			return nil, fmt.Errorf("ports[%d]: port %d/%s is listed again as %q after %q, and a port keeps one name: list it once", i, p.ContainerPort, proto, p.Name, kept.Name)
		case kept.Name == "":
			kept.Name = p.Name
		}
		if kept.HostPort == 0 {
			kept.HostPort, kept.HostIP = p.HostPort, p.HostIP
		}
	}
	if len(out) == len(ports) {
		return ports, nil
	}
	return out, nil
}

// uniqueHostAliases merges host aliases of one IP, server-side apply's key
// for the list, into one entry (the kubelet writes each as a line of
// /etc/hosts, so the names resolve the same): a tenant may list an IP
// twice, or name the virtual API server's address the syncer adds.
func uniqueHostAliases(aliases []corev1.HostAlias) []corev1.HostAlias {
	if len(aliases) < 2 {
		return aliases
	}
	at := make(map[string]int, len(aliases))
	var out []corev1.HostAlias
	for _, a := range aliases {
		if j, ok := at[a.IP]; ok {
			out[j].Hostnames = append(append([]string(nil), out[j].Hostnames...), a.Hostnames...)
			continue
		}
		at[a.IP] = len(out)
		out = append(out, a)
	}
	return out
}

// uniqueEnv keeps one variable per name, the last one's value at the first
// one's place: the kubernetes Service's link variables in the namespace
// default are replaced by the virtual API server's.
func uniqueEnv(env []corev1.EnvVar) []corev1.EnvVar {
	at := make(map[string]int, len(env))
	out := make([]corev1.EnvVar, 0, len(env))
	for _, e := range env {
		if i, ok := at[e.Name]; ok {
			out[i] = e
			continue
		}
		at[e.Name] = len(out)
		out = append(out, e)
	}
	return out
}

func serviceEnvList(in TranslateInput, v *corev1.Pod) []corev1.EnvVar {
	var out []corev1.EnvVar
	if v.Spec.EnableServiceLinks == nil || *v.Spec.EnableServiceLinks {
		svcs := append([]corev1.Service(nil), in.Services...)
		sort.Slice(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })
		for _, s := range svcs {
			if s.Namespace != v.Namespace || s.Spec.ClusterIP == "" || s.Spec.ClusterIP == corev1.ClusterIPNone || len(s.Spec.Ports) == 0 {
				continue
			}
			out = append(out, linkVars(s)...)
		}
	}
	if in.APIServerHost != "" {
		port := strconv.Itoa(int(in.APIServerPort))
		if in.APIServerPort == 0 {
			port = "443"
		}
		addr := "tcp://" + net.JoinHostPort(in.APIServerHost, port)
		out = append(out,
			corev1.EnvVar{Name: "KUBERNETES_SERVICE_HOST", Value: in.APIServerHost},
			corev1.EnvVar{Name: "KUBERNETES_SERVICE_PORT", Value: port},
			corev1.EnvVar{Name: "KUBERNETES_SERVICE_PORT_HTTPS", Value: port},
			corev1.EnvVar{Name: "KUBERNETES_PORT", Value: addr},
		)
		// The link variables of the kubernetes Service (the kubelet sets
		// them in every namespace; pods in default got them above) name
		// the virtual API server too.
		out = append(out,
			corev1.EnvVar{Name: "KUBERNETES_PORT_443_TCP", Value: addr},
			corev1.EnvVar{Name: "KUBERNETES_PORT_443_TCP_PROTO", Value: "tcp"},
			corev1.EnvVar{Name: "KUBERNETES_PORT_443_TCP_PORT", Value: port},
			corev1.EnvVar{Name: "KUBERNETES_PORT_443_TCP_ADDR", Value: in.APIServerHost},
		)
	}
	return out
}

func linkVars(s corev1.Service) []corev1.EnvVar {
	prefix := strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_"))
	ip := s.Spec.ClusterIP
	first := s.Spec.Ports[0]
	out := []corev1.EnvVar{
		{Name: prefix + "_SERVICE_HOST", Value: ip},
		{Name: prefix + "_SERVICE_PORT", Value: strconv.Itoa(int(first.Port))},
		{Name: prefix + "_PORT", Value: strings.ToLower(string(first.Protocol)) + "://" + ip + ":" + strconv.Itoa(int(first.Port))},
	}
	for _, p := range s.Spec.Ports {
		proto := strings.ToLower(string(p.Protocol))
		if proto == "" {
			proto = "tcp"
		}
		base := prefix + "_PORT_" + strconv.Itoa(int(p.Port)) + "_" + strings.ToUpper(proto)
		if p.Name != "" {
			out = append(out, corev1.EnvVar{Name: prefix + "_SERVICE_PORT_" + strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_")), Value: strconv.Itoa(int(p.Port))})
		}
		out = append(out,
			corev1.EnvVar{Name: base, Value: proto + "://" + ip + ":" + strconv.Itoa(int(p.Port))},
			corev1.EnvVar{Name: base + "_PROTO", Value: proto},
			corev1.EnvVar{Name: base + "_PORT", Value: strconv.Itoa(int(p.Port))},
			corev1.EnvVar{Name: base + "_ADDR", Value: ip},
		)
	}
	return out
}

// hostnameOf is the pod's hostname when it sets none: the kubelet uses
// the pod name, which on the host is the translated one.
func hostnameOf(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		name = name[:i]
	}
	if len(name) > 63 {
		name = name[:63]
	}
	return strings.TrimRight(name, "-")
}

func isIP(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '.' || r == ':' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'f') || (r >= 'A' && r <= 'F')) {
			return false
		}
	}
	return strings.ContainsAny(s, ".:")
}

func ptrBool(b bool) *bool       { return &b }
func ptrString(s string) *string { return &s }

// TokenSources returns the service account token projections of a virtual
// pod in the order ToHostPod numbers them (key "token-<i>" of the
// companion Secret).
func TokenSources(p *corev1.Pod) []corev1.ServiceAccountTokenProjection {
	var out []corev1.ServiceAccountTokenProjection
	for _, vol := range p.Spec.Volumes {
		if vol.Projected == nil {
			continue
		}
		for _, src := range vol.Projected.Sources {
			if src.ServiceAccountToken != nil {
				out = append(out, *src.ServiceAccountToken)
			}
		}
	}
	return out
}

// References returns the ConfigMaps, Secrets and PVCs a virtual pod
// references (all in its own namespace), for the indexes of the ConfigMap,
// Secret and PVC syncers.
func References(p *corev1.Pod) (configMaps, secrets, pvcs []string) {
	seen := map[string]bool{}
	add := func(list *[]string, kind, n string) {
		if n == "" || seen[kind+"/"+n] {
			return
		}
		seen[kind+"/"+n] = true
		*list = append(*list, n)
	}
	for _, s := range p.Spec.ImagePullSecrets {
		add(&secrets, "s", s.Name)
	}
	for _, vol := range p.Spec.Volumes {
		switch {
		case vol.ConfigMap != nil:
			add(&configMaps, "c", vol.ConfigMap.Name)
		case vol.Secret != nil:
			add(&secrets, "s", vol.Secret.SecretName)
		case vol.PersistentVolumeClaim != nil:
			add(&pvcs, "p", vol.PersistentVolumeClaim.ClaimName)
		case vol.Projected != nil:
			for _, src := range vol.Projected.Sources {
				if src.ConfigMap != nil {
					add(&configMaps, "c", src.ConfigMap.Name)
				}
				if src.Secret != nil {
					add(&secrets, "s", src.Secret.Name)
				}
			}
		}
	}
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range list {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					add(&configMaps, "c", e.ValueFrom.ConfigMapKeyRef.Name)
				}
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					add(&secrets, "s", e.ValueFrom.SecretKeyRef.Name)
				}
			}
			for _, e := range c.EnvFrom {
				if e.ConfigMapRef != nil {
					add(&configMaps, "c", e.ConfigMapRef.Name)
				}
				if e.SecretRef != nil {
					add(&secrets, "s", e.SecretRef.Name)
				}
			}
		}
	}
	return configMaps, secrets, pvcs
}
