package kubeletproxy_test

import (
	"context"
	"net"
	"runtime"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/vclusterkit/vclusterkit/internal/pki"
	"github.com/vclusterkit/vclusterkit/sync/kubeletproxy"
)

// BenchmarkIdleServerMemory reports what one more virtual cluster's kubelet
// API costs the engine while nobody uses it: b.N servers, each with its
// own certificates and listener, serving (Start) and idle; the Go heap and
// goroutine stacks in use after a double GC, minus the same before, over
// b.N. Streams in use cost what their buffers hold on top (proxied with
// FlushInterval -1, nothing is buffered beyond the copy buffers).
//
//	go test -run '^$' -bench IdleServerMemory -benchtime 200x ./sync/kubeletproxy/
func BenchmarkIdleServerMemory(b *testing.B) {
	ca, err := pki.NewCA("kubelet-ca")
	if err != nil {
		b.Fatal(err)
	}
	serving, err := pki.ServingCert(ca, "vclusterkit-kubelet", nil, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	reader := fake.NewClientBuilder().Build()
	inUse := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := inUse()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := kubeletproxy.New(kubeletproxy.Options{
			VirtualCluster: "vc", HostNamespace: "vc-host",
			Virtual: reader, Host: reader, HostConfig: &rest.Config{Host: "https://127.0.0.1:6443"},
			ClientCA: ca.Cert, ClientName: "kube-apiserver-kubelet-client",
			Cert: serving.Cert, Key: serving.Key,
		})
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = s.Start(ctx) }()
	}
	b.StopTimer()
	runtime.Gosched()
	after := inUse()
	b.ReportMetric((float64(after)-float64(before))/float64(b.N), "bytes/server")
}
