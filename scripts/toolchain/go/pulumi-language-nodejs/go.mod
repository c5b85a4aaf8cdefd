// Setpoint's own Node.js language host for the Pulumi engine. The upstream host's module
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) is not published on the
// Go module proxy, so this module implements the LanguageRuntime gRPC protocol from the
// published SDK (github.com/pulumi/pulumi/sdk/v3) and hands the program to
// @pulumi/pulumi/cmd/run, exactly like the upstream host does. See docs/adr/0002-toolchain.md.
module setpoint.dev/toolchain/pulumi-language-nodejs

go 1.25.11

require (
	github.com/pulumi/pulumi/sdk/v3 v3.259.0
	google.golang.org/grpc v1.82.1
	google.golang.org/protobuf v1.36.11
)

require (
	golang.org/x/net v0.57.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.40.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260414002931-afd174a4e478 // indirect
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
