//go:build tools

// Package coredns only records the command built from this module.
package coredns

import _ "github.com/coredns/coredns"
