package kubeletproxy_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vclusterkit/vclusterkit/sync/kubeletproxy"
)

func TestParsePath(t *testing.T) {
	for _, c := range []struct {
		path string
		want kubeletproxy.Request
		err  string
	}{
		{"/containerLogs/ns/pod.a/c", kubeletproxy.Request{Kind: "containerLogs", Namespace: "ns", Pod: "pod.a", Container: "c"}, ""},
		{"/exec/ns/p/c", kubeletproxy.Request{Kind: "exec", Namespace: "ns", Pod: "p", Container: "c"}, ""},
		{"/attach/ns/p/c", kubeletproxy.Request{Kind: "attach", Namespace: "ns", Pod: "p", Container: "c"}, ""},
		{"/portForward/ns/p", kubeletproxy.Request{Kind: "portForward", Namespace: "ns", Pod: "p"}, ""},
		{"/portForward/ns/p/c", kubeletproxy.Request{}, "want /portForward/{namespace}/{pod}"},
		{"/exec/ns/p", kubeletproxy.Request{}, "want /exec/{namespace}/{pod}/{container}"},
		{"/run/ns/p/c", kubeletproxy.Request{}, `"run" is not served`},
		{"/exec/../p/c", kubeletproxy.Request{}, "namespace"},
		{"/exec/ns/../c", kubeletproxy.Request{}, "pod"},
		{"/exec/ns/p%2Fq/c", kubeletproxy.Request{}, "escaped characters"},
		{"/exec/ns/p/C", kubeletproxy.Request{}, "container"},
		{"/exec/ns/p/c/", kubeletproxy.Request{}, "want /exec"},
		{"exec/ns/p/c", kubeletproxy.Request{}, "must start with /"},
	} {
		got, err := kubeletproxy.ParsePath(c.path)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParsePath(%q): error %v, want one with %q", c.path, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePath(%q): %v", c.path, err)
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("ParsePath(%q) (-want +got):\n%s", c.path, d)
		}
	}
}
