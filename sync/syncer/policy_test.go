package syncer_test

import (
	"strings"
	"testing"

	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

func TestPolicyValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		p    syncer.Policy
		want string
	}{
		{"zero", syncer.Policy{}, ""},
		{"full", syncer.Policy{PodSecurity: "restricted", NodeSelector: map[string]string{"example.com/pool": "a"}, AllowedRuntimeClasses: []string{"gvisor"}}, ""},
		{"level", syncer.Policy{PodSecurity: "strict"}, "Policy.PodSecurity"},
		{"selector key", syncer.Policy{NodeSelector: map[string]string{"bad key": "a"}}, "Policy.NodeSelector: key"},
		{"selector value", syncer.Policy{NodeSelector: map[string]string{"pool": "a b"}}, "Policy.NodeSelector[pool]"},
	} {
		err := c.p.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
