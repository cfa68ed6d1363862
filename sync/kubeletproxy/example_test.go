package kubeletproxy_test

import (
	"fmt"

	"github.com/vclusterkit/vclusterkit/sync/kubeletproxy"
)

func ExampleParsePath() {
	r, err := kubeletproxy.ParsePath("/exec/shop/web-0/app")
	fmt.Println(r.Kind, r.Namespace, r.Pod, r.Container, err)
	_, err = kubeletproxy.ParsePath("/containerLogs/shop/web%2F..%2Fx/app")
	fmt.Println(err)
	// Output:
	// exec shop web-0 app <nil>
	// path "/containerLogs/shop/web%2F..%2Fx/app": pod "web%2F..%2Fx": escaped characters are not allowed in names
}
