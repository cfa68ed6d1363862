package quota

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestParseCountResource(t *testing.T) {
	for key, want := range map[corev1.ResourceName]*schema.GroupResource{
		"count/configmaps":          {Resource: "configmaps"},
		"configmaps":                {Resource: "configmaps"},
		"secrets":                   {Resource: "secrets"},
		"count/deployments.apps":    {Group: "apps", Resource: "deployments"},
		"count/widgets.example.com": {Group: "example.com", Resource: "widgets"},
		"count/pods":                {Resource: "pods"},
		"pods":                      {Resource: "pods"},
		"count/":                    nil,
		"count/.apps":               nil,
		"cpu":                       nil,
		"requests.storage":          nil,
		"services.loadbalancers":    nil,
		"fast.storageclass.storage.k8s.io/persistentvolumeclaims": nil,
	} {
		got, ok := ParseCountResource(key)
		if want == nil {
			if ok {
				t.Errorf("%s: counts %v; want not a count", key, got)
			}
			continue
		}
		if !ok || got != *want {
			t.Errorf("%s: got %v, %v; want %v", key, got, ok, *want)
		}
		// CountKey is the count/ form of the same resource.
		if back, ok := ParseCountResource(CountKey(got)); !ok || back != got {
			t.Errorf("%s: CountKey %s parses back as %v, %v", key, CountKey(got), back, ok)
		}
	}
}

func TestCountUsage(t *testing.T) {
	cmpRL(t, "configmaps", rl("count/configmaps", "1", "configmaps", "1"), CountUsage(schema.GroupResource{Resource: "configmaps"}))
	cmpRL(t, "deployments", rl("count/deployments.apps", "1"), CountUsage(schema.GroupResource{Group: "apps", Resource: "deployments"}))
	cmpRL(t, "endpoints", rl("count/endpoints", "1"), CountUsage(schema.GroupResource{Resource: "endpoints"}))
}

// The resources a tree counts, beyond the priced ones, sorted and once each.
func TestCountedResources(t *testing.T) {
	got := CountedResources([]Node{
		{Name: "a", Hard: rl("count/configmaps", "3", "configmaps", "4", "count/pods", "5", "cpu", "1")},
		{Name: "b", Parent: "a", Hard: rl("count/deployments.apps", "1", "secrets", "2", "count/services", "1", "persistentvolumeclaims", "2")},
		{Name: "c", Parent: "a", Hard: rl("count/widgets.example.com", "1")},
	})
	want := []schema.GroupResource{{Resource: "configmaps"}, {Resource: "secrets"}, {Group: "apps", Resource: "deployments"}, {Group: "example.com", Resource: "widgets"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
