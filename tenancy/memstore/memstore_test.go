package memstore_test

import (
	"testing"

	"github.com/vclusterkit/vclusterkit/tenancy"
	"github.com/vclusterkit/vclusterkit/tenancy/memstore"
	"github.com/vclusterkit/vclusterkit/tenancy/storetest"
)

func TestConformance(t *testing.T) {
	storetest.RunWithOptions(t, func(t *testing.T) tenancy.Store {
		return memstore.New(memstore.Options{})
	}, storetest.Options{LargeTree: 2000})
}
