// Package webhookkit is what the admission webhooks of this module
// (quota/admission, tenancy/webhook) share: reading an AdmissionReview off
// an HTTP request and writing the answer, and writing a
// ValidatingWebhookConfiguration that points at a URL or a Service. It
// decides nothing itself.
package webhookkit

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// maxBody caps what is read of a review (the API server's own limit on a
// request is 3 MiB of object; reviews carry two).
const maxBody = 8 << 20

// ReadRequest reads the admission.k8s.io/v1 AdmissionReview of a POST and
// returns its request. On anything else it answers the HTTP request itself
// (405, 400) and returns nil.
func ReadRequest(rw http.ResponseWriter, r *http.Request) *admissionv1.AdmissionRequest {
	if r.Method != http.MethodPost {
		http.Error(rw, "POST an AdmissionReview", http.StatusMethodNotAllowed)
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return nil
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		http.Error(rw, "body is not an admission.k8s.io/v1 AdmissionReview with a request", http.StatusBadRequest)
		return nil
	}
	return review.Request
}

// WriteResponse answers req with resp (its UID set to the request's).
func WriteResponse(rw http.ResponseWriter, req *admissionv1.AdmissionRequest, resp *admissionv1.AdmissionResponse) {
	resp.UID = req.UID
	out := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Response: resp}
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(out)
}

// ClientConfig points the API server at a webhook: by URL, or through
// service (whose Path defaults to path: a webhook served at a path of its
// own answers nothing at "/"). Exactly one of url and service is expected.
func ClientConfig(url string, service *admissionregistrationv1.ServiceReference, path string, caBundle []byte) admissionregistrationv1.WebhookClientConfig {
	cc := admissionregistrationv1.WebhookClientConfig{CABundle: caBundle}
	if url != "" {
		u := url
		cc.URL = &u
		return cc
	}
	cc.Service = service.DeepCopy()
	if cc.Service.Path == nil {
		p := path
		cc.Service.Path = &p
	}
	return cc
}

// Apply creates or updates the ValidatingWebhookConfiguration name to hold
// exactly webhook, labelled as managed by vclusterkit.
func Apply(ctx context.Context, c client.Client, name string, webhook admissionregistrationv1.ValidatingWebhook) (*admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	_, err := controllerutil.CreateOrUpdate(ctx, c, cfg, func() error {
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels["app.kubernetes.io/managed-by"] = "vclusterkit"
		cfg.Webhooks = []admissionregistrationv1.ValidatingWebhook{webhook}
		return nil
	})
	return cfg, err
}
