package kubeconfig_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
	"github.com/vclusterkit/vclusterkit/vcluster/local"
)

func newClient(t *testing.T, kc []byte) client.Client {
	t.Helper()
	cfg, err := kubeconfig.RESTConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	sch := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(sch)
	c, err := client.New(cfg, client.Options{Scheme: sch})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMembersOnRealControlPlane binds members inside a real virtual cluster
// (local provisioner: kube-apiserver and kube-controller-manager, which
// aggregates the edit and view roles) and checks what each may do.
func TestMembersOnRealControlPlane(t *testing.T) {
	ctrl.SetLogger(logr.Discard())
	ctx := context.Background()
	p, err := local.New(local.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	vc := &vcluster.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "members", Namespace: "team-a"}, Spec: vcluster.VirtualClusterSpec{Tenant: "team-a"}}
	if _, err := p.Provision(ctx, vcluster.Request{Cluster: vc}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Deprovision(ctx, vc) })
	admin, err := p.Kubeconfig(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	ac := newClient(t, admin)
	// A binding the platform did not make must survive.
	foreign := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "zed"}}}
	if err := ac.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	members := []tenancy.Member{
		{Kind: tenancy.MemberUser, Name: "alice", Role: tenancy.RoleAdmin},
		{Kind: tenancy.MemberUser, Name: "erin", Role: tenancy.RoleEdit},
		{Kind: tenancy.MemberUser, Name: "bob", Role: tenancy.RoleView},
		{Kind: tenancy.MemberGroup, Name: "auditors", Role: tenancy.RoleView},
	}
	if err := kubeconfig.BindMembers(ctx, ac, members); err != nil {
		t.Fatal(err)
	}
	can := func(m tenancy.Member, groups []string, verb, resource, ns string) bool {
		t.Helper()
		kc, err := kubeconfig.ForMember(ctx, p, vc, tenancy.Member{Kind: tenancy.MemberUser, Name: m.Name, Role: m.Role}, groups...)
		if err != nil {
			t.Fatal(err)
		}
		r := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group(resource), Resource: resource, Namespace: ns}}}
		if err := newClient(t, kc).Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r.Status.Allowed
	}
	cases := []struct {
		who                tenancy.Member
		groups             []string
		verb, resource, ns string
		want               bool
	}{
		{members[0], nil, "create", "namespaces", "", true},
		{members[0], nil, "create", "clusterroles", "", true},
		{members[1], nil, "create", "deployments", "default", true},
		{members[1], nil, "create", "namespaces", "", false},
		{members[2], nil, "list", "pods", "default", true},
		{members[2], nil, "create", "pods", "default", false},
		{tenancy.Member{Name: "carol", Role: tenancy.RoleView}, []string{"auditors"}, "list", "pods", "default", true},
		{tenancy.Member{Name: "mallory", Role: tenancy.RoleView}, nil, "list", "pods", "default", false},
	}
	for _, c := range cases {
		if got := can(c.who, c.groups, c.verb, c.resource, c.ns); got != c.want {
			t.Errorf("%s %v %s %s: allowed=%v, want %v", c.who.Name, c.groups, c.verb, c.resource, got, c.want)
		}
	}
	// kubectl debug: an edit member may add ephemeral containers (the
	// syncer checks them like pods), a viewer may not. edit gains the rule
	// when kube-controller-manager aggregates DebugRole into it.
	canDebug := func(m tenancy.Member) bool {
		t.Helper()
		kc, err := kubeconfig.ForMember(ctx, p, vc, m)
		if err != nil {
			t.Fatal(err)
		}
		r := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "patch", Resource: "pods", Subresource: "ephemeralcontainers", Namespace: "default"}}}
		if err := newClient(t, kc).Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r.Status.Allowed
	}
	deadline := time.Now().Add(time.Minute)
	for !canDebug(members[1]) {
		if time.Now().After(deadline) {
			t.Fatal("an edit member cannot patch pods/ephemeralcontainers (kubectl debug) a minute after BindMembers")
		}
		time.Sleep(500 * time.Millisecond)
	}
	if canDebug(members[2]) {
		t.Error("a view member can patch pods/ephemeralcontainers")
	}
	// The user kubeconfig names the user and groups.
	kc, _ := kubeconfig.ForMember(ctx, p, vc, members[0], "team-a")
	rev := &authenticationv1.SelfSubjectReview{}
	if err := newClient(t, kc).Create(ctx, rev); err != nil {
		t.Fatal(err)
	}
	if rev.Status.UserInfo.Username != "alice" || !slices.Contains(rev.Status.UserInfo.Groups, "team-a") {
		t.Errorf("user info %+v", rev.Status.UserInfo)
	}

	// Demote erin, remove bob: bindings follow.
	members[1].Role = tenancy.RoleView
	if err := kubeconfig.BindMembers(ctx, ac, []tenancy.Member{members[0], members[1], members[3]}); err != nil {
		t.Fatal(err)
	}
	if can(members[1], nil, "create", "deployments", "default") {
		t.Error("demoted member can still create")
	}
	if can(members[2], nil, "list", "pods", "default") {
		t.Error("removed member can still list")
	}
	var crb rbacv1.ClusterRoleBinding
	if err := ac.Get(ctx, client.ObjectKey{Name: "someone-elses"}, &crb); err != nil {
		t.Errorf("foreign binding touched: %v", err)
	}
	// Invalid input fails before anything is written.
	var before rbacv1.ClusterRoleBindingList
	_ = ac.List(ctx, &before, client.MatchingLabels{kubeconfig.LabelMemberBinding: "true"})
	err = kubeconfig.BindMembers(ctx, ac, []tenancy.Member{{Kind: tenancy.MemberUser, Name: "x", Role: "owner"}})
	if err == nil {
		t.Fatal("unknown role accepted")
	}
	var after rbacv1.ClusterRoleBindingList
	_ = ac.List(ctx, &after, client.MatchingLabels{kubeconfig.LabelMemberBinding: "true"})
	if len(after.Items) != len(before.Items) {
		t.Errorf("bindings changed by a failed call: %d → %d", len(before.Items), len(after.Items))
	}
	if _, err := kubeconfig.ForMember(ctx, p, vc, members[3]); err == nil {
		t.Error("group member got a kubeconfig")
	}
}

func group(resource string) string {
	switch resource {
	case "deployments":
		return "apps"
	case "clusterroles":
		return rbacv1.GroupName
	}
	return ""
}

func TestFromSecret(t *testing.T) {
	kc, err := kubeconfig.Build(kubeconfig.Config{Server: "https://10.0.0.1:443", CA: []byte("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"), Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	sch := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(sch)
	sec := kubeconfig.Secret(vcluster.SecretRef{Namespace: "ns", Name: "kc"}, kc, map[string]string{vcluster.LabelVirtualCluster: "dev"})
	sec.Data["bad"] = []byte("{{")
	c := fake.NewClientBuilder().WithScheme(sch).WithObjects(sec).Build()
	ctx := context.Background()
	got, err := kubeconfig.FromSecret(ctx, c, vcluster.SecretRef{Namespace: "ns", Name: "kc"})
	if err != nil || string(got) != string(kc) {
		t.Fatalf("FromSecret: %v", err)
	}
	if _, err := kubeconfig.FromSecret(ctx, c, vcluster.SecretRef{Namespace: "ns", Name: "nope"}); !errors.Is(err, vcluster.ErrNotFound) {
		t.Errorf("missing secret: %v", err)
	}
	if _, err := kubeconfig.FromSecret(ctx, c, vcluster.SecretRef{Namespace: "ns", Name: "kc", Key: "other"}); !errors.Is(err, vcluster.ErrNotFound) {
		t.Errorf("missing key: %v", err)
	}
	if _, err := kubeconfig.FromSecret(ctx, c, vcluster.SecretRef{Namespace: "ns", Name: "kc", Key: "bad"}); err == nil {
		t.Error("garbage accepted")
	}
	if _, err := kubeconfig.Build(kubeconfig.Config{CA: []byte("x")}); err == nil {
		t.Error("no server accepted")
	}
	if _, err := kubeconfig.Build(kubeconfig.Config{Server: "https://x", CA: []byte("x"), ClientCert: []byte("c")}); err == nil {
		t.Error("cert without key accepted")
	}
}
