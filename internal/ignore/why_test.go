package ignore

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWhy(t *testing.T) {
	src := t.TempDir()
	file := "# generated files\n\n*.gen.go\n!keep.gen.go\n/data/\n"
	if err := os.WriteFile(filepath.Join(src, FileName), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := New(src, []string{"*.test.js", "!dist/", "tmp/"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rel   string
		isDir bool
		want  Reason
	}{
		{"app/x.pyc", false, Reason{Excluded: true, Rule: "*.pyc", Source: "default", Path: "app/x.pyc"}},
		// Inside an excluded directory: the directory's rule, and the directory it matched.
		{"web/node_modules/react/index.js", false, Reason{Excluded: true, Rule: "node_modules", Source: "default", Path: "web/node_modules"}},
		{"web/node_modules", true, Reason{Excluded: true, Rule: "node_modules", Source: "default", Path: "web/node_modules"}},
		{"src/a.test.js", false, Reason{Excluded: true, Rule: "*.test.js", Source: "--exclude", Path: "src/a.test.js"}},
		{"x/tmp/y", false, Reason{Excluded: true, Rule: "tmp/", Source: "--exclude", Path: "x/tmp"}},
		// A directory-only rule says nothing about a file of that name.
		{"x/tmp", false, Reason{}},
		// .kindlingignore rules carry their line, comments and blank lines counted.
		{"pkg/model.gen.go", false, Reason{Excluded: true, Rule: "*.gen.go", Source: ".kindlingignore:3", Path: "pkg/model.gen.go"}},
		{"data/big.bin", false, Reason{Excluded: true, Rule: "/data/", Source: ".kindlingignore:5", Path: "data"}},
		{"sub/data/big.bin", false, Reason{}},
		// Synced because a "!" rule re-included it, or a directory above it.
		{"pkg/keep.gen.go", false, Reason{Rule: "!keep.gen.go", Source: ".kindlingignore:4", Path: "pkg/keep.gen.go"}},
		{"dist/app.js", false, Reason{Rule: "!dist/", Source: "--exclude", Path: "dist"}},
		// A re-included directory does not re-include what a default excludes inside it.
		{"dist/debug.log", false, Reason{Excluded: true, Rule: "*.log", Source: "default", Path: "dist/debug.log"}},
		{"main.go", false, Reason{}},
		{"", true, Reason{}},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			got := m.Why(tt.rel, tt.isDir)
			if got != tt.want {
				t.Errorf("Why(%q, isDir=%v) = %+v, want %+v", tt.rel, tt.isDir, got, tt.want)
			}
			if ex := m.Excluded(tt.rel, tt.isDir); ex != got.Excluded {
				t.Errorf("Excluded(%q) = %v but Why says %v", tt.rel, ex, got.Excluded)
			}
		})
	}
}

func TestPatternFor(t *testing.T) {
	tests := []struct {
		rel   string
		isDir bool
		want  string
		// others are paths the pattern must not exclude.
		others []string
	}{
		{"data/big.bin", false, "data/big.bin", []string{"x/data/big.bin", "data/big.bin2", "data"}},
		{"big.bin", false, "/big.bin", []string{"sub/big.bin"}},
		{"data", true, "/data/", []string{"sub/data", "data2"}},
		{"web/assets", true, "web/assets/", []string{"x/web/assets", "web/assets2"}},
		{"a*b/[x]?.bin", false, `a\*b/\[x]\?.bin`, []string{"aXb/[x]?.bin", "a*b/x1.bin"}},
		{"!important", false, `/!important`, []string{"x/!important"}},
		{"#notes", false, `/#notes`, nil},
		{"!keep/x", false, `\!keep/x`, []string{"keep/x"}},
		{`back\slash`, false, `/back\\slash`, []string{"backslash"}},
		{"trailing ", false, `/trailing\ `, []string{"trailing"}},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			got := PatternFor(tt.rel, tt.isDir)
			if got != tt.want {
				t.Errorf("PatternFor(%q, %v) = %q, want %q", tt.rel, tt.isDir, got, tt.want)
			}
			m, err := New(t.TempDir(), []string{got})
			if err != nil {
				t.Fatal(err)
			}
			if why := m.Why(tt.rel, tt.isDir); !why.Excluded || why.Rule != got {
				t.Errorf("--exclude %q: Why(%q) = %+v, want it excluded by that rule", got, tt.rel, why)
			}
			if tt.isDir && !m.Excluded(tt.rel+"/inside", false) {
				t.Errorf("--exclude %q does not exclude what is inside %q", got, tt.rel)
			}
			for _, o := range tt.others {
				for _, isDir := range []bool{false, true} {
					if why := m.Why(o, isDir); why.Excluded && why.Source == SourceFlag {
						t.Errorf("--exclude %q also excludes %q (isDir %v)", got, o, isDir)
					}
				}
			}
		})
	}
}
