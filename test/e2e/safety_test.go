//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nobody is the unprivileged user kindling runs as where a test needs one.
const nobody = 65534

// publicDir is a temporary directory every user can enter (the tests' own are root's alone).
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kindling-e2e-public-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	return dir
}

// kindlingAsNobody is KindlingCmd run as an unprivileged user, with copies of the binary and the
// kubeconfig it can read and a home of its own.
func kindlingAsNobody(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	dir := publicDir(t)
	bin, err := os.ReadFile(Kindling(t))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "kindling"), bin, 0o755))
	kc, err := os.ReadFile(Kubeconfig())
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "kubeconfig"), kc, 0o644))
	home := filepath.Join(dir, "home")
	must(t, os.Mkdir(home, 0o755))
	must(t, os.Chown(home, nobody, nobody))
	cmd := exec.CommandContext(t.Context(), filepath.Join(dir, "kindling"), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "KUBECONFIG=" + filepath.Join(dir, "kubeconfig")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	return cmd
}

// startProc runs cmd (a kindling) until the test ends, interrupting it then if it still runs; Stop ends it
// earlier.
func startProc(t *testing.T, cmd *exec.Cmd) *syncProc {
	t.Helper()
	p := &syncProc{cmd: cmd, done: make(chan error, 1)}
	if p.cmd.Stdout == nil { // a test reading stdout apart (--output json) sets its own
		p.cmd.Stdout = p
	}
	p.cmd.Stderr = p
	must(t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(os.Interrupt)
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				_ = p.cmd.Process.Kill()
			}
		}
		if t.Failed() || testing.Verbose() {
			t.Logf("kindling output:\n%s", p.Output())
		}
	})
	return p
}

// TestUnreadableLocalFileIsSkippedNotDeleted: kindling run by a user who cannot read one file and one
// directory of --src (left there by a container as root) warns about each, syncs the rest, and leaves their
// copies in the container alone, edit after edit. (Before, a failed first scan deleted all of --dest.)
func TestUnreadableLocalFileIsSkippedNotDeleted(t *testing.T) {
	ns := Namespace(t)
	a := app{name: "unreadable", dest: "/app", port: 8080, command: []string{"python3", "/app/server.py"},
		files: map[string]string{"server.py": pythonServer, "secret.txt": "the container's secret\n"}}
	deploy := a.deploy(t, ns, 1)
	src := publicDir(t)
	WriteLocalFile(t, src, "server.py", pythonServer, 0o644)
	WriteLocalFile(t, src, "secret.txt", "root's local secret\n", 0o600)
	WriteLocalFile(t, src, "locked/inside.txt", "root only\n", 0o644)
	must(t, os.Chmod(filepath.Join(src, "locked"), 0o700))
	WriteLocalFile(t, src, "notes.txt", "notes v1\n", 0o644)

	p := startProc(t, kindlingAsNobody(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--dest", "/app", "--debounce", "100ms"))
	waitOutput(t, p, "watching")
	for _, name := range []string{"secret.txt", "locked"} {
		if !strings.Contains(p.Output(), "cannot read "+name+" (permission denied)") {
			t.Errorf("no warning naming %s:\n%s", name, p.Output())
		}
	}
	pod := Pod(t, ns, deploy)
	// notes.txt is readable: it is synced; the edits after it too, while the unreadable ones stay.
	WriteLocalFile(t, src, "notes.txt", "notes v2\n", 0o644)
	cat := func(file string) string {
		out, _, _ := Exec(t, ns, pod, "app", []string{"cat", "/app/" + file}, nil)
		return out
	}
	Eventually(t, 30*time.Second, 200*time.Millisecond, func() error {
		if got := cat("notes.txt"); got != "notes v2\n" {
			return fmt.Errorf("notes.txt not synced: %q", got)
		}
		return nil
	})
	time.Sleep(2 * time.Second) // past the engine's retry interval
	if got := cat("secret.txt"); got != "the container's secret\n" {
		t.Errorf("the container's copy of the unreadable secret.txt changed or went: %q", got)
	}
	if got := cat("server.py"); got != pythonServer {
		t.Errorf("server.py changed or went: %q", got)
	}
	if strings.Contains(p.Output(), "deleted (") && !strings.Contains(p.Output(), " 0 deleted") {
		t.Errorf("kindling deleted something:\n%s", p.Output())
	}
}

// TestStopAtAnyMomentOfStartUpRestoresTheTemplate: SIGINT, SIGTERM or SIGHUP (the terminal closed) at five
// moments of a --restart start-up — before the Deployment is read, during detection, while the wrap rolls
// out, during the initial sync, once watching — each leaves the pod template byte-identical, with no
// kindling annotation and no Go stack trace.
func TestStopAtAnyMomentOfStartUpRestoresTheTemplate(t *testing.T) {
	// A moment is a time after the start, or the first output that contains a text: detection done (the
	// wrap comes next), the wrap done (the rollout and initial sync under way), watching.
	type moment struct {
		after time.Duration
		seen  string
	}
	moments := []moment{{after: 100 * time.Millisecond}, {after: 400 * time.Millisecond}, {seen: "kindling: runtime "},
		{seen: "kindling: syncing "}, {seen: "watching"}}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			ns := Namespace(t)
			a := app{name: "stop", dest: "/app", port: 8080, files: map[string]string{"server.py": pythonServer},
				command: []string{"python3", "/app/server.py"}}
			deploy := a.deploy(t, ns, 1)
			original := deploymentJSON(t, ns, deploy)
			src := a.source(t)
			for _, after := range moments {
				p := startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--restart", "--debounce", "100ms")
				if after.seen != "" {
					waitOutput(t, p, after.seen)
				} else {
					time.Sleep(after.after)
				}
				_ = p.cmd.Process.Signal(sig)
				select {
				case <-p.done:
				case <-time.After(45 * time.Second):
					t.Fatalf("kindling did not exit within 45s of %v at %v:\n%s", sig, after, p.Output())
				}
				if out := p.Output(); strings.Contains(out, "goroutine ") || strings.Contains(out, "panic:") {
					t.Fatalf("%v at %v: a stack trace:\n%s", sig, after, out)
				}
				if got := deploymentJSON(t, ns, deploy); got != original {
					t.Fatalf("%v at %v left the Deployment changed:\n got: %s\nwant: %s\noutput:\n%s", sig, after, got, original, p.Output())
				}
				t.Logf("%v at %v: template exact", sig, after)
				WaitRollout(t, ns, deploy)
			}
		})
	}
}

// deploymentJSON is what kindling may change of a Deployment: its pod template and its annotations.
func deploymentJSON(t *testing.T, ns, deploy string) string {
	t.Helper()
	d, err := Clientset().AppsV1().Deployments(ns).Get(t.Context(), deploy, metav1.GetOptions{})
	must(t, err)
	annotations := map[string]string{}
	for k, v := range d.Annotations {
		if strings.HasPrefix(k, "kindling.dev/") {
			annotations[k] = v
		}
	}
	b, err := json.Marshal(map[string]any{"template": d.Spec.Template, "annotations": annotations})
	must(t, err)
	return string(b)
}

// TestASecondSessionRefusesAndTheFirstKeepsServing: while a --restart session holds a Deployment, a
// second --restart session, a plain sync and kindling restore each refuse with one line naming the
// holder and change nothing; the first session keeps syncing and restores the template when it stops.
func TestASecondSessionRefusesAndTheFirstKeepsServing(t *testing.T) {
	ns := Namespace(t)
	a := app{name: "held", dest: "/app", port: 8080, files: map[string]string{"server.py": pythonServer},
		command: []string{"python3", "/app/server.py"}}
	deploy := a.deploy(t, ns, 1)
	original := deploymentJSON(t, ns, deploy)
	src := a.source(t)
	first := startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--restart", "--debounce", "100ms")
	waitOutput(t, first, "watching")
	held := deploymentJSON(t, ns, deploy)

	other := t.TempDir()
	WriteLocalFile(t, other, "server.py", strings.Replace(pythonServer, "v1", "intruder", 1), 0o644)
	for _, args := range [][]string{
		{"sync", "-d", deploy, "-n", ns, "--src", other, "--restart", "--once"},
		{"sync", "-d", deploy, "-n", ns, "--src", other, "--once"},
		{"restore", "-d", deploy, "-n", ns},
	} {
		start := time.Now()
		out, err := KindlingCmd(t, args...).CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err == nil || !strings.Contains(lines[len(lines)-1], "held by another kindling") {
			t.Errorf("kindling %s: err %v, want a refusal naming the holder:\n%s", strings.Join(args, " "), err, out)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("kindling %s took %v to refuse", args[0], d)
		}
		if got := deploymentJSON(t, ns, deploy); got != held {
			t.Fatalf("kindling %s changed the held Deployment:\n got: %s\nwant: %s", strings.Join(args, " "), got, held)
		}
	}
	edit(t, src, "server.py", "v1", "v2")
	WaitHTTPBody(t, ns, deploy, 8080, "/", "python v2", 60*time.Second)
	first.Stop(t, syscall.SIGINT)
	if got := deploymentJSON(t, ns, deploy); got != original {
		t.Fatalf("after the first session stopped:\n got: %s\nwant: %s", got, original)
	}
}
