package dns_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/vclusterkit/vclusterkit/vcluster/dns"
)

// The DNS pod passes the restricted Pod Security Standard (so any tenant
// policy admits it), names no priority class, and its Service maps 53 to
// the unprivileged port; the Corefile forwards to the upstreams given.
func TestObjects(t *testing.T) {
	objs, err := dns.Objects(dns.Options{Upstreams: []string{"10.96.0.10"}})
	if err != nil {
		t.Fatal(err)
	}
	var dep *appsv1.Deployment
	var svc *corev1.Service
	var cm *corev1.ConfigMap
	for _, o := range objs {
		switch v := o.(type) {
		case *appsv1.Deployment:
			dep = v
		case *corev1.Service:
			svc = v
		case *corev1.ConfigMap:
			cm = v
		}
	}
	if dep == nil || svc == nil || cm == nil {
		t.Fatalf("objects %v lack a Deployment, Service or ConfigMap", objs)
	}
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res := policy.AggregateCheckResults(ev.EvaluatePod(psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()},
		&dep.Spec.Template.ObjectMeta, &dep.Spec.Template.Spec))
	if !res.Allowed {
		t.Errorf("the DNS pod violates restricted: %s", res.ForbiddenDetail())
	}
	if dep.Spec.Template.Spec.PriorityClassName != "" {
		t.Errorf("the DNS pod names priority class %q", dep.Spec.Template.Spec.PriorityClassName)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if c.Image != dns.DefaultImage || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("container image %q resources %+v, want the default image with memory requests and limits", c.Image, c.Resources)
	}
	if svc.Name != dns.ServiceName || svc.Namespace != dns.Namespace || svc.Spec.Ports[0].Port != 53 {
		t.Errorf("Service %s/%s ports %+v", svc.Namespace, svc.Name, svc.Spec.Ports)
	}
	for _, want := range []string{".:1053", "kubernetes cluster.local in-addr.arpa ip6.arpa", "forward . 10.96.0.10"} {
		if !strings.Contains(cm.Data["Corefile"], want) {
			t.Errorf("Corefile lacks %q:\n%s", want, cm.Data["Corefile"])
		}
	}
}

// Bad options are refused naming the field, and Objects writes nothing.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		o    dns.Options
		want string
	}{
		{dns.Options{Upstreams: []string{"dns.example.com"}}, "dns.Upstreams[0]"},
		{dns.Options{Upstreams: []string{"10.0.0.10:0"}}, "dns.Upstreams[0]"},
		{dns.Options{ClusterDomain: "Bad_Domain"}, "dns.ClusterDomain"},
		{dns.Options{ImagePullPolicy: "Sometimes"}, "dns.ImagePullPolicy"},
		{dns.Options{Image: "coredns {{ .Evil }}"}, "dns.Image"},
	} {
		err := tc.o.Validate(field.NewPath("dns"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tc.o, err, tc.want)
		}
		if objs, err := dns.Objects(tc.o); err == nil || objs != nil {
			t.Errorf("Objects(%+v) = %d objects, %v; want none and an error", tc.o, len(objs), err)
		}
	}
	for _, ok := range []dns.Options{{}, {Upstreams: []string{dns.ResolvConf, "10.0.0.10:5353", "fd00::10"}}, {ClusterDomain: "corp.example"}} {
		if err := ok.Validate(field.NewPath("dns")); err != nil {
			t.Errorf("Validate(%+v): %v", ok, err)
		}
	}
}
