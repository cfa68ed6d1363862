package testenv

import (
	"slices"
	"time"
)

// Percentile returns the p-th percentile (nearest rank) of d; zero for an
// empty d. d is not modified.
func Percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i]
}
