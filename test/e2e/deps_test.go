//go:build e2e

package e2e

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNewNodeDependencyIsInstalledBeforeTheRestart: one save adds a dependency to package.json (a local
// file: package, as offline as the cluster) and the code that uses it; kindling runs npm install in the
// container before the restart, and the new code serves.
func TestNewNodeDependencyIsInstalledBeforeTheRestart(t *testing.T) {
	ns := Namespace(t)
	node := app{name: "node", dest: "/app", port: 8080, command: []string{"node", "/app/server.js"},
		files: map[string]string{"server.js": nodeServer, "package.json": `{"name": "app", "version": "1.0.0"}` + "\n"}}
	node.deploy(t, ns, 1)
	src := node.source(t)
	p := startKindling(t, "sync", "-d", node.name, "-n", ns, "--src", src, "--restart", "--debounce", "200ms")
	WaitHTTPBody(t, ns, node.name, 8080, "/", "node v1", 60*time.Second)
	waitFor(t, 60*time.Second, "the first sync", func() (bool, error) { return strings.Contains(p.Output(), "watching for changes"), nil })

	WriteLocalFile(t, src, "kdep/package.json", `{"name": "kdep", "version": "1.0.0", "main": "index.js"}`+"\n", 0o644)
	WriteLocalFile(t, src, "kdep/index.js", "module.exports = 'from kdep';\n", 0o644)
	WriteLocalFile(t, src, "package.json", `{"name": "app", "version": "1.0.0", "dependencies": {"kdep": "file:./kdep"}}`+"\n", 0o644)
	WriteLocalFile(t, src, "server.js", "const dep = require('kdep');\nrequire('http').createServer((req, res) => res.end('node v2 ' + dep + '\\n')).listen(8080);\n", 0o644)
	WaitHTTPBody(t, ns, node.name, 8080, "/", "node v2 from kdep", 90*time.Second)
	if !strings.Contains(p.Output(), "ran npm install") {
		t.Errorf("the sync line does not say npm install ran:\n%s", p.Output())
	}
}

// TestPipInstallRunsBeforeTheRestartAndAFailureKeepsTheOldApp: a requirements.txt naming a wheel that is
// not there fails pip; the app keeps serving its previous code and the error shows pip's words; the save
// that adds the wheel installs it and the new code serves.
func TestPipInstallRunsBeforeTheRestartAndAFailureKeepsTheOldApp(t *testing.T) {
	ns := Namespace(t)
	python := app{name: "python", dest: "/app", port: 8080, command: []string{"python3", "/app/server.py"},
		files: map[string]string{"server.py": pythonServer},
		// Debian's python refuses pip installs outside a virtualenv unless told (PEP 668), as an image's
		// ENV would.
		env: []map[string]any{{"name": "PIP_BREAK_SYSTEM_PACKAGES", "value": "1"}}}
	python.deploy(t, ns, 1)
	src := python.source(t)
	p := startKindling(t, "sync", "-d", python.name, "-n", ns, "--src", src, "--restart", "--debounce", "200ms")
	waitFor(t, 60*time.Second, "the first sync", func() (bool, error) { return strings.Contains(p.Output(), "watching for changes"), nil })
	WaitHTTPBody(t, ns, python.name, 8080, "/", "python v1", 60*time.Second)

	wheel := "kdep_py-1.0-py3-none-any.whl"
	WriteLocalFile(t, src, "requirements.txt", "--no-index\n./wheels/"+wheel+"\n", 0o644)
	edit(t, src, "server.py", "import sys\n", "import sys\nimport kdep_py\n")
	edit(t, src, "server.py", `"python v1 argv=%r\n" % sys.argv[1:]`, `"python v2 " + kdep_py.VALUE + "\n"`)
	waitFor(t, 90*time.Second, "pip's failure", func() (bool, error) {
		return strings.Contains(p.Output(), "files synced, but `pip install --disable-pip-version-check -r requirements.txt` (requirements.txt changed) failed"), nil
	})
	if body := httpBody(t, ns, python.name); !strings.Contains(body, "python v1") {
		t.Fatalf("after a failed install the app serves %q, want its previous code", body)
	}

	must(t, os.MkdirAll(filepath.Join(src, "wheels"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "wheels", wheel), buildWheel(t, "kdep_py", "1.0", "VALUE = 'from kdep'\n"), 0o644))
	WaitHTTPBody(t, ns, python.name, 8080, "/", "python v2 from kdep", 90*time.Second)
	if !strings.Contains(p.Output(), "ran pip install") {
		t.Errorf("the sync line does not say pip ran:\n%s", p.Output())
	}
}

// TestOnChangeRunsTheCommandForMatchingChangesOnly: --on-change '*.proto=…' runs after a sync that
// touched a .proto file, in --dest, and not after other changes.
func TestOnChangeRunsTheCommandForMatchingChangesOnly(t *testing.T) {
	ns := Namespace(t)
	deploy := fileServer(t, ns, 1)
	src := t.TempDir()
	WriteLocalFile(t, src, "index.html", "v1\n", 0o644)
	p := startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--debounce", "100ms",
		"--exclude", "gen/", "--on-change", "*.proto=mkdir -p gen && cat api/*.proto > gen/all.txt && echo run >> gen/runs.txt")
	waitConverged(t, ns, deploy, src, "/app", 1)
	WriteLocalFile(t, src, "api/a.proto", "message A {}\n", 0o644)
	WaitHTTPBody(t, ns, deploy, 8080, "/gen/all.txt", "message A {}", 30*time.Second)
	WriteLocalFile(t, src, "index.html", "v2\n", 0o644)
	WaitHTTPBody(t, ns, deploy, 8080, "/index.html", "v2", 30*time.Second)
	if runs := MustExec(t, ns, Pod(t, ns, deploy), "app", "cat", "/app/gen/runs.txt"); runs != "run\n" {
		t.Errorf("the command ran %q times, want once (only for the .proto change)", runs)
	}
	if !strings.Contains(p.Output(), "; ran mkdir -p gen") {
		t.Errorf("the sync line does not say the command ran:\n%s", p.Output())
	}
}

// httpBody is what the Deployment's pod serves at / now.
func httpBody(t *testing.T, ns, deploy string) string {
	t.Helper()
	_, body, err := HTTPGet(t, ns, Pod(t, ns, deploy), 8080, "/")
	must(t, err)
	return body
}

// buildWheel makes a pure-Python wheel holding one module, as pip installs it offline.
func buildWheel(t *testing.T, module, version, code string) []byte {
	t.Helper()
	info := module + "-" + version + ".dist-info/"
	files := []struct{ name, body string }{
		{module + ".py", code},
		{info + "METADATA", "Metadata-Version: 2.1\nName: " + strings.ReplaceAll(module, "_", "-") + "\nVersion: " + version + "\n"},
		{info + "WHEEL", "Wheel-Version: 1.0\nGenerator: kindling-e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	var record strings.Builder
	for _, f := range files {
		w, err := z.Create(f.name)
		must(t, err)
		_, err = w.Write([]byte(f.body))
		must(t, err)
		sum := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.body))
	}
	record.WriteString(info + "RECORD,,\n")
	w, err := z.Create(info + "RECORD")
	must(t, err)
	_, err = w.Write([]byte(record.String()))
	must(t, err)
	must(t, z.Close())
	return buf.Bytes()
}
