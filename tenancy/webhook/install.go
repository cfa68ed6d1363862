package webhook

import (
	"context"
	"errors"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/webhookkit"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// DefaultName is the name of the ValidatingWebhookConfiguration when
// InstallOptions.Name is empty.
const DefaultName = "vclusterkit-tenancy"

// InstallOptions describe the ValidatingWebhookConfiguration Install
// writes. The zero value is not enough: URL or Service, and CABundle, are
// required.
type InstallOptions struct {
	// Name of the configuration; its one webhook is named
	// <Name>.tenancy.vclusterkit.io. Default DefaultName.
	Name string
	// URL of the webhook (quota/admission Server.URLFor(Path)), or Service
	// when it runs behind a Service (its Path defaults to Path); exactly one
	// is required.
	URL     string
	Service *admissionregistrationv1.ServiceReference
	// CABundle is the PEM CA that signed the serving certificate
	// (quota/admission Certs.CAPEM); required.
	CABundle []byte
	// FailurePolicy applies when the API server cannot get a decision
	// (webhook unreachable, timed out, or Source failing). Default Ignore:
	// see the package documentation for why.
	FailurePolicy *admissionregistrationv1.FailurePolicyType
	// ObjectSelector limits the webhook to tenants and spaces whose labels
	// match (on an update, the old or the new labels); default all.
	ObjectSelector *metav1.LabelSelector
	// TimeoutSeconds; default 5.
	TimeoutSeconds int32
}

// Install creates or updates the ValidatingWebhookConfiguration: one
// webhook for CREATE and UPDATE of tenants and spaces (see Rules), side
// effects None (a dry run is decided exactly like a write), match policy
// Equivalent (a later API version is converted to the one the Validator
// decodes), and the failure policy of opts.
func Install(ctx context.Context, c client.Client, opts InstallOptions) (*admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	if (opts.URL == "") == (opts.Service == nil) {
		return nil, errors.New("webhook: install: exactly one of InstallOptions.URL and InstallOptions.Service is required")
	}
	if len(opts.CABundle) == 0 {
		return nil, errors.New("webhook: install: InstallOptions.CABundle is required")
	}
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if opts.TimeoutSeconds == 0 {
		opts.TimeoutSeconds = 5
	}
	if opts.TimeoutSeconds < 1 || opts.TimeoutSeconds > 30 {
		return nil, fmt.Errorf("webhook: install: InstallOptions.TimeoutSeconds: %d is outside 1..30", opts.TimeoutSeconds)
	}
	policy := admissionregistrationv1.Ignore
	if opts.FailurePolicy != nil {
		policy = *opts.FailurePolicy
		if policy != admissionregistrationv1.Ignore && policy != admissionregistrationv1.Fail {
			return nil, fmt.Errorf("webhook: install: InstallOptions.FailurePolicy: %q is neither Ignore nor Fail", policy)
		}
	}
	sideEffects := admissionregistrationv1.SideEffectClassNone
	equivalent := admissionregistrationv1.Equivalent
	cfg, err := webhookkit.Apply(ctx, c, opts.Name, admissionregistrationv1.ValidatingWebhook{
		Name:                    opts.Name + "." + tenancy.Group,
		ClientConfig:            webhookkit.ClientConfig(opts.URL, opts.Service, Path, opts.CABundle),
		Rules:                   Rules(),
		FailurePolicy:           &policy,
		MatchPolicy:             &equivalent,
		SideEffects:             &sideEffects,
		ObjectSelector:          opts.ObjectSelector.DeepCopy(),
		TimeoutSeconds:          &opts.TimeoutSeconds,
		AdmissionReviewVersions: []string{"v1"},
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: install %s: %w", opts.Name, err)
	}
	return cfg, nil
}

// Rules are the requests the Validator is registered for: CREATE and
// UPDATE of tenants and spaces in tenancy.GroupVersion. Status writes and
// deletes are not sent.
func Rules() []admissionregistrationv1.RuleWithOperations {
	scope := admissionregistrationv1.ClusterScope
	return []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule: admissionregistrationv1.Rule{
			APIGroups:   []string{tenancy.Group},
			APIVersions: []string{tenancy.GroupVersion.Version},
			Resources:   []string{"tenants", "spaces"},
			Scope:       &scope,
		},
	}}
}
