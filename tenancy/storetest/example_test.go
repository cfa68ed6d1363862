package storetest_test

import (
	"testing"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/memstore"
	"github.com/vclusterkit/vclusterkit/tenancy/storetest"
)

// Run the conformance suite against a store: here memstore; yours the same
// way, from a TestXxx function.
func ExampleRun() {
	conformance := func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) tenancy.Store {
			return memstore.New(memstore.Options{})
		})
	}
	_ = conformance // in a _test.go file: func TestConformance(t *testing.T) { conformance(t) }
}
