package admission

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/webhookkit"
	"github.com/vclusterkit/vclusterkit/quota"
	"github.com/vclusterkit/vclusterkit/tenancy"
)

// InstallOptions describe the ValidatingWebhookConfiguration Install writes.
type InstallOptions struct {
	// Name of the configuration and of its webhook prefix; default "vclusterkit-quota".
	Name string
	// URL of the webhook (Server.URL), or Service when it runs behind a Service (its
	// Path defaults to Path); exactly one is required.
	URL     string
	Service *admissionregistrationv1.ServiceReference
	// CABundle is the PEM CA that signed the serving certificate (Certs.CAPEM); required.
	CABundle []byte
	// NamespaceSelector chooses the namespaces whose objects are checked; default: those
	// labelled with tenancy.LabelTenant.
	NamespaceSelector *metav1.LabelSelector
	// TimeoutSeconds; default 10.
	TimeoutSeconds int32
	// Counted are the resources, beyond pods, claims and Services, whose creates the
	// webhook counts (Webhook.Counted; quota.CountedResources of the tree). Install
	// again when they change.
	Counted []schema.GroupResource
}

// Install creates or updates the ValidatingWebhookConfiguration: one webhook with the
// Rules (pod creates and resizes; creates and updates of PersistentVolumeClaims and
// Services; creates of the Counted resources). The
// failure policy is Fail: when the webhook cannot be reached, those requests are refused
// rather than admitted without a quota check. Side effects are NoneOnDryRun: a dry run checks
// without reserving.
func Install(ctx context.Context, c client.Client, opts InstallOptions) (*admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	if (opts.URL == "") == (opts.Service == nil) {
		return nil, errors.New("admission: install: exactly one of InstallOptions.URL and InstallOptions.Service is required")
	}
	if len(opts.CABundle) == 0 {
		return nil, errors.New("admission: install: InstallOptions.CABundle is required")
	}
	if opts.Name == "" {
		opts.Name = "vclusterkit-quota"
	}
	if opts.TimeoutSeconds == 0 {
		opts.TimeoutSeconds = 10
	}
	sel := opts.NamespaceSelector
	if sel == nil {
		sel = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: tenancy.LabelTenant, Operator: metav1.LabelSelectorOpExists}}}
	}
	fail := admissionregistrationv1.Fail
	sideEffects := admissionregistrationv1.SideEffectClassNoneOnDryRun
	equivalent := admissionregistrationv1.Equivalent
	cfg, err := webhookkit.Apply(ctx, c, opts.Name, admissionregistrationv1.ValidatingWebhook{
		Name:                    opts.Name + ".quota.vclusterkit.io",
		ClientConfig:            webhookkit.ClientConfig(opts.URL, opts.Service, Path, opts.CABundle),
		Rules:                   Rules(opts.Counted...),
		FailurePolicy:           &fail,
		MatchPolicy:             &equivalent,
		SideEffects:             &sideEffects,
		NamespaceSelector:       sel.DeepCopy(),
		TimeoutSeconds:          &opts.TimeoutSeconds,
		AdmissionReviewVersions: []string{"v1"},
	})
	if err != nil {
		return nil, fmt.Errorf("admission: install %s: %w", opts.Name, err)
	}
	return cfg, nil
}

// Rules are the requests the webhook is registered for: CREATE of pods, UPDATE of
// pods/resize (an in-place resize is charged its increase), CREATE and UPDATE of
// persistentvolumeclaims and services (an update is charged its increase, see
// Webhook.Review), and CREATE of every counted resource (any version of its group: the
// webhook counts objects, whatever version they are written in). Other subresources
// (status, binding) are not matched.
func Rules(counted ...schema.GroupResource) []admissionregistrationv1.RuleWithOperations {
	scope := admissionregistrationv1.NamespacedScope
	rule := func(group, version string, resources ...string) admissionregistrationv1.Rule {
		return admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{version}, Resources: resources, Scope: &scope}
	}
	create := []admissionregistrationv1.OperationType{admissionregistrationv1.Create}
	update := []admissionregistrationv1.OperationType{admissionregistrationv1.Update}
	out := []admissionregistrationv1.RuleWithOperations{
		{Operations: create, Rule: rule("", "v1", "pods")},
		{Operations: update, Rule: rule("", "v1", "pods/resize")},
		{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
			Rule: rule("", "v1", "persistentvolumeclaims", "services")},
	}
	byGroup := map[string][]string{}
	var groups []string
	for _, gr := range counted {
		if quota.Priced(gr) {
			continue
		}
		if _, ok := byGroup[gr.Group]; !ok {
			groups = append(groups, gr.Group)
		}
		if !slices.Contains(byGroup[gr.Group], gr.Resource) {
			byGroup[gr.Group] = append(byGroup[gr.Group], gr.Resource)
		}
	}
	sort.Strings(groups)
	for _, g := range groups {
		res := byGroup[g]
		sort.Strings(res)
		out = append(out, admissionregistrationv1.RuleWithOperations{Operations: create, Rule: rule(g, "*", res...)})
	}
	return out
}
