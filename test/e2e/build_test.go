//go:build e2e

package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// goApp is a Go web server whose container waits for its binary: kindling builds it locally and syncs it.
var goApp = app{name: "goapp", dest: "/app", port: 8080,
	files: map[string]string{
		"go.mod":    "module example.com/goapp\n\ngo 1.21\n",
		"main.go":   "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n)\n\nfunc main() {\n\thttp.HandleFunc(\"/\", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, \"go v1\") })\n\tpanic(http.ListenAndServe(\":8080\", nil))\n}\n",
		"README.md": "not part of the build\n",
	},
	command: []string{"sh", "-c", "while [ ! -x /app/app ]; do sleep 0.2; done; exec /app/app"},
}

// TestGoBuildSyncsTheBinary: kindling cross-compiles the Go app locally, syncs only the binary, restarts
// it; a failing build keeps the old binary serving; a README change does not restart the app.
func TestGoBuildSyncsTheBinary(t *testing.T) {
	ns := Namespace(t)
	// No readiness probe: the app only starts once its first build has landed.
	deploy := DeployApp(t, ns, SimpleDeployment(goApp.name, RuntimesImage, "/", 0, goApp.command...))
	src := goApp.source(t)
	p := startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--restart", "--language", "go", "--debounce", "100ms")
	waitOutput(t, p, "watching")
	WaitHTTPBody(t, ns, deploy, 8080, "/", "go v1", DefaultTimeout)
	pod := ReadyPods(t, ns, deploy)[0]
	if tree := ReadTree(t, ns, pod, "app", "/app"); len(tree) != 1 || !strings.HasPrefix(tree["app"], "file:755:") {
		t.Fatalf("the container holds more than the built binary: %v", tree)
	}

	edit(t, src, "main.go", "go v1", "go v2")
	WaitHTTPBody(t, ns, deploy, 8080, "/", "go v2", 2*time.Minute)

	// A broken build: its error is shown, the old binary keeps serving.
	edit(t, src, "main.go", "fmt.Fprintln(w", "fmt.Fprintln(undefinedWriter")
	waitOutput(t, p, "undefined: undefinedWriter")
	WaitHTTPBody(t, ns, deploy, 8080, "/", "go v2", 10*time.Second)
	edit(t, src, "main.go", "fmt.Fprintln(undefinedWriter", "fmt.Fprintln(w")
	edit(t, src, "main.go", "go v2", "go v3")
	WaitHTTPBody(t, ns, deploy, 8080, "/", "go v3", 2*time.Minute)

	// A file the build does not use: no rebuild, no restart.
	before := strings.Count(p.Output(), "restarted")
	edit(t, src, "README.md", "not part", "still not part")
	time.Sleep(2 * time.Second)
	if after := strings.Count(p.Output(), "restarted"); after != before {
		t.Fatalf("a README edit restarted the app:\n%s", p.Output())
	}
}

// TestBareImageIsRefusedClearly: an image with no shell and no tar (distroless, scratch) is detected up
// front, before anything in the cluster changes, with one line naming the options.
func TestBareImageIsRefusedClearly(t *testing.T) {
	ns := Namespace(t)
	deploy := DeployApp(t, ns, SimpleDeployment("bare", BareImage, "/", 0, "/idle"))
	before := templateJSON(t, ns, deploy)
	src := t.TempDir()
	WriteLocalFile(t, src, "main.go", "package main\n", 0o644)
	out, err := KindlingCmd(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--restart", "--language", "go", "--once").CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("kindling accepted an image without a shell:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	for _, want := range []string{"has no sh", "debug", "busybox"} {
		if !strings.Contains(last, want) {
			t.Errorf("the refusal %q does not mention %q", last, want)
		}
	}
	if templateJSON(t, ns, deploy) != before {
		t.Fatal("the Deployment was changed before the refusal")
	}
}
