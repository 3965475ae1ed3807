package build

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// cargoManifest is the part of Cargo.toml that names the binaries.
type cargoManifest struct {
	Package *struct {
		Name       string `toml:"name"`
		DefaultRun string `toml:"default-run"`
		Autobins   *bool  `toml:"autobins"`
	} `toml:"package"`
	Bins []struct {
		Name string `toml:"name"`
		Path string `toml:"path"`
	} `toml:"bin"`
}

// cargoBinary returns the binary `cargo run` would run: default-run, else the only binary, found the way
// cargo finds them ([[bin]] targets, then src/main.rs, src/bin/*.rs and src/bin/*/main.rs).
func cargoBinary(src string) (string, error) {
	var m cargoManifest
	if _, err := toml.DecodeFile(filepath.Join(src, "Cargo.toml"), &m); err != nil {
		return "", fmt.Errorf("reading Cargo.toml: %w", err)
	}
	if m.Package == nil {
		return "", fmt.Errorf("%s/Cargo.toml has no [package] (a workspace?); pass --build-cmd and --build-output", src)
	}
	if m.Package.DefaultRun != "" {
		return m.Package.DefaultRun, nil
	}
	var bins []string
	mainDeclared := false // a [[bin]] builds src/main.rs under another name
	for _, b := range m.Bins {
		bins = append(bins, b.Name)
		mainDeclared = mainDeclared || filepath.Clean(b.Path) == filepath.Join("src", "main.rs")
	}
	if m.Package.Autobins == nil || *m.Package.Autobins {
		if !mainDeclared && exists(filepath.Join(src, "src", "main.rs")) {
			bins = append(bins, m.Package.Name)
		}
		bins = append(bins, autoBins(filepath.Join(src, "src", "bin"))...)
	}
	slices.Sort(bins)
	bins = slices.Compact(bins)
	switch len(bins) {
	case 1:
		return bins[0], nil
	case 0:
		return "", fmt.Errorf("%s/Cargo.toml builds no binary; pass --build-cmd and --build-output", src)
	}
	return "", fmt.Errorf("%s/Cargo.toml builds several binaries (%s) and sets no default-run; pass --build-cmd and --build-output",
		src, strings.Join(bins, ", "))
}

// autoBins are the binaries cargo discovers in src/bin: one per *.rs file and per directory with a main.rs.
func autoBins(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var bins []string
	for _, e := range entries {
		switch {
		case !e.IsDir() && strings.HasSuffix(e.Name(), ".rs"):
			bins = append(bins, strings.TrimSuffix(e.Name(), ".rs"))
		case e.IsDir() && exists(filepath.Join(dir, e.Name(), "main.rs")):
			bins = append(bins, e.Name())
		}
	}
	return bins
}
