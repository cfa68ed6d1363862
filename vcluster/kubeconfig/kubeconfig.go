package kubeconfig

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/vcluster"
)

// Config is what Build puts into a kubeconfig.
type Config struct {
	// Server is the API server URL (https://host:port). Required.
	Server string
	// CA is the PEM CA bundle that signed the serving certificate. Required.
	CA []byte
	// ClientCert and ClientKey are PEM; both or neither. Token is used when
	// they are empty.
	ClientCert, ClientKey []byte
	Token                 string
	// User names the user entry; empty means "admin".
	User string
	// Name names the cluster and context entries; empty means "vcluster".
	Name string
}

// Build returns a kubeconfig with one cluster, one user and one current
// context.
func Build(c Config) ([]byte, error) {
	if c.Server == "" {
		return nil, fmt.Errorf("kubeconfig: Server is required")
	}
	if len(c.CA) == 0 {
		return nil, fmt.Errorf("kubeconfig: CA is required")
	}
	if (len(c.ClientCert) == 0) != (len(c.ClientKey) == 0) {
		return nil, fmt.Errorf("kubeconfig: ClientCert and ClientKey go together")
	}
	user, name := c.User, c.Name
	if user == "" {
		user = "admin"
	}
	if name == "" {
		name = "vcluster"
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.CA}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: c.ClientCert, ClientKeyData: c.ClientKey, Token: c.Token}
	ctxName := user + "@" + name
	cfg.Contexts[ctxName] = &clientcmdapi.Context{Cluster: name, AuthInfo: user}
	cfg.CurrentContext = ctxName
	return clientcmd.Write(*cfg)
}

// RESTConfig parses a kubeconfig into a rest.Config for its current context.
func RESTConfig(kubeconfig []byte) (*rest.Config, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

// DefaultSecretKey is the key under which provisioners store the admin
// kubeconfig in a Secret.
const DefaultSecretKey = "config"

// Secret returns the Secret that holds kubeconfig at ref (an empty Key
// means DefaultSecretKey), with labels, for a controller to create or
// update; FromSecret reads it back. Provisioners that keep the kubeconfig
// elsewhere (vcluster/local) are published this way.
func Secret(ref vcluster.SecretRef, kubeconfig []byte, labels map[string]string) *corev1.Secret {
	key := ref.Key
	if key == "" {
		key = DefaultSecretKey
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name, Labels: labels},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{key: kubeconfig},
	}
}

// FromSecret reads the admin kubeconfig from the Secret ref points at (an
// empty Key means DefaultSecretKey) and checks that it parses. A missing
// Secret or key is an error wrapping vcluster.ErrNotFound.
func FromSecret(ctx context.Context, r vcluster.SecretReader, ref vcluster.SecretRef) ([]byte, error) {
	key := ref.Key
	if key == "" {
		key = DefaultSecretKey
	}
	var s corev1.Secret
	if err := r.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: kubeconfig Secret %s/%s not found", vcluster.ErrNotFound, ref.Namespace, ref.Name)
		}
		return nil, fmt.Errorf("reading kubeconfig Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	b, ok := s.Data[key]
	if !ok || len(b) == 0 {
		return nil, fmt.Errorf("%w: kubeconfig Secret %s/%s has no key %q", vcluster.ErrNotFound, ref.Namespace, ref.Name, key)
	}
	if _, err := clientcmd.Load(b); err != nil {
		return nil, fmt.Errorf("kubeconfig Secret %s/%s key %q: %w", ref.Namespace, ref.Name, key, err)
	}
	return b, nil
}
