package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/vcluster"
	"github.com/vclusterkit/vclusterkit/vcluster/kubeconfig"
)

// kubeconfig answers the caller's own kubeconfig for a virtual cluster:
// a client certificate for the caller's user name (and those of its groups
// that are members of the tenant), signed inside the virtual cluster
// through a CertificateSigningRequest with expirationSeconds set to
// KubeconfigLifetime.
//
// Why a short-lived client certificate rather than a token: the virtual
// API server already trusts its own CA, so no authenticator has to be
// wired into every control plane, whichever provisioner runs it; the CSR
// API is the provisioner-neutral way to get one signed, and it honours
// expirationSeconds. A certificate cannot be revoked, so it lives briefly
// (one hour by default); what it may do is decided by the member RBAC the
// engine keeps inside the virtual cluster, so removing a member takes
// their rights away at once, whatever certificates they hold.
func (s *Server) kubeconfig(w http.ResponseWriter, r *http.Request, c *call) error {
	vc, err := s.vc(r, c, tenancy.RoleView, "getting a kubeconfig")
	if err != nil {
		return err
	}
	if c.id.Scope != nil {
		return forbidden("kubeconfigs are issued to signed-in users, not to API keys: sign in (OIDC) and ask again")
	}
	if vc.Status.Phase != vcluster.PhaseRunning || vc.Status.KubeconfigSecret == nil {
		phase := vc.Status.Phase
		if phase == "" {
			phase = vcluster.PhasePending
		}
		return errf(http.StatusConflict, "NotReady", "", "virtual cluster %s is %s; a kubeconfig is issued once it is Running (wake it if it sleeps)", vc.Name, phase)
	}
	// Only groups that are members of the tenant go into the certificate:
	// any other group (system:masters above all) would be the caller's
	// say-so, not the tenant's grant.
	var groups []string
	members, _ := c.tree.EffectiveMembers(vc.Spec.Tenant)
	for _, m := range members {
		if m.Kind == tenancy.MemberGroup && slices.Contains(c.id.Groups, m.Name) && !strings.HasPrefix(m.Name, "system:") {
			groups = append(groups, m.Name)
		}
	}
	if strings.HasPrefix(c.id.Name, "system:") {
		return forbidden("user names starting with system: are reserved for Kubernetes")
	}
	ref := *vc.Status.KubeconfigSecret
	if ref.Namespace == "" {
		// The engine keeps the admin Secret beside the VirtualCluster.
		ref.Namespace = vc.Namespace
	}
	admin, err := kubeconfig.FromSecret(r.Context(), s.opts.Client, ref)
	if err != nil {
		return err
	}
	kc, expires, err := issueShortLived(r.Context(), admin, c.id.Name, groups, s.opts.KubeconfigLifetime, vc.Name)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", vc.Name+".kubeconfig"))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Credential-Expires", expires.UTC().Format(time.RFC3339))
	_, _ = w.Write(kc)
	return nil
}

// issueShortLived has the virtual cluster sign a client certificate for
// user through a CSR (kubernetes.io/kube-apiserver-client), approved with
// the admin credential, and returns a kubeconfig holding it.
func issueShortLived(ctx context.Context, admin []byte, user string, groups []string, lifetime time.Duration, name string) ([]byte, time.Time, error) {
	cfg, err := kubeconfig.RESTConfig(admin)
	if err != nil {
		return nil, time.Time{}, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, time.Time{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, time.Time{}, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: user, Organization: groups}}, key)
	if err != nil {
		return nil, time.Time{}, err
	}
	secs := int32(lifetime / time.Second)
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "vclusterkit-api-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName:        certificatesv1.KubeAPIServerClientSignerName,
			ExpirationSeconds: &secs,
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}
	csrs := cs.CertificatesV1().CertificateSigningRequests()
	csr, err = csrs.Create(ctx, csr, metav1.CreateOptions{})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("creating the CSR in the virtual cluster: %w", err)
	}
	defer func() { _ = csrs.Delete(context.WithoutCancel(ctx), csr.Name, metav1.DeleteOptions{}) }()
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "VclusterkitAPI",
		Message: "issued by the vclusterkit API to a signed-in member"})
	if _, err := csrs.UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{}); err != nil {
		return nil, time.Time{}, fmt.Errorf("approving the CSR: %w", err)
	}
	var cert []byte
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := wait.PollUntilContextCancel(wctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		got, err := csrs.Get(ctx, csr.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		cert = got.Status.Certificate
		return len(cert) > 0, nil
	}); err != nil {
		return nil, time.Time{}, fmt.Errorf("the virtual cluster did not sign the CSR (is kube-controller-manager's csrsigning controller running?): %w", err)
	}
	block, _ := pem.Decode(cert)
	if block == nil {
		return nil, time.Time{}, fmt.Errorf("the signed certificate is not PEM")
	}
	parsed, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, time.Time{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, time.Time{}, err
	}
	raw, err := clientcmd.Load(admin)
	if err != nil {
		return nil, time.Time{}, err
	}
	cur := raw.Contexts[raw.CurrentContext]
	if cur == nil || raw.Clusters[cur.Cluster] == nil {
		return nil, time.Time{}, fmt.Errorf("the admin kubeconfig has no current cluster")
	}
	cl := raw.Clusters[cur.Cluster]
	kc, err := kubeconfig.Build(kubeconfig.Config{Server: cl.Server, CA: cl.CertificateAuthorityData, ClientCert: cert,
		ClientKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), User: user, Name: name})
	return kc, parsed.NotAfter, err
}
