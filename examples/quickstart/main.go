// Command quickstart is vclusterkit's main job: the whole flow of a
// virtual-cluster platform on one machine, with no setup (make demo).
//
// With no flags it starts a local host cluster (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and, when this machine can run
// one (Linux, root, runc), a real node with kubelet, containerd, kube-proxy,
// CoreDNS and kube-router; else KWOK fake nodes), from the binaries `make
// tools` builds, starts the vclusterkit Engine against it and walks through
// the story with progress output:
//
//  1. an organisation tree: org acme → teams web and data → projects
//  2. a space for team web and a virtual cluster per team (local provisioner)
//  3. a small app deployed with kubectl into web's virtual cluster, as a
//     team member, and its pods translated and Running on the host; on a
//     real node it answers HTTP, bob uses logs and exec, reaches it by
//     its short name through the virtual cluster's own DNS, and writes a
//     NetworkPolicy inside his virtual cluster; then every cell of the
//     reachability matrix between six pods of both teams is a real TCP
//     connection that must agree with the NetworkPolicy evaluator
//  4. a pod refused by quota and a privileged pod refused by the pod
//     security standard
//  5. the tenant tree with usage, and the network reachability matrix
//  6. a virtual cluster put to sleep and woken, its objects intact
//  7. team data deleted, and proof that nothing of it is left on the host
//
// With --clusters 2 it then adds a second (KWOK) host cluster with its own
// Engine, a management API for the fleet (package fleet), registers the
// first host by credential and the second by an agent that connects out,
// and places a virtual cluster on the second host through a ClusterClaim.
//
// Flags: --nodes auto|real|kwok to choose the nodes, --kubeconfig to use an existing host cluster, --out DIR to keep
// the host and virtual kubeconfigs, --keep to leave everything running
// until Ctrl-C so you can explore with kubectl.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var opts options
	// A FlagSet of our own: controller-runtime registers a global
	// --kubeconfig flag of its own on import.
	fs := flag.NewFlagSet("quickstart", flag.ExitOnError)
	fs.StringVar(&opts.nodes, "nodes", nodesAuto, "the local host's nodes: auto (a real node when this machine can run one), real, or kwok (fake nodes)")
	fs.StringVar(&opts.kubeconfig, "kubeconfig", "", "use this existing host cluster instead of starting a local one")
	fs.StringVar(&opts.out, "out", "", "write the host and virtual-cluster kubeconfigs to this directory")
	fs.IntVar(&opts.clusters, "clusters", 1, "2 adds a second host cluster, a fleet management API and a virtual cluster placed on the second cluster through a ClusterClaim (package fleet)")
	fs.BoolVar(&opts.keep, "keep", false, "leave everything running until Ctrl-C")
	fs.DurationVar(&opts.timeout, "timeout", 10*time.Minute, "give up after this long")
	_ = fs.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	err := run(ctx, opts, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "\nquickstart failed after %s: %v\n", time.Since(start).Round(time.Second), err)
		if errors.Is(err, context.Canceled) {
			os.Exit(130)
		}
		os.Exit(1)
	}
	fmt.Printf("\nquickstart finished in %s; nothing is left running.\n", time.Since(start).Round(time.Second))
}
