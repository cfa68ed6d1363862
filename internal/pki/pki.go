// Package pki generates the certificates and keys a virtual control plane
// needs: a cluster CA, the API server's serving certificate, a front-proxy CA
// and client, the service account signing key, and client certificates for
// users and components. It is for vclusterkit's provisioners only.
//
// Keys are ECDSA P-256: fast to generate (a whole set in milliseconds) and
// accepted by every Kubernetes component, including for service account
// token signing (ES256).
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Validity of generated certificates.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	CertValidity = 365 * 24 * time.Hour
)

// KeyPair is a certificate and its private key, PEM encoded.
type KeyPair struct {
	Cert []byte
	Key  []byte
}

// Set is the PKI of one control plane.
type Set struct {
	CA              KeyPair
	Serving         KeyPair
	FrontProxyCA    KeyPair
	FrontProxy      KeyPair
	ServiceAccount  KeyPair // Cert holds the PEM public key
	Admin           KeyPair
	ControllerMgr   KeyPair
	FrontProxyNames []string
}

// Options for Generate.
type Options struct {
	// CommonName of the cluster CA; empty means "vclusterkit-ca".
	CommonName string
	// DNSNames and IPs for the serving certificate, besides localhost,
	// 127.0.0.1 and the in-cluster kubernetes service names.
	DNSNames []string
	IPs      []net.IP
}

// FrontProxyClientName is the CN of the front-proxy client certificate, and
// the name the API server allows in --requestheader-allowed-names.
const FrontProxyClientName = "front-proxy-client"

// AdminUser is the user name of the admin client certificate; it is in the
// system:masters group.
const AdminUser = "vclusterkit-admin"

// Generate creates a whole Set.
func Generate(o Options) (*Set, error) {
	cn := o.CommonName
	if cn == "" {
		cn = "vclusterkit-ca"
	}
	ca, caCert, caKey, err := newCA(cn)
	if err != nil {
		return nil, err
	}
	fpca, fpCert, fpKey, err := newCA(cn + "-front-proxy")
	if err != nil {
		return nil, err
	}
	dns := append([]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local"}, o.DNSNames...)
	ips := append([]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.IPv4(10, 96, 0, 1)}, o.IPs...)
	serving, err := sign(caCert, caKey, "kube-apiserver", nil, dns, ips, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	fp, err := sign(fpCert, fpKey, FrontProxyClientName, nil, nil, nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	admin, err := sign(caCert, caKey, AdminUser, []string{"system:masters"}, nil, nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	kcm, err := sign(caCert, caKey, "system:kube-controller-manager", nil, nil, nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	saPriv, err := encodeKey(saKey)
	if err != nil {
		return nil, err
	}
	return &Set{
		CA: ca, Serving: serving, FrontProxyCA: fpca, FrontProxy: fp, Admin: admin, ControllerMgr: kcm,
		ServiceAccount:  KeyPair{Cert: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), Key: saPriv},
		FrontProxyNames: []string{FrontProxyClientName},
	}, nil
}

// NewCA creates a self-signed certificate authority named cn, for a
// purpose of its own (a virtual cluster's kubelet client and serving
// certificates, kept apart from the cluster CA whose CSR signer a tenant
// can drive).
func NewCA(cn string) (KeyPair, error) {
	if cn == "" {
		return KeyPair{}, errors.New("pki: a CA needs a common name")
	}
	kp, _, _, err := newCA(cn)
	return kp, err
}

// ClientCert signs a client certificate for user in groups with the CA.
func ClientCert(ca KeyPair, user string, groups []string) (KeyPair, error) {
	if user == "" {
		return KeyPair{}, errors.New("pki: a client certificate needs a user name")
	}
	cert, key, err := Parse(ca)
	if err != nil {
		return KeyPair{}, err
	}
	return sign(cert, key, user, groups, nil, nil, x509.ExtKeyUsageClientAuth)
}

// ServingCert signs a server certificate for the given names and addresses
// with the CA (a kubelet's, for example).
func ServingCert(ca KeyPair, cn string, dns []string, ips []net.IP) (KeyPair, error) {
	if len(dns) == 0 && len(ips) == 0 {
		return KeyPair{}, errors.New("pki: a serving certificate needs a DNS name or an IP address")
	}
	cert, key, err := Parse(ca)
	if err != nil {
		return KeyPair{}, err
	}
	return sign(cert, key, cn, nil, dns, ips, x509.ExtKeyUsageServerAuth)
}

// Parse decodes a PEM key pair.
func Parse(kp KeyPair) (*x509.Certificate, crypto.Signer, error) {
	cb, _ := pem.Decode(kp.Cert)
	if cb == nil {
		return nil, nil, errors.New("pki: no PEM certificate")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: parsing certificate: %w", err)
	}
	kb, _ := pem.Decode(kp.Key)
	if kb == nil {
		return nil, nil, errors.New("pki: no PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: parsing key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("pki: key cannot sign")
	}
	return cert, s, nil
}

func newCA(cn string) (KeyPair, *x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return KeyPair{}, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return KeyPair{}, nil, nil, err
	}
	kp, err := encode(der, key)
	return kp, cert, key, err
}

func sign(ca *x509.Certificate, caKey crypto.Signer, cn string, orgs, dns []string, ips []net.IP, usage x509.ExtKeyUsage) (KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(CertValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return KeyPair{}, err
	}
	return encode(der, key)
}

func encode(der []byte, key *ecdsa.PrivateKey) (KeyPair, error) {
	k, err := encodeKey(key)
	if err != nil {
		return KeyPair{}, err
	}
	return KeyPair{Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Key: k}, nil
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	b, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand never fails on supported platforms.
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
