//go:build tools

// Package tools pins the main packages built from this module: the node components of the
// real-pod tier (kubelet, kube-proxy, kube-scheduler), at the Kubernetes version of the
// kube-apiserver wrapper (../kube-apiserver), so `go mod tidy` keeps their dependencies.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
