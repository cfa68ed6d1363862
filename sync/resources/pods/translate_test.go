package pods

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/vclusterkit/vclusterkit/sync/translate"
)

func testInput(t *testing.T) TranslateInput {
	t.Helper()
	tr, err := translate.New("vc", "tenant")
	if err != nil {
		t.Fatal(err)
	}
	return TranslateInput{Translator: tr, DNSServer: "10.0.0.10", APIServerHost: "10.0.0.2", APIServerPort: 6443}
}

func TestToHostPodReferences(t *testing.T) {
	in := testInput(t)
	v := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Spec: corev1.PodSpec{
		ServiceAccountName: "builder",
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "pull"}},
		Volumes: []corev1.Volume{
			{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
			// a name that is the host name of a Secret in another namespace
			{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "db-x-other-x-vc"}}},
			{Name: "pvc", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
			{Name: "api", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
			}}}},
		},
		Containers: []corev1.Container{{
			Name: "app", Image: "nginx",
			Env: []corev1.EnvVar{
				{Name: "A", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "k"}}},
				{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			},
			EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "env"}}}},
		}},
	}}
	h, err := ToHostPod(in, v)
	if err != nil {
		t.Fatal(err)
	}
	s := h.Spec
	n := func(x string) string { return in.Translator.HostName(x, "shop") }
	checks := map[string][2]string{
		"imagePullSecret":  {s.ImagePullSecrets[0].Name, n("pull")},
		"configMap volume": {s.Volumes[0].ConfigMap.Name, n("cfg")},
		"secret volume":    {s.Volumes[1].Secret.SecretName, n("db-x-other-x-vc")},
		"pvc":              {s.Volumes[2].PersistentVolumeClaim.ClaimName, n("data")},
		"token":            {s.Volumes[3].Projected.Sources[0].Secret.Name, in.Translator.HostCompanionName("web", "shop", TokenSuffix)},
		"root ca":          {s.Volumes[3].Projected.Sources[1].ConfigMap.Name, n("kube-root-ca.crt")},
		"downward ns":      {s.Volumes[3].Projected.Sources[2].DownwardAPI.Items[0].FieldRef.FieldPath, "metadata.annotations['" + translate.AnnotationNamespace + "']"},
		"secretKeyRef":     {s.Containers[0].Env[len(s.Containers[0].Env)-2].ValueFrom.SecretKeyRef.Name, n("db")},
		"fieldRef name":    {s.Containers[0].Env[len(s.Containers[0].Env)-1].ValueFrom.FieldRef.FieldPath, "metadata.annotations['" + translate.AnnotationName + "']"},
		"envFrom":          {s.Containers[0].EnvFrom[0].ConfigMapRef.Name, n("env")},
		"service account":  {s.ServiceAccountName, ""},
		"sa annotation":    {h.Annotations[AnnotationServiceAccount], "builder"},
		"hostname":         {s.Hostname, "web"},
		"dns policy":       {string(s.DNSPolicy), string(corev1.DNSNone)},
		"dns server":       {s.DNSConfig.Nameservers[0], "10.0.0.10"},
		"dns search":       {s.DNSConfig.Searches[0], "shop.svc.cluster.local"},
		"host alias":       {s.HostAliases[0].IP, "10.0.0.2"},
		"kubernetes host":  {envValue(s.Containers[0].Env, "KUBERNETES_SERVICE_HOST"), "10.0.0.2"},
		"kubernetes port":  {envValue(s.Containers[0].Env, "KUBERNETES_SERVICE_PORT"), "6443"},
	}
	for what, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", what, c[0], c[1])
		}
	}
	if s.Volumes[3].Projected.Sources[0].ServiceAccountToken != nil {
		t.Error("host pod still asks the host for a service account token")
	}
	if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
		t.Error("host service account token is mounted")
	}
	if s.EnableServiceLinks == nil || *s.EnableServiceLinks {
		t.Error("host service links enabled")
	}
	if s.Volumes[1].Secret.SecretName == "db-x-other-x-vc" {
		t.Error("reference reaches another namespace's host secret")
	}
	cms, secs, pvcs := References(v)
	if d := cmp.Diff([]string{"cfg", "kube-root-ca.crt", "env"}, cms); d != "" {
		t.Errorf("References configmaps (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"pull", "db-x-other-x-vc", "db"}, secs); d != "" {
		t.Errorf("References secrets (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"data"}, pvcs); d != "" {
		t.Errorf("References pvcs (-want +got):\n%s", d)
	}
}

func envValue(env []corev1.EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func TestToHostPodServiceLinks(t *testing.T) {
	in := testInput(t)
	in.APIServerHost = ""
	in.Services = []corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "redis-master", Namespace: "shop"}, Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.11", Ports: []corev1.ServicePort{{Name: "tcp", Port: 6379, Protocol: corev1.ProtocolTCP}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "headless", Namespace: "shop"}, Spec: corev1.ServiceSpec{ClusterIP: "None", Ports: []corev1.ServicePort{{Port: 1}}}},
	}
	v := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Env: []corev1.EnvVar{{Name: "REDIS_MASTER_SERVICE_HOST", Value: "mine"}}}}}}
	h, err := ToHostPod(in, v)
	if err != nil {
		t.Fatal(err)
	}
	env := h.Spec.Containers[0].Env
	if envValue(env, "REDIS_MASTER_SERVICE_PORT") != "6379" || envValue(env, "REDIS_MASTER_PORT_6379_TCP_ADDR") != "10.0.0.11" {
		t.Errorf("service link variables missing: %v", env)
	}
	// the container's own variable comes last, so it wins.
	if env[len(env)-1].Value != "mine" {
		t.Errorf("container's own variable does not win: %v", env)
	}
	for _, e := range env {
		if strings.HasPrefix(e.Name, "HEADLESS_") {
			t.Errorf("headless service got variables: %v", e)
		}
	}
	if !strings.Contains(h.Annotations[AnnotationServiceEnv], "REDIS_MASTER_SERVICE_HOST") {
		t.Errorf("injected variables not recorded: %q", h.Annotations[AnnotationServiceEnv])
	}
	off := false
	v.Spec.EnableServiceLinks = &off
	h, _ = ToHostPod(in, v)
	if len(h.Spec.Containers[0].Env) != 1 {
		t.Errorf("enableServiceLinks=false still injected: %v", h.Spec.Containers[0].Env)
	}
}

// A pod in the namespace default has link variables for the virtual
// kubernetes Service, the same names as the virtual API server's; a
// container may set a service variable itself. The host pod must hold each
// name once (server-side apply refuses a list with a key twice, so such a
// host pod could never be updated: found running the quickstart, whose
// shop in default never showed Running inside), with the virtual API
// server's address and the container's own values winning.
func TestToHostPodEnvNamesUnique(t *testing.T) {
	in := testInput(t)
	in.Services = []corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "default"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.20", Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}},
	}
	v := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c",
		Env: []corev1.EnvVar{{Name: "SHOP_SERVICE_HOST", Value: "mine"}}}}}}
	h, err := ToHostPod(in, v)
	if err != nil {
		t.Fatal(err)
	}
	env := h.Spec.Containers[0].Env
	seen := map[string]bool{}
	for _, e := range env {
		if seen[e.Name] {
			t.Errorf("variable %s twice in the host pod: %v", e.Name, env)
		}
		seen[e.Name] = true
	}
	for name, want := range map[string]string{
		"KUBERNETES_SERVICE_HOST":       "10.0.0.2",
		"KUBERNETES_SERVICE_PORT":       "6443",
		"KUBERNETES_PORT":               "tcp://10.0.0.2:6443",
		"KUBERNETES_PORT_443_TCP_ADDR":  "10.0.0.2",
		"KUBERNETES_SERVICE_PORT_HTTPS": "6443",
		"SHOP_SERVICE_HOST":             "mine",
		"SHOP_SERVICE_PORT":             "80",
	} {
		if got := envValue(env, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// Affinity and topology spread selectors must only match pods of the same
// virtual cluster and the namespaces the term names, whatever the tenant
// writes.
func TestToHostPodScopesSelectors(t *testing.T) {
	in := testInput(t)
	in.Namespaces = func(sel *metav1.LabelSelector) ([]string, bool, error) {
		if len(sel.MatchLabels) == 0 {
			return nil, true, nil
		}
		return []string{"blog"}, false, nil
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db", translate.LabelVirtualCluster: "victim"}}
	v := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c"}},
		Affinity: &corev1.Affinity{
			PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
				{LabelSelector: sel, TopologyKey: "zone"},
				{LabelSelector: sel, TopologyKey: "zone", Namespaces: []string{"a", "b"}},
				{LabelSelector: sel, TopologyKey: "zone", NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "x"}}},
			}},
			PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
				{Weight: 1, PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: sel, TopologyKey: "host", NamespaceSelector: &metav1.LabelSelector{}}},
			}},
		},
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", LabelSelector: sel}},
	}}
	h, err := ToHostPod(in, v)
	if err != nil {
		t.Fatal(err)
	}
	hostLabels := func(tr *translate.Translator, ns string) labels.Set {
		l, err := tr.HostLabels(ns, map[string]string{"app": "db", translate.LabelVirtualCluster: "victim"})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	other, _ := translate.New("victim", "tenant")
	type want struct{ shop, a, blog, otherVC bool }
	terms := h.Spec.Affinity.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	cases := []struct {
		name string
		term corev1.PodAffinityTerm
		want want
	}{
		{"own namespace", terms[0], want{shop: true}},
		{"namespace list", terms[1], want{a: true}},
		{"namespace selector", terms[2], want{blog: true}},
		{"all namespaces", h.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm, want{shop: true, a: true, blog: true}},
	}
	for _, c := range cases {
		if len(c.term.Namespaces) > 0 || c.term.NamespaceSelector != nil {
			t.Errorf("%s: host term keeps namespaces %v / %v", c.name, c.term.Namespaces, c.term.NamespaceSelector)
		}
		s, err := metav1.LabelSelectorAsSelector(c.term.LabelSelector)
		if err != nil {
			t.Fatal(err)
		}
		got := want{
			shop:    s.Matches(hostLabels(in.Translator, "shop")),
			a:       s.Matches(hostLabels(in.Translator, "a")),
			blog:    s.Matches(hostLabels(in.Translator, "blog")),
			otherVC: s.Matches(hostLabels(other, "shop")),
		}
		if got != c.want {
			t.Errorf("%s: matches %+v, want %+v", c.name, got, c.want)
		}
	}
	ts, _ := metav1.LabelSelectorAsSelector(h.Spec.TopologySpreadConstraints[0].LabelSelector)
	if !ts.Matches(hostLabels(in.Translator, "shop")) || ts.Matches(hostLabels(in.Translator, "blog")) || ts.Matches(hostLabels(other, "shop")) {
		t.Errorf("topology spread selector not scoped: %v", ts)
	}
}

func TestToHostPodEnforcedNodeSelector(t *testing.T) {
	in := testInput(t)
	in.NodeSelector = map[string]string{"pool": "tenants"}
	v := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"}, Spec: corev1.PodSpec{
		NodeName:     "chosen-node",
		NodeSelector: map[string]string{"pool": "system", "disk": "ssd"},
		Containers:   []corev1.Container{{Name: "c"}},
	}}
	h, err := ToHostPod(in, v)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"pool": "tenants", "disk": "ssd"}, h.Spec.NodeSelector); d != "" {
		t.Errorf("node selector (-want +got):\n%s", d)
	}
	if h.Spec.NodeName != "" {
		t.Errorf("tenant picked the host node %q", h.Spec.NodeName)
	}
}

func TestToHostPodBadLabelKeyNamesField(t *testing.T) {
	in := testInput(t)
	long := strings.Repeat("a", 60) + "." + strings.Repeat("a", 60) + "." + strings.Repeat("a", 60) + "." + strings.Repeat("b", 52) + ".vclusterkit.io/x"
	v := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"}, Spec: corev1.PodSpec{
		Containers:                []corev1.Container{{Name: "c"}},
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{long: "x"}}}},
	}}
	_, err := ToHostPod(in, v)
	if err == nil || !strings.Contains(err.Error(), "spec.topologySpreadConstraints[0].labelSelector.matchLabels") {
		t.Fatalf("got %v, want an error naming spec.topologySpreadConstraints[0].labelSelector.matchLabels", err)
	}
}

// The host's admission computes a pod's priority from its class name; the
// virtual pod's own values (from the tenant's classes, or forged) never
// reach the host.
func TestToHostPodDropsPriorityValues(t *testing.T) {
	prio, never := int32(2000001000), corev1.PreemptNever
	v := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Spec: corev1.PodSpec{
		PriorityClassName: "batch",
		Priority:          &prio,
		PreemptionPolicy:  &never,
		Containers:        []corev1.Container{{Name: "app", Image: "nginx"}},
	}}
	h, err := ToHostPod(testInput(t), v)
	if err != nil {
		t.Fatal(err)
	}
	if h.Spec.Priority != nil || h.Spec.PreemptionPolicy != nil || h.Spec.PriorityClassName != "batch" {
		t.Errorf("host priority %v preemption %v class %q, want no priority, no preemption policy, class batch", h.Spec.Priority, h.Spec.PreemptionPolicy, h.Spec.PriorityClassName)
	}
}

// A container's variable set twice is kept once with its last value, as
// the kubelet reads it, unless a variable refers to it with $(NAME): its
// value would then depend on the order, and the pod is refused naming the
// field.
func TestToHostPodOwnEnvSetTwice(t *testing.T) {
	in := testInput(t)
	mk := func(env ...corev1.EnvVar) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"}, Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init"}},
			Containers:     []corev1.Container{{Name: "c", Env: env}}}}
	}
	h, err := ToHostPod(in, mk(corev1.EnvVar{Name: "MODE", Value: "first"}, corev1.EnvVar{Name: "OTHER", Value: "$(HOME)"}, corev1.EnvVar{Name: "MODE", Value: "last"}))
	if err != nil {
		t.Fatal(err)
	}
	var own []string
	for _, e := range h.Spec.Containers[0].Env {
		if e.Name == "MODE" || e.Name == "OTHER" {
			own = append(own, e.Name+"="+e.Value)
		}
	}
	if strings.Join(own, " ") != "MODE=last OTHER=$(HOME)" {
		t.Errorf("host container's own variables: %v, want [MODE=last OTHER=$(HOME)]", own)
	}
	_, err = ToHostPod(in, mk(corev1.EnvVar{Name: "MODE", Value: "first"}, corev1.EnvVar{Name: "URL", Value: "http://x/$(MODE)"}, corev1.EnvVar{Name: "MODE", Value: "last"}))
	if err == nil || !strings.Contains(err.Error(), "spec.containers[0]: env[2].name") || !strings.Contains(err.Error(), "env[1] refers to it as $(MODE)") {
		t.Fatalf("got %v, want a refusal naming spec.containers[0].env[2].name and the reference in env[1]", err)
	}
}

// A port listed twice under two names cannot keep both: the pod is
// refused, naming the field.
func TestToHostPodPortNamedTwice(t *testing.T) {
	in := testInput(t)
	v := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {Name: "web", ContainerPort: 80}}}}}}
	_, err := ToHostPod(in, v)
	if err == nil || !strings.Contains(err.Error(), "spec.containers[0]: ports[1]: port 80/TCP is listed again as \"web\" after \"http\"") {
		t.Fatalf("got %v, want a refusal naming spec.containers[0]: ports[1]", err)
	}
}
