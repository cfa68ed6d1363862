//go:build tools

// Package kuberouter only records the command built from this module.
package kuberouter

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
