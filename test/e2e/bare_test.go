//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// TestBareImage checks the bare image is what its doc says (no shell, no tar) and that ReadTreeViaDebug can
// still read a tree from it.
func TestBareImage(t *testing.T) {
	ns := Namespace(t)
	deploy := DeployApp(t, ns, SimpleDeployment("bare", BareImage, "", 0, "/idle"))
	pod := Pod(t, ns, deploy)

	for _, argv := range [][]string{{"sh", "-c", "true"}, {"tar", "--version"}, {"/bin/sh"}} {
		if _, _, err := Exec(t, ns, pod, "app", argv, nil); err == nil {
			t.Fatalf("exec %q in the bare image succeeded; it must have no shell and no tar", argv)
		}
	}
	tree := ReadTreeViaDebug(t, ns, pod, "app", "/etc")
	if !strings.HasPrefix(tree["passwd"], "file:644:") || tree["ssl"] != "dir" {
		t.Fatalf("bare /etc: unexpected tree %v", tree)
	}
	dbg := DebugContainer(t, ns, pod, "app")
	if out := MustExec(t, ns, pod, dbg, "stat", "-c", "%a %F", "/proc/1/root/idle"); out != "755 regular file\n" {
		t.Fatalf("bare /idle: %q", out)
	}
}
