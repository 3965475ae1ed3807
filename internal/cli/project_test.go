package cli

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestProjectFileErrorsNameTheLineAndTheFix(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "syncs:\n  - deployment: a\n    sorce: .\n", "kindling.yaml:3: unknown key \"sorce\"; the keys here are build-cmd, build-output, compress, container,"},
		{"unknown top-level key", "namespace: x\nrestrat: true\nsyncs:\n  - deployment: a\n", "kindling.yaml:2: unknown key \"restrat\""},
		{"wrong type", "syncs:\n  - deployment: a\n    restart: yes please\n", "kindling.yaml:3: restart: want true or false, not \"yes please\""},
		{"bad duration", "debounce: fast\nsyncs:\n  - deployment: a\n", "kindling.yaml:1: debounce: want a duration such as 500ms or 2s, not \"fast\""},
		{"list wanted", "syncs:\n  - deployment: a\n    exclude: {a: b}\n", "kindling.yaml:3: exclude: want a list of patterns"},
		{"string wanted", "syncs:\n  - deployment: [a]\n", "kindling.yaml:2: deployment: want a string, not a list"},
		{"duplicate", "syncs:\n  - deployment: a\n  - deployment: b\n  - deployment: a\n", "kindling.yaml:4: deployment \"a\" is listed twice (first on line 2); merge the two entries"},
		{"no deployment", "syncs:\n  - src: ./x\n", "kindling.yaml:2: this entry has no `deployment:`"},
		{"no syncs", "namespace: x\n", "kindling.yaml:1: no `syncs:` list"},
		{"syncs not a list", "syncs: a\n", "kindling.yaml:1: `syncs` must be a list"},
		{"empty syncs", "syncs: []\n", "kindling.yaml:1: `syncs` is empty"},
		{"key twice", "syncs:\n  - deployment: a\n    src: x\n    src: y\n", "kindling.yaml:4: key \"src\" is given twice"},
		{"empty file", "", "kindling.yaml is empty"},
		{"not yaml", "syncs: [\n", "kindling.yaml:1: did not find expected node content (this is not valid YAML)"},
		{"not a mapping", "- a\n", "kindling.yaml:1: the file must be a mapping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseProject("kindling.yaml", []byte(tc.yaml))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant prefix %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

// writeProject writes a project with two entries in a fresh directory tree and returns its directory.
func writeProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"services/orders", "web/dist", "services/orders/deep"} {
		must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	must(t, os.WriteFile(filepath.Join(dir, projectFileName), []byte(`namespace: shop
debounce: 200ms
exclude: ["*.log"]
helper-image: mirror.example/busybox:1.37.0-musl
syncs:
  - deployment: orders
    src: ./services/orders
    restart: true
  - deployment: web
    src: web/dist
    dest: /usr/share/nginx/html
    exclude: ["*.map"]
`), 0o644))
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// completeIn runs kindling sync's flag parsing and completion in dir with args.
func completeIn(t *testing.T, dir string, args ...string) ([]syncOptions, error) {
	t.Helper()
	wd, _ := os.Getwd()
	must(t, os.Chdir(dir))
	defer os.Chdir(wd)
	var o syncOptions
	f := pflag.NewFlagSet("sync", pflag.ContinueOnError)
	o.register(f)
	file := f.StringP("file", "f", "", "")
	must(t, f.Parse(args))
	return o.complete(f, f.Args(), *file)
}

func TestProjectEntriesTakeDefaultsThenEntryThenCommandLine(t *testing.T) {
	dir := writeProject(t)
	// Found from a subdirectory, as git finds .git; paths stay relative to the file.
	entries, err := completeIn(t, filepath.Join(dir, "services/orders/deep"))
	must(t, err)
	if len(entries) != 2 {
		t.Fatalf("got %d entries, want 2", len(entries))
	}
	orders, web := entries[0], entries[1]
	want := syncOptions{connection: connection{deployment: "orders", namespace: "shop"}, src: filepath.Join(dir, "services/orders"),
		dest: "/app", restart: true, excludes: []string{"*.log"}, debounce: 200 * time.Millisecond, helperImage: "mirror.example/busybox:1.37.0-musl", compress: "auto"}
	if !reflect.DeepEqual(orders, want) {
		t.Errorf("orders:\n got %+v\nwant %+v", orders, want)
	}
	if web.dest != "/usr/share/nginx/html" || web.restart || !reflect.DeepEqual(web.excludes, []string{"*.map"}) || web.src != filepath.Join(dir, "web/dist") {
		t.Errorf("web: %+v", web)
	}

	// One entry by name, or by -d; a flag on the command line wins over the file.
	for _, args := range [][]string{{"web", "--debounce", "1s", "-n", "other"}, {"-d", "web", "--debounce", "1s", "-n", "other"}} {
		entries, err = completeIn(t, dir, args...)
		must(t, err)
		if len(entries) != 1 || entries[0].deployment != "web" || entries[0].debounce != time.Second || entries[0].namespace != "other" ||
			entries[0].dest != "/usr/share/nginx/html" {
			t.Errorf("%v: %+v", args, entries)
		}
	}
	entries, err = completeIn(t, dir, "--exclude", "tmp/")
	must(t, err)
	if !reflect.DeepEqual(entries[1].excludes, []string{"tmp/"}) {
		t.Errorf("--exclude on the command line replaces the entry's: %v", entries[1].excludes)
	}
	// A Deployment the file does not list gets the file's defaults.
	entries, err = completeIn(t, dir, "-d", "other")
	must(t, err)
	if len(entries) != 1 || entries[0].namespace != "shop" || entries[0].src != "." {
		t.Errorf("-d other: %+v", entries)
	}
}

func TestProjectCompletionErrors(t *testing.T) {
	dir := writeProject(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, "has no entry \"nope\"; its entries are orders, web"},
		{[]string{"web", "-d", "orders"}, "both \"web\" and -d \"orders\" name an entry"},
		{[]string{"-f", "missing.yaml"}, "-f missing.yaml: no such file or directory"},
	} {
		_, err := completeIn(t, dir, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
	// An entry that fails validation is named by its line.
	must(t, os.WriteFile(filepath.Join(dir, projectFileName), []byte("syncs:\n  - deployment: a\n    src: ./nowhere\n"), 0o644))
	_, err := completeIn(t, dir)
	if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, projectFileName)+":2: --src ") {
		t.Errorf("got %v", err)
	}
	// Without a file, a name needs one.
	empty := t.TempDir()
	if _, err := completeIn(t, empty, "web"); err == nil || !strings.Contains(err.Error(), "no kindling.yaml here") {
		t.Errorf("got %v", err)
	}
}

// The published schema (docs/kindling.schema.json) accepts exactly the keys the loader does.
func TestSchemaKnowsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../docs/kindling.schema.json")
	must(t, err)
	var schema struct {
		Properties map[string]struct {
			Items struct {
				Properties map[string]any `json:"properties"`
			} `json:"items"`
		} `json:"properties"`
	}
	must(t, json.Unmarshal(b, &schema))
	keys := func(m map[string]keyKind) []string { return slices.Sorted(maps.Keys(m)) }
	top := slices.Sorted(maps.Keys(schema.Properties))
	if want := append(keys(defaultKeys), "syncs"); !slices.Equal(top, slices.Sorted(slices.Values(want))) {
		t.Errorf("schema top-level keys %v, loader %v", top, want)
	}
	if entry, want := slices.Sorted(maps.Keys(schema.Properties["syncs"].Items.Properties)), keys(entryKeys); !slices.Equal(entry, want) {
		t.Errorf("schema entry keys %v, loader %v", entry, want)
	}
}
