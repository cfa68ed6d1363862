package builtin_test

import (
	"fmt"

	"github.com/vclusterkit/vclusterkit/sync/resources/builtin"
)

func ExampleSyncers() {
	ss, err := builtin.Syncers(builtin.Options{Disable: []string{"nodes", "events"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range ss {
		fmt.Print(s.Name(), " ")
	}
	fmt.Println()
	// Output: pods services endpointslices configmaps secrets persistentvolumeclaims poddisruptionbudgets networkpolicies
}
