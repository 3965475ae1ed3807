package restart

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/runtime"
)

// The probes print what an app can tell about how it was started; a spare must not change any of it.
const (
	nodeProbe = `console.log(JSON.stringify({argv: process.argv, execArgv: process.execArgv, main: require.main === module,
  file: __filename, env: Object.keys(process.env).filter(k => k.startsWith("KINDLING")), warn: process.noDeprecation}));
`
	esmProbe = `console.log(JSON.stringify({argv: process.argv, url: import.meta.url, env: Object.keys(process.env).filter(k => k.startsWith("KINDLING"))}));
`
	pythonProbe = `import json, os, sys
import __main__
print(json.dumps({"argv": sys.argv, "name": __name__, "file": __file__, "path0": sys.path[0], "main": __main__.__dict__ is globals(),
    "env": [k for k in os.environ if k.startswith("KINDLING")], "warnings": sys.warnoptions}))
`
)

func TestSpareRunsTheAppAsAFreshStartWould(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nodeApp, pyApp := write("app.js", nodeProbe), write("app.py", pythonProbe)
	esmApp := write("esm/app.mjs", esmProbe)
	write("pkg/__init__.py", "")
	write("pkg/main.py", pythonProbe)
	scripts := t.TempDir()
	for name, content := range spareScripts {
		if err := os.WriteFile(filepath.Join(scripts, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, argv := range [][]string{
		{"node", nodeApp, "a", "two words"},
		{"node", "--no-deprecation", "app.js"},
		{"node", esmApp, "--flag"},
		{"python3", pyApp, "a", "two words"},
		{"python3", "-u", "-W", "ignore", pyApp},
		{"python3", "-m", "pkg.main", "--flag"},
		{"python3", "-W", "error", "-m", "http.client"}, // a module the spare would load: no warning
	} {
		if _, err := exec.LookPath(argv[0]); err != nil {
			t.Fatalf("%s not found: install it (hack/cluster/deps does)", argv[0])
		}
		script, at, ok := runtime.Spare(argv)
		if !ok {
			t.Fatalf("runtime.Spare(%q): no spare", argv)
		}
		fresh := runProbe(t, dir, argv, nil)
		spareArgv := append(append(append([]string{}, argv[:at]...), filepath.Join(scripts, script)), argv[at:]...)
		viaSpare := runProbe(t, dir, spareArgv, func(cmd *exec.Cmd) func() {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			ready := filepath.Join(t.TempDir(), "ready")
			cmd.ExtraFiles = []*os.File{nil, r} // the gate is fd 4
			cmd.Env = append(os.Environ(), "KINDLING_SPARE_FD=4", "KINDLING_SPARE_READY="+ready)
			return func() {
				r.Close()
				deadline := time.Now().Add(10 * time.Second)
				for _, err := os.Stat(ready); err != nil; _, err = os.Stat(ready) {
					if time.Now().After(deadline) {
						t.Fatalf("%q: the spare never said it was ready", argv)
					}
					time.Sleep(5 * time.Millisecond)
				}
				w.Write([]byte{1})
				w.Close()
			}
		})
		if viaSpare != fresh {
			t.Errorf("%q\nfresh start: %s\n  via spare: %s", argv, fresh, viaSpare)
		}
	}
}

// runProbe runs argv in dir and returns its output; gate, when set, prepares the command and returns
// what to do once it started.
func runProbe(t *testing.T, dir string, argv []string, gate func(*exec.Cmd) func()) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	var started func()
	if gate != nil {
		started = gate(cmd)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if started != nil {
		started()
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%q: %v: %s", argv, err, errOut.String())
	}
	return out.String()
}

// A Node.js spare with preloads in NODE_OPTIONS would have run them before the sync: it exits at once,
// before it says it is ready, so that the supervisor starts the app cold.
func TestNodeSpareRefusesPreloads(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "spare.cjs")
	for name, content := range map[string]string{"spare.cjs": spareScripts["spare.cjs"], "pre.js": "", "app.js": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, options := range []string{"--require ./pre.js", "-r ./pre.js", "--import=./pre.js", "--inspect=0"} {
		ready := filepath.Join(t.TempDir(), "ready")
		cmd := exec.Command("node", script, "app.js")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "NODE_OPTIONS="+options, "KINDLING_SPARE_FD=4", "KINDLING_SPARE_READY="+ready)
		out, err := cmd.CombinedOutput()
		if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 3 {
			t.Errorf("NODE_OPTIONS=%q: %v %s; want exit status 3", options, err, out)
		}
		if _, err := os.Stat(ready); err == nil {
			t.Errorf("NODE_OPTIONS=%q: the spare said it was ready", options)
		}
	}
}
