package hooks

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kindling-dev/kindling/internal/plan"
	"github.com/kindling-dev/kindling/internal/transport"
)

func tree(paths ...string) plan.Tree {
	t := plan.Tree{}
	for _, p := range paths {
		t[p] = plan.Entry{Kind: plan.File}
	}
	return t
}

func TestForPicksTheInstallOfEachChangedManifest(t *testing.T) {
	all := Config{Install: true}
	for _, tc := range []struct {
		name    string
		changed []string
		local   plan.Tree
		want    []string // "DIR: ARGV"
	}{
		{"npm without a lock", []string{"package.json"}, tree("package.json"), []string{": npm install --no-audit --no-fund"}},
		{"npm with a lock", []string{"package.json"}, tree("package.json", "package-lock.json"), []string{": npm ci --no-audit --no-fund"}},
		{"lock and manifest: once", []string{"package.json", "package-lock.json"}, tree("package.json", "package-lock.json"), []string{": npm ci --no-audit --no-fund"}},
		{"yarn project", []string{"package.json"}, tree("package.json", "yarn.lock"), []string{": yarn install --frozen-lockfile"}},
		{"pnpm project", []string{"pnpm-lock.yaml"}, tree("package.json", "pnpm-lock.yaml"), []string{": pnpm install --frozen-lockfile"}},
		{"a service in a subdirectory", []string{"web/package.json"}, tree("web/package.json"), []string{"web: npm install --no-audit --no-fund"}},
		{"pip", []string{"requirements-dev.txt"}, tree("requirements-dev.txt"), []string{": pip install --disable-pip-version-check -r requirements-dev.txt"}},
		{"poetry", []string{"pyproject.toml"}, tree("pyproject.toml", "poetry.lock"), []string{": poetry install --no-interaction"}},
		{"uv", []string{"uv.lock"}, tree("pyproject.toml", "uv.lock"), []string{": uv sync --frozen"}},
		{"pyproject alone installs nothing", []string{"pyproject.toml"}, tree("pyproject.toml"), nil},
		{"bundler", []string{"Gemfile.lock"}, tree("Gemfile", "Gemfile.lock"), []string{": bundle install"}},
		{"composer", []string{"composer.json"}, tree("composer.json"), []string{": composer install --no-interaction"}},
		{"a deleted manifest", []string{"package.json"}, tree(), nil},
		{"a source file", []string{"app.js"}, tree("app.js", "package.json"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range all.For(tc.changed, tc.local) {
				got = append(got, c.Dir+": "+strings.Join(c.Argv, " "))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if cmds := (Config{}).For(tc.changed, tc.local); len(cmds) != 0 {
				t.Errorf("--no-install still runs %v", cmds)
			}
		})
	}
}

func TestOnChange(t *testing.T) {
	for _, bad := range []string{"*.proto", "=make", "[=x", "*.proto="} {
		if _, err := ParseOnChange(bad); err == nil {
			t.Errorf("ParseOnChange(%q) accepted", bad)
		}
	}
	proto, err := ParseOnChange("*.proto = make proto")
	if err != nil {
		t.Fatal(err)
	}
	migrations, _ := ParseOnChange("migrations/**=alembic upgrade head")
	c := Config{OnChange: []OnChange{proto, migrations}}
	for _, tc := range []struct {
		changed []string
		want    []string
	}{
		{[]string{"api/v1/a.proto", "b.proto"}, []string{"make proto"}},
		{[]string{"migrations/versions/1.py"}, []string{"alembic upgrade head"}},
		{[]string{"app.py", "migrationsx/1.py"}, nil},
	} {
		var got []string
		for _, cmd := range c.For(tc.changed, nil) {
			got = append(got, cmd.Shell)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: got %q, want %q", tc.changed, got, tc.want)
		}
	}
}

func TestRunIsArgvSafeSkipsMissingToolsAndReportsFailures(t *testing.T) {
	dest := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dest, "web"), 0o755))
	bin := t.TempDir()
	// A fake "npm" that records its working directory and argv.
	record := filepath.Join(t.TempDir(), "out")
	must(t, os.WriteFile(filepath.Join(bin, "npm"), []byte("#!/bin/sh\npwd > "+record+"\nprintf '%s\\n' \"$@\" >> "+record+"\n"), 0o755))
	e := &transport.LocalExecer{Name: "pod/a/app", Path: bin + ":/usr/bin:/bin"}
	hostile := "$(touch pwned); `touch pwned`.txt"
	r, err := Run(context.Background(), e, dest, []Command{
		{Tool: "npm", Argv: []string{"npm", "install", hostile}, Dir: "web"},
		{Tool: "yarn", Argv: []string{"yarn", "install"}},
	})
	must(t, err)
	got, _ := os.ReadFile(record)
	if want := filepath.Join(dest, "web") + "\ninstall\n" + hostile + "\n"; string(got) != want {
		t.Errorf("npm got %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dest, "web", "pwned")); err == nil {
		t.Error("a file name was run as a command")
	}
	if note := r.Note(); note != "ran npm install "+hostile+"; skipped yarn (not in the container)" {
		t.Errorf("note %q", note)
	}

	_, err = Run(context.Background(), e, dest, []Command{{Why: "requirements.txt changed", Shell: "echo 'error: externally-managed-environment'; exit 1"}})
	if err == nil || !strings.Contains(err.Error(), "set PIP_BREAK_SYSTEM_PACKAGES=1 in the container's env") {
		t.Errorf("a PEP 668 refusal without its fix: %v", err)
	}
	_, err = Run(context.Background(), e, dest, []Command{{Why: "schema.proto changed", Shell: "echo one; echo two; echo oops >&2; exit 3"}})
	if err == nil || !strings.Contains(err.Error(), "`echo one; echo two; echo oops >&2; exit 3` (schema.proto changed) failed") || !strings.Contains(err.Error(), "one | two | oops") {
		t.Errorf("got %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
