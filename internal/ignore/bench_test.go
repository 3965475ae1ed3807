package ignore

import (
	"fmt"
	"testing"
)

type walkedPath struct {
	rel   string
	isDir bool
}

// monorepoWalk returns the 10,000 or so paths a scan of a monorepo asks about, in walk order: a directory
// before its contents, and nothing inside the directories the defaults exclude, since the scan skips them.
func monorepoWalk() []walkedPath {
	var paths []walkedPath
	dir := func(rel string) { paths = append(paths, walkedPath{rel, true}) }
	file := func(rel string) { paths = append(paths, walkedPath{rel, false}) }
	exts := []string{".go", "_test.go", ".py", ".ts", ".tsx", ".json", ".md", ".yaml", ".css", ".pyc", ".sh", ".log"}
	dir("services")
	for s := range 8 {
		svc := fmt.Sprintf("services/svc%d", s)
		dir(svc)
		dir(svc + "/node_modules")
		dir(svc + "/dist")
		file(svc + "/README.md")
		file(svc + "/Makefile")
		dir(svc + "/src")
		dir(svc + "/src/internal")
		for p := range 25 {
			pkg := fmt.Sprintf("%s/src/internal/pkg%d", svc, p)
			dir(pkg)
			dir(pkg + "/__pycache__")
			for f := range 48 {
				file(fmt.Sprintf("%s/file%d%s", pkg, f, exts[f%len(exts)]))
			}
		}
	}
	return paths
}

// BenchmarkExcluded measures one scan of monorepoWalk by a fresh Matcher, so that the per-directory memo
// starts empty as it does on a real run.
func BenchmarkExcluded(b *testing.B) {
	paths := monorepoWalk()
	for _, bc := range []struct {
		name  string
		extra []string
	}{
		{"defaults", nil},
		{"with excludes", []string{"*.test.js", "fixtures/", "/config.local.js", "**/tmp/**", "!keep.log"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src := b.TempDir()
			for b.Loop() {
				m, err := New(src, bc.extra)
				if err != nil {
					b.Fatal(err)
				}
				for _, p := range paths {
					m.Excluded(p.rel, p.isDir)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(paths)), "ns/path")
		})
	}
}
