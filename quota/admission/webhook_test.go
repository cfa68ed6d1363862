package admission_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/quota/admission"
)

// Unit tests of the decision alone; the webhook's behaviour in the API server is tested in
// webhook_integration_test.go.
func TestReviewFailsClosed(t *testing.T) {
	l := quota.NewLedger(quota.LedgerOptions{})
	if err := l.SetNodes([]quota.Node{{Name: "acme", Hard: rl("count/pods", "5")}}); err != nil {
		t.Fatal(err)
	}
	resolver := admission.ResolverFunc(func(_ context.Context, ns string) (admission.Namespace, error) {
		switch ns {
		case "broken":
			return admission.Namespace{}, errors.New("store down")
		case "free":
			return admission.Namespace{}, nil
		case "ghost":
			return admission.Namespace{Node: "deleted-tenant"}, nil
		}
		return admission.Namespace{Node: "acme"}, nil
	})
	w := &admission.Webhook{Ledger: l, Resolver: resolver}
	podKind := metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	good := []byte(`{"metadata":{"name":"p","uid":"u1"},"spec":{"containers":[{"name":"c"}]}}`)
	dry := true
	tests := []struct {
		name    string
		req     admissionv1.AdmissionRequest
		allowed bool
		msg     string
	}{
		{"admitted", admissionv1.AdmissionRequest{Kind: podKind, Operation: admissionv1.Create, Namespace: "acme-1", Object: runtime.RawExtension{Raw: good}}, true, ""},
		{"resolver error denies", admissionv1.AdmissionRequest{Kind: podKind, Operation: admissionv1.Create, Namespace: "broken", Object: runtime.RawExtension{Raw: good}}, false, "store down"},
		{"unknown node denies", admissionv1.AdmissionRequest{Kind: podKind, Operation: admissionv1.Create, Namespace: "ghost", Object: runtime.RawExtension{Raw: good}}, false, "unknown quota node"},
		{"undecodable pod denies", admissionv1.AdmissionRequest{Kind: podKind, Operation: admissionv1.Create, Namespace: "acme-1", Object: runtime.RawExtension{Raw: []byte(`{"spec":`)}}, false, "cannot decode"},
		{"pod without uid denies", admissionv1.AdmissionRequest{Kind: podKind, Operation: admissionv1.Create, Namespace: "acme-1", Object: runtime.RawExtension{Raw: []byte(`{"metadata":{"name":"p"}}`)}}, false, "no uid"},
		{"unmanaged namespace allowed", admissionv1.AdmissionRequest{Kind: podKind, Operation: admissionv1.Create, Namespace: "free", Object: runtime.RawExtension{Raw: good}}, true, ""},
		{"updates are not charged", admissionv1.AdmissionRequest{Kind: podKind, Operation: admissionv1.Update, Namespace: "broken", Object: runtime.RawExtension{Raw: good}}, true, ""},
		{"dry run checks without reserving", admissionv1.AdmissionRequest{Kind: podKind, Operation: admissionv1.Create, Namespace: "acme-1", DryRun: &dry,
			Object: runtime.RawExtension{Raw: []byte(`{"metadata":{"name":"p"}}`)}}, true, ""},
	}
	for _, tc := range tests {
		resp := w.Review(context.Background(), &tc.req)
		if resp.Allowed != tc.allowed {
			t.Errorf("%s: allowed=%v: %+v", tc.name, resp.Allowed, resp.Result)
			continue
		}
		if tc.msg != "" && !strings.Contains(resp.Result.Message, tc.msg) {
			t.Errorf("%s: message %q lacks %q", tc.name, resp.Result.Message, tc.msg)
		}
	}
	if u, _ := l.Usage("acme"); u.Reserved.Name("count/pods", "").Value() != 1 {
		t.Errorf("want exactly one reservation (dry run reserves nothing), got %v", u.Reserved)
	}

	// Over HTTP: a bad body is a 400, a review gets its UID echoed.
	srv := httptest.NewServer(w)
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader("nope"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad body: status %d", resp.StatusCode)
	}
	body, _ := json.Marshal(admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "review-1", Kind: podKind, Operation: admissionv1.Create, Namespace: "broken", Object: runtime.RawExtension{Raw: good}}})
	resp, err = http.Post(srv.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Response == nil || out.Response.UID != "review-1" || out.Response.Allowed {
		t.Errorf("review response: %+v", out.Response)
	}
}
