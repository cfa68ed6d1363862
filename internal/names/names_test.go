package names

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestDNSSafeNeverCollides(t *testing.T) {
	inputs := []string{"bob", "Bob", "BOB", "bob.smith", "bob-smith", "bob_smith", "bob@example.com", "bob-example-com",
		"ünïcödé", "", "-", "a-very-long-user-name-from-an-identity-provider-0001", "a-very-long-user-name-from-an-identity-provider-0002"}
	seen := map[string]string{}
	for _, in := range inputs {
		got := DNSSafe(in)
		if errs := validation.IsDNS1123Label(got); len(errs) > 0 {
			t.Errorf("DNSSafe(%q) = %q: not a DNS label: %v", in, got, errs)
		}
		if len(got) > 40 {
			t.Errorf("DNSSafe(%q) = %q: longer than 40", in, got)
		}
		if prev, ok := seen[got]; ok {
			t.Errorf("DNSSafe(%q) = DNSSafe(%q) = %q", in, prev, got)
		}
		seen[got] = in
	}
	if got := DNSSafe("alice"); got != "alice" {
		t.Errorf("a safe name must stay readable: DNSSafe(alice) = %q", got)
	}
}
