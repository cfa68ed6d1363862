// Package testenv is the one way vclusterkit's tests get real Kubernetes
// components.
//
//   - APIServer is a real kube-apiserver + etcd pair (controller-runtime's
//     envtest pointed at the binaries that `make tools` builds), started
//     once per test package from TestMain through Main, with CRDs installed.
//   - Host is a whole host cluster started by kwokctl's binary runtime:
//     etcd, kube-apiserver, kube-controller-manager, kube-scheduler and the
//     KWOK controller, whose fake nodes get pods scheduled and marked
//     Running. It is for end-to-end tests, and E2ESetup / E2EFinish adapt
//     it to sigs.k8s.io/e2e-framework.
//   - A Host with HostOptions.RealNode has one real node instead: its own
//     control plane, kubelet, containerd and runc on a CNI bridge,
//     kube-proxy, CoreDNS and kube-router's NetworkPolicy firewall, running
//     images built here (internal/images). Whatever a fake node cannot show
//     (a container starting, DNS, a packet a policy drops, logs and exec,
//     mounted volumes) is tested on it. One runs per machine (a file lock);
//     everything it changes on the machine is undone by one sweep script
//     that Stop, the reaper and the next node run (sweep.go); NodeLeftovers
//     says what is left. Package nodesmoke proves the bed itself.
//
// Both keep their components' logs and print their tails when a test fails
// (LogsOnFailure), choose free loopback ports, and stop every process and
// remove every temporary directory on cleanup. Because a panicking test or
// a killed test binary never reaches its cleanup, each environment also
// starts a small reaper process that waits for the test binary to exit and
// then kills what is left and removes the directories: no kube-apiserver,
// etcd or kwok process of a test outlives it.
//
// A missing binary is a failure whose message names `make tools`, and a
// machine that cannot run a real node one that names each missing part and
// its fix (`make test-deps`); nothing here ever skips a test.
//
// This package is internal: it is test tooling, not part of the SDK's API.
package testenv
