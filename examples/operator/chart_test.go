package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/vclusterkit/vclusterkit/fleet"
	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

const (
	chartDir       = "chart"
	testRelease    = "vck"
	testNamespace  = "vclusterkit-system"
	testFullname   = "vck-vclusterkit-operator"
	labelName      = "app.kubernetes.io/name"
	labelInstance  = "app.kubernetes.io/instance"
	labelManagedBy = "app.kubernetes.io/managed-by"
)

// rendered is the chart rendered for one set of values, decoded.
type rendered struct {
	objects []client.Object
	crds    []*apiextensionsv1.CustomResourceDefinition
}

func (r rendered) find(kind, name string) client.Object {
	for _, o := range r.objects {
		if o.GetObjectKind().GroupVersionKind().Kind == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func (r rendered) deployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	d, ok := r.find("Deployment", testFullname).(*appsv1.Deployment)
	if !ok {
		t.Fatalf("no Deployment %s in the rendered chart", testFullname)
	}
	return d
}

// renderChart renders the chart the way `helm install --dry-run` does,
// without a cluster, and decodes every object with the client-go scheme.
func renderChart(t *testing.T, values map[string]any) (rendered, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	cfg := &action.Configuration{Releases: storage.Init(driver.NewMemory()), KubeClient: &kubefake.PrintingKubeClient{},
		Capabilities: chartutil.DefaultCapabilities, Log: func(string, ...any) {}}
	in := action.NewInstall(cfg)
	in.ClientOnly, in.DryRun, in.ReleaseName, in.Namespace = true, true, testRelease, testNamespace
	rel, err := in.Run(ch, values)
	if err != nil {
		return rendered{}, err
	}
	sch := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(sch)
	_ = apiextensionsv1.AddToScheme(sch)
	dec := serializer.NewCodecFactory(sch).UniversalDeserializer()
	var out rendered
	for _, m := range releaseutil.SplitManifests(rel.Manifest) {
		if strings.TrimSpace(m) == "" {
			continue
		}
		obj, _, err := dec.Decode([]byte(m), nil, nil)
		if err != nil {
			t.Fatalf("decoding a rendered object: %v\n%s", err, m)
		}
		out.objects = append(out.objects, obj.(client.Object))
	}
	for _, f := range ch.CRDObjects() {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if _, _, err := dec.Decode(f.File.Data, nil, crd); err != nil {
			t.Fatalf("decoding CRD %s: %v", f.Filename, err)
		}
		out.crds = append(out.crds, crd)
	}
	return out, nil
}

func mustRender(t *testing.T, values map[string]any) rendered {
	t.Helper()
	r, err := renderChart(t, values)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	return r
}

// TestChartLint runs Helm's own linter (what `helm lint --strict` runs).
func TestChartLint(t *testing.T) {
	for _, vals := range []map[string]any{nil, {"replicaCount": 1, "leaderElection": map[string]any{"enabled": false}, "webhook": map[string]any{"enabled": false}}} {
		l := lint.All(chartDir, vals, testNamespace, false)
		for _, m := range l.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("helm lint (values %v): %s", vals, m)
			} else {
				t.Logf("helm lint: %s", m)
			}
		}
	}
}

// TestChartCRDsAreTheEmbeddedOnes keeps chart/crds byte-identical to the
// manifests `make generate` writes and the packages embed. After changing
// an API type: cp tenancy/crds/*.yaml vcluster/crds/*.yaml fleet/crds/*.yaml examples/operator/chart/crds/
func TestChartCRDsAreTheEmbeddedOnes(t *testing.T) {
	var want []string
	for _, dir := range []string{"../../tenancy/crds", "../../vcluster/crds", "../../fleet/crds"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no CRD manifests in %s: %v", dir, err)
		}
		for _, src := range files {
			want = append(want, filepath.Base(src))
			a, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(chartDir, "crds", filepath.Base(src)))
			if err != nil {
				t.Errorf("chart lacks CRD %s: %v (cp %s %s/crds/)", filepath.Base(src), err, src, chartDir)
				continue
			}
			if !bytes.Equal(a, b) {
				t.Errorf("chart/crds/%s differs from %s: copy it again", filepath.Base(src), src)
			}
		}
	}
	ents, err := os.ReadDir(filepath.Join(chartDir, "crds"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	sort.Strings(want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("chart/crds files (-generated +chart):\n%s", d)
	}

	// And what Helm loads from crds/ is what the packages install from code.
	r := mustRender(t, nil)
	var embedded []*apiextensionsv1.CustomResourceDefinition
	for _, f := range []func() ([]*apiextensionsv1.CustomResourceDefinition, error){tenancy.CRDs, vcluster.CRDs, fleet.CRDs} {
		crds, err := f()
		if err != nil {
			t.Fatal(err)
		}
		embedded = append(embedded, crds...)
	}
	byName := func(l []*apiextensionsv1.CustomResourceDefinition) map[string]apiextensionsv1.CustomResourceDefinitionSpec {
		m := map[string]apiextensionsv1.CustomResourceDefinitionSpec{}
		for _, c := range l {
			m[c.Name] = c.Spec
		}
		return m
	}
	if d := cmp.Diff(byName(embedded), byName(r.crds)); d != "" {
		t.Errorf("CRDs Helm installs differ from tenancy.CRDs()+vcluster.CRDs() (-embedded +chart):\n%s", d)
	}
}

// TestChartRendersOperator checks the objects, their labels and how they
// refer to each other with the default values.
func TestChartRendersOperator(t *testing.T) {
	r := mustRender(t, nil)
	var kinds []string
	for _, o := range r.objects {
		kind := o.GetObjectKind().GroupVersionKind().Kind
		kinds = append(kinds, kind+"/"+o.GetName())
		l := o.GetLabels()
		if l[labelName] != "vclusterkit-operator" || l[labelInstance] != testRelease || l[labelManagedBy] != "Helm" || l["helm.sh/chart"] != "vclusterkit-operator-0.1.0" {
			t.Errorf("%s %s labels = %v", kind, o.GetName(), l)
		}
		switch kind {
		case "ClusterRole", "ClusterRoleBinding":
			if o.GetNamespace() != "" {
				t.Errorf("%s %s is namespaced", kind, o.GetName())
			}
		default:
			if o.GetNamespace() != testNamespace {
				t.Errorf("%s %s in namespace %q, want the release namespace", kind, o.GetName(), o.GetNamespace())
			}
		}
	}
	sort.Strings(kinds)
	wantKinds := []string{
		"ClusterRole/" + testFullname, "ClusterRoleBinding/" + testFullname, "Deployment/" + testFullname, "PodDisruptionBudget/" + testFullname,
		"Role/" + testFullname + "-leader-election", "RoleBinding/" + testFullname + "-leader-election",
		"Service/" + testFullname + "-metrics", "Service/" + testFullname + "-webhook", "ServiceAccount/" + testFullname,
	}
	if d := cmp.Diff(wantKinds, kinds); d != "" {
		t.Errorf("rendered objects (-want +got):\n%s", d)
	}

	d := r.deployment(t)
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %d, want 2", *d.Spec.Replicas)
	}
	tpl := d.Spec.Template
	for k, v := range d.Spec.Selector.MatchLabels {
		if tpl.Labels[k] != v {
			t.Errorf("pod template lacks selector label %s=%s", k, v)
		}
	}
	if tpl.Spec.ServiceAccountName != testFullname {
		t.Errorf("serviceAccountName = %q", tpl.Spec.ServiceAccountName)
	}
	c := tpl.Spec.Containers[0]
	for _, a := range []string{"--leader-elect=true", "--leader-election-id=" + testFullname, "--skip-crd-install",
		"--webhook-service-name=" + testFullname + "-webhook", "--webhook-bind-address=:9443", "--provisioners=helm",
		"--health-probe-bind-address=:8081", "--metrics-bind-address=:8080"} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("container args %v lack %s", c.Args, a)
		}
	}
	// The binary must accept exactly these args.
	if _, err := parseFlags(c.Args, &bytes.Buffer{}); err != nil && !strings.Contains(err.Error(), "POD_NAMESPACE") {
		t.Errorf("the operator rejects the chart's args: %v", err)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			env[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	if env["POD_NAME"] != "metadata.name" || env["POD_NAMESPACE"] != "metadata.namespace" || env["POD_IP"] != "status.podIP" {
		t.Errorf("downward API env = %v", env)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if d := cmp.Diff(map[string]int32{"metrics": 8080, "probes": 8081, "webhook": 9443}, ports); d != "" {
		t.Errorf("container ports (-want +got):\n%s", d)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.LivenessProbe.HTTPGet.Port.StrVal != "probes" {
		t.Errorf("liveness probe = %+v", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Port.StrVal != "probes" {
		t.Errorf("readiness probe = %+v", c.ReadinessProbe)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v", c.Resources)
	}

	wh := r.find("Service", testFullname+"-webhook").(*corev1.Service)
	if wh.Spec.Selector[LabelLeader] != "true" {
		t.Errorf("webhook Service selector %v does not pick the leader only", wh.Spec.Selector)
	}
	met := r.find("Service", testFullname+"-metrics").(*corev1.Service)
	if _, ok := met.Spec.Selector[LabelLeader]; ok {
		t.Errorf("metrics Service selects the leader only: %v", met.Spec.Selector)
	}
	for _, svc := range []*corev1.Service{wh, met} {
		for k, v := range svc.Spec.Selector {
			if k != LabelLeader && tpl.Labels[k] != v {
				t.Errorf("Service %s selects %s=%s, which the pods lack", svc.Name, k, v)
			}
		}
		if _, ok := ports[svc.Spec.Ports[0].TargetPort.StrVal]; !ok {
			t.Errorf("Service %s targets port %q, which the container lacks", svc.Name, svc.Spec.Ports[0].TargetPort.StrVal)
		}
	}

	for _, name := range []string{testFullname, testFullname + "-leader-election"} {
		kind := "ClusterRoleBinding"
		if strings.HasSuffix(name, "election") {
			kind = "RoleBinding"
		}
		var subj []rbacv1.Subject
		switch b := r.find(kind, name).(type) {
		case *rbacv1.ClusterRoleBinding:
			subj = b.Subjects
		case *rbacv1.RoleBinding:
			subj = b.Subjects
		}
		if len(subj) != 1 || subj[0].Name != testFullname || subj[0].Namespace != testNamespace {
			t.Errorf("%s %s subjects = %+v", kind, name, subj)
		}
	}
}

// TestChartPodIsRestricted evaluates the pod template with the Pod Security
// Admission library at level restricted.
func TestChartPodIsRestricted(t *testing.T) {
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(vals map[string]any) []string {
		d := mustRender(t, vals).deployment(t)
		var bad []string
		for _, res := range ev.EvaluatePod(api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}, &d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec) {
			if !res.Allowed {
				bad = append(bad, res.ForbiddenReason+": "+res.ForbiddenDetail)
			}
		}
		return bad
	}
	if bad := check(nil); len(bad) > 0 {
		t.Errorf("default pod violates the restricted Pod Security Standard:\n  %s", strings.Join(bad, "\n  "))
	}
	// The check has teeth: loosening the values is caught.
	loose := map[string]any{"securityContext": map[string]any{"allowPrivilegeEscalation": true, "capabilities": map[string]any{"drop": []any{}}}}
	if bad := check(loose); len(bad) < 2 {
		t.Errorf("loosened securityContext not reported, got %v", bad)
	}
	d := mustRender(t, nil).deployment(t)
	c := d.Spec.Template.Spec.Containers[0]
	if c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("root filesystem is writable")
	}
}

// TestChartValuesOverride checks the values a platform team changes.
func TestChartValuesOverride(t *testing.T) {
	vals := map[string]any{}
	if err := yaml.Unmarshal([]byte(`
image: {repository: registry.example/vck/operator, tag: v9.9.9, pullPolicy: Always}
replicaCount: 3
resources: {requests: {cpu: 250m, memory: 256Mi}, limits: {memory: 1Gi}}
nodeSelector: {node-role.example/infra: "true"}
tolerations: [{key: infra, operator: Exists, effect: NoSchedule}]
provisioners: [helm, local]
operatorInstallsCRDs: true
webhook: {enabled: false}
logLevel: debug
serviceAccount: {name: platform-operator}
`), &vals); err != nil {
		t.Fatal(err)
	}
	r := mustRender(t, vals)
	d := r.deployment(t)
	tpl := d.Spec.Template.Spec
	c := tpl.Containers[0]
	if c.Image != "registry.example/vck/operator:v9.9.9" || c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("image = %s (%s)", c.Image, c.ImagePullPolicy)
	}
	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %d", *d.Spec.Replicas)
	}
	if got := c.Resources.Limits.Memory().String(); got != "1Gi" {
		t.Errorf("memory limit = %s", got)
	}
	if tpl.NodeSelector["node-role.example/infra"] != "true" || len(tpl.Tolerations) != 1 {
		t.Errorf("nodeSelector %v tolerations %v", tpl.NodeSelector, tpl.Tolerations)
	}
	if tpl.ServiceAccountName != "platform-operator" || r.find("ServiceAccount", "platform-operator") == nil {
		t.Errorf("service account name not applied: %q", tpl.ServiceAccountName)
	}
	for _, a := range []string{"--provisioners=helm,local", "--disable-quota-webhook", "--log-level=debug"} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("args %v lack %s", c.Args, a)
		}
	}
	if slices.Contains(c.Args, "--skip-crd-install") {
		t.Error("operatorInstallsCRDs: true still passes --skip-crd-install")
	}
	if r.find("Service", testFullname+"-webhook") != nil {
		t.Error("webhook.enabled: false still renders the webhook Service")
	}
	cr := r.find("ClusterRole", testFullname).(*rbacv1.ClusterRole)
	if !ruleAllows(cr.Rules, "apiextensions.k8s.io", "customresourcedefinitions", "create", "") {
		t.Error("operatorInstallsCRDs: true does not grant creating CRDs")
	}
	if cr := mustRender(t, nil).find("ClusterRole", testFullname).(*rbacv1.ClusterRole); ruleAllows(cr.Rules, "apiextensions.k8s.io", "customresourcedefinitions", "create", "") {
		t.Error("by default the operator may create CRDs; Helm installs them")
	}

	// Two active engines would fight: refused at render time.
	_, err := renderChart(t, map[string]any{"leaderElection": map[string]any{"enabled": false}})
	if err == nil || !strings.Contains(err.Error(), "leaderElection.enabled") {
		t.Errorf("2 replicas without leader election: err = %v", err)
	}
	one, err := renderChart(t, map[string]any{"leaderElection": map[string]any{"enabled": false}, "replicaCount": 1})
	if err != nil {
		t.Errorf("1 replica without leader election: %v", err)
	} else if one.find("PodDisruptionBudget", testFullname) != nil {
		t.Error("a PodDisruptionBudget with minAvailable 1 for a single replica would block every drain")
	}
}

// TestChartSchemaRefusesBadValues: values.schema.json catches mistakes at
// install time, with the field named.
func TestChartSchemaRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		vals map[string]any
		want string
	}{
		{map[string]any{"replicaCount": "two"}, "/replicaCount"},
		{map[string]any{"replicaCount": 0}, "/replicaCount"},
		{map[string]any{"provisioners": []any{"kamaji"}}, "/provisioners"},
		{map[string]any{"provisioners": []any{}}, "/provisioners"},
		{map[string]any{"logLevel": "loud"}, "/logLevel"},
		{map[string]any{"webhook": map[string]any{"port": 70000}}, "/webhook/port"},
		{map[string]any{"image": map[string]any{"pullPolicy": "Sometimes"}}, "/image/pullPolicy"},
	} {
		_, err := renderChart(t, tc.vals)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("values %v: err = %v, want a schema error naming %s", tc.vals, err, tc.want)
		}
	}
}

// ruleAllows is a minimal RBAC matcher for assertions on rendered roles;
// TestChartRBACOnAPIServer asks the real authorizer.
func ruleAllows(rules []rbacv1.PolicyRule, group, resource, verb, name string) bool {
	for _, r := range rules {
		if (slices.Contains(r.APIGroups, group) || slices.Contains(r.APIGroups, "*")) &&
			(slices.Contains(r.Resources, resource) || slices.Contains(r.Resources, "*")) &&
			(slices.Contains(r.Verbs, verb) || slices.Contains(r.Verbs, "*")) &&
			(len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, name)) {
			return true
		}
	}
	return false
}
