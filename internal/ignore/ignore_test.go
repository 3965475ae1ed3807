package ignore

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

type check struct {
	rel   string
	isDir bool
	want  bool
}

func runChecks(t *testing.T, m *Matcher, checks []check) {
	t.Helper()
	for _, c := range checks {
		if got := m.Excluded(c.rel, c.isDir); got != c.want {
			t.Errorf("Excluded(%q, isDir=%v) = %v, want %v (patterns %q)", c.rel, c.isDir, got, c.want, m.Patterns())
		}
		if why := m.Why(c.rel, c.isDir); why.Excluded != c.want {
			t.Errorf("Why(%q, isDir=%v) = %+v, want Excluded %v (patterns %q)", c.rel, c.isDir, why, c.want, m.Patterns())
		}
	}
}

func TestExcluded(t *testing.T) {
	tests := []struct {
		name   string
		extra  []string
		file   string // contents of .kindlingignore; none when empty
		checks []check
	}{
		{
			name: "defaults at any depth",
			checks: []check{
				{".git", true, true},
				{".git/HEAD", false, true},
				{"node_modules", true, true},
				{"web/node_modules/react/index.js", false, true},
				{"pkg/__pycache__", true, true},
				{".venv/bin/python", false, true},
				{"vendor", true, true},
				{"target/debug/app", false, true},
				{"app/.next/cache", true, true},
				{"dist", true, true},
				{"build/out.js", false, true},
				{"build", false, true}, // a plain file named build is excluded too, as in git
				{"a/b/mod.pyc", false, true},
				{"main.o", false, true},
				{"bin/tool.exe", false, true},
				{"logs/server.log", false, true},
				{"sub/.DS_Store", false, true},
				{"main.go", false, false},
				{"src/app.py", false, false},
				{"vendored.txt", false, false},
				{"distance/x.js", false, false},
				{"mylog", false, false},
				{"", true, false},
			},
		},
		{
			name:  "spec example excludes",
			extra: []string{"*.test.js", "fixtures/"},
			checks: []check{
				{"app.test.js", false, true},
				{"src/deep/util.test.js", false, true},
				{"app.js", false, false},
				{"fixtures", true, true},
				{"test/fixtures/data.json", false, true},
				{"fixtures", false, false}, // dir-only rule, plain file of the same name
				{"fixtures.js", false, false},
			},
		},
		{
			name:  "double star directory",
			extra: []string{"**/tmp/**"},
			checks: []check{
				{"tmp/a.txt", false, true},
				{"a/b/tmp/c/d.txt", false, true},
				{"a/tmp", true, true}, // go-git also matches the directory itself: nothing inside it would be synced anyway
				{"tmpfile", false, false},
				{"a/tmpx/b", false, false},
			},
		},
		{
			name:  "double star in the middle",
			extra: []string{"docs/**/*.png"},
			checks: []check{
				{"docs/a.png", false, true},
				{"docs/x/y/b.png", false, true},
				{"other/docs/a.png", false, false},
				{"docs/a.jpg", false, false},
			},
		},
		{
			name:  "anchored",
			extra: []string{"/config.local.js"},
			checks: []check{
				{"config.local.js", false, true},
				{"sub/config.local.js", false, false},
			},
		},
		{
			name:  "anchored path with a directory",
			extra: []string{"assets/raw"},
			checks: []check{
				{"assets/raw", true, true},
				{"assets/raw/big.psd", false, true},
				{"x/assets/raw", true, false},
			},
		},
		{
			name:  "dir only versus file of the same name",
			extra: []string{"cache/"},
			checks: []check{
				{"cache", true, true},
				{"cache/x", false, true},
				{"a/cache", true, true},
				{"cache", false, false},
				{"a/cache", false, false},
			},
		},
		{
			name:  "negation of a file pattern",
			extra: []string{"*.md", "!README.md"},
			checks: []check{
				{"CHANGES.md", false, true},
				{"README.md", false, false},
				{"docs/README.md", false, false},
			},
		},
		{
			name:  "re-include a default directory",
			extra: []string{"!dist/"},
			checks: []check{
				{"dist", true, false},
				{"dist/index.html", false, false},
				{"web/dist/app.js", false, false},
				// deeper defaults still apply inside the re-included directory
				{"dist/node_modules", true, true},
				{"dist/node_modules/x.js", false, true},
				{"dist/debug.log", false, true},
				{"dist", false, true}, // "!dist/" only re-includes directories
			},
		},
		{
			name:  "no re-include inside an excluded directory",
			extra: []string{"!keep.txt", "!build/keep.txt"},
			checks: []check{
				{"build/keep.txt", false, true},
				{"node_modules/a/keep.txt", false, true},
				{"keep.txt", false, false},
			},
		},
		{
			name:  "last matching rule wins",
			extra: []string{"!*.log", "secret.log"},
			checks: []check{
				{"app.log", false, false},
				{"secret.log", false, true},
			},
		},
		{
			name:  "spaces and unicode",
			extra: []string{"my notes.txt", "données/", "*.日本"},
			checks: []check{
				{"my notes.txt", false, true},
				{"a b/my notes.txt", false, true},
				{"my_notes.txt", false, false},
				{"données/x", false, true},
				{"a/données", true, true},
				{"file.日本", false, true},
				{"a b/c d.txt", false, false},
			},
		},
		{
			name: "ignore file",
			file: "# generated files\n\n*.gen.go\n/local/\n!build/\r\n",
			checks: []check{
				{"api.gen.go", false, true},
				{"pkg/api.gen.go", false, true},
				{"local/x", false, true},
				{"pkg/local/x", false, false},
				{"build/out", false, false},
				{"# generated files", false, false},
			},
		},
		{
			name:  "ignore file overrides --exclude",
			extra: []string{"*.txt"},
			file:  "!notes.txt\n",
			checks: []check{
				{"a.txt", false, true},
				{"notes.txt", false, false},
			},
		},
		{
			name:  "escaped specials are literal",
			extra: []string{`\#hash`, `\!bang`, `a\[1\]`},
			checks: []check{
				{"#hash", false, true},
				{"!bang", false, true},
				{"a[1]", false, true},
				{"a1", false, false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(src, FileName), []byte(tt.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			m, err := New(src, tt.extra)
			if err != nil {
				t.Fatal(err)
			}
			runChecks(t, m, tt.checks)
		})
	}
}

func TestPatterns(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, FileName), []byte("# comment\n\nfrom-file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := New(src, []string{"extra1", "!extra2"})
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]string(nil), Defaults...), "extra1", "!extra2", "from-file")
	if got := m.Patterns(); !reflect.DeepEqual(got, want) {
		t.Errorf("Patterns() = %q, want %q", got, want)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name     string
		extra    []string
		file     string
		wantSubs []string
	}{
		{"unclosed bracket", []string{"[abc"}, "", []string{`--exclude "[abc"`, "escape"}},
		{"trailing backslash", []string{`foo\`}, "", []string{`--exclude "foo\\"`}},
		{"star star inside a segment", []string{"a/b**/c"}, "", []string{`"b**"`, "a/**/b"}},
		{"empty", []string{""}, "", []string{"empty pattern"}},
		{"bad line in ignore file", nil, "ok\n[x\n", []string{FileName + ":2", `"[x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			if tt.file != "" {
				if err := os.WriteFile(filepath.Join(src, FileName), []byte(tt.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := New(src, tt.extra)
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, sub := range tt.wantSubs {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("error %q does not contain %q", err, sub)
				}
			}
		})
	}
}

func TestUnreadableIgnoreFile(t *testing.T) {
	src := t.TempDir()
	// A directory in place of the file makes reading it fail even when the tests run as root.
	if err := os.Mkdir(filepath.Join(src, FileName), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := New(src, nil)
	if err == nil || !strings.Contains(err.Error(), FileName) || !strings.Contains(err.Error(), "remove it") {
		t.Fatalf("New() error = %v, want one naming %s and the fix", err, FileName)
	}
}
