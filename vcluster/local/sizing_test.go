package local

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSizingDefaults checks that nil list fields take the defaults, empty
// non-nil ones pass nothing, and every knob reaches the command line or
// the environment of the component it is for.
func TestSizingDefaults(t *testing.T) {
	o, err := Options{Dir: t.TempDir()}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	p := &Provisioner{opts: o}
	args := p.apiServerArgs("/pki")
	for _, want := range []string{
		"--runtime-config=resource.k8s.io/v1=false,storagemigration.k8s.io/v1=false",
		"--disable-admission-plugins=PodTopologyLabels,NodeDeclaredFeatureValidator,DefaultStorageClass,PersistentVolumeClaimResize,DefaultIngressClass,ClusterTrustBundleAttest",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("default kube-apiserver args lack %q: %q", want, args)
		}
	}
	if slices.Contains(args, "--watch-cache=false") {
		t.Errorf("watch cache off by default: %q", args)
	}
	if diff := cmp.Diff([]string{"GOGC=50"}, p.env("kube-apiserver")); diff != "" {
		t.Errorf("default env (-want +got):\n%s", diff)
	}

	o, err = Options{Dir: t.TempDir(), RuntimeConfig: []string{}, DisableAdmissionPlugins: []string{}, GOGC: -1,
		WatchCacheSizes: []string{"events#0"}, DisableWatchCache: true,
		ComponentEnv:  map[string][]string{"kine": {"GOMEMLIMIT=32MiB"}},
		APIServerArgs: []string{"--enable-priority-and-fairness=false"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	p = &Provisioner{opts: o}
	want := append(kubeletArgs("/pki"), "--watch-cache-sizes=events#0", "--watch-cache=false", "--enable-priority-and-fairness=false")
	if diff := cmp.Diff(want, p.apiServerArgs("/pki")); diff != "" {
		t.Errorf("kube-apiserver args (-want +got):\n%s", diff)
	}
	if env := p.env("kube-apiserver"); len(env) != 0 {
		t.Errorf("GOGC -1 still sets %q", env)
	}
	if diff := cmp.Diff([]string{"GOMEMLIMIT=32MiB"}, p.env("kine")); diff != "" {
		t.Errorf("kine env (-want +got):\n%s", diff)
	}
}
