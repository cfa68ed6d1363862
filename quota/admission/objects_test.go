package admission_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/admission"
)

func raw(t *testing.T, obj any) runtime.RawExtension {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return runtime.RawExtension{Raw: b}
}

func service(uid, rv string, typ corev1.ServiceType) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", UID: types.UID(uid), ResourceVersion: rv},
		Spec: corev1.ServiceSpec{Type: typ, Ports: []corev1.ServicePort{{Port: 80}}}}
}

func claim(uid, rv, size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", UID: types.UID(uid), ResourceVersion: rv},
		Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: rl("storage", size)}}}
}

// Unit test of the decisions for claims and Services; the API server behaviour is in
// objects_integration_test.go.
func TestReviewClaimsAndServices(t *testing.T) {
	l := quota.NewLedger(quota.LedgerOptions{})
	if err := l.SetNodes([]quota.Node{{Name: "acme", Hard: rl("services.loadbalancers", "1", "requests.storage", "5Gi")}}); err != nil {
		t.Fatal(err)
	}
	w := &admission.Webhook{Ledger: l, Resolver: admission.ResolverFunc(func(context.Context, string) (admission.Namespace, error) {
		return admission.Namespace{Node: "acme"}, nil
	})}
	svcKind := metav1.GroupVersionKind{Version: "v1", Kind: "Service"}
	pvcKind := metav1.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"}
	dry := true
	steps := []struct {
		name    string
		req     admissionv1.AdmissionRequest
		allowed bool
		msg     string
	}{
		{"ClusterIP create", admissionv1.AdmissionRequest{Kind: svcKind, Operation: admissionv1.Create, Object: raw(t, service("s1", "", ""))}, true, ""},
		{"LoadBalancer create", admissionv1.AdmissionRequest{Kind: svcKind, Operation: admissionv1.Create, Object: raw(t, service("s2", "", corev1.ServiceTypeLoadBalancer))}, true, ""},
		{"second LoadBalancer refused", admissionv1.AdmissionRequest{Kind: svcKind, Operation: admissionv1.Create, Object: raw(t, service("s3", "", corev1.ServiceTypeLoadBalancer))},
			false, "services.loadbalancers: requested 1"},
		{"ClusterIP -> LoadBalancer update refused at the limit", admissionv1.AdmissionRequest{Kind: svcKind, Operation: admissionv1.Update,
			Object: raw(t, service("s1", "7", corev1.ServiceTypeLoadBalancer)), OldObject: raw(t, service("s1", "7", ""))}, false, "services.loadbalancers"},
		{"LoadBalancer -> ClusterIP update needs nothing", admissionv1.AdmissionRequest{Kind: svcKind, Operation: admissionv1.Update,
			Object: raw(t, service("s2", "8", "")), OldObject: raw(t, service("s2", "8", corev1.ServiceTypeLoadBalancer))}, true, ""},
		{"service delete is not charged", admissionv1.AdmissionRequest{Kind: svcKind, Operation: admissionv1.Delete, OldObject: raw(t, service("s1", "7", ""))}, true, ""},
		{"claim create", admissionv1.AdmissionRequest{Kind: pvcKind, Operation: admissionv1.Create, Object: raw(t, claim("c1", "", "2Gi"))}, true, ""},
		{"claim expansion within the limit", admissionv1.AdmissionRequest{Kind: pvcKind, Operation: admissionv1.Update,
			Object: raw(t, claim("c1", "3", "4Gi")), OldObject: raw(t, claim("c1", "3", "2Gi"))}, true, ""},
		{"claim expansion over the limit", admissionv1.AdmissionRequest{Kind: pvcKind, Operation: admissionv1.Update,
			Object: raw(t, claim("c1", "4", "6Gi")), OldObject: raw(t, claim("c1", "4", "4Gi"))}, false, "requests.storage: requested 2Gi"},
		{"dry-run claim over the limit", admissionv1.AdmissionRequest{Kind: pvcKind, Operation: admissionv1.Create, DryRun: &dry, Object: raw(t, claim("", "", "2Gi"))},
			false, "requests.storage"},
		{"claim without uid", admissionv1.AdmissionRequest{Kind: pvcKind, Operation: admissionv1.Create, Object: raw(t, claim("", "", "1Mi"))}, false, "no uid"},
		{"undecodable claim", admissionv1.AdmissionRequest{Kind: pvcKind, Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: []byte(`{"spec":`)}},
			false, "cannot decode persistentvolumeclaim"},
		{"update without old object", admissionv1.AdmissionRequest{Kind: svcKind, Operation: admissionv1.Update, Object: raw(t, service("s1", "7", ""))},
			false, "cannot decode old service"},
		{"status subresource passes", admissionv1.AdmissionRequest{Kind: pvcKind, Operation: admissionv1.Update, SubResource: "status",
			Object: raw(t, claim("c1", "9", "100Gi")), OldObject: raw(t, claim("c1", "9", "1Gi"))}, true, ""},
	}
	for _, s := range steps {
		resp := w.Review(context.Background(), &s.req)
		if resp.Allowed != s.allowed {
			t.Fatalf("%s: allowed=%v, want %v: %+v", s.name, resp.Allowed, s.allowed, resp.Result)
		}
		if s.msg != "" && !strings.Contains(resp.Result.Message, s.msg) {
			t.Errorf("%s: message %q lacks %q", s.name, resp.Result.Message, s.msg)
		}
	}
	u, err := l.Usage("acme")
	if err != nil {
		t.Fatal(err)
	}
	// s1, s2 and c1 reserved under their UIDs, the expansion under its update key.
	want := rl("services", "2", "count/services", "2", "services.loadbalancers", "1", "services.nodeports", "1",
		"persistentvolumeclaims", "1", "count/persistentvolumeclaims", "1", "requests.storage", "4Gi")
	for k, v := range want {
		if got := u.Reserved[k]; got.Cmp(v) != 0 {
			t.Errorf("reserved %s = %s, want %s", k, got.String(), v.String())
		}
	}
	if charged, _ := l.Holds(admission.UpdateKey("c1", "3")); !charged {
		t.Error("the expansion is not reserved under its update key")
	}
}

func TestRulesCoverClaimsAndServices(t *testing.T) {
	got := map[string]string{}
	counted := []schema.GroupResource{{Resource: "configmaps"}, {Group: "apps", Resource: "deployments"},
		{Resource: "secrets"}, {Resource: "pods"}, {Group: "apps", Resource: "statefulsets"}}
	for _, r := range admission.Rules(counted...) {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, op := range r.Operations {
					got[g+"/"+res] += string(op) + " "
				}
			}
		}
	}
	// Pods are priced, never merely counted: no second rule for them.
	want := map[string]string{"/pods": "CREATE ", "/pods/resize": "UPDATE ", "/persistentvolumeclaims": "CREATE UPDATE ", "/services": "CREATE UPDATE ",
		"/configmaps": "CREATE ", "/secrets": "CREATE ", "apps/deployments": "CREATE ", "apps/statefulsets": "CREATE "}
	if len(got) != len(want) {
		t.Errorf("rules cover %v; want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: operations %q, want %q", k, got[k], v)
		}
	}
}
