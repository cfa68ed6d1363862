package helm

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/internal/images"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/dns"
	"github.com/vclusterkit/vclusterkit/vcluster/helm"
)

// TestHelmVirtualCluster follows one Helm virtual cluster through its
// life on the real node, in order: its control plane runs in a real pod
// and answers; a workload runs in it, and kubectl logs, exec,
// port-forward and debug reach it; a pod resolves a Service by its short
// name through the virtual cluster's DNS; only the control plane reaches
// the engine's kubelet API; a pod uses its API server with in-cluster
// config; volumes carry the virtual cluster's content (a changed ConfigMap
// reaches the mounted file); a NetworkPolicy written inside it denies
// under the tenant's isolation; it sleeps and wakes
// with the workload kept; deleting it leaves nothing on the host.
func TestHelmVirtualCluster(t *testing.T) {
	ctx := context.Background()
	t.Cleanup(func() {
		if t.Failed() {
			bed.host.LogsOnFailure(t)
		}
	})

	t.Run("control plane runs in a real pod and answers", func(t *testing.T) {
		var pod corev1.Pod
		if err := bed.hostClient.Get(ctx, client.ObjectKey{Namespace: hostNS, Name: release + "-0"}, &pod); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"kine": images.Kine, "kube-apiserver": images.KubeAPIServer, "kube-controller-manager": images.KubeControllerManager}
		for _, c := range pod.Spec.Containers {
			if want[c.Name] != c.Image || c.ImagePullPolicy != corev1.PullNever {
				t.Errorf("container %s runs %s (pull %s), want %s (pull Never)", c.Name, c.Image, c.ImagePullPolicy, want[c.Name])
			}
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if !cs.Ready || cs.State.Running == nil {
				t.Errorf("container %s not running and ready: %+v", cs.Name, cs.State)
			}
		}
		if pod.Spec.NodeName != testenv.NodeName {
			t.Errorf("control plane on node %q, want the real node %s", pod.Spec.NodeName, testenv.NodeName)
		}
		var svc corev1.Service
		if err := bed.hostClient.Get(ctx, client.ObjectKey{Namespace: hostNS, Name: release}, &svc); err != nil {
			t.Fatal(err)
		}
		var vc vcluster.VirtualCluster
		if err := bed.hostClient.Get(ctx, client.ObjectKey{Namespace: platformNS, Name: vcName}, &vc); err != nil {
			t.Fatal(err)
		}
		if want := "https://" + svc.Spec.ClusterIP + ":443"; vc.Status.Endpoint != want {
			t.Errorf("endpoint %q, want the Service's ClusterIP %s", vc.Status.Endpoint, want)
		}
		// The tenant's kubeconfig answers (from this machine, through the
		// Service).
		out, err := vkubectl(ctx, "default", "version", "-o", "json")
		if err != nil || !strings.Contains(out, `"gitVersion"`) {
			t.Fatalf("kubectl version against the virtual cluster: %v\n%s", err, out)
		}
		logMemory(t, ctx)
	})

	const ns = "work"
	t.Run("workload runs; logs, exec, attach, port-forward and debug reach it", func(t *testing.T) {
		mustCreate(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		mustCreate(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Labels: map[string]string{"app": "web"}}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers: []corev1.Container{{Name: "main", Image: images.Busybox, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"sh", "-c", "echo web started; mkdir -p /tmp/www && echo hello-from-web > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"}}},
		}})
		waitRunning(t, ns, "web")
		testenv.Eventually(t, 90*time.Second, "kubectl logs through the virtual cluster", func(ctx context.Context) (bool, string) {
			out, err := vkubectl(ctx, ns, "logs", "web")
			return err == nil && strings.Contains(out, "web started"), fmt.Sprintf("%v: %s", err, out)
		})
		out, err := vkubectl(ctx, ns, "exec", "web", "--", "sh", "-c", "echo $((6*7)) $(hostname)")
		if err != nil || strings.TrimSpace(out) != "42 web" {
			t.Fatalf("kubectl exec through the virtual cluster: %v: %q, want \"42 web\"", err, out)
		}
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, bed.kubectl, "--kubeconfig", bed.virtualKubeconfig, "-n", ns, "exec", "-i", "web", "--", "cat")
		cmd.Stdin = strings.NewReader("bytes through stdin\n")
		if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "bytes through stdin" {
			t.Errorf("kubectl exec -i through the virtual cluster: %v: %q", err, out)
		}
		// attach: a container reading its stdin (stdinOnce) answers a line
		// kubectl attach -i sends, and ends with its input.
		mustCreate(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "talker", Namespace: ns}, Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers: []corev1.Container{{Name: "main", Image: images.Busybox, ImagePullPolicy: corev1.PullIfNotPresent,
				Stdin: true, StdinOnce: true,
				Command: []string{"sh", "-c", "while read l; do echo \"got:$l\"; done; echo input ended"}}},
		}})
		waitRunning(t, ns, "talker")
		att := exec.CommandContext(cctx, bed.kubectl, "--kubeconfig", bed.virtualKubeconfig, "-n", ns, "attach", "-i", "talker", "-c", "main")
		att.Stdin = strings.NewReader("ping through attach\n")
		if out, err := att.CombinedOutput(); err != nil || !strings.Contains(string(out), "got:ping through attach") {
			t.Errorf("kubectl attach -i through the virtual cluster: %v: %q", err, out)
		}
		testenv.Eventually(t, 90*time.Second, "the attached container ended with its input", func(ctx context.Context) (bool, string) {
			out, err := vkubectl(ctx, ns, "logs", "talker")
			return err == nil && strings.Contains(out, "input ended"), fmt.Sprintf("%v: %s", err, out)
		})
		// port-forward: kubectl says where it listens, then a page comes
		// through.
		pf := exec.CommandContext(cctx, bed.kubectl, "--kubeconfig", bed.virtualKubeconfig, "-n", ns, "port-forward", "pod/web", "0:8080")
		stdout, err := pf.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := pf.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = pf.Process.Kill(); _ = pf.Wait() }()
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+)`)
		var port string
		for port == "" && sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				port = m[1]
			}
		}
		if port == "" {
			t.Fatal("kubectl port-forward never said where it listens")
		}
		resp, err := http.Get("http://127.0.0.1:" + port + "/")
		if err != nil {
			t.Fatalf("GET through port-forward: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "hello-from-web") {
			t.Errorf("through port-forward: %d %q", resp.StatusCode, body)
		}
		// debug: an ephemeral container meeting the tenant's baseline
		// standard runs beside the workload.
		if out, err := vkubectl(ctx, ns, "debug", "web", "--image", images.Busybox, "--image-pull-policy", "IfNotPresent", "--profile", "baseline",
			"--container", "dbg", "--target", "main", "--", "sh", "-c", "echo debugger ran; sleep 3600"); err != nil {
			t.Fatalf("kubectl debug: %v: %q", err, out)
		}
		testenv.Eventually(t, 90*time.Second, "the debug container's logs", func(ctx context.Context) (bool, string) {
			out, err := vkubectl(ctx, ns, "logs", "web", "-c", "dbg")
			return err == nil && strings.Contains(out, "debugger ran"), fmt.Sprintf("%v: %s", err, out)
		})
		// Only the control-plane pods may reach the kubelet API address.
		var np networkingv1.NetworkPolicy
		if err := bed.hostClient.Get(ctx, client.ObjectKey{Namespace: hostNS, Name: release + "-kubelet"}, &np); err != nil {
			t.Fatalf("the kubelet API's NetworkPolicy: %v", err)
		}
		if np.Spec.PodSelector.MatchLabels[helm.LabelControlPlane] != release {
			t.Errorf("kubelet API policy selects %v, want the control-plane pods only", np.Spec.PodSelector)
		}
	})

	t.Run("a pod resolves a Service by its short name", func(t *testing.T) {
		// Through the CoreDNS the engine runs inside the virtual cluster;
		// the page is fetched, so the name resolved to an address that
		// routes (busybox wget -T segfaults on Debian's build: timeout).
		mustCreate(t,
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: ns}, Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: ptr.To[int64](0),
				Containers: []corev1.Container{{Name: "client", Image: images.Busybox, ImagePullPolicy: corev1.PullIfNotPresent,
					Command: []string{"sleep", "3600"}}},
			}},
		)
		waitRunning(t, ns, "client")
		// The virtual cluster's CoreDNS (the engine's, in its kube-system).
		var dnsPod string
		testenv.Eventually(t, 2*time.Minute, "the virtual cluster's CoreDNS pod", func(ctx context.Context) (bool, string) {
			var pods corev1.PodList
			if err := bed.virtual.List(ctx, &pods, client.InNamespace(dns.Namespace), client.MatchingLabels(dns.Labels)); err != nil {
				return false, err.Error()
			}
			for _, p := range pods.Items {
				if p.DeletionTimestamp == nil {
					dnsPod = p.Name
					return true, ""
				}
			}
			return false, "none"
		})
		waitRunning(t, dns.Namespace, dnsPod)
		run := func(ctx context.Context, script string) (string, error) {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			return hostExec(cctx, ns, "client", script)
		}
		var last string
		err := wait.PollUntilContextTimeout(ctx, time.Second, 90*time.Second, true, func(ctx context.Context) (bool, error) {
			out, err := run(ctx, "timeout 5 wget -q -O- http://web/")
			last = fmt.Sprintf("%v: %s", err, out)
			return err == nil && strings.HasPrefix(out, "hello-from-web"), nil
		})
		if err != nil {
			resolv, rerr := run(ctx, "cat /etc/resolv.conf")
			lookup, lerr := run(ctx, "timeout 10 nslookup web."+ns+".svc.cluster.local")
			var pods corev1.PodList
			_ = bed.virtual.List(ctx, &pods, client.InNamespace("kube-system"))
			var states []string
			for _, p := range pods.Items {
				states = append(states, p.Name+" "+string(p.Status.Phase))
			}
			t.Fatalf("http://web/ from a pod of its namespace: %s\nresolv.conf (%v):\n%s\nnslookup (%v):\n%s\nvirtual kube-system pods: %v", last, rerr, resolv, lerr, lookup, states)
		}
	})

	t.Run("only the control plane reaches the kubelet API", func(t *testing.T) {
		// The engine serves this cluster's kubelet API on the node's IP at
		// the port its virtual nodes advertise. A plain HTTP request to it
		// (a TLS server) is answered "400 Bad Request" when the connection
		// is made: from the control-plane pod it is; from the tenant's own
		// pod the isolation policies drop it.
		var nodes corev1.NodeList
		if err := bed.virtual.List(ctx, &nodes); err != nil || len(nodes.Items) == 0 {
			t.Fatalf("virtual nodes: %v %v", nodes.Items, err)
		}
		port := nodes.Items[0].Status.DaemonEndpoints.KubeletEndpoint.Port
		probe := fmt.Sprintf("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 %s %d; echo probe-rc=$?", testenv.NodeIP, port)
		probeFrom := func(args ...string) string {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			out, err := exec.CommandContext(cctx, bed.kubectl, append([]string{"--kubeconfig", bed.host.KubeconfigPath, "-n", hostNS, "exec"}, append(args, "--", "sh", "-c", probe)...)...).CombinedOutput()
			if !strings.Contains(string(out), "probe-rc=") {
				t.Fatalf("the probe did not run (%v): %s", err, out)
			}
			return string(out)
		}
		if out := probeFrom(release+"-0", "-c", "kube-apiserver"); !strings.Contains(out, "400 Bad Request") {
			t.Errorf("the control-plane pod does not reach the kubelet API %s:%d:\n%s", testenv.NodeIP, port, out)
		}
		if out := probeFrom(hostPodName("client", ns)); strings.Contains(out, "400") {
			t.Errorf("a tenant's pod reaches the kubelet API %s:%d:\n%s", testenv.NodeIP, port, out)
		}
	})

	t.Run("a pod uses its API server with in-cluster config", func(t *testing.T) {
		const ans = "api"
		mustCreate(t,
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ans}},
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: ans}},
			&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader", Namespace: ans},
				Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}},
			&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: ans},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "reader", Namespace: ans}}},
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "kubectl", Namespace: ans}, Spec: corev1.PodSpec{
				ServiceAccountName:            "reader",
				TerminationGracePeriodSeconds: ptr.To[int64](0),
				Containers: []corev1.Container{{Name: "kubectl", Image: images.Kubectl, ImagePullPolicy: corev1.PullIfNotPresent,
					Command: []string{"sleep", "3600"}}},
			}},
		)
		waitRunning(t, ans, "kubectl")
		run := func(script string) (string, error) {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			return hostExec(cctx, ans, "kubectl", script)
		}
		var svc corev1.Service
		if err := bed.hostClient.Get(ctx, client.ObjectKey{Namespace: hostNS, Name: release}, &svc); err != nil {
			t.Fatal(err)
		}
		out, err := run(`echo "$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"; kubectl get pods -o name`)
		if err != nil || !strings.Contains(out, "pod/kubectl") {
			t.Fatalf("in-cluster kubectl get pods in its own namespace: %v\n%s", err, out)
		}
		if !strings.HasPrefix(out, svc.Spec.ClusterIP+":443") {
			t.Errorf("KUBERNETES_SERVICE_HOST:PORT = %q, want the API server's Service %s:443", strings.SplitN(out, "\n", 2)[0], svc.Spec.ClusterIP)
		}
		out, err = run(`kubectl auth whoami -o jsonpath='{.status.userInfo.username}'`)
		if err != nil || !strings.Contains(out, "system:serviceaccount:"+ans+":reader") {
			t.Errorf("kubectl auth whoami: %v\n%s", err, out)
		}
		for _, tc := range []struct{ what, script string }{
			{"pods of another namespace", "kubectl get pods -n default"},
			{"a verb the Role does not grant", "kubectl delete pod kubectl --dry-run=server"},
			{"another resource", "kubectl get secrets"},
		} {
			out, err := run(tc.script)
			if err == nil || !strings.Contains(out, "Forbidden") {
				t.Errorf("%s (%s): want Forbidden from the virtual RBAC, got err %v\n%s", tc.what, tc.script, err, out)
			}
		}
		out, err = run(`SA=/var/run/secrets/kubernetes.io/serviceaccount; kubectl --server "https://kubernetes.default.svc:$KUBERNETES_SERVICE_PORT" ` +
			`--certificate-authority=$SA/ca.crt --token="$(cat $SA/token)" get pods -o name`)
		if err != nil || !strings.Contains(out, "pod/kubectl") {
			t.Errorf("kubectl against https://kubernetes.default.svc with the mounted CA: %v\n%s", err, out)
		}
	})

	t.Run("volumes carry the virtual cluster's content", func(t *testing.T) {
		const vns = "vols"
		mustCreate(t,
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: vns}},
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app-config", Namespace: vns}, Data: map[string]string{"greeting": "hello"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app-secret", Namespace: vns}, StringData: map[string]string{"password": "s3cret"}},
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: vns}, Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: ptr.To[int64](0),
				Containers: []corev1.Container{{Name: "reader", Image: images.Busybox, ImagePullPolicy: corev1.PullIfNotPresent,
					Command:      []string{"sleep", "3600"},
					VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/cfg"}, {Name: "sec", MountPath: "/etc/sec"}, {Name: "info", MountPath: "/etc/info"}}}},
				Volumes: []corev1.Volume{
					{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}},
					{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "app-secret"}}},
					{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
						{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
						{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}},
					}}}},
				},
			}},
		)
		waitRunning(t, vns, "reader")
		read := func(path string) string {
			t.Helper()
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			out, err := hostExec(cctx, vns, "reader", "cat "+path)
			if err != nil {
				t.Errorf("cat %s: %v\n%s", path, err, out)
			}
			return out
		}
		const sa = "/var/run/secrets/kubernetes.io/serviceaccount"
		// The downward API shows the virtual identity, not the host's.
		for path, want := range map[string]string{"/etc/cfg/greeting": "hello", "/etc/sec/password": "s3cret", sa + "/namespace": vns,
			"/etc/info/name": "reader", "/etc/info/namespace": vns} {
			if got := read(path); got != want {
				t.Errorf("%s = %q, want %q", path, got, want)
			}
		}
		// A ConfigMap changed inside the virtual cluster reaches the
		// mounted file.
		var cm corev1.ConfigMap
		if err := bed.virtual.Get(ctx, client.ObjectKey{Namespace: vns, Name: "app-config"}, &cm); err != nil {
			t.Fatal(err)
		}
		cm.Data["greeting"] = "changed"
		if err := bed.virtual.Update(ctx, &cm); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 2*time.Minute, "the changed ConfigMap in the mounted file", func(ctx context.Context) (bool, string) {
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			out, err := hostExec(cctx, vns, "reader", "cat /etc/cfg/greeting")
			return err == nil && out == "changed", fmt.Sprintf("%v: %q", err, out)
		})
		// The projected token is the virtual cluster's, for the pod's
		// ServiceAccount.
		review := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: read(sa + "/token")}}
		if err := bed.virtual.Create(ctx, review); err != nil {
			t.Fatal(err)
		}
		if !review.Status.Authenticated || review.Status.User.Username != "system:serviceaccount:"+vns+":default" {
			t.Errorf("the mounted token on the virtual API server: %+v", review.Status)
		}
	})

	t.Run("a NetworkPolicy written inside it denies under the tenant's isolation", func(t *testing.T) {
		// web (app=web, httpd on 8080) from the workload step, and a
		// client beside it: a deny-all for web written inside the virtual
		// cluster refuses the client for real, deleting it lets it in.
		mustCreate(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "np-client", Namespace: ns}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers:                    []corev1.Container{{Name: "main", Image: images.Busybox, ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"sleep", "3600"}}},
		}})
		waitRunning(t, ns, "np-client")
		var web corev1.Pod
		if err := bed.virtual.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &web); err != nil {
			t.Fatal(err)
		}
		reach := func(want bool, what string) {
			t.Helper()
			testenv.Eventually(t, 60*time.Second, what, func(ctx context.Context) (bool, string) {
				cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				out, err := hostExec(cctx, ns, "np-client", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 "+web.Status.PodIP+" 8080")
				got := err == nil && strings.Contains(out, "hello-from-web")
				return got == want, fmt.Sprintf("connected=%v: %v %q", got, err, out)
			})
		}
		reach(true, "np-client reaches web before any policy")
		pol := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "web-deny-all", Namespace: ns},
			Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
		mustCreate(t, pol)
		reach(false, "the deny-all written inside the virtual cluster refuses np-client")
		if err := bed.virtual.Delete(ctx, pol); err != nil {
			t.Fatal(err)
		}
		reach(true, "np-client reaches web again once the policy is deleted")
	})

	t.Run("sleeps and wakes with the workload kept", func(t *testing.T) {
		setPaused(t, true)
		if err := waitPhase(ctx, vcluster.PhaseSleeping, 3*time.Minute); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 2*time.Minute, "no control-plane pod while sleeping", func(ctx context.Context) (bool, string) {
			err := bed.hostClient.Get(ctx, client.ObjectKey{Namespace: hostNS, Name: release + "-0"}, &corev1.Pod{})
			return apierrors.IsNotFound(err), fmt.Sprint(err)
		})
		if err := bed.hostClient.Get(ctx, client.ObjectKey{Namespace: hostNS, Name: "data-" + release + "-0"}, &corev1.PersistentVolumeClaim{}); err != nil {
			t.Errorf("the store's claim while sleeping: %v", err)
		}
		setPaused(t, false)
		if err := waitPhase(ctx, vcluster.PhaseRunning, 5*time.Minute); err != nil {
			t.Fatal(err)
		}
		// The workload survived in the store and runs.
		waitRunning(t, ns, "web")
		out, err := vkubectl(ctx, ns, "exec", "web", "-c", "main", "--", "echo", "awake")
		if err != nil || strings.TrimSpace(out) != "awake" {
			t.Errorf("kubectl exec after waking: %v: %q", err, out)
		}
	})

	t.Run("deleting it leaves nothing", func(t *testing.T) {
		vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Namespace: platformNS, Name: vcName}}
		if err := bed.hostClient.Delete(ctx, vc); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 5*time.Minute, "the VirtualCluster gone", func(ctx context.Context) (bool, string) {
			err := bed.hostClient.Get(ctx, client.ObjectKeyFromObject(vc), vc)
			return apierrors.IsNotFound(err), fmt.Sprintf("%v phase %s %+v", err, vc.Status.Phase, vc.Status.Conditions)
		})
		testenv.Eventually(t, 3*time.Minute, "nothing of the virtual cluster left on the host", func(ctx context.Context) (bool, string) {
			left, err := leftovers(ctx)
			if err != nil {
				return false, err.Error()
			}
			return len(left) == 0, strings.Join(left, ", ")
		})
	})
}

// leftovers lists what the virtual cluster could have left on the host:
// its host namespace, pods, claims and Helm release Secrets anywhere.
func leftovers(ctx context.Context) ([]string, error) {
	var out []string
	if err := bed.hostClient.Get(ctx, client.ObjectKey{Name: hostNS}, &corev1.Namespace{}); err == nil {
		out = append(out, "namespace "+hostNS)
	} else if !apierrors.IsNotFound(err) {
		return nil, err
	}
	var pods corev1.PodList
	if err := bed.hostClient.List(ctx, &pods, client.MatchingLabels{vcluster.LabelVirtualCluster: vcName}); err != nil {
		return nil, err
	}
	for _, p := range pods.Items {
		out = append(out, "pod "+p.Namespace+"/"+p.Name)
	}
	var pvcs corev1.PersistentVolumeClaimList
	if err := bed.hostClient.List(ctx, &pvcs); err != nil {
		return nil, err
	}
	for _, p := range pvcs.Items {
		out = append(out, "claim "+p.Namespace+"/"+p.Name)
	}
	var secrets corev1.SecretList
	if err := bed.hostClient.List(ctx, &secrets, client.MatchingLabels{"owner": "helm"}); err != nil {
		return nil, err
	}
	for _, s := range secrets.Items {
		out = append(out, "Helm release Secret "+s.Namespace+"/"+s.Name)
	}
	var pv corev1.PersistentVolume
	if err := bed.hostClient.Get(ctx, client.ObjectKey{Name: pvName}, &pv); err != nil {
		return nil, err
	}
	if pv.Spec.ClaimRef != nil && pv.Status.Phase == corev1.VolumeBound {
		out = append(out, "volume "+pvName+" still bound to "+pv.Spec.ClaimRef.Name)
	}
	return out, nil
}

func setPaused(t *testing.T, paused bool) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, fmt.Sprintf("set spec.sleep.paused=%v", paused), func(ctx context.Context) (bool, string) {
		var vc vcluster.VirtualCluster
		if err := bed.hostClient.Get(ctx, client.ObjectKey{Namespace: platformNS, Name: vcName}, &vc); err != nil {
			return false, err.Error()
		}
		if vc.Spec.Sleep == nil {
			vc.Spec.Sleep = &vcluster.SleepSpec{}
		}
		vc.Spec.Sleep.Paused = paused
		err := bed.hostClient.Update(ctx, &vc)
		return err == nil, fmt.Sprint(err)
	})
}

// logMemory logs the working set of the control-plane pod's containers as
// the node's kubelet measures it (/stats/summary, through the host API).
func logMemory(t *testing.T, ctx context.Context) {
	t.Helper()
	var summary struct {
		Pods []struct {
			PodRef     struct{ Name, Namespace string } `json:"podRef"`
			Containers []struct {
				Name   string `json:"name"`
				Memory struct {
					WorkingSetBytes *uint64 `json:"workingSetBytes"`
				} `json:"memory"`
			} `json:"containers"`
		} `json:"pods"`
	}
	var last string
	testenv.Eventually(t, 90*time.Second, "control-plane pod in the kubelet's stats summary", func(ctx context.Context) (bool, string) {
		out, err := exec.CommandContext(ctx, bed.kubectl, "--kubeconfig", bed.host.KubeconfigPath, "get", "--raw",
			"/api/v1/nodes/"+testenv.NodeName+"/proxy/stats/summary").Output()
		if err != nil {
			return false, err.Error()
		}
		if err := json.Unmarshal(out, &summary); err != nil {
			return false, err.Error()
		}
		var parts []string
		var total uint64
		for _, p := range summary.Pods {
			if p.PodRef.Namespace != hostNS || p.PodRef.Name != release+"-0" {
				continue
			}
			for _, c := range p.Containers {
				if c.Memory.WorkingSetBytes == nil {
					return false, "no working set for " + c.Name
				}
				total += *c.Memory.WorkingSetBytes
				parts = append(parts, fmt.Sprintf("%s %.0f MiB", c.Name, float64(*c.Memory.WorkingSetBytes)/(1<<20)))
			}
			if len(parts) == 3 {
				last = fmt.Sprintf("%.0f MiB (%s)", float64(total)/(1<<20), strings.Join(parts, ", "))
				return true, ""
			}
		}
		return false, "not in the summary yet"
	})
	t.Logf("control-plane pod working set (kubelet /stats/summary): %s", last)
}
