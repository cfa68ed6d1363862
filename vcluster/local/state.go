package local

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/vclusterkit/vclusterkit/internal/pki"
	"github.com/vclusterkit/vclusterkit/vcluster"
)

// Layout of a state directory, DIR/<host namespace>/<name>/:
//
//	state.json             ports, owner, paused flag, pids (stateFile)
//	pki/                   certificates and keys
//	store/                 state.db (sqlite) or etcd/ (etcd); dsn (0600) for external stores
//	logs/<component>.log   component output
//	admin.kubeconfig       admin kubeconfig (also returned by Kubeconfig)
//	kcm.kubeconfig         kube-controller-manager's kubeconfig
const (
	stateFile = "state.json"
	pkiDir    = "pki"
	storeDir  = "store"
	logsDir   = "logs"
	adminKC   = "admin.kubeconfig"
	kcmKC     = "kcm.kubeconfig"
	dsnFile   = "dsn"
)

type owner struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid,omitempty"`
}

type ports struct {
	Store             int `json:"store"`
	StorePeer         int `json:"storePeer,omitempty"`
	APIServer         int `json:"apiServer"`
	ControllerManager int `json:"controllerManager"`
}

// state is what survives the embedding program: enough to start the same
// control plane again with the same data and PKI.
type state struct {
	Owner         owner                     `json:"owner"`
	HostNamespace string                    `json:"hostNamespace"`
	Name          string                    `json:"name"`
	BackingStore  vcluster.BackingStoreType `json:"backingStore"`
	EtcdPrefix    string                    `json:"etcdPrefix"`
	Version       string                    `json:"version"`
	Ports         ports                     `json:"ports"`
	// Address the API server listens on and advertises (Options.Address
	// when it last started); empty in older state means 127.0.0.1.
	Address string `json:"address,omitempty"`
	Paused  bool   `json:"paused"`
	PIDs    []int  `json:"pids,omitempty"`
}

func ownerOf(vc *vcluster.VirtualCluster) owner {
	return owner{Namespace: vc.Namespace, Name: vc.Name, UID: string(vc.UID)}
}

// sameOwner: same object; UIDs compared only when both are known (a
// VirtualCluster built in code has none).
func (o owner) same(p owner) bool {
	if o.Namespace != p.Namespace || o.Name != p.Name {
		return false
	}
	return o.UID == "" || p.UID == "" || o.UID == p.UID
}

func readState(dir string) (*state, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("corrupt %s: %w", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

// writeState replaces state.json atomically.
func writeState(dir string, s *state) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, stateFile)); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	return nil
}

// pkiFiles names the files of a pki.Set in pki/.
var pkiFiles = []struct {
	name string
	get  func(*pki.Set) []byte
}{
	{"ca.crt", func(s *pki.Set) []byte { return s.CA.Cert }},
	{"ca.key", func(s *pki.Set) []byte { return s.CA.Key }},
	{"apiserver.crt", func(s *pki.Set) []byte { return s.Serving.Cert }},
	{"apiserver.key", func(s *pki.Set) []byte { return s.Serving.Key }},
	{"front-proxy-ca.crt", func(s *pki.Set) []byte { return s.FrontProxyCA.Cert }},
	{"front-proxy-ca.key", func(s *pki.Set) []byte { return s.FrontProxyCA.Key }},
	{"front-proxy-client.crt", func(s *pki.Set) []byte { return s.FrontProxy.Cert }},
	{"front-proxy-client.key", func(s *pki.Set) []byte { return s.FrontProxy.Key }},
	{"sa.pub", func(s *pki.Set) []byte { return s.ServiceAccount.Cert }},
	{"sa.key", func(s *pki.Set) []byte { return s.ServiceAccount.Key }},
	{"admin.crt", func(s *pki.Set) []byte { return s.Admin.Cert }},
	{"admin.key", func(s *pki.Set) []byte { return s.Admin.Key }},
	{"kcm.crt", func(s *pki.Set) []byte { return s.ControllerMgr.Cert }},
	{"kcm.key", func(s *pki.Set) []byte { return s.ControllerMgr.Key }},
}

func writePKI(dir string, s *pki.Set) error {
	d := filepath.Join(dir, pkiDir)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return err
	}
	for _, f := range pkiFiles {
		if err := os.WriteFile(filepath.Join(d, f.name), f.get(s), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func readKeyPair(dir, base string) (pki.KeyPair, error) {
	c, err := os.ReadFile(filepath.Join(dir, pkiDir, base+".crt"))
	if err != nil {
		return pki.KeyPair{}, err
	}
	k, err := os.ReadFile(filepath.Join(dir, pkiDir, base+".key"))
	if err != nil {
		return pki.KeyPair{}, err
	}
	return pki.KeyPair{Cert: c, Key: k}, nil
}

// ensureServingCert reissues the API server's serving certificate from the
// cluster CA, keeping its names and adding address, when it does not cover
// address (a control plane created before Options.Address was set, or with
// another one).
func ensureServingCert(dir, address string) error {
	if address == "" {
		address = loopback
	}
	serving, err := readKeyPair(dir, "apiserver")
	if err != nil {
		return fmt.Errorf("local: reading serving certificate: %w", err)
	}
	cert, _, err := pki.Parse(serving)
	if err != nil {
		return fmt.Errorf("local: serving certificate: %w", err)
	}
	if cert.VerifyHostname(address) == nil {
		return nil
	}
	ca, err := readKeyPair(dir, "ca")
	if err != nil {
		return fmt.Errorf("local: reading cluster CA: %w", err)
	}
	kp, err := pki.ServingCert(ca, cert.Subject.CommonName, cert.DNSNames, append(cert.IPAddresses, net.ParseIP(address)))
	if err != nil {
		return fmt.Errorf("local: reissuing serving certificate for %s: %w", address, err)
	}
	if err := os.WriteFile(filepath.Join(dir, pkiDir, "apiserver.key"), kp.Key, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, pkiDir, "apiserver.crt"), kp.Cert, 0o600)
}
