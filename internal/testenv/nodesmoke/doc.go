// Package nodesmoke proves the real-node test bed itself before any product
// test relies on it, the way upstream's conformance e2e probes a cluster: a
// pod runs and logs, exec works, 30 pods become Running, DNS resolves a
// Service, a ClusterIP routes from a pod and from the machine, and a
// NetworkPolicy denies and then allows a real TCP connection. A failure
// here means a broken bed, not a broken product. It also proves the node
// leaves nothing on the machine, after Stop and after its test binary is
// killed with pods running.
package nodesmoke
