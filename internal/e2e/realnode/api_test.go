package realnode

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vclusterkit/vclusterkit/internal/images"
	"github.com/vclusterkit/vclusterkit/internal/testenv"
)

// A pod inside the virtual cluster reaches its own virtual API server with
// the token its virtual cluster issued for its ServiceAccount: kubectl's
// in-cluster config lists the pods of its namespace, and the virtual RBAC
// refuses another namespace and a verb the Role does not grant. The same
// works by the name kubernetes.default.svc with the mounted CA, which the
// serving certificate covers.
func TestAPIAccessFromPod(t *testing.T) {
	t.Parallel()
	const ns = "api"
	mustCreate(t,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: ns}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader", Namespace: ns},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: ns},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "reader", Namespace: ns}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "kubectl", Namespace: ns}, Spec: corev1.PodSpec{
			ServiceAccountName:            "reader",
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers: []corev1.Container{{Name: "kubectl", Image: images.Kubectl, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"sleep", "3600"}}},
		}},
	)
	waitRunning(t, ns, "kubectl")
	ctx := context.Background()
	run := func(script string) (string, error) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return hostExec(cctx, ns, "kubectl", script)
	}

	out, err := run(`echo "$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"; kubectl get pods -o name`)
	if err != nil || !strings.Contains(out, "pod/kubectl") {
		t.Fatalf("in-cluster kubectl get pods in its own namespace: %v\n%s", err, out)
	}
	if !strings.HasPrefix(out, testenv.NodeIP+":") {
		t.Errorf("KUBERNETES_SERVICE_HOST:PORT = %q, want the virtual API server on %s", strings.SplitN(out, "\n", 2)[0], testenv.NodeIP)
	}
	out, err = run(`kubectl auth whoami -o jsonpath='{.status.userInfo.username}'`)
	if err != nil || !strings.Contains(out, "system:serviceaccount:"+ns+":reader") {
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
	// By name, verifying the serving certificate with the mounted CA.
	out, err = run(`SA=/var/run/secrets/kubernetes.io/serviceaccount; kubectl --server "https://kubernetes.default.svc:$KUBERNETES_SERVICE_PORT" ` +
		`--certificate-authority=$SA/ca.crt --token="$(cat $SA/token)" get pods -o name`)
	if err != nil || !strings.Contains(out, "pod/kubectl") {
		t.Errorf("kubectl against https://kubernetes.default.svc with the mounted CA: %v\n%s", err, out)
	}
}
