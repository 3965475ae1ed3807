package transport

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// A staging directory whose shell was killed mid-transfer (SIGKILL: no trap ran) is removed by the next
// manifest, not an hour later: the app must not see its partial files in dest. One whose shell still runs
// (another transfer under way) stays.
func TestManifestRemovesTheStageOfAKilledTransfer(t *testing.T) {
	dest := t.TempDir()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	stages := map[string]int{".kindling-stage.dead": gone.Process.Pid, ".kindling-stage.live": os.Getpid()}
	for name, pid := range stages {
		if err := os.MkdirAll(filepath.Join(dest, name, "0"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dest, name, "0", "part.dat"), []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dest, name+".pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dest, "app.py"), []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	for tools, path := range map[string]string{"gnu": "", "busybox": busyboxPath(t, nil)} {
		sh := NewShell(&LocalExecer{Name: "pod/p/c", Path: path})
		tree, err := sh.Manifest(context.Background(), dest)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := tree["app.py"]; !ok || len(tree) != 1 {
			t.Errorf("%s: manifest %v, want app.py alone", tools, tree)
		}
	}
	for _, p := range []string{".kindling-stage.dead", ".kindling-stage.dead.pid"} {
		if _, err := os.Lstat(filepath.Join(dest, p)); err == nil {
			t.Errorf("%s is still in dest", p)
		}
	}
	for _, p := range []string{".kindling-stage.live/0/part.dat", ".kindling-stage.live.pid"} {
		if _, err := os.Lstat(filepath.Join(dest, p)); err != nil {
			t.Errorf("the live transfer's %s went: %v", p, err)
		}
	}
}
