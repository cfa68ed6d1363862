//go:build tools

// Package kine only records the command built from this module.
package kine

import _ "github.com/k3s-io/kine"
