package helm_test

import (
	"fmt"

	"github.com/vclusterkit/vclusterkit/vcluster/helm"
)

// The embedded chart's image names are values; a platform can point them
// at its own registry through Options.Images or Options.Values.
func ExampleDefaultChart() {
	ch, err := helm.DefaultChart()
	if err != nil {
		fmt.Println(err)
		return
	}
	images := ch.Values["images"].(map[string]any)
	fmt.Println(ch.Metadata.Name)
	fmt.Println(images["apiServer"])
	fmt.Println(images["kine"])
	// Output:
	// vclusterkit-control-plane
	// registry.k8s.io/kube-apiserver:v1.37.2
	// docker.io/rancher/kine:v0.17.5
}
