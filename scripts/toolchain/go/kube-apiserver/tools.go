//go:build tools

// Package tools pins the main packages built from this module (kube-apiserver, and
// kube-controller-manager for tests that need the garbage collector or namespace deletion)
// so `go mod tidy` keeps their dependencies.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
