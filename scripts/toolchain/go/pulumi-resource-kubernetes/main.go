// Command pulumi-resource-kubernetes serves the Pulumi Kubernetes provider.
//
// The two embedded JSON files are not committed: scripts/toolchain generates them in a build
// copy of this directory from the provider module's schema.json (with the plugin version set)
// and terraform-mapping.json.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schema, terraformMapping)
}
