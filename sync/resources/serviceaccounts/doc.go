// Package serviceaccounts is the optional built-in syncer for
// ServiceAccounts: a host copy per virtual service account, for platforms
// that attach host identities to them (workload identity annotations are
// copied like any annotation). Host copies never mount host tokens.
package serviceaccounts
