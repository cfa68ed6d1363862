// Package local is the embedded default provisioner: it runs each virtual
// control plane as child processes of the embedding program — a store
// (kine on SQLite by default; etcd, or kine on PostgreSQL, when configured),
// kube-apiserver and kube-controller-manager — on 127.0.0.1.
//
// Loopback is only the default: with Options.Address (an IP of this
// machine that the host's pods can route to, such as the node's IP when the
// host's node runs here) the API server listens and advertises there, its
// endpoint and kubeconfigs name that address, and pods synced by the engine
// reach their own virtual API server as kubernetes.default.svc with the
// token their virtual cluster issued (in-cluster config works). Without
// it, pods have no path to their API server.
//
// It is for demos, tests, CI and single-machine platforms. It is not for a
// multi-node host cluster: there the control plane must run as pods (use
// vcluster/helm), and nothing here survives the loss of the machine's disk.
//
// # State
//
// Every virtual cluster has a state directory,
// Options.Dir/<host namespace>/<name>, holding its PKI (cluster CA, serving
// certificate with SANs for localhost, 127.0.0.1, Options.Address, the
// in-cluster kubernetes service names and Spec.Expose names; front-proxy CA and client; service
// account key pair; admin and controller-manager client certificates), its
// store (state.db for SQLite, etcd/ for etcd), component logs and
// state.json (owner, ports, paused flag, child pids). Stopping and starting
// again — Pause and Resume, or the embedding program exiting and calling
// Provision again after its restart — keeps every object. Two virtual
// clusters named "a" and "aa" have different directories, stores and key
// prefixes (EtcdPrefix). The directory records which VirtualCluster owns
// it; a second VirtualCluster with the same host namespace and name gets
// vcluster.ErrConflict. One Provisioner at a time may use a given
// Options.Dir: the first operation that starts or changes a control plane
// takes a lock on Options.Dir/.lock (released by Shutdown, or by the kernel
// when the process dies), and a second Provisioner — in another program or
// the same one — gets ErrDirInUse instead of restarting the first one's
// control planes.
//
// # Processes
//
// Children run in their own process groups, with a parent-death signal on
// Linux, so they die with the embedding program; stopping a control plane
// stops its whole process group (SIGTERM, then SIGKILL after
// Options.StopGrace). Ports are picked free at first start and kept across
// restarts while they stay free. Start waits, bounded by
// Options.StartTimeout, for each component to be ready (store port, then
// kube-apiserver /readyz, then kube-controller-manager /healthz; its
// controllers, such as the one that fills the aggregated edit and view
// roles, come up within about a second after that, and
// kubeconfig.BindMembers waits for those roles); a failure
// returns a *StartError carrying the tail of every component's log, and a
// control plane that was being created is removed entirely (processes and
// directory). A component that dies later is visible through Health (and
// Options.OnComponentExit), which vcluster.ApplyHealth turns into the
// ControlPlaneReady condition; the next Provision restarts it.
//
// Snapshot and Restore (vcluster.Snapshotter) copy the SQLite store while
// the control plane is briefly stopped; other stores answer
// vcluster.ErrUnsupported (use PostgreSQL's or etcd's own backups).
//
// # Memory
//
// An idle virtual cluster costs what its three processes hold: kine, a
// kube-apiserver and a kube-controller-manager. internal/bench/memory
// measures it as PSS (/proc/PID/smaps_rollup, the binaries' shared code
// split among the processes that map it) and RssAnon after 2 minutes of
// idling, at N = 1, 4 and 8 clusters, so the marginal cost of one more
// cluster shows:
//
//	go run ./internal/bench/memory -configs baseline,defaults -n 1,4,8 -idle 2m
//
// MiB per cluster (kube-apiserver v1.37.2, kine v0.17.5, Go 1.26, 2
// cores; the three configurations side by side in one run; marginal is
// (total at N=8 − total at N=1) / 7, PSS / RssAnon):
//
//	configuration          N=1        N=4        N=8        kine / apiserver / kcm PSS at N=8   marginal
//	baseline               292 / 225  243 / 225  232 / 223  21 / 180 / 31                     224 / 223
//	defaults               253 / 188  208 / 191  200 / 191  21 / 150 / 29                     192 / 191
//	defaults, shared kine  256 / 191  197 / 181  187 / 179   7 / 150 / 29                     177 / 177
//
// A second run, defaults against every knob at once ("lean": GOGC=25, a
// shared kine, no flowcontrol (APF off), autoscaling or node.k8s.io, 12
// controllers):
//
//	defaults               280 / 182  214 / 187  201 / 187  21 / 150 / 31                     190 / 188
//	lean                   248 / 152  169 / 146  155 / 143   7 / 122 / 26                     141 / 142
//
// At N=1 PSS still carries the binaries' code (it is split three ways
// here, one process of each kind per configuration); the marginal cost is
// what one more virtual cluster takes: 192 MiB with the defaults, 32 MiB
// (14 %) less than before them.
//
// Each sizing knob alone, on top of baseline (the provisioner before these
// knobs); two clusters per configuration, all configurations side by side
// in one run, PSS per cluster and its change against the baseline of the
// same run. The Go heap of an idle process sits anywhere between its live
// size and its GC goal, so a figure moves by about ±10 MiB from run to
// run; only the larger differences below mean something.
//
//	run A (baseline 249 PSS / 235 RssAnon)       PSS    Δ
//	RuntimeConfig = DefaultRuntimeConfig          230  −19
//	 … also flowcontrol (APF off), autoscaling,
//	   node.k8s.io                                224  −25
//	DisableAdmissionPlugins = Default…            237  −12
//	 … also ValidatingAdmissionPolicy,
//	   MutatingAdmissionPolicy                    231  −18
//	GOGC=50                                       216  −33
//	defaults (the three rows chosen)              203  −46
//
//	run B (baseline 228 PSS / 217 RssAnon)       PSS    Δ
//	DisableWatchCache                             221   −7  (kine +8, kube-apiserver −15)
//	GOGC=25                                       186  −42
//	GOMEMLIMIT 110/24/16 MiB                      167  −61  (GC runs without pause: 30–50 % CPU per idle kube-apiserver)
//	Controllers: 12 instead of 26                 227   −1  (kube-controller-manager −4)
//	one kine shared by 2 clusters                 228    0  (kine per cluster −5)
//	defaults + GOGC=25                            174
//	defaults + DisableWatchCache                  194
//	defaults + 12 controllers                     194
//	defaults + GOMEMLIMIT                         163  (same CPU burn)
//
// The defaults are the knobs that cut memory without taking anything a
// tenant or the syncers use: RuntimeConfig (no resource.k8s.io, no
// storagemigration.k8s.io), DisableAdmissionPlugins (plugins for nodes,
// storage and ingress classes and trust bundles a virtual cluster does not
// have) and GOGC=50. Not taken, each still an Options field:
// GOGC=25 saves about another 20 MiB but collects four times as often as
// Go's default under load; a GOMEMLIMIT below the live heap (below)
// makes the collector run continuously; the watch cache moves its cost to kine and every list and
// watch to SQLite; fewer controllers save 4 MiB and take away workloads
// tenants create (DaemonSets, Jobs, CronJobs, StatefulSets,
// PodDisruptionBudgets); the admission policies and webhooks are what
// charts installed by tenants use.
//
// A kine shared by virtual clusters saves 13–15 MiB per cluster but is
// not the default: one store process would hold every cluster (a crash or
// a slow query of one tenant stops all), and Snapshot copies one SQLite
// file per cluster. An embedder can have it today: run one kine and give
// each VirtualCluster Spec.BackingStore etcd with the kine's URL as its
// DSN; each cluster keeps its own key prefix (EtcdPrefix).
//
// The target of 150 MiB PSS per idle virtual cluster is missed by
// 42 MiB (192 marginal with the defaults; 27 MiB with a shared kine).
// What it would take: about 85 MiB of kube-apiserver's heap is live
// (heap profile of an idle one: OpenAPI v2 and v3 about 36 MiB, route
// tables, schemes and CEL environments most of the rest), so no GC
// setting brings it much below 120 MiB, and a kube-controller-manager and
// a kine are 20–30 MiB each. Every knob at once (the lean row: 141 MiB)
// is under the target, at the price of each knob's drawback above; a
// program that wants it sets those Options fields and runs a shared kine.
// Below that it would take a kube-apiserver without the OpenAPI v2
// endpoint (about 12 MiB of its heap) or several virtual control planes
// in one process, which kube-apiserver does not support.
//
// # Why kine runs as a binary
//
// kine is run as the binary `make tools` builds (v0.17.5, with cgo SQLite),
// not linked in as a library. Linking it would put cgo and kine's
// dependency tree (database drivers, its own etcd server packages, NATS)
// into every program that imports this package, and tie the SDK's
// dependency versions to kine's. As a separate process it is also isolated
// like the other components: it can be killed, restarted and its log read
// alike, and a crash of the store cannot take the embedding program down.
// kube-apiserver, kube-controller-manager and etcd come from the same binary
// cache (internal/binaries), or from Options.Binaries.
package local
