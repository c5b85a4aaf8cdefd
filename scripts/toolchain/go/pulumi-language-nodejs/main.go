// Command pulumi-language-nodejs is a Pulumi language host for Node.js programs.
//
// The engine starts it with optional logging/tracing flags followed by the engine's gRPC
// address, reads the port it prints on stdout, and then drives it over the LanguageRuntime
// protocol: GetRequiredPackages (which provider plugins a program needs), Run (execute the
// program against a resource monitor), About, and GetPluginInfo. Running a program means
// spawning `node @pulumi/pulumi/cmd/run ...`, resolved from the program's directory, so the
// Node.js side of the protocol is the one shipped in the project's @pulumi/pulumi package.
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// version is set at link time: -ldflags "-X main.version=v3.x.y".
var version = "v0.0.0-dev"

// maxMessageSize mirrors the engine's own gRPC limits; resource payloads can be large.
const maxMessageSize = 400 * 1024 * 1024

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "version") {
		fmt.Println(version)
		return
	}
	opts := parseArgs(os.Args[1:])

	nodePath, err := exec.LookPath("node")
	if err != nil {
		fail("could not find `node` on $PATH; install Node.js 20+ and make sure it is on PATH")
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(fmt.Sprintf("could not listen on a loopback port: %v", err))
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(maxMessageSize), grpc.MaxSendMsgSize(maxMessageSize))
	pulumirpc.RegisterLanguageRuntimeServer(srv, newHost(nodePath, opts))

	// The engine reads exactly one line with the port number from our stdout.
	fmt.Printf("%d\n", lis.Addr().(*net.TCPAddr).Port)
	if err := srv.Serve(lis); err != nil {
		fail(fmt.Sprintf("language host gRPC server stopped: %v", err))
	}
}

// hostOptions are the command-line options the engine (or a user) may pass.
type hostOptions struct {
	engineAddress string
	tracing       string
}

// parseArgs accepts the engine's plugin flags (--logtostderr, -v=N, --tracing URL and the
// legacy -typescript/-root/-tsconfig/-nodeargs/-packagemanager flags, which are ignored here
// because modern engines send them as runtime options) followed by the engine address.
// It never fails on an unknown flag, so newer engines keep working.
func parseArgs(args []string) hostOptions {
	var opts hostOptions
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") {
			opts.engineAddress = arg
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if name == "tracing" {
			if !hasValue && i+1 < len(args) {
				i++
				value = args[i]
			}
			opts.tracing = value
		}
	}
	return opts
}

func fail(msg string) {
	fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %s\n", msg)
	os.Exit(1)
}
