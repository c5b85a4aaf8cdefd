// The pause program of the real-pod tier's sandbox image: holds a pod's namespaces until it is
// told to stop. No dependencies. Built by scripts/toolchain/index.mjs.
module setpoint.dev/toolchain/pause

go 1.24.0
