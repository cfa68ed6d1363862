package kubeconfig

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// LabelMemberBinding marks the ClusterRoleBindings BindMembers manages
// inside a virtual cluster; others are never touched.
const LabelMemberBinding = "vcluster.vclusterkit.io/member-binding"

// ClusterRoleFor maps a tenant role to the ClusterRole bound inside the
// virtual cluster: admin → cluster-admin, edit → edit, view → view.
func ClusterRoleFor(r tenancy.Role) (string, error) {
	switch r {
	case tenancy.RoleAdmin:
		return "cluster-admin", nil
	case tenancy.RoleEdit:
		return "edit", nil
	case tenancy.RoleView:
		return "view", nil
	}
	return "", fmt.Errorf("unknown role %q (want admin, edit or view)", r)
}

// BindingName is the name of the ClusterRoleBinding for a member: a
// readable prefix plus a hash of kind and name, so any user name (e-mail,
// unicode, colons) gives a valid, collision-free object name.
func BindingName(m tenancy.Member) string {
	sum := sha256.Sum256([]byte(string(m.Kind) + "\x00" + m.Name))
	return "vclusterkit:member:" + strings.ToLower(string(m.Kind)) + ":" + hex.EncodeToString(sum[:8])
}

// BindingBuilder is what BindMembers needs of a client: the virtual
// cluster's, not the host's.
type BindingBuilder interface {
	client.Reader
	client.Writer
}

// BindMembers makes the member ClusterRoleBindings inside a virtual cluster
// match members: one binding per member to ClusterRoleFor(role), updated
// when the role changes, deleted when the member is gone. Members are
// validated first; an invalid one fails the call before anything is written.
func BindMembers(ctx context.Context, c BindingBuilder, members []tenancy.Member) error {
	want := map[string]*rbacv1.ClusterRoleBinding{}
	for i, m := range members {
		role, err := ClusterRoleFor(m.Role)
		if err != nil {
			return fmt.Errorf("members[%d].role: %w", i, err)
		}
		if m.Name == "" {
			return fmt.Errorf("members[%d].name: required", i)
		}
		kind := rbacv1.UserKind
		switch m.Kind {
		case tenancy.MemberUser:
		case tenancy.MemberGroup:
			kind = rbacv1.GroupKind
		default:
			return fmt.Errorf("members[%d].kind: unknown kind %q (want User or Group)", i, m.Kind)
		}
		name := BindingName(m)
		want[name] = &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelMemberBinding: "true"}},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: kind, Name: m.Name}},
		}
	}
	if err := ensureDebugRole(ctx, c); err != nil {
		return err
	}
	if err := waitRoles(ctx, c, want); err != nil {
		return err
	}
	var have rbacv1.ClusterRoleBindingList
	if err := c.List(ctx, &have, client.MatchingLabels{LabelMemberBinding: "true"}); err != nil {
		return fmt.Errorf("listing member bindings: %w", err)
	}
	var errs []error
	for i := range have.Items {
		h := &have.Items[i]
		w, ok := want[h.Name]
		switch {
		case !ok:
			if err := c.Delete(ctx, h); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("deleting binding %s: %w", h.Name, err))
			}
		case h.RoleRef != w.RoleRef:
			// roleRef is immutable: replace the binding.
			if err := c.Delete(ctx, h); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("replacing binding %s: %w", h.Name, err))
				delete(want, h.Name)
			}
		default:
			delete(want, h.Name)
		}
	}
	for _, w := range want {
		if err := c.Create(ctx, w); err != nil {
			errs = append(errs, fmt.Errorf("creating binding %s: %w", w.Name, err))
		}
	}
	return errors.Join(errs...)
}

// DebugRole is a ClusterRole BindMembers keeps inside every virtual
// cluster: aggregated into edit (and so admin), it lets members who may
// create pods also add ephemeral containers (kubectl debug). Upstream's
// edit leaves that out because on a real cluster a debug container could
// escape a namespace's policies; here the syncer checks an ephemeral
// container against the tenant's Pod Security Standard like any pod, so
// it grants nothing a pod would not.
const DebugRole = "vclusterkit:aggregate-to-edit:debug"

func ensureDebugRole(ctx context.Context, c BindingBuilder) error {
	want := rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: DebugRole, Labels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-edit": "true"}},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods/ephemeralcontainers"},
			Verbs: []string{"get", "patch", "update"}}},
	}
	var have rbacv1.ClusterRole
	err := c.Get(ctx, client.ObjectKey{Name: DebugRole}, &have)
	switch {
	case apierrors.IsNotFound(err):
		if err := c.Create(ctx, &want); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating ClusterRole %s: %w", DebugRole, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading ClusterRole %s: %w", DebugRole, err)
	}
	if equality.Semantic.DeepEqual(have.Rules, want.Rules) && have.Labels["rbac.authorization.k8s.io/aggregate-to-edit"] == "true" {
		return nil
	}
	have.Rules = want.Rules
	if have.Labels == nil {
		have.Labels = map[string]string{}
	}
	have.Labels["rbac.authorization.k8s.io/aggregate-to-edit"] = "true"
	if err := c.Update(ctx, &have); err != nil {
		return fmt.Errorf("updating ClusterRole %s: %w", DebugRole, err)
	}
	return nil
}

// RoleWait bounds how long BindMembers waits for the aggregated roles.
const RoleWait = 2 * time.Minute

// waitRoles waits until every ClusterRole the bindings refer to exists and
// has rules. edit and view are aggregated by kube-controller-manager a few
// seconds after a fresh control plane answers; binding a member to them
// before that would leave the member without rights for a while.
func waitRoles(ctx context.Context, c client.Reader, want map[string]*rbacv1.ClusterRoleBinding) error {
	roles := map[string]bool{}
	for _, b := range want {
		roles[b.RoleRef.Name] = true
	}
	ctx, cancel := context.WithTimeout(ctx, RoleWait)
	defer cancel()
	for role := range roles {
		var last error
		err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			var cr rbacv1.ClusterRole
			if err := c.Get(ctx, client.ObjectKey{Name: role}, &cr); err != nil {
				last = err
				return false, nil
			}
			if len(cr.Rules) == 0 {
				last = fmt.Errorf("ClusterRole %s has no rules yet (aggregated by kube-controller-manager)", role)
				return false, nil
			}
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("waiting for ClusterRole %s: %w (last: %v)", role, err, last)
		}
	}
	return nil
}

// ForMember returns a kubeconfig for a User member of the tenant, issued by
// the provisioner with the given groups in its client certificate. Group
// members have no kubeconfig of their own (their users authenticate through
// the platform's identity provider); asking for one is an error.
func ForMember(ctx context.Context, p vcluster.Provisioner, vc *vcluster.VirtualCluster, m tenancy.Member, groups ...string) ([]byte, error) {
	if m.Kind != tenancy.MemberUser {
		return nil, fmt.Errorf("member %q: only User members get a kubeconfig, not %q", m.Name, m.Kind)
	}
	if _, err := ClusterRoleFor(m.Role); err != nil {
		return nil, fmt.Errorf("member %q: %w", m.Name, err)
	}
	iss, ok := p.(vcluster.UserKubeconfigIssuer)
	if !ok {
		return nil, fmt.Errorf("%w: provisioner %T cannot issue user kubeconfigs", vcluster.ErrUnsupported, p)
	}
	return iss.UserKubeconfig(ctx, vc, vcluster.User{Name: m.Name, Groups: groups})
}
