package vclusterkit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	vclusterkit "github.com/vclusterkit/vclusterkit"
	"github.com/vclusterkit/vclusterkit/sync/translate"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/dns"
)

// TestVirtualClusterDNS: every virtual cluster gets its own CoreDNS
// (kube-system/coredns behind kube-system/kube-dns, forwarding to the
// node's resolvers on a host without a DNS Service), its pods resolve
// through that Service's host IP with the virtual namespace's search
// paths, and a tenant who deletes the DNS gets it back. (Names resolving
// for real is internal/e2e/realnode's TestDNS.)
func TestVirtualClusterDNS(t *testing.T) {
	host.LogsOnFailure(t)
	ctx := context.Background()
	createTenant(t, "dnsco", "")
	createSpace(t, "dnsco", "dnsco")
	eventually(t, 60*time.Second, "the tenant namespace", func(ctx context.Context) (bool, string) {
		err := hostC.Get(ctx, client.ObjectKey{Name: "dnsco"}, &corev1.Namespace{})
		return err == nil, fmt.Sprint(err)
	})
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "lab", Namespace: "dnsco"},
		Spec: vcluster.VirtualClusterSpec{Tenant: "dnsco", HostNamespace: "dnsco-vc-lab"}}
	if err := hostC.Create(ctx, vc); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, "the virtual cluster to run", func(ctx context.Context) (bool, string) {
		got, err := getVC(ctx, "dnsco", "lab")
		if err != nil {
			return false, err.Error()
		}
		return got.Status.Phase == vcluster.PhaseRunning, fmt.Sprintf("phase %s", got.Status.Phase)
	})
	got, _ := getVC(ctx, "dnsco", "lab")
	admin := virtualClientFromSecret(t, "dnsco", got.Status.KubeconfigSecret.Name)
	depKey := client.ObjectKey{Namespace: dns.Namespace, Name: dns.Name}
	var dep appsv1.Deployment
	if err := admin.Get(ctx, depKey, &dep); err != nil {
		t.Fatalf("the virtual cluster's DNS Deployment: %v", err)
	}
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != dns.DefaultImage {
		t.Errorf("DNS image %q, want the default %q", img, dns.DefaultImage)
	}
	var cm corev1.ConfigMap
	if err := admin.Get(ctx, client.ObjectKey{Namespace: dns.Namespace, Name: dns.Name}, &cm); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cm.Data["Corefile"], "forward . "+dns.ResolvConf) {
		t.Errorf("Corefile on a host without a DNS Service should forward to the node's resolvers:\n%s", cm.Data["Corefile"])
	}

	// A tenant pod resolves through the host copy of kube-dns.
	tr, err := translate.New("lab", "dnsco-vc-lab")
	if err != nil {
		t.Fatal(err)
	}
	var hostDNS corev1.Service
	eventually(t, 60*time.Second, "the DNS Service on the host", func(ctx context.Context) (bool, string) {
		err := hostC.Get(ctx, client.ObjectKey{Namespace: "dnsco-vc-lab", Name: tr.HostName(dns.ServiceName, dns.Namespace)}, &hostDNS)
		return err == nil && hostDNS.Spec.ClusterIP != "", fmt.Sprint(err)
	})
	if err := admin.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.invalid/c:1"}}}}); err != nil {
		t.Fatal(err)
	}
	var hp corev1.Pod
	eventually(t, 60*time.Second, "the app's host pod", func(ctx context.Context) (bool, string) {
		err := hostC.Get(ctx, client.ObjectKey{Namespace: "dnsco-vc-lab", Name: tr.HostName("app", "default")}, &hp)
		return err == nil, fmt.Sprint(err)
	})
	if hp.Spec.DNSPolicy != corev1.DNSNone || hp.Spec.DNSConfig == nil || len(hp.Spec.DNSConfig.Nameservers) == 0 ||
		hp.Spec.DNSConfig.Nameservers[0] != hostDNS.Spec.ClusterIP || hp.Spec.DNSConfig.Searches[0] != "default.svc.cluster.local" {
		t.Errorf("host pod DNS %s %+v, want nameserver %s and the search path of default", hp.Spec.DNSPolicy, hp.Spec.DNSConfig, hostDNS.Spec.ClusterIP)
	}

	// Deleted by the tenant, it comes back.
	if err := admin.Delete(ctx, &dep); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the DNS Deployment re-applied", func(ctx context.Context) (bool, string) {
		var again appsv1.Deployment
		err := admin.Get(ctx, depKey, &again)
		return err == nil && again.UID != dep.UID, fmt.Sprint(err)
	})
}

// Bad DNS options are refused by New, naming the field.
func TestDNSOptionsValidated(t *testing.T) {
	for _, tc := range []struct {
		o    dns.Options
		want string
	}{
		{dns.Options{Upstreams: []string{"dns.example.com"}}, "vclusterkit.Options.DNS.Upstreams[0]"},
		{dns.Options{Upstreams: []string{"10.0.0.10:99999"}}, "vclusterkit.Options.DNS.Upstreams[0]"},
		{dns.Options{ClusterDomain: "Not_A.Domain"}, "vclusterkit.Options.DNS.ClusterDomain"},
		{dns.Options{ImagePullPolicy: "Sometimes"}, "vclusterkit.Options.DNS.ImagePullPolicy"},
	} {
		_, err := vclusterkit.New(host.Config, vclusterkit.Options{DNS: tc.o})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New with DNS %+v: got %v, want an error naming %s", tc.o, err, tc.want)
		}
	}
}
