//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// withSecurityContext gives the app container of a SimpleDeployment manifest a security context (YAML).
func withSecurityContext(manifest, sc string) string {
	return strings.Replace(manifest, "        imagePullPolicy: Never", "        imagePullPolicy: Never\n        securityContext: "+sc, 1)
}

// stopExact stops kindling with Ctrl-C and requires the template to be what it was before it started.
func stopExact(t *testing.T, p *syncProc, ns, deploy, before string) {
	t.Helper()
	p.Stop(t, syscall.SIGINT)
	if after := templateJSON(t, ns, deploy); after != before {
		t.Fatalf("the template after Ctrl-C differs:\n got %s\nwant %s\n%s", after, before, p.Output())
	}
}

// restrictedUser is a container security context the `restricted` Pod Security level admits.
const restrictedUser = "{runAsUser: 1000, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}"

// scratchSource is the local tree of the scratch image's server: its source, as a module.
func scratchSource(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	code, err := os.ReadFile(filepath.Join(RepoRoot(), "hack/cluster/images/goserver/main.go"))
	must(t, err)
	WriteLocalFile(t, src, "go.mod", "module example.com/scratchgo\n\ngo 1.21\n", 0o644)
	WriteLocalFile(t, src, "main.go", string(code), 0o644)
	return src
}

// syncScratchGo syncs three edits of the scratch Go server into deploy, runs beforeStop (if any), and stops
// kindling with Ctrl-C; the template must then be exactly as before. It returns kindling's output.
func syncScratchGo(t *testing.T, ns, deploy string, beforeStop func(p *syncProc)) string {
	t.Helper()
	before := templateJSON(t, ns, deploy)
	src := scratchSource(t)
	p := startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--restart", "--language", "go",
		"--debounce", "100ms", "--helper-image", ToolboxImage)
	// The wrapped pod runs the synced build (the old pod, going away, serves the image's v0 too).
	waitOutput(t, p, "restarted")
	WaitHTTPBody(t, ns, deploy, 8080, "/", "scratch-go v0", DefaultTimeout)
	for i := 1; i <= 3; i++ {
		edit(t, src, "main.go", fmt.Sprintf("scratch-go v%d", i-1), fmt.Sprintf("scratch-go v%d", i))
		took := WaitHTTPBody(t, ns, deploy, 8080, "/", fmt.Sprintf("scratch-go v%d", i), 2*time.Minute)
		t.Logf("edit %d: save to serving (as the test's 200 ms polls see it) %v", i, took.Round(time.Millisecond))
	}
	if beforeStop != nil {
		beforeStop(p)
	}
	stopExact(t, p, ns, deploy, before)
	return p.Output()
}

// TestScratchGoImageThroughTheToolbox: a Go server on an image with nothing but its binary (no shell, no
// tar, no coreutils) is synced with --restart --language go: kindling reads its processes beside it, brings
// BusyBox through an init container, and three edits are served; Ctrl-C leaves the template exact.
func TestScratchGoImageThroughTheToolbox(t *testing.T) {
	t.Parallel()
	ns := Namespace(t)
	deploy := DeployApp(t, ns, SimpleDeployment("scratchgo", ScratchGoImage, "", 8080))
	dry, err := KindlingCmd(t, "sync", "-d", deploy, "-n", ns, "--src", scratchSource(t), "--restart", "--language", "go",
		"--helper-image", ToolboxImage, "--dry-run").CombinedOutput()
	if err != nil || !strings.Contains(string(dry), "shell:      none in the container; --restart brings a static BusyBox from "+ToolboxImage) {
		t.Fatalf("--dry-run (%v) did not say what --restart brings to a shell-less container:\n%s", err, dry)
	}
	out := syncScratchGo(t, ns, deploy, nil)
	for _, want := range []string{"has no shell", "runtime Go", "/app/server"} {
		if !strings.Contains(out, want) {
			t.Errorf("kindling did not say %q:\n%s", want, out)
		}
	}
	t.Logf("kindling:\n%s", out)
}

// TestNonRootContainerUnderRestricted: the scratch server run as user 1000 (runAsNonRoot) over its
// root-owned /app, in a namespace that enforces the `restricted` Pod Security level: kindling gives the user
// a copy of /app it owns (an init container running as that user, which the level admits), the synced
// binary is that user's, three edits are served, and Ctrl-C leaves the template exact.
func TestNonRootContainerUnderRestricted(t *testing.T) {
	t.Parallel()
	ns := Namespace(t)
	enforce(t, ns, "restricted")
	deploy := DeployApp(t, ns, withSecurityContext(SimpleDeployment("nonroot", ScratchGoImage, "", 8080), restrictedUser))
	syncScratchGo(t, ns, deploy, func(p *syncProc) {
		if !strings.Contains(p.Output(), "user 1000 cannot write /app") {
			t.Errorf("kindling did not say it gives user 1000 a copy of /app:\n%s", p.Output())
		}
		// (Through the wrapped pod's toolbox: the level refuses a debug container, which runs as root.)
		if owner := MustExec(t, ns, Pod(t, ns, deploy), "app", "/.kindling/toolbox/stat", "-c", "%u %a", "/app/server"); owner != "1000 755\n" {
			t.Errorf("the synced binary's owner and mode: %q, want the container user's and executable", owner)
		}
	})
}

// TestNonRootPythonOverARootOwnedDirectory: a Python app run as user 1000 from /srv, a directory of its image
// that root owns: kindling finds, with the image's own shell, that the user cannot write it, gives the user a
// copy (an init container of the image, as that user), and the synced app is served and restarted.
func TestNonRootPythonOverARootOwnedDirectory(t *testing.T) {
	t.Parallel()
	ns := Namespace(t)
	// (No readiness probe: the app starts only once its file is synced.)
	manifest := SimpleDeployment("pynonroot", RuntimesImage, "/", 0, waitForFile("/srv/server.py", "python3", "/srv/server.py")...)
	deploy := DeployApp(t, ns, withSecurityContext(manifest, restrictedUser))
	before := templateJSON(t, ns, deploy)
	src := t.TempDir()
	WriteLocalFile(t, src, "server.py", pythonServer, 0o644)
	p := startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--dest", "/srv", "--restart", "--debounce", "100ms")
	waitOutput(t, p, "watching")
	if !strings.Contains(p.Output(), "user 1000 cannot write /srv") {
		t.Fatalf("kindling did not say it gives user 1000 a copy of /srv:\n%s", p.Output())
	}
	WaitHTTPBody(t, ns, deploy, 8080, "/", "python v1", DefaultTimeout)
	edit(t, src, "server.py", "python v1", "python v2")
	WaitHTTPBody(t, ns, deploy, 8080, "/", "python v2", DefaultTimeout)
	if owner := MustExec(t, ns, Pod(t, ns, deploy), "app", "stat", "-c", "%u", "/srv/server.py"); owner != "1000\n" {
		t.Errorf("the synced file's owner: %q, want the container user", owner)
	}
	stopExact(t, p, ns, deploy, before)
}

// TestPodSecurityRefusalIsClear: a root app whose namespace was moved to the `restricted` Pod Security level
// after its pods started (they run on; new ones are refused): --restart's rollout cannot create a pod, and
// kindling says so at once in one line naming the level's reason and the fix, and restores the template.
func TestPodSecurityRefusalIsClear(t *testing.T) {
	t.Parallel()
	ns := Namespace(t)
	deploy := DeployApp(t, ns, SimpleDeployment(rbacApp.name, RuntimesImage, "/", 8080, "sh", "-c", "mkdir -p /app && echo 'print(1)' > /app/server.py && exec python3 -m http.server 8080"))
	before := templateJSON(t, ns, deploy)
	enforce(t, ns, "restricted")
	src := t.TempDir()
	WriteLocalFile(t, src, "server.py", pythonServer, 0o644)
	start := time.Now()
	out, err := KindlingCmd(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--restart", "--language", "python", "--once").CombinedOutput()
	took := time.Since(start)
	if err == nil {
		t.Fatalf("kindling succeeded where the cluster refuses the wrapped pods:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var refusal string
	for _, l := range lines {
		if strings.Contains(l, "refuses the pods") {
			refusal = l
		}
	}
	for _, want := range []string{"violates PodSecurity", "restricted", "runAsNonRoot"} {
		if !strings.Contains(refusal, want) {
			t.Errorf("the refusal %q does not name %q; output:\n%s", refusal, want, out)
		}
	}
	if took > 60*time.Second {
		t.Errorf("the refusal took %v; it must come at once", took)
	}
	if after := templateJSON(t, ns, deploy); after != before {
		t.Fatalf("the template after the refusal differs:\n got %s\nwant %s", after, before)
	}
}

// enforce labels the namespace with a Pod Security level to enforce.
func enforce(t *testing.T, ns, level string) {
	t.Helper()
	n, err := Clientset().CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{})
	must(t, err)
	n.Labels["pod-security.kubernetes.io/enforce"] = level
	_, err = Clientset().CoreV1().Namespaces().Update(t.Context(), n, metav1.UpdateOptions{})
	must(t, err)
}
