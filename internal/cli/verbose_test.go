package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/ignore"
	"github.com/kindling-dev/kindling/internal/plan"
)

func TestSkippedLine(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, ignore.FileName), []byte("# generated\ngen/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := ignore.New(src, []string{"*.test.js", "!dist/"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rel   string
		isDir bool
		want  string
	}{
		{"app/x.pyc", false, `kindling: skipped app/x.pyc: excluded by "*.pyc" (default; --exclude '!*.pyc' syncs it)`},
		{"web/node_modules/a.js", false, `kindling: skipped web/node_modules/a.js: in web/node_modules, excluded by "node_modules" (default; --exclude '!node_modules' syncs it)`},
		{"src/a.test.js", false, `kindling: skipped src/a.test.js: excluded by "*.test.js" (--exclude)`},
		{"pkg/gen/m.go", false, `kindling: skipped pkg/gen/m.go: in pkg/gen, excluded by "gen/" (.kindlingignore:2)`},
		{"dist/app.js", false, ""},
		{"main.go", false, ""},
	}
	for _, tt := range tests {
		if got := skippedLine(m, tt.rel, tt.isDir); got != tt.want {
			t.Errorf("skippedLine(%q) =\n%s\nwant\n%s", tt.rel, got, tt.want)
		}
	}
}

func TestSkipReporterSaysAPathOncePerQuietPeriod(t *testing.T) {
	m, err := ignore.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	r := newSkipReporter(&out, m)
	now := time.Unix(1000, 0)
	r.now = func() time.Time { return now }
	r.Report("a.pyc", false)
	r.Report("a.pyc", false) // the same save's next event
	r.Report("b.log", false)
	r.Report("main.go", false) // synced: nothing to say
	now = now.Add(skipQuiet)
	r.Report("a.pyc", false) // a later save
	want := `kindling: skipped a.pyc: excluded by "*.pyc" (default; --exclude '!*.pyc' syncs it)
kindling: skipped b.log: excluded by "*.log" (default; --exclude '!*.log' syncs it)
kindling: skipped a.pyc: excluded by "*.pyc" (default; --exclude '!*.pyc' syncs it)
`
	if out.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", out.String(), want)
	}
}

func TestLargeWarning(t *testing.T) {
	f := func(p string, mb int64) plan.Item {
		return plan.Item{Path: p, Entry: plan.Entry{Kind: plan.File, Size: mb << 20}}
	}
	tests := []struct {
		name string
		w    plan.Weight
		want string
	}{
		{name: "light", w: plan.Weight{Files: 100}, want: ""},
		{
			name: "one file",
			w:    plan.Weight{Largest: []plan.Item{f("data/big.bin", 300)}, LargeFiles: 1, LargeBytes: 300 << 20, Files: 10},
			want: `kindling: 1 file over 10 MB makes syncs slow:
   300.0 MB  data/big.bin
  if the app does not need it: --exclude 'data/big.bin' (or a line in .kindlingignore)`,
		},
		{
			name: "a directory of them and others",
			w: plan.Weight{
				Largest:    []plan.Item{f("media/intro.mp4", 2048), f("data/a.bin", 800), f("data/b.bin", 500), f("it's.iso", 300), f("data/c.bin", 20)},
				LargeFiles: 7, LargeBytes: 3700 << 20, LargeDirs: []string{"data"}, Files: 30,
			},
			want: `kindling: 7 files over 10 MB (3.6 GB in all) make syncs slow:
     2.0 GB  media/intro.mp4
   800.0 MB  data/a.bin
   500.0 MB  data/b.bin
   300.0 MB  it's.iso
    20.0 MB  data/c.bin
  and 2 more
  if the app does not need them: --exclude '/data/' --exclude 'media/intro.mp4' --exclude '/it'\''s.iso' (or a line each in .kindlingignore)`,
		},
		{
			name: "many files in one place",
			w:    plan.Weight{Files: 48210, Many: true, Crowded: "web/fixtures", CrowdedFiles: 41000},
			want: `kindling: 48,210 files make the first sync slow; 41,000 of them are under web/fixtures: if the app does not need them, --exclude 'web/fixtures/'`,
		},
		{
			name: "many files spread out",
			w:    plan.Weight{Files: 20001, Many: true},
			want: `kindling: 20,001 files make the first sync slow; exclude what the app does not need with --exclude or .kindlingignore`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(largeWarning(tt.w), "\n"); got != tt.want {
				t.Errorf("largeWarning =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 4210: "4,210", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
