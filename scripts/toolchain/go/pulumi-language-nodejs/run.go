package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// exitCodeAlreadyReported is the code @pulumi/pulumi/cmd/run exits with after it has shown
// the user an actionable error; the engine must then stop without adding its own message.
const exitCodeAlreadyReported = 32

// cancelGrace is how long a cancelled program may take to exit after SIGINT before SIGKILL.
const cancelGrace = 30 * time.Second

// Run executes the program with `node @pulumi/pulumi/cmd/run <flags> <entry point> <args>`.
// The run script connects to the resource monitor itself and reads config from the
// environment (PULUMI_CONFIG, PULUMI_CONFIG_SECRET_KEYS).
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	dir := programDir(info, req.GetPwd())
	opts := runtimeOptions(info)

	runPath, err := h.resolveRunScript(ctx, dir)
	if err != nil {
		return nil, err
	}

	args := append([]string{}, opts.nodeArgs...)
	args = append(args, runPath)
	flag := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	flag("organization", req.GetOrganization())
	flag("project", req.GetProject())
	flag("stack", req.GetStack())
	if info != nil {
		flag("root-directory", info.GetRootDirectory())
	}
	flag("pwd", req.GetPwd())
	flag("monitor", req.GetMonitorAddress())
	flag("engine", h.engine())
	flag("tracing", h.tracing)
	if req.GetParallel() > 0 {
		flag("parallel", strconv.Itoa(int(req.GetParallel())))
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	entry := "."
	if info != nil && info.GetEntryPoint() != "" {
		entry = info.GetEntryPoint()
	} else if req.GetProgram() != "" { //nolint:staticcheck
		entry = req.GetProgram() //nolint:staticcheck
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	env, err := runEnv(req, opts)
	if err != nil {
		return nil, err
	}

	cmd := exec.CommandContext(ctx, h.nodePath, args...)
	cmd.Dir = dir
	cmd.Env = env
	// The engine relays our stdout/stderr to the user, so the program's console output shows.
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	// On cancellation, let the program shut down cleanly before it is killed.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = cancelGrace

	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == exitCodeAlreadyReported:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exitErr):
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
		}, nil
	default:
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Problem executing program (could not run %s): %v", h.nodePath, err),
		}, nil
	}
}

// resolveRunScript finds @pulumi/pulumi/cmd/run the way the program itself would resolve it,
// unless PULUMI_LANGUAGE_NODEJS_RUN_PATH overrides it.
func (h *host) resolveRunScript(ctx context.Context, dir string) (string, error) {
	if p := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH"); p != "" {
		return p, nil
	}
	cmd := exec.CommandContext(ctx, h.nodePath, "-e",
		"process.stdout.write(require.resolve('@pulumi/pulumi/cmd/run'))")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil || len(out) == 0 {
		return "", status.Errorf(codes.FailedPrecondition,
			"could not resolve @pulumi/pulumi/cmd/run from %s (is @pulumi/pulumi installed? run `npm ci`): %v",
			dir, err)
	}
	return filepath.Clean(string(out)), nil
}

// nodeOptions are the `runtime.options` of a nodejs Pulumi.yaml that affect running.
type nodeOptions struct {
	typescript bool
	tsconfig   string
	nodeArgs   []string
}

func runtimeOptions(info *pulumirpc.ProgramInfo) nodeOptions {
	opts := nodeOptions{typescript: true}
	if info == nil || info.GetOptions() == nil {
		return opts
	}
	m := info.GetOptions().AsMap()
	if v, ok := m["typescript"].(bool); ok {
		opts.typescript = v
	}
	if v, ok := m["tsconfig"].(string); ok {
		opts.tsconfig = v
	}
	if v, ok := m["nodeargs"].(string); ok {
		opts.nodeArgs = strings.Fields(v)
	}
	return opts
}

// runEnv is our environment plus the config and TypeScript settings the run script reads.
func runEnv(req *pulumirpc.RunRequest, opts nodeOptions) ([]string, error) {
	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "serializing config: %v", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "serializing secret config keys: %v", err)
	}
	env := append(os.Environ(),
		"PULUMI_CONFIG="+string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON),
	)
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}
	return env, nil
}
