// Package storetest is the conformance suite for tenancy.Store
// implementations. memstore, sqlstore and kubestore pass it; an embedder
// who writes a store of their own runs it the same way:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) tenancy.Store {
//			s := mystore.New(...) // empty
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// It covers CRUD, every sentinel error, concurrent conflicting updates
// and creates (exactly one wins), concurrent re-parentings that together
// would form a cycle (exactly one wins), a parent deleted while a child is
// created under it (never an orphan), every kind of bad input (the store must be
// unchanged afterwards), cascading deletes, watch ordering and resume, and
// a large tree. It is not a benchmark and not a test of the tree logic
// itself, which package tenancy tests directly.
package storetest
