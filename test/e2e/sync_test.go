//go:build e2e

package e2e

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindling-dev/kindling/internal/ignore"
	"github.com/kindling-dev/kindling/internal/treegen"
)

// syncProc is a kindling process running in the background of a test.
type syncProc struct {
	lockedBuffer
	cmd  *exec.Cmd
	done chan error
}

// Output is everything kindling printed so far.
func (p *syncProc) Output() string { return p.String() }

// startKindling runs kindling with args until the test ends; Stop ends it earlier.
func startKindling(t *testing.T, args ...string) *syncProc {
	t.Helper()
	return startProc(t, KindlingCmd(t, args...))
}

// Stop sends sig and requires kindling to exit with status 0 promptly.
func (p *syncProc) Stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("kindling exited with %v after %v:\n%s", err, sig, p.Output())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("kindling did not exit within 30s of %v:\n%s", sig, p.Output())
	}
}

// waitConverged waits until every running pod of deploy holds, under dest, exactly the local tree minus
// kindling's excludes.
func waitConverged(t *testing.T, ns, deploy, src, dest string, wantPods int) {
	t.Helper()
	m, err := ignore.New(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, 60*time.Second, 200*time.Millisecond, func() error {
		want := LocalTree(t, src, m.Excluded)
		// What the container holds at excluded paths is its own (e.g. the image's node_modules).
		keep := func(tree map[string]string) map[string]string {
			for p := range tree {
				if m.Excluded(p, tree[p] == "dir") {
					delete(tree, p)
				}
			}
			return tree
		}
		pods := ReadyPods(t, ns, deploy)
		if len(pods) != wantPods {
			return fmt.Errorf("%d ready pods, want %d", len(pods), wantPods)
		}
		for _, pod := range pods {
			got, err := ReadTreeContext(t.Context(), ns, pod, "app", dest)
			if err != nil {
				return err
			}
			if d := DiffTrees(want, keep(got)); d != "" {
				return fmt.Errorf("pod %s: %s", pod, d)
			}
		}
		return nil
	})
}

// fileServer is a Deployment whose app serves /app over HTTP on 8080, so a test can see synced content.
func fileServer(t *testing.T, ns string, replicas int) string {
	t.Helper()
	manifest := strings.Replace(SimpleDeployment("files", RuntimesImage, "/", 8080,
		"python3", "-m", "http.server", "8080", "--directory", "/app"), "replicas: 1", fmt.Sprintf("replicas: %d", replicas), 1)
	// http.server needs its directory to exist before the first sync.
	manifest = strings.Replace(manifest, `command: [`, `command: ["sh", "-c", "mkdir -p /app && exec \"$0\" \"$@\"", `, 1)
	return DeployApp(t, ns, manifest)
}

func TestSyncOnceIntoFreshPod(t *testing.T) {
	ns := Namespace(t)
	deploy := fileServer(t, ns, 1)
	src := t.TempDir()
	WriteLocalFile(t, src, "index.html", "hello once\n", 0o644)
	WriteLocalFile(t, src, "bin/run.sh", "#!/bin/sh\necho hi\n", 0o755)
	WriteLocalFile(t, src, "empty", "", 0o644)
	WriteLocalFile(t, src, "node_modules/dep/index.js", "excluded by default\n", 0o644)
	WriteLocalFile(t, src, "debug.log", "excluded by default\n", 0o644)
	WriteLocalFile(t, src, "skip.test.js", "excluded by --exclude\n", 0o644)
	LocalSymlink(t, src, "link", "index.html")

	// The image's own dependencies at an excluded path must survive the sync.
	pod := Pod(t, ns, deploy)
	MustExec(t, ns, pod, "app", "sh", "-c", "mkdir -p /app/node_modules/dep && echo image > /app/node_modules/dep/index.js")

	out, err := KindlingCmd(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--once", "--exclude", "*.test.js").CombinedOutput()
	if err != nil {
		t.Fatalf("kindling sync --once: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "1/1 pods") {
		t.Errorf("no summary line in output:\n%s", out)
	}
	if err := os.Remove(filepath.Join(src, "skip.test.js")); err != nil { // not in the container either
		t.Fatal(err)
	}
	waitConverged(t, ns, deploy, src, "/app", 1)
	WaitHTTPBody(t, ns, deploy, 8080, "/index.html", "hello once", 30*time.Second)
	if got := MustExec(t, ns, pod, "app", "cat", "/app/node_modules/dep/index.js"); got != "image\n" {
		t.Fatalf("the image's node_modules was changed: %q", got)
	}
}

func TestSyncWatchKeepsContainerEqualToLocalTree(t *testing.T) {
	ns := Namespace(t)
	deploy := fileServer(t, ns, 1)
	src := t.TempDir()
	WriteLocalFile(t, src, "index.html", "v1\n", 0o644)
	p := startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--debounce", "100ms")
	waitConverged(t, ns, deploy, src, "/app", 1)

	steps := []struct {
		name string
		do   func()
	}{
		{"create", func() { WriteLocalFile(t, src, "new.txt", "new\n", 0o644) }},
		{"modify", func() { WriteLocalFile(t, src, "index.html", "v2\n", 0o644) }},
		{"delete", func() { must(t, os.Remove(filepath.Join(src, "new.txt"))) }},
		{"rename", func() { must(t, os.Rename(filepath.Join(src, "index.html"), filepath.Join(src, "home.html"))) }},
		{"new nested directory", func() { WriteLocalFile(t, src, "a/b/c/deep.txt", "deep\n", 0o644) }},
		{"names with spaces and unicode", func() {
			WriteLocalFile(t, src, "a b/ünï'cödé \"q\":x.txt", "unicode\n", 0o644)
			WriteLocalFile(t, src, "new\nline", "newline\n", 0o644)
		}},
		{"exec bit", func() { must(t, os.Chmod(filepath.Join(src, "home.html"), 0o755)) }},
		{"symlink", func() { LocalSymlink(t, src, "latest", "a/b/c/deep.txt") }},
		{"rename directory", func() { must(t, os.Rename(filepath.Join(src, "a"), filepath.Join(src, "z"))) }},
		{"directory replaced by file", func() {
			must(t, os.RemoveAll(filepath.Join(src, "a b")))
			WriteLocalFile(t, src, "a b", "now a file\n", 0o644)
		}},
		{"atomic save (write temp, rename over)", func() {
			WriteLocalFile(t, src, ".home.html.swp", "v3\n", 0o755)
			must(t, os.Rename(filepath.Join(src, ".home.html.swp"), filepath.Join(src, "home.html")))
		}},
	}
	for _, s := range steps {
		s.do()
		waitConverged(t, ns, deploy, src, "/app", 1)
	}
	WaitHTTPBody(t, ns, deploy, 8080, "/home.html", "v3", 30*time.Second)
	WaitHTTPBody(t, ns, deploy, 8080, "/z/b/c/deep.txt", "deep", 30*time.Second)
	p.Stop(t, syscall.SIGINT)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSyncConvergesAfterRandomOperations applies a seeded random sequence of local operations, some in
// bursts while a sync is running, and requires the container to end equal to the local tree.
func TestSyncConvergesAfterRandomOperations(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("KINDLING_E2E_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (rerun with KINDLING_E2E_SEED=%d)", seed, seed)
	r := rand.New(rand.NewSource(seed))
	ns := Namespace(t)
	deploy := fileServer(t, ns, 1)
	src := t.TempDir()
	startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--debounce", "50ms")

	const ops = 320
	for i := 0; i < ops; i++ {
		treegen.Step(r, src, i)
		if r.Intn(20) == 0 { // let a sync start, then keep changing files while it runs
			time.Sleep(time.Duration(40+r.Intn(80)) * time.Millisecond)
		}
	}
	// Files must be 644 or 755 for a fair comparison of permission bits.
	treegen.NormalizeModes(src)
	waitConverged(t, ns, deploy, src, "/app", 1)
}

func TestSyncReachesEveryReplicaAndReplacements(t *testing.T) {
	ns := Namespace(t)
	deploy := fileServer(t, ns, 2)
	src := t.TempDir()
	WriteLocalFile(t, src, "index.html", "v1\n", 0o644)
	startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--debounce", "100ms")
	waitConverged(t, ns, deploy, src, "/app", 2)
	WriteLocalFile(t, src, "index.html", "v2\n", 0o644)
	waitConverged(t, ns, deploy, src, "/app", 2)

	// A deleted pod's replacement converges without restarting kindling.
	victim := Pod(t, ns, deploy)
	zero := int64(0)
	must(t, Clientset().CoreV1().Pods(ns).Delete(t.Context(), victim, metav1.DeleteOptions{GracePeriodSeconds: &zero}))
	Eventually(t, 60*time.Second, 200*time.Millisecond, func() error {
		for _, p := range ReadyPods(t, ns, deploy) {
			if p == victim {
				return fmt.Errorf("%s still listed", victim)
			}
		}
		return nil
	})
	waitConverged(t, ns, deploy, src, "/app", 2)
	WaitHTTPBody(t, ns, deploy, 8080, "/index.html", "v2", 30*time.Second)

	// Scaling up: the third pod converges too.
	scale, err := Clientset().AppsV1().Deployments(ns).GetScale(t.Context(), deploy, metav1.GetOptions{})
	must(t, err)
	scale.Spec.Replicas = 3
	_, err = Clientset().AppsV1().Deployments(ns).UpdateScale(t.Context(), deploy, scale, metav1.UpdateOptions{})
	must(t, err)
	waitConverged(t, ns, deploy, src, "/app", 3)
	WaitHTTPBody(t, ns, deploy, 8080, "/index.html", "v2", 30*time.Second)
}

func TestSyncErrorsAreOneActionableLine(t *testing.T) {
	ns := Namespace(t)
	deploy := fileServer(t, ns, 1)
	src := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"deployment not found", []string{"sync", "-d", "file", "-n", ns, "--src", src, "--once"}, `did you mean: ` + deploy},
		{"src missing", []string{"sync", "-d", deploy, "-n", ns, "--src", filepath.Join(src, "nope"), "--once"}, "--src"},
		{"no such container", []string{"sync", "-d", deploy, "-n", ns, "--src", src, "--container", "web", "--once"}, `no container "web"; its containers are: app`},
		{"unknown language", []string{"sync", "-d", deploy, "-n", ns, "--src", src, "--language", "cobol"}, "go"},
		{"dest not writable", []string{"sync", "-d", deploy, "-n", ns, "--src", src, "--dest", "/proc/kindling", "--once"}, "/proc/kindling"},
		// /sys is mounted read-only in a container: the manifest of an existing --dest finds it out.
		{"existing dest not writable", []string{"sync", "-d", deploy, "-n", ns, "--src", src, "--dest", "/sys/fs", "--once"},
			"cannot write to /sys/fs in pod/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := KindlingCmd(t, tt.args...).CombinedOutput()
			if err == nil {
				t.Fatalf("kindling succeeded, want an error:\n%s", out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "kindling: ") || !strings.Contains(last, tt.want) {
				t.Fatalf("last line %q does not name %q; whole output:\n%s", last, tt.want, out)
			}
			if strings.Contains(string(out), "goroutine ") || strings.Contains(string(out), "panic") {
				t.Fatalf("stack trace in output:\n%s", out)
			}
		})
	}
}
