package configmaps_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/vclusterkit/vclusterkit/sync/resources/configmaps"
	"github.com/vclusterkit/vclusterkit/sync/syncer"
)

func ExampleNew() {
	// Only ConfigMaps that pods reference; configmaps.Options{All: true}
	// syncs every one.
	var s syncer.Syncer = configmaps.New(configmaps.Options{})
	_, isFilter := s.(syncer.Filter)
	fmt.Println(s.Name(), isFilter)
	fmt.Println(configmaps.ToHost(&corev1.ConfigMap{Data: map[string]string{"k": "v"}}).Data)
	// Output:
	// configmaps true
	// map[k:v]
}
