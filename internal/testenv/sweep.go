package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// A real node changes the machine: processes, containers and their
// cgroups, mounts, the cni0 bridge and the node's dummy link, iptables
// chains and ipsets, sysctls, and a few directories outside its working
// directory that kubelet and containerd create whatever they are told.
// Everything it changes is undone by one shell script, the sweep, written
// before the first change. Stop runs it; the reaper runs it when the test
// binary dies; and the next real node runs a sweep still found at
// sweepPath (its reaper died too) before it starts. The script only
// touches what this package's node makes: the machine-wide lock
// (nodeLockPath) ensures no other node runs while it does.

// Paths of the machine-wide state of the one real node a machine runs.
const (
	nodeLockPath = "/run/vclusterkit-node.lock"
	sweepPath    = "/run/vclusterkit-node.sweep"
	// nodeAddrDev holds the node's IP, so the node has an address of its
	// own that pods can reach, whatever the machine's network is. The
	// loopback device: always up, and the kernels here lack the dummy
	// interface type. An address outside 127/8 on lo is a local address
	// like any other, reachable from pods through the bridge.
	nodeAddrDev = "lo"
	// bridgeName is the CNI bridge.
	bridgeName = "cni0"
)

// nodeSysctls are the sysctls a node (we, kubelet, kube-proxy) sets; the
// sweep restores each to its value before the node started.
var nodeSysctls = []string{
	"net/ipv4/ip_forward",
	"net/bridge/bridge-nf-call-iptables",
	"net/bridge/bridge-nf-call-ip6tables",
	"net/ipv4/conf/all/route_localnet",
	"vm/overcommit_memory",
	"vm/panic_on_oom",
	"kernel/panic",
	"kernel/panic_on_oops",
	"kernel/keys/root_maxkeys",
	"kernel/keys/root_maxbytes",
}

// nodeOutsideDirs are written by kubelet or containerd outside the
// directories they are given (device plugins socket dir, pod log links,
// shim sockets, netns mounts, containerd's opt dir). The sweep removes each
// one that did not exist before the node started.
var nodeOutsideDirs = []string{
	"/var/lib/kubelet",
	"/var/log/containers",
	"/var/log/pods",
	"/run/containerd",
	"/run/netns",
	"/var/lib/cni",
	"/opt/containerd",
	"/etc/cni",
}

// sweepState is what the sweep needs to know, captured before the node
// changes anything.
type sweepState struct {
	workdir string
	sysctls map[string]string // path under /proc/sys → value before
	created []string          // nodeOutsideDirs that did not exist before
}

func captureSweepState(workdir string) sweepState {
	s := sweepState{workdir: workdir, sysctls: map[string]string{}}
	for _, k := range nodeSysctls {
		if b, err := os.ReadFile("/proc/sys/" + k); err == nil {
			s.sysctls[k] = strings.TrimSpace(string(b))
		}
	}
	for _, d := range nodeOutsideDirs {
		if _, err := os.Lstat(d); os.IsNotExist(err) {
			s.created = append(s.created, d)
		}
	}
	return s
}

// script renders the sweep. Order matters (REALNODE.md): components first
// (kubelet would restart containers), then every container process, then
// mounts, network, rules, cgroups, sysctls and files.
func (s sweepState) script() string {
	var b strings.Builder
	w := quote(s.workdir)
	fmt.Fprintf(&b, "#!/bin/sh\n# vclusterkit real-node sweep for %s\nW=%s\n", s.workdir, w)
	b.WriteString(`exec >/tmp/vclusterkit-node-sweep.log 2>&1
set -x
# 1. The node's components, kubelet first, then containerd's shims (detached
# from containerd; each names our socket), then whatever is left in a pod's
# cgroup.
for n in kubelet kube-router kube-proxy coredns kube-scheduler kube-controller-manager kube-apiserver containerd etcd; do
  f="$W/pids/$n.pid"; [ -f "$f" ] || continue
  p=$(cat "$f"); kill -9 -"$p" 2>/dev/null; kill -9 "$p" 2>/dev/null
done
for p in $(pgrep -f "containerd-shim-runc-v2 .*$W/"); do kill -9 "$p"; done
for i in 1 2 3 4 5 6 7 8 9 10; do
  pids=$(find /sys/fs/cgroup/*/kubepods -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u)
  [ -z "$pids" ] && break
  kill -9 $pids 2>/dev/null; sleep 0.3
done
# 2. Mounts under the working directory (kubelet's rshared root, pod
# volumes, overlay rootfs, shm, netns), deepest first.
for i in 1 2 3; do
  m=$(awk -v w="$W" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r)
  [ -z "$m" ] && break
  for p in $m; do umount "$p" 2>/dev/null || umount -l "$p"; done
done
# 3. Network: the bridge (its veths go with the pods' namespaces) and the
# node's address.
`)
	fmt.Fprintf(&b, "ip link del %s 2>/dev/null\nip addr del %s/32 dev %s 2>/dev/null\n", bridgeName, NodeIP, nodeAddrDev)
	b.WriteString(`# 4. Rules: every KUBE-* and CNI-* chain and every rule that jumps to one,
# in every table, through save/restore so that other rules stay as they are;
# then kube-router's ipsets and any nftables table a kube component made.
for ipt in iptables ip6tables; do
  for t in filter nat mangle raw; do
    cur=$($ipt-save -t $t 2>/dev/null) || continue
    echo "$cur" | grep -qE '^:(KUBE|CNI)-|-[jg] (KUBE|CNI)-' || continue
    echo "$cur" | grep -vE '^:(KUBE|CNI)-|^-A (KUBE|CNI)-|-[jg] (KUBE|CNI)-' | $ipt-restore -w 5 -T $t
  done
done
for s in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router|inet6:KUBE-|inet6:kube-router)'); do ipset destroy "$s"; done
for t in "ip kube-proxy" "ip6 kube-proxy" "inet kube-network-policies"; do nft delete table $t 2>/dev/null; done
# 5. Pod cgroups under every v1 controller (and the unified tree).
for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
  [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
done
`)
	b.WriteString("# 6. Sysctls as they were.\n")
	keys := make([]string, 0, len(s.sysctls))
	for k := range s.sysctls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "echo %s > /proc/sys/%s\n", quote(s.sysctls[k]), k)
	}
	b.WriteString("# 7. Files: the working directory and what the node created outside it.\n")
	b.WriteString("rm -rf -- \"$W\"\n")
	for _, d := range s.created {
		fmt.Fprintf(&b, "rm -rf -- %s\n", quote(d))
	}
	fmt.Fprintf(&b, "rm -f -- %s\n", quote(sweepPath))
	return b.String()
}

// runSweep runs the sweep script at path, if there is one.
func runSweep(path string) error {
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil
	}
	out, err := exec.Command("/bin/sh", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("real-node sweep %s: %w\n%s", path, err, out)
	}
	return nil
}

// NodeLeftovers lists what a real node left on this machine: component or
// container processes, the bridge or the node's link, KUBE-/CNI- iptables
// chains, kube-router ipsets, kubelet or working-directory mounts, pod
// cgroups, and the sweep of a node not cleaned up. Empty means clean. The
// node's tests assert it after Stop and after a killed test binary.
func NodeLeftovers() []string {
	var left []string
	for _, name := range []string{"kubelet", "containerd", "containerd-shim-runc-v2", "kube-proxy", "kube-router", "coredns"} {
		if out, _ := exec.Command("pgrep", "-x", trimComm(name)).Output(); len(strings.TrimSpace(string(out))) > 0 {
			left = append(left, "process "+name+" (pids "+strings.Join(strings.Fields(string(out)), ",")+")")
		}
	}
	if _, err := os.Stat("/sys/class/net/" + bridgeName); err == nil {
		left = append(left, "network link "+bridgeName)
	}
	if out, _ := exec.Command("ip", "-o", "addr", "show", "dev", nodeAddrDev).Output(); strings.Contains(string(out), " "+NodeIP+"/") {
		left = append(left, "address "+NodeIP+" on "+nodeAddrDev)
	}
	for _, ipt := range []string{"iptables-save", "ip6tables-save"} {
		out, _ := exec.Command(ipt).Output()
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, ":KUBE-") || strings.HasPrefix(line, ":CNI-") {
				left = append(left, ipt+" chain "+strings.Fields(line)[0][1:])
			}
		}
	}
	if out, _ := exec.Command("ipset", "list", "-n").Output(); len(out) > 0 {
		for _, s := range strings.Fields(string(out)) {
			if strings.HasPrefix(s, "KUBE-") || strings.HasPrefix(s, "kube-router") {
				left = append(left, "ipset "+s)
			}
		}
	}
	if b, err := os.ReadFile("/proc/mounts"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 1 && (strings.Contains(f[1], "/vclusterkit-node-") || strings.Contains(f[1], "/kubelet")) {
				left = append(left, "mount "+f[1])
			}
		}
	}
	if m, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods"); len(m) > 0 {
		left = append(left, "cgroups "+strings.Join(m, " "))
	}
	if _, err := os.Stat(sweepPath); err == nil {
		left = append(left, "sweep not run: "+sweepPath)
	}
	return left
}

// trimComm cuts a process name to the 15 characters the kernel keeps.
func trimComm(s string) string {
	if len(s) > 15 {
		return s[:15]
	}
	return s
}
