package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// pluginDep is a provider plugin required by an installed npm package.
type pluginDep struct{ name, version, server string }

// packageJSON is the part of package.json this host reads.
type packageJSON struct {
	Name            string            `json:"name"`
	Version         string            `json:"version"`
	Dependencies    map[string]string `json:"dependencies"`
	DevDependencies map[string]string `json:"devDependencies"`
	Pulumi          struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

func readPackageJSON(path string) (*packageJSON, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p packageJSON
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// requiredPlugins finds every package under the node_modules directories visible from dir
// (dir and its ancestors, as Node's resolver sees them) whose package.json declares
// `"pulumi": {"resource": true}`, and returns the plugin each one needs.
func requiredPlugins(dir string) ([]pluginDep, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	found := map[string]pluginDep{}
	for d := abs; ; d = filepath.Dir(d) {
		if err := scanNodeModules(filepath.Join(d, "node_modules"), seen, found); err != nil {
			return nil, err
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	out := make([]pluginDep, 0, len(found))
	for _, d := range found {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name+out[i].version < out[j].name+out[j].version })
	return out, nil
}

// scanNodeModules visits each package in a node_modules directory (including @scope/ dirs
// and nested node_modules), following symlinks once per real path.
func scanNodeModules(nm string, seen map[string]bool, found map[string]pluginDep) error {
	real, err := filepath.EvalSymlinks(nm)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if seen[real] {
		return nil
	}
	seen[real] = true
	entries, err := os.ReadDir(real)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if strings.HasPrefix(name, "@") {
			scoped, err := os.ReadDir(filepath.Join(real, name))
			if err != nil {
				continue
			}
			for _, s := range scoped {
				visitPackage(filepath.Join(real, name, s.Name()), seen, found)
			}
			continue
		}
		visitPackage(filepath.Join(real, name), seen, found)
	}
	return nil
}

func visitPackage(dir string, seen map[string]bool, found map[string]pluginDep) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil || seen[real] {
		return
	}
	seen[real] = true
	if p, err := readPackageJSON(filepath.Join(real, "package.json")); err == nil && p.Pulumi.Resource {
		if dep, ok := pluginFor(p); ok {
			found[dep.name+"@"+dep.version] = dep
		}
	}
	// Unreadable nested trees are skipped, never fatal: plugin discovery is best effort.
	_ = scanNodeModules(filepath.Join(real, "node_modules"), seen, found)
}

// pluginFor derives the plugin name and version from a provider package: an explicit
// "pulumi" section wins; otherwise "@pulumi/x" means plugin "x" and other scopes drop the "@".
func pluginFor(p *packageJSON) (pluginDep, bool) {
	name := p.Pulumi.Name
	if name == "" {
		name = p.Name
		if after, ok := strings.CutPrefix(name, "@pulumi/"); ok {
			name = after
		} else {
			name = strings.TrimPrefix(name, "@")
		}
	}
	version := p.Pulumi.Version
	if version == "" {
		version = p.Version
	}
	if name == "" || version == "" {
		return pluginDep{}, false
	}
	if !strings.HasPrefix(version, "v") {
		version = "v" + version
	}
	return pluginDep{name: name, version: version, server: p.Pulumi.Server}, true
}

// directDependencies returns the program's declared dependencies with the version that
// Node's resolver would load (the nearest installed node_modules/<name>/package.json).
func directDependencies(dir string) ([]*pulumirpc.DependencyInfo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	p, err := readPackageJSON(filepath.Join(abs, "package.json"))
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(p.Dependencies)+len(p.DevDependencies))
	for n := range p.Dependencies {
		names = append(names, n)
	}
	for n := range p.DevDependencies {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*pulumirpc.DependencyInfo
	for _, n := range names {
		for d := abs; ; d = filepath.Dir(d) {
			if dep, err := readPackageJSON(filepath.Join(d, "node_modules", n, "package.json")); err == nil {
				out = append(out, &pulumirpc.DependencyInfo{Name: n, Version: dep.Version})
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return out, nil
}
