package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// KeyPrefix starts every API key, so that a leaked one is recognisable
// (secret scanners) and the Chain can route it without trying OIDC.
const KeyPrefix = "vck_"

// MaxKeyLifetime bounds how long a key may live.
const MaxKeyLifetime = 90 * 24 * time.Hour

// SecretType marks the Secrets that hold API keys.
const SecretType corev1.SecretType = "vclusterkit.io/api-key"

const (
	keyLabel     = "vclusterkit.io/api-key"
	secretPrefix = "vclusterkit-apikey-"
)

// Key describes an API key; the key itself is shown once, by Issue.
type Key struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Tenant    string       `json:"tenant"`
	Role      tenancy.Role `json:"role"`
	Creator   string       `json:"creator"`
	Groups    []string     `json:"groups,omitempty"`
	CreatedAt time.Time    `json:"createdAt"`
	ExpiresAt time.Time    `json:"expiresAt"`

	hash []byte
}

// KeyStore keeps API keys as Secrets in one namespace of the host: only a
// SHA-256 of each key's secret part is stored (the secret is 256 random
// bits, so a fast hash is enough: there is nothing to guess from it).
// Revoking deletes the Secret. Safe for concurrent use.
type KeyStore struct {
	// Client reads and writes Secrets. Required.
	Client client.Client
	// Namespace holds the Secrets. Required.
	Namespace string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ Authenticator = (*KeyStore)(nil)

func (s *KeyStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Issue creates a key for creator (name and groups) on tenant's subtree
// with role, living for lifetime (at most MaxKeyLifetime). It returns the
// key's description and the key, which is not stored and cannot be shown
// again. The caller checks that creator may grant role on tenant.
func (s *KeyStore) Issue(ctx context.Context, creator *Identity, name, tenant string, role tenancy.Role, lifetime time.Duration) (*Key, string, error) {
	if lifetime <= 0 || lifetime > MaxKeyLifetime {
		return nil, "", fmt.Errorf("lifetime %s: must be positive and at most %s", lifetime, MaxKeyLifetime)
	}
	idb := make([]byte, 8)
	sec := make([]byte, 32)
	if _, err := rand.Read(idb); err != nil {
		return nil, "", err
	}
	if _, err := rand.Read(sec); err != nil {
		return nil, "", err
	}
	id := hex.EncodeToString(idb)
	secret := base64.RawURLEncoding.EncodeToString(sec)
	sum := sha256.Sum256([]byte(secret))
	now := s.now().UTC().Truncate(time.Second)
	k := &Key{ID: id, Name: name, Tenant: tenant, Role: role, Creator: creator.Name, Groups: creator.Groups,
		CreatedAt: now, ExpiresAt: now.Add(lifetime)}
	sc := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretPrefix + id, Namespace: s.Namespace, Labels: map[string]string{keyLabel: "true"}},
		Type:       SecretType,
		Data: map[string][]byte{
			"sha256": []byte(hex.EncodeToString(sum[:])), "name": []byte(name), "tenant": []byte(tenant),
			"role": []byte(role), "creator": []byte(creator.Name), "groups": []byte(strings.Join(creator.Groups, "\n")),
			"createdAt": []byte(now.Format(time.RFC3339)), "expiresAt": []byte(k.ExpiresAt.Format(time.RFC3339)),
		},
	}
	if err := s.Client.Create(ctx, sc); err != nil {
		return nil, "", fmt.Errorf("storing API key: %w", err)
	}
	return k, KeyPrefix + id + "_" + secret, nil
}

func keyFrom(sc *corev1.Secret) (*Key, error) {
	d := sc.Data
	k := &Key{ID: strings.TrimPrefix(sc.Name, secretPrefix), Name: string(d["name"]), Tenant: string(d["tenant"]),
		Role: tenancy.Role(d["role"]), Creator: string(d["creator"])}
	if g := string(d["groups"]); g != "" {
		k.Groups = strings.Split(g, "\n")
	}
	var err1, err2, err3 error
	k.CreatedAt, err1 = time.Parse(time.RFC3339, string(d["createdAt"]))
	k.ExpiresAt, err2 = time.Parse(time.RFC3339, string(d["expiresAt"]))
	k.hash, err3 = hex.DecodeString(string(d["sha256"]))
	if err := errors.Join(err1, err2, err3); err != nil || len(k.hash) != sha256.Size {
		return nil, fmt.Errorf("API key Secret %s is malformed", sc.Name)
	}
	return k, nil
}

// Get returns the key with id, or an error wrapping tenancy.ErrNotFound.
func (s *KeyStore) Get(ctx context.Context, id string) (*Key, error) {
	if !isHex(id) {
		return nil, fmt.Errorf("%w: API key %q", tenancy.ErrNotFound, id)
	}
	var sc corev1.Secret
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: secretPrefix + id}, &sc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: API key %s (revoked or never issued)", tenancy.ErrNotFound, id)
		}
		return nil, err
	}
	if sc.Type != SecretType {
		return nil, fmt.Errorf("%w: API key %s", tenancy.ErrNotFound, id)
	}
	return keyFrom(&sc)
}

// List returns every key, sorted by ID.
func (s *KeyStore) List(ctx context.Context) ([]*Key, error) {
	var l corev1.SecretList
	if err := s.Client.List(ctx, &l, client.InNamespace(s.Namespace), client.MatchingLabels{keyLabel: "true"}); err != nil {
		return nil, err
	}
	var out []*Key
	for i := range l.Items {
		if l.Items[i].Type != SecretType {
			continue
		}
		if k, err := keyFrom(&l.Items[i]); err == nil {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Revoke deletes the key; a key that does not exist is an error wrapping
// tenancy.ErrNotFound.
func (s *KeyStore) Revoke(ctx context.Context, id string) error {
	if !isHex(id) {
		return fmt.Errorf("%w: API key %q", tenancy.ErrNotFound, id)
	}
	sc := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: secretPrefix + id}}
	if err := s.Client.Delete(ctx, sc); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%w: API key %s", tenancy.ErrNotFound, id)
		}
		return err
	}
	return nil
}

// Authenticate checks a key: well-formed, issued and not revoked, the
// secret matching its hash, not expired.
func (s *KeyStore) Authenticate(ctx context.Context, token string) (*Identity, error) {
	rest, ok := strings.CutPrefix(token, KeyPrefix)
	id, secret, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || !isHex(id) || len(id) != 16 || secret == "" {
		return nil, fmt.Errorf("%w: malformed API key (expected %s<id>_<secret>)", ErrUnauthenticated, KeyPrefix)
	}
	k, err := s.Get(ctx, id)
	if errors.Is(err, tenancy.ErrNotFound) {
		return nil, fmt.Errorf("%w: API key %s is revoked or was never issued", ErrUnauthenticated, id)
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], k.hash) != 1 {
		return nil, fmt.Errorf("%w: API key %s: wrong secret", ErrUnauthenticated, id)
	}
	if !s.now().Before(k.ExpiresAt) {
		return nil, fmt.Errorf("%w: API key %s expired at %s: issue a new one", ErrUnauthenticated, id, k.ExpiresAt.Format(time.RFC3339))
	}
	return &Identity{Name: k.Creator, Groups: k.Groups, Method: MethodAPIKey,
		Scope: &Scope{KeyID: k.ID, Tenant: k.Tenant, Role: k.Role}}, nil
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
