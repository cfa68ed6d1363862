package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/vclusterkit/vclusterkit/internal/binaries"
	"github.com/vclusterkit/vclusterkit/internal/images"
	"github.com/vclusterkit/vclusterkit/internal/pki"
)

// Addresses of a real-node host. The node's IP is an address of its own
// on the loopback device; pods get addresses from the bridge's subnet; Services
// from ServiceCIDR, with the cluster DNS at DNSServiceIP.
const (
	NodeName     = "vclusterkit-node"
	NodeIP       = "10.233.0.1"
	PodCIDR      = "10.244.0.0/24"
	ServiceCIDR  = "10.96.0.0/16"
	DNSServiceIP = "10.96.0.10"
	// ClusterDomain is the DNS domain of the host's Services.
	ClusterDomain = "cluster.local"
)

// realNode is the part of a Host that runs a real node: its own control
// plane (kwokctl's cannot give kubelet what it needs) and kubelet,
// containerd, kube-proxy, CoreDNS and kube-router.
type realNode struct {
	dir    string
	lock   *os.File
	procs  map[string]*exec.Cmd
	ca     pki.KeyPair
	ctr    string
	sock   string
	reaper *reaper
	// Timings of the start, for reports.
	Timings NodeTimings
}

// NodeTimings says how long a real node took to start.
type NodeTimings struct {
	// APIServer is from the start to a ready kube-apiserver.
	APIServer time.Duration
	// NodeReady is from the start to the Node being Ready.
	NodeReady time.Duration
	// DNSReady is from the start to CoreDNS answering (the whole start).
	DNSReady time.Duration
	// Images is how long building and importing the node's images took
	// (beside kubelet's start).
	Images time.Duration
}

// nodeNeed is one thing a machine needs to run a node, and its fix.
type nodeNeed struct{ path, fix string }

// nodeNeeds are the files a real node needs on the machine.
var nodeNeeds = []nodeNeed{
	{"/usr/sbin/runc", "apt-get install runc (make test-deps)"},
	{"/usr/lib/cni/bridge", "apt-get install containernetworking-plugins (make test-deps)"},
	{"/usr/lib/cni/host-local", "apt-get install containernetworking-plugins (make test-deps)"},
	{"/usr/lib/cni/loopback", "apt-get install containernetworking-plugins (make test-deps)"},
	{"/usr/lib/cni/portmap", "apt-get install containernetworking-plugins (make test-deps)"},
	{images.BusyboxPath, "apt-get install busybox-static (make test-deps)"},
	{"/usr/sbin/iptables", "apt-get install iptables (make test-deps)"},
	{"/usr/sbin/ipset", "apt-get install ipset (make test-deps)"},
	{"/usr/sbin/conntrack", "apt-get install conntrack (make test-deps)"},
	{"/sys/fs/cgroup/memory", "a cgroup v1 memory controller mounted at /sys/fs/cgroup/memory"},
	{"/proc/sys/net/bridge/bridge-nf-call-iptables", "the br_netfilter kernel module (modprobe br_netfilter)"},
}

// nodeCommands are the commands the node's set-up and sweep run.
var nodeCommands = []string{"ip", "pgrep", "nft", "ldd", "iptables-save", "iptables-restore"}

// nodeMissing checks what a machine needs to run a node and names every
// missing part with its fix.
func nodeMissing() error { return missingOf(os.Geteuid(), nodeNeeds, nodeCommands) }

func missingOf(euid int, needs []nodeNeed, commands []string) error {
	var errs []error
	if euid != 0 {
		errs = append(errs, errors.New("not root: a real node needs root (containers, mounts, iptables, cgroups)"))
	}
	for _, p := range needs {
		if _, err := os.Stat(p.path); err != nil {
			errs = append(errs, fmt.Errorf("%s is missing: %s", p.path, p.fix))
		}
	}
	for _, c := range commands {
		if _, err := exec.LookPath(c); err != nil {
			errs = append(errs, fmt.Errorf("command %s not found: make test-deps installs it", c))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("this machine cannot run a real node:\n%w", errors.Join(errs...))
	}
	return nil
}

// lockNode takes the machine-wide real-node lock, waiting for another
// node's Stop until ctx ends. Only one real node runs on a machine: it
// uses host-wide names (cni0, the KUBE- chains, kubepods cgroups). go test
// runs packages in parallel processes; this lock, not -p 1, is what keeps
// two of them from starting nodes at once.
func lockNode(ctx context.Context, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the real-node lock %s: %w", path, err)
	}
	for {
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			holder, _ := os.ReadFile(path)
			f.Close()
			return nil, fmt.Errorf("another real node holds %s (pid %s) and did not stop in time: %w",
				path, strings.TrimSpace(string(holder)), ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

func startRealHost(ctx context.Context, h *Host, timeout time.Duration) (err error) {
	if err := nodeMissing(); err != nil {
		return err
	}
	names := append([]string{binaries.Etcd, binaries.KubeAPIServer, binaries.KubeControllerManager,
		binaries.KubeScheduler, binaries.Kubectl, binaries.Kine}, binaries.RealNode...)
	bins, err := binaries.Paths(names...)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()

	lock, err := lockNode(cctx, nodeLockPath)
	if err != nil {
		return err
	}
	n := &realNode{lock: lock, procs: map[string]*exec.Cmd{}, ctr: bins[binaries.Ctr]}
	h.node = n
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, h.logTails())
		}
	}()
	// A node whose test binary and reaper both died left its sweep behind.
	if err := runSweep(sweepPath); err != nil {
		return fmt.Errorf("cleaning up after an earlier real node: %w", err)
	}
	if left := NodeLeftovers(); len(left) > 0 {
		return fmt.Errorf("this machine still has real-node state that no sweep of ours describes, so it was not made by this package's node or was changed since; remove it first: %s", strings.Join(left, "; "))
	}
	n.dir, err = os.MkdirTemp("", "vclusterkit-node-")
	if err != nil {
		return err
	}
	h.workdir = n.dir
	n.sock = filepath.Join(n.dir, "containerd", "containerd.sock")
	for _, d := range []string{"pids", "logs", "pki", "etcd", "containerd", "cni/net.d", "cni/ipam", "kubelet", "pod-logs"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
			return err
		}
	}
	// The sweep and its reaper exist before the first change to the machine.
	st := captureSweepState(n.dir)
	if err := os.WriteFile(sweepPath, []byte(st.script()), 0o700); err != nil {
		return fmt.Errorf("writing the real-node sweep: %w", err)
	}
	n.reaper, err = startReaper(reap{commands: [][]string{{"/bin/sh", sweepPath}}})
	if err != nil {
		return err
	}

	if err := n.network(); err != nil {
		return err
	}
	if err := n.writePKI(); err != nil {
		return err
	}
	ports, err := freePorts(10)
	if err != nil {
		return err
	}
	etcdPort, etcdPeer, apiPort, kubeletPort, kubeletHealthz, proxyHealthz, proxyMetrics, routerHealth, kcmPort, schedPort :=
		ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6], ports[7], ports[8], ports[9]
	apiURL := "https://" + net.JoinHostPort(NodeIP, strconv.Itoa(apiPort))
	kc := func(name, user string, groups ...string) (string, error) {
		return n.kubeconfig(apiURL, name, user, groups)
	}
	adminKC, err := kc("admin", "vclusterkit-admin", "system:masters")
	if err != nil {
		return err
	}
	h.KubeconfigPath = adminKC

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)
	if err := n.start("etcd", bins[binaries.Etcd], nil, "--name=node", "--data-dir="+filepath.Join(n.dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=node="+peerURL, "--unsafe-no-fsync", "--quota-backend-bytes=2147483648"); err != nil {
		return err
	}
	p := func(f string) string { return filepath.Join(n.dir, "pki", f) }
	if err := n.start("kube-apiserver", bins[binaries.KubeAPIServer], nil,
		"--etcd-servers="+etcdURL, "--bind-address="+NodeIP, "--advertise-address="+NodeIP,
		"--secure-port="+strconv.Itoa(apiPort), "--service-cluster-ip-range="+ServiceCIDR,
		"--client-ca-file="+p("ca.crt"), "--tls-cert-file="+p("apiserver.crt"), "--tls-private-key-file="+p("apiserver.key"),
		"--kubelet-client-certificate="+p("kubelet-client.crt"), "--kubelet-client-key="+p("kubelet-client.key"),
		"--kubelet-certificate-authority="+p("ca.crt"),
		"--kubelet-preferred-address-types=InternalIP,Hostname",
		"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
		"--service-account-issuer=https://kubernetes.default.svc."+ClusterDomain,
		"--service-account-key-file="+p("sa.pub"), "--service-account-signing-key-file="+p("sa.key"),
		"--allow-privileged=true", "--profiling=false"); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", adminKC)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 100, 200
	h.Config = cfg
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := poll(cctx, "kube-apiserver /readyz", func() (bool, error) {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(cctx)
		return err == nil && string(body) == "ok", nil
	}); err != nil {
		return err
	}
	n.Timings.APIServer = time.Since(start)

	kcmKC, err := kc("kcm", "system:kube-controller-manager")
	if err != nil {
		return err
	}
	if err := n.start("kube-controller-manager", bins[binaries.KubeControllerManager], nil,
		"--kubeconfig="+kcmKC, "--authentication-kubeconfig="+kcmKC, "--authorization-kubeconfig="+kcmKC,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--service-account-private-key-file="+p("sa.key"), "--root-ca-file="+p("ca.crt"),
		"--cluster-signing-cert-file="+p("ca.crt"), "--cluster-signing-key-file="+p("ca.key"),
		"--use-service-account-credentials=true", "--leader-elect=false",
		"--service-cluster-ip-range="+ServiceCIDR,
		// The node's podCIDR (kube-router reads it) is the first /24 of the
		// cluster CIDR: the bridge's subnet, PodCIDR.
		"--allocate-node-cidrs=true", "--cluster-cidr=10.244.0.0/16", "--node-cidr-mask-size=24"); err != nil {
		return err
	}
	schedKC, err := kc("scheduler", "system:kube-scheduler")
	if err != nil {
		return err
	}
	if err := n.start("kube-scheduler", bins[binaries.KubeScheduler], nil,
		"--kubeconfig="+schedKC, "--authentication-kubeconfig="+schedKC, "--authorization-kubeconfig="+schedKC,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort), "--leader-elect=false"); err != nil {
		return err
	}

	// containerd, then the images pods use, before kubelet asks for any.
	if err := n.writeContainerdConfig(); err != nil {
		return err
	}
	if err := n.start("containerd", bins[binaries.Containerd],
		[]string{"PATH=" + filepath.Dir(bins[binaries.ContainerdShim]) + ":" + os.Getenv("PATH")},
		"--config="+filepath.Join(n.dir, "containerd", "config.toml")); err != nil {
		return err
	}
	if err := poll(cctx, "containerd socket", func() (bool, error) {
		c, err := net.Dial("unix", n.sock)
		if err == nil {
			c.Close()
		}
		return err == nil, nil
	}); err != nil {
		return err
	}
	// The node's own images are imported while kubelet starts and
	// registers: no pod can be asked of it before the node is Ready.
	imported := make(chan error, 1)
	go func() {
		t0 := time.Now()
		imgs, err := images.NodeImages()
		if err == nil {
			err = images.Import(cctx, n.ctr, n.sock, imgs...)
		}
		n.Timings.Images = time.Since(t0)
		imported <- err
	}()

	nodeKC, err := kc("kubelet", "system:node:"+NodeName, "system:nodes")
	if err != nil {
		return err
	}
	if err := n.writeKubeletConfig(kubeletPort, kubeletHealthz); err != nil {
		return err
	}
	if err := n.start("kubelet", bins[binaries.Kubelet], nil,
		"--config="+filepath.Join(n.dir, "kubelet.yaml"), "--kubeconfig="+nodeKC,
		"--hostname-override="+NodeName, "--node-ip="+NodeIP,
		"--root-dir="+filepath.Join(n.dir, "kubelet"), "--v=1"); err != nil {
		return err
	}
	proxyKC, err := kc("kube-proxy", "system:kube-proxy")
	if err != nil {
		return err
	}
	if err := n.writeKubeProxyConfig(proxyKC, proxyHealthz, proxyMetrics); err != nil {
		return err
	}
	if err := n.start("kube-proxy", bins[binaries.KubeProxy], nil,
		"--config="+filepath.Join(n.dir, "kube-proxy.yaml"), "--v=1"); err != nil {
		return err
	}
	if err := poll(cctx, "node "+NodeName+" Ready", func() (bool, error) {
		node, err := cs.CoreV1().Nodes().Get(cctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		return err
	}
	n.Timings.NodeReady = time.Since(start)
	if err := <-imported; err != nil {
		return fmt.Errorf("importing the node's images: %w", err)
	}
	// kube-router reads the node's addresses, so it starts once the node is
	// registered. It runs only its NetworkPolicy firewall.
	if err := n.start("kube-router", bins[binaries.KubeRouter], []string{"PATH=/usr/sbin:/sbin:" + os.Getenv("PATH")},
		"--kubeconfig="+adminKC, "--hostname-override="+NodeName,
		"--run-firewall=true", "--run-router=false", "--run-service-proxy=false",
		"--enable-ipv4=true", "--enable-ipv6=false", "--service-cluster-ip-range="+ServiceCIDR,
		"--health-port="+strconv.Itoa(routerHealth), "--metrics-port=0", "--iptables-sync-period=5m", "--v=1"); err != nil {
		return err
	}
	if err := deployDNS(cctx, cs); err != nil {
		return err
	}
	if err := poll(cctx, "kube-router healthy", func() (bool, error) {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(routerHealth) + "/healthz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}); err != nil {
		return err
	}
	if err := poll(cctx, "the default ServiceAccount", func() (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(cctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		return err
	}
	n.Timings.DNSReady = time.Since(start)
	return nil
}

// network gives the node its own address on lo and turns on
// forwarding and bridge netfilter (kube-proxy and kube-router rules must
// see bridged pod-to-pod packets).
func (n *realNode) network() error {
	for _, c := range [][]string{
		{"ip", "addr", "add", NodeIP + "/32", "dev", nodeAddrDev},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(c, " "), err, out)
		}
	}
	for k, v := range map[string]string{
		"net/ipv4/ip_forward":                 "1",
		"net/bridge/bridge-nf-call-iptables":  "1",
		"net/bridge/bridge-nf-call-ip6tables": "1",
	} {
		if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", k, v, err)
		}
	}
	conf := fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "vclusterkit", "plugins": [
  {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
`, bridgeName, PodCIDR, filepath.Join(n.dir, "cni", "ipam"))
	return os.WriteFile(filepath.Join(n.dir, "cni", "net.d", "10-vclusterkit.conflist"), []byte(conf), 0o644)
}

// writePKI writes the node's CA, the API server's and kubelet's serving
// certificates, the API server's kubelet client certificate and the
// service account key.
func (n *realNode) writePKI() error {
	set, err := pki.Generate(pki.Options{
		CommonName: "kube-apiserver",
		DNSNames:   []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + ClusterDomain, "localhost"},
		IPs:        []net.IP{net.ParseIP(NodeIP), net.ParseIP("10.96.0.1"), net.ParseIP("127.0.0.1")},
	})
	if err != nil {
		return err
	}
	n.ca = set.CA
	kubeletServing, err := pki.ServingCert(set.CA, NodeName, []string{NodeName}, []net.IP{net.ParseIP(NodeIP)})
	if err != nil {
		return err
	}
	kubeletClient, err := pki.ClientCert(set.CA, "kube-apiserver-kubelet-client", []string{"system:masters"})
	if err != nil {
		return err
	}
	write := func(name string, b []byte) error {
		return os.WriteFile(filepath.Join(n.dir, "pki", name), b, 0o600)
	}
	for _, f := range []struct {
		name string
		kp   pki.KeyPair
	}{{"ca", set.CA}, {"apiserver", set.Serving}, {"kubelet", kubeletServing}, {"kubelet-client", kubeletClient}} {
		if err := write(f.name+".crt", f.kp.Cert); err != nil {
			return err
		}
		if err := write(f.name+".key", f.kp.Key); err != nil {
			return err
		}
	}
	if err := write("sa.pub", set.ServiceAccount.Cert); err != nil {
		return err
	}
	return write("sa.key", set.ServiceAccount.Key)
}

// kubeconfig writes a kubeconfig with a client certificate for user in
// groups, signed by the node's CA.
func (n *realNode) kubeconfig(server, name, user string, groups []string) (string, error) {
	kp, err := pki.ClientCert(n.ca, user, groups)
	if err != nil {
		return "", err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["host"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: n.ca.Cert}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: kp.Cert, ClientKeyData: kp.Key}
	cfg.Contexts["host"] = &clientcmdapi.Context{Cluster: "host", AuthInfo: name}
	cfg.CurrentContext = "host"
	path := filepath.Join(n.dir, name+".kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}

func (n *realNode) writeContainerdConfig() error {
	d := filepath.Join(n.dir, "containerd")
	conf := fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[plugins.'io.containerd.internal.v1.opt']
  path = %[4]q
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = %[5]q
[plugins.'io.containerd.cri.v1.runtime']
  # Root on these machines lacks CAP_SYS_RESOURCE: without this every
  # sandbox fails in runc create (REALNODE.md).
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = %[6]q
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
`, filepath.Join(d, "root"), filepath.Join(d, "state"), n.sock, filepath.Join(d, "opt"),
		images.Pause, filepath.Join(n.dir, "cni", "net.d"))
	return os.WriteFile(filepath.Join(d, "config.toml"), []byte(conf), 0o644)
}

func (n *realNode) writeKubeletConfig(port, healthz int) error {
	p := func(f string) string { return filepath.Join(n.dir, "pki", f) }
	conf := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 on these machines: since v1.35 kubelet refuses it unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
makeIPTablesUtilChains: false
containerRuntimeEndpoint: unix://%[1]s
address: %[2]s
port: %[3]d
healthzBindAddress: 127.0.0.1
healthzPort: %[4]d
readOnlyPort: 0
tlsCertFile: %[5]s
tlsPrivateKeyFile: %[6]s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[7]s}
authorization: {mode: Webhook}
clusterDNS: [%[8]s]
clusterDomain: %[9]s
resolvConf: /etc/resolv.conf
podLogsDir: %[10]s
serializeImagePulls: false
# Imported images cannot be pulled again: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# A busy shared disk must not evict the tests' pods.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%%", imagefs.available: "1%%", nodefs.inodesFree: "1%%"}
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
`, n.sock, NodeIP, port, healthz, p("kubelet.crt"), p("kubelet.key"), p("ca.crt"), DNSServiceIP, ClusterDomain,
		filepath.Join(n.dir, "pod-logs"))
	return os.WriteFile(filepath.Join(n.dir, "kubelet.yaml"), []byte(conf), 0o644)
}

func (n *realNode) writeKubeProxyConfig(kubeconfig string, healthz, metrics int) error {
	conf := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: %q}
hostnameOverride: %s
clusterCIDR: %s
healthzBindAddress: 127.0.0.1:%d
metricsBindAddress: 127.0.0.1:%d
# Leave the machine's conntrack settings and route_localnet alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false, syncPeriod: 30s, minSyncPeriod: 0s}
`, kubeconfig, NodeName, PodCIDR, healthz, metrics)
	return os.WriteFile(filepath.Join(n.dir, "kube-proxy.yaml"), []byte(conf), 0o644)
}

// start runs a component in its own process group, its output in
// logs/NAME.log and its pid in pids/NAME.pid (what the sweep kills).
func (n *realNode) start(name, bin string, env []string, args ...string) error {
	logf, err := os.Create(filepath.Join(n.dir, "logs", name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = n.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	logf.Close()
	n.procs[name] = cmd
	go func() { _ = cmd.Wait() }()
	return os.WriteFile(filepath.Join(n.dir, "pids", name+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
}

// stop ends the node: components get SIGTERM and a moment to leave, then
// the sweep removes everything, and what is still there is an error.
func (n *realNode) stop() error {
	if n == nil {
		return nil
	}
	var errs []error
	if n.dir != "" {
		for _, name := range []string{"kube-router", "kube-proxy", "kubelet"} {
			if c := n.procs[name]; c != nil && c.Process != nil {
				_ = c.Process.Signal(syscall.SIGTERM)
			}
		}
		time.Sleep(300 * time.Millisecond)
		errs = append(errs, runSweep(sweepPath))
		// SIGKILLed shims and containers are reparented and reaped a moment
		// later: the machine must be clean within a bound, not at once.
		left := NodeLeftovers()
		for deadline := time.Now().Add(20 * time.Second); len(left) > 0 && time.Now().Before(deadline); left = NodeLeftovers() {
			time.Sleep(200 * time.Millisecond)
		}
		if len(left) > 0 {
			errs = append(errs, fmt.Errorf("the real node left: %s (sweep log: /tmp/vclusterkit-node-sweep.log)", strings.Join(left, "; ")))
		}
	}
	n.reaper.stop()
	if n.lock != nil {
		_ = syscall.Flock(int(n.lock.Fd()), syscall.LOCK_UN)
		n.lock.Close()
		n.lock = nil
	}
	return errors.Join(errs...)
}

// poll calls f every 250 ms until it says done, returns an error, or ctx
// ends; the error then names what was awaited.
func poll(ctx context.Context, what string, f func() (bool, error)) error {
	for {
		ok, err := f()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func freePorts(k int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	out := make([]int, 0, k)
	for range k {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// ImportImages builds images and imports them into the real node's
// containerd (images.ControlPlaneImages, for example). A KWOK host has no
// runtime to import into: an error.
func (h *Host) ImportImages(ctx context.Context, imgs ...images.Image) error {
	if h.node == nil {
		return errors.New("ImportImages: this host has KWOK nodes, which run no containers")
	}
	return images.Import(ctx, h.node.ctr, h.node.sock, imgs...)
}

// RealNodeMissing says what this machine lacks to run a real node (nil when
// it can): root, runc, the CNI plugins, busybox, iptables and friends.
func RealNodeMissing() error { return nodeMissing() }
