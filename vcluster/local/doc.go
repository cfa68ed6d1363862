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
