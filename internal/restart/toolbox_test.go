package restart

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kindling-dev/kindling/internal/transport"
)

// A shell-less image gets the toolbox: the supervisor runs on its shell, the app's argv, env, user and
// working directory stay; an unwritable --dest gets a seeded emptyDir. Unwrap leaves the template as it was.
func TestWrapWithToolboxAndSeed(t *testing.T) {
	uid := int64(1000)
	app := corev1.Container{Name: "app", Image: "example/server@sha256:abc", ImagePullPolicy: corev1.PullNever,
		Command: []string{"/app/server"}, Args: tricky, WorkingDir: "/srv",
		Env:             []corev1.EnvVar{{Name: "PATH", Value: "/app"}},
		SecurityContext: &corev1.SecurityContext{RunAsUser: &uid}}
	tpl := template(app)
	tpl.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "example/migrate"}}
	original := tpl.DeepCopy()
	if err := Wrap(tpl, WrapOptions{Container: "app", Hold: time.Minute, Toolbox: "mirror/busybox:1", Seed: "/app"}); err != nil {
		t.Fatal(err)
	}
	c := tpl.Spec.Containers[0]
	head := []string{ToolboxDir + "/sh", SupervisorPath, "run", "--tools", ToolboxDir, "--hold", "60", "--state-dir", StateDir, "--"}
	if want := slices.Concat(head, app.Command, app.Args); !slices.Equal(c.Command, want) {
		t.Fatalf("command %q\nwant    %q", c.Command, want)
	}
	if toJSON(t, c.Env) != toJSON(t, app.Env) || c.WorkingDir != app.WorkingDir || toJSON(t, c.SecurityContext) != toJSON(t, app.SecurityContext) {
		t.Fatalf("the app's env, working directory or user changed: %+v", c)
	}
	inits := tpl.Spec.InitContainers
	if len(inits) != 3 || inits[0].Name != "migrate" || inits[1].Name != "kindling-toolbox" || inits[2].Name != "kindling-dest" {
		t.Fatalf("init containers: %+v", inits)
	}
	toolbox, seed := inits[1], inits[2]
	if toolbox.Image != "mirror/busybox:1" || *toolbox.SecurityContext.RunAsUser != 65534 || !*toolbox.SecurityContext.RunAsNonRoot {
		t.Errorf("toolbox init container: %+v", toolbox)
	}
	if seed.Image != app.Image || seed.ImagePullPolicy != app.ImagePullPolicy || *seed.SecurityContext.RunAsUser != uid ||
		seed.Command[0] != ToolboxDir+"/sh" || !slices.Equal(seed.Command[4:], []string{"/app", seedDir, ToolboxDir}) {
		t.Errorf("seed init container: %+v", seed)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts["kindling-toolbox"] != ToolboxDir || mounts["kindling-dest"] != "/app" {
		t.Errorf("mounts: %v", mounts)
	}
	// The next session wraps it again without the toolbox: nothing of it is left.
	if err := Wrap(tpl, WrapOptions{Container: "app"}); err != nil {
		t.Fatal(err)
	}
	if len(tpl.Spec.InitContainers) != 1 || len(tpl.Spec.Containers[0].VolumeMounts) != 2 {
		t.Errorf("a wrap without toolbox or seed kept them: %+v", tpl.Spec)
	}
	if err := Wrap(tpl, WrapOptions{Container: "app", Toolbox: "mirror/busybox:1", Seed: "/app"}); err != nil {
		t.Fatal(err)
	}
	Unwrap(tpl, "app", original)
	if got, want := toJSON(t, tpl), toJSON(t, original); got != want {
		t.Fatalf("unwrapped\n got %s\nwant %s", got, want)
	}
}

// ToolboxExec runs kindling's sh commands on the toolbox's shell, with its tools first on the PATH; the
// rest as they are.
func TestToolboxExec(t *testing.T) {
	rec := &transport.RecordingExecer{Name: "pod/x/c"}
	e := ToolboxExec{rec}
	ctx := context.Background()
	_ = e.Exec(ctx, []string{"sh", "-c", "tar x", "kindling"}, nil, nil, nil)
	_ = e.Exec(ctx, []string{"/app/server", "--version"}, nil, nil, nil)
	calls := rec.Calls()
	if want := []string{ToolboxDir + "/env", "PATH=" + ToolboxDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "sh", "-c", "tar x", "kindling"}; !slices.Equal(calls[0].Argv, want) {
		t.Errorf("sh command: %q, want %q", calls[0].Argv, want)
	}
	if want := []string{"/app/server", "--version"}; !slices.Equal(calls[1].Argv, want) {
		t.Errorf("other command: %q, want %q", calls[1].Argv, want)
	}
	if e.Target() != "pod/x/c" {
		t.Errorf("target %q", e.Target())
	}
}

// The supervisor in an image without tools (--tools DIR first): it takes sleep, setsid, mkfifo, … from DIR,
// and the app it starts and restarts sees the PATH of the container, not DIR.
func TestSupervisorWithToolsKeepsTheAppsPath(t *testing.T) {
	_, tools := busyboxApplets(t)
	dir := t.TempDir()
	script, state, seen := filepath.Join(dir, "supervisor"), filepath.Join(dir, "state"), filepath.Join(dir, "path")
	if err := os.WriteFile(script, []byte(SupervisorScript()), 0o755); err != nil {
		t.Fatal(err)
	}
	app := `echo "$PATH" >>"$1"; exec "$2/sleep" 1000`
	cmd := exec.Command(tools+"/sh", script, "run", "--tools", tools, "--state-dir", state, "--",
		tools+"/sh", "-c", app, "app", seen, tools)
	cmd.Env = []string{"PATH=/image/bin"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	restart := exec.Command(tools+"/sh", script, "restart", "--state-dir", state, "--timeout", "10")
	restart.Env = []string{"PATH=" + tools}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(seen)
		if len(b) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, err := restart.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "restarted ") {
		t.Fatalf("restart: %v: %s", err, out)
	}
	// "restarted" means the new app runs; its first line may still be on its way under load.
	var got []string
	for deadline := time.Now().Add(10 * time.Second); len(got) < 2 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(seen)
		got = strings.Fields(string(b))
	}
	if len(got) != 2 || got[0] != "/image/bin" || got[1] != "/image/bin" {
		t.Fatalf("the app's PATH at its start and restart: %q, want the container's both times", got)
	}
}
