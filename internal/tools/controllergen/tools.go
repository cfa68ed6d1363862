//go:build tools

// Package controllergen only records the command built from this module.
package controllergen

import _ "sigs.k8s.io/controller-tools/cmd/controller-gen"
