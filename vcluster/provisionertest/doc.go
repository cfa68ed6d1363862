// Package provisionertest is the conformance kit for vcluster.Provisioner
// implementations. A provisioner — built in or an embedder's own — conforms
// when Run passes against real components:
//
//	func TestConformance(t *testing.T) {
//		provisionertest.Run(t, provisionertest.Options{
//			Provisioner: p,
//			Leftovers:   func(ctx context.Context, vc *vcluster.VirtualCluster) ([]string, error) { … },
//		})
//	}
//
// Run checks that Provision is idempotent and ends Ready, that the admin
// kubeconfig reaches a working API server, that two clusters named "a" and
// "aa" do not see each other's objects, that invalid requests fail with the
// documented sentinel errors and leave nothing behind, that Deprovision is
// idempotent and leaves nothing (as reported by Options.Leftovers), and that
// the optional capabilities a provisioner implements (Sleeper,
// HealthReporter, UserKubeconfigIssuer, Upgrader, Snapshotter) behave.
//
// Where the environment cannot make the API server real (a host on KWOK
// fake nodes runs no containers), Options.NoAPIServer turns the checks that
// need a serving API server off, and the kit says so in the test log; they
// are never reported as passed.
//
// This package is for tests; it imports "testing".
package provisionertest
