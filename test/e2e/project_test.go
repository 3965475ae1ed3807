//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// event is a line of kindling's --output json, as a script reads it.
type event struct {
	Time            string   `json:"time"`
	Event           string   `json:"event"`
	Deployment      string   `json:"deployment"`
	Strategy        string   `json:"strategy"`
	Runtime         string   `json:"runtime"`
	Written         int      `json:"written"`
	Bytes           int64    `json:"bytes"`
	Pods            []string `json:"pods"`
	Reload          string   `json:"reload"`
	SaveToServingMS *int64   `json:"save_to_serving_ms"`
	Message         string   `json:"message"`
	Restored        *bool    `json:"restored"`
}

func parseEvents(t *testing.T, stream string) []event {
	t.Helper()
	var events []event
	sc := bufio.NewScanner(strings.NewReader(stream))
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("stdout line %q is not a JSON event: %v", sc.Text(), err)
		}
		if e.Time == "" || e.Event == "" || e.Deployment == "" {
			t.Fatalf("event without time, event or deployment: %s", sc.Text())
		}
		if _, err := time.Parse(time.RFC3339, e.Time); err != nil {
			t.Fatalf("event time %q: %v", e.Time, err)
		}
		events = append(events, e)
	}
	return events
}

// TestProjectFileRunsEveryEntryInOneSession: a kindling.yaml with a Python and a Node Deployment, one
// kindling sync -o json: an edit in each is served, each edit gives one synced event with
// save_to_serving_ms, and one SIGINT restores both templates exactly.
func TestProjectFileRunsEveryEntryInOneSession(t *testing.T) {
	ns := Namespace(t)
	python, node := restartCases[0].app, restartCases[1].app
	python.deploy(t, ns, 1)
	node.deploy(t, ns, 1)
	before := map[string]string{python.name: deploymentJSON(t, ns, python.name), node.name: deploymentJSON(t, ns, node.name)}

	dir := t.TempDir()
	WriteLocalFile(t, dir, "services/py/server.py", pythonServer, 0o644)
	WriteLocalFile(t, dir, "services/js/server.js", nodeServer, 0o644)
	WriteLocalFile(t, dir, "services/js/debug.log", "not synced\n", 0o644)
	WriteLocalFile(t, dir, "kindling.yaml", fmt.Sprintf(`# the whole app in one session
namespace: %s
debounce: 100ms
restart: true
syncs:
  - deployment: python
    src: ./services/py
  - deployment: node
    src: services/js
    exclude: ["*.log"]
`, ns), 0o644)
	var stdout lockedBuffer
	cmd := KindlingCmd(t, "sync", "--output", "json")
	cmd.Dir = filepath.Join(dir, "services") // found in a parent directory, as git finds .git
	cmd.Stdout = &stdout
	p := startProc(t, cmd)
	eventsOf := func(kind, deployment string) []event {
		var out []event
		for _, e := range parseEvents(t, stdout.String()) {
			if e.Event == kind && e.Deployment == deployment {
				out = append(out, e)
			}
		}
		return out
	}
	waitFor(t, 90*time.Second, "both entries started and synced", func() (bool, error) {
		for _, d := range []string{python.name, node.name} {
			if len(eventsOf("started", d)) != 1 || len(eventsOf("synced", d)) == 0 {
				return false, nil
			}
		}
		return true, nil
	})
	for _, d := range []string{python.name, node.name} {
		if s := eventsOf("started", d)[0]; s.Strategy != "wrapper" || s.Runtime == "" {
			t.Errorf("%s started: strategy %q runtime %q, want the wrapper and the runtime named", d, s.Strategy, s.Runtime)
		}
	}
	firstSyncs := map[string]int{python.name: len(eventsOf("synced", python.name)), node.name: len(eventsOf("synced", node.name))}

	edit(t, filepath.Join(dir, "services/py"), "server.py", "python v1", "python v2")
	edit(t, filepath.Join(dir, "services/js"), "server.js", "node v1", "node v2")
	WaitHTTPBody(t, ns, python.name, 8080, "/", "python v2", 60*time.Second)
	WaitHTTPBody(t, ns, node.name, 8080, "/", "node v2", 60*time.Second)
	for _, d := range []string{python.name, node.name} {
		waitFor(t, 10*time.Second, d+"'s synced event for the edit", func() (bool, error) {
			return len(eventsOf("synced", d)) > firstSyncs[d], nil
		})
		synced := eventsOf("synced", d)[firstSyncs[d]:]
		if len(synced) != 1 {
			t.Errorf("%s: %d synced events for one edit, want 1: %+v", d, len(synced), synced)
		}
		if e := synced[0]; e.Written != 1 || e.SaveToServingMS == nil || *e.SaveToServingMS <= 0 || e.Reload == "" || len(e.Pods) != 1 {
			t.Errorf("%s: synced event %+v: want 1 written, a reload, save_to_serving_ms and the pod", d, e)
		}
	}
	if tree := ReadTree(t, ns, Pod(t, ns, node.name), "app", "/app"); tree["debug.log"] != "" {
		t.Error("the entry's exclude did not apply: debug.log was synced")
	}

	p.Stop(t, syscall.SIGINT)
	for _, d := range []string{python.name, node.name} {
		if got := deploymentJSON(t, ns, d); got != before[d] {
			t.Errorf("deployment/%s not restored exactly:\nbefore %s\nafter  %s", d, before[d], got)
		}
		stopped := eventsOf("stopped", d)
		if len(stopped) != 1 || stopped[0].Restored == nil || !*stopped[0].Restored {
			t.Errorf("%s: stopped events %+v, want one with restored: true", d, stopped)
		}
	}
	if errs := parseEvents(t, stdout.String()); len(errs) == 0 {
		t.Error("no events")
	}
	t.Logf("event stream:\n%s", stdout.String())
}

// TestProjectFileErrorsNameFileAndLine: a mistake in kindling.yaml is one line naming the file and line,
// exit code 2, before anything in the cluster is touched.
func TestProjectFileErrorsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	WriteLocalFile(t, dir, "kindling.yaml", "namespace: nowhere\nsyncs:\n  - deployment: web\n    sorce: ./web\n", 0o644)
	cmd := KindlingCmd(t, "sync")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2; output:\n%s", err, out)
	}
	want := "kindling: " + filepath.Join(dir, "kindling.yaml") + ":4: unknown key \"sorce\""
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], want) {
		t.Fatalf("output %q, want one line starting %q", out, want)
	}
}

// TestVerboseSaysWhyAChangeWasNotSynced: with -v, a change an exclude rule skips is named with the rule
// and where it comes from, and a save that changed nothing says so; the rest syncs as always.
func TestVerboseSaysWhyAChangeWasNotSynced(t *testing.T) {
	ns := Namespace(t)
	deploy := fileServer(t, ns, 1)
	src := t.TempDir()
	WriteLocalFile(t, src, "index.html", "v1\n", 0o644)
	WriteLocalFile(t, src, ".kindlingignore", "# local scratch\nscratch/\n", 0o644)
	p := startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--debounce", "100ms", "-v", "--exclude", "*.bak")
	waitConverged(t, ns, deploy, src, "/app", 1)
	WriteLocalFile(t, src, "cache.pyc", "bytecode", 0o644)
	WriteLocalFile(t, src, "scratch/notes.txt", "mine", 0o644)
	WriteLocalFile(t, src, "index.html.bak", "old", 0o644)
	WriteLocalFile(t, src, "index.html", "v1\n", 0o644) // saved again, unchanged
	WriteLocalFile(t, src, "page.html", "served\n", 0o644)
	WaitHTTPBody(t, ns, deploy, 8080, "/page.html", "served", 30*time.Second)
	for _, want := range []string{
		`kindling: skipped cache.pyc: excluded by "*.pyc" (default; --exclude '!*.pyc' syncs it)`,
		`kindling: skipped scratch: excluded by "scratch/" (.kindlingignore:2)`,
		`kindling: skipped index.html.bak: excluded by "*.bak" (--exclude)`,
	} {
		waitFor(t, 10*time.Second, want, func() (bool, error) { return strings.Contains(p.Output(), want), nil })
	}
	// The unchanged save: on its own, it is a batch with no content change.
	WriteLocalFile(t, src, "index.html", "v1\n", 0o644)
	waitFor(t, 10*time.Second, "the no-change line", func() (bool, error) {
		return strings.Contains(p.Output(), "kindling: index.html: no content change, nothing to sync"), nil
	})
	tree := ReadTree(t, ns, Pod(t, ns, deploy), "app", "/app")
	for _, skipped := range []string{"cache.pyc", "scratch/notes.txt", "index.html.bak"} {
		if _, ok := tree[skipped]; ok {
			t.Errorf("%s was synced", skipped)
		}
	}
}

// TestPollingWatcherSyncsCreatesEditsAndDeletes: --poll finds changes by walking the tree (for mounts
// where file system events do not arrive): a new file, an edit and a delete each reach the container.
func TestPollingWatcherSyncsCreatesEditsAndDeletes(t *testing.T) {
	ns := Namespace(t)
	deploy := fileServer(t, ns, 1)
	src := t.TempDir()
	WriteLocalFile(t, src, "index.html", "v1\n", 0o644)
	WriteLocalFile(t, src, "old/gone.txt", "bye\n", 0o644)
	startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--debounce", "100ms", "--poll", "300ms")
	waitConverged(t, ns, deploy, src, "/app", 1)
	WriteLocalFile(t, src, "index.html", "v2\n", 0o644)
	WriteLocalFile(t, src, "new/page.html", "new\n", 0o644)
	must(t, os.RemoveAll(filepath.Join(src, "old")))
	WaitHTTPBody(t, ns, deploy, 8080, "/index.html", "v2", 30*time.Second)
	waitConverged(t, ns, deploy, src, "/app", 1)
}

// TestInitWritesAProjectThatSyncs: kindling init, in a directory of Python code, lists the Deployment
// that runs Python (not the one that runs Node), and kindling sync --once with the file it wrote serves
// the local code.
func TestInitWritesAProjectThatSyncs(t *testing.T) {
	ns := Namespace(t)
	python, node := restartCases[0].app, restartCases[1].app
	python.deploy(t, ns, 1)
	node.deploy(t, ns, 1)
	dir := t.TempDir()
	WriteLocalFile(t, dir, "pyproject.toml", "[project]\nname = \"app\"\n", 0o644)
	WriteLocalFile(t, dir, "server.py", strings.Replace(pythonServer, "python v1", "python from init", 1), 0o644)
	cmd := KindlingCmd(t, "init", "-n", ns)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "wrote kindling.yaml") {
		t.Fatalf("kindling init: %v\n%s", err, out)
	}
	text, err := os.ReadFile(filepath.Join(dir, "kindling.yaml"))
	must(t, err)
	if !strings.Contains(string(text), "- deployment: python") || strings.Contains(string(text), "- deployment: node") ||
		!strings.Contains(string(text), "# Also in "+ns+" (another language, or not recognised): node") {
		t.Fatalf("kindling.yaml:\n%s", text)
	}
	// A second init refuses to overwrite it.
	again := KindlingCmd(t, "init", "-n", ns)
	again.Dir = dir
	if out, err := again.CombinedOutput(); err == nil || !strings.Contains(string(out), "kindling.yaml already exists") {
		t.Errorf("a second init: %v\n%s", err, out)
	}
	// --once --keep leaves the synced code running (a plain --once restores the template, and with it
	// the image's code); kindling restore then undoes it.
	before := deploymentJSON(t, ns, python.name)
	sync := KindlingCmd(t, "sync", "--once", "--keep")
	sync.Dir = dir
	if out, err := sync.CombinedOutput(); err != nil {
		t.Fatalf("kindling sync --once --keep with the written file: %v\n%s", err, out)
	}
	WaitHTTPBody(t, ns, python.name, 8080, "/", "python from init", 60*time.Second)
	if out, err := KindlingCmd(t, "restore", "-d", python.name, "-n", ns).CombinedOutput(); err != nil {
		t.Fatalf("kindling restore: %v\n%s", err, out)
	}
	if got := deploymentJSON(t, ns, python.name); got != before {
		t.Errorf("deployment/python not restored:\nbefore %s\nafter  %s", before, got)
	}
}
