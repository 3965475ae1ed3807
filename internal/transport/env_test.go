package transport

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kindling-dev/kindling/internal/plan"
)

// The tools the scripts may run, besides sh's builtins. A test container gets exactly these, as
// symlinks in a directory that is its whole PATH, so that no other tool leaks in.
var containerTools = []string{"sh", "tar", "find", "xargs", "stat", "sha256sum", "readlink", "mkdir", "mv", "rm", "ln", "chmod", "dd", "cat", "head", "tail", "wc", "gzip"}

// container is a kind of container image the scripts must work in.
type container struct {
	name string
	// path is the PATH of the container; "" is this machine's (dash with GNU coreutils, findutils, tar).
	path string
	// session runs Shell's commands through a Session, as kindling sync does.
	session bool
}

// containers returns the images every end-to-end test runs against: this machine's GNU userland, a
// BusyBox one, and both again without tar.
func containers(t testing.TB) []container {
	return []container{
		{name: "gnu"},
		{name: "busybox", path: busyboxPath(t, nil)},
		{name: "gnu-no-tar", path: gnuPath(t, "tar")},
		{name: "busybox-no-tar", path: busyboxPath(t, []string{"tar"})},
	}
}

// withSessions adds to containers both userlands again with Shell's commands run through a Session.
func withSessions(t testing.TB, containers []container) []container {
	return append(containers,
		container{name: "gnu-session", session: true},
		container{name: "busybox-session", path: busyboxPath(t, nil), session: true})
}

// busyboxPath makes a directory of BusyBox applets, leaving out the tools in without.
func busyboxPath(t testing.TB, without []string) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("busybox is not installed; the transport tests need it to check the scripts against BusyBox: apt-get install -y busybox")
	}
	return toolDir(t, without, func(string) string { return bb })
}

// gnuPath makes a directory of this machine's tools, leaving out the tools in without.
func gnuPath(t testing.TB, without ...string) string {
	t.Helper()
	return toolDir(t, without, func(tool string) string {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s is not installed", tool)
		}
		return p
	})
}

func toolDir(t testing.TB, without []string, binary func(tool string) string) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range containerTools {
		if contains(without, tool) {
			continue
		}
		if err := os.Symlink(binary(tool), filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// newShell returns a Shell into the container, with a hash cache of its own: a test's first Manifest of a
// dest hashes every file, the next ones only what changed.
func newShell(t testing.TB, c container, opts ...Option) *Shell {
	var e Execer = &LocalExecer{Name: "pod/test/" + c.name, Path: c.path}
	if c.session {
		session := NewSession(e)
		t.Cleanup(func() { session.Close() })
		e = session
	}
	return NewShell(e, append([]Option{Cache(t.TempDir())}, opts...)...)
}

func noneExcluded(string, bool) bool { return false }

// scan reads a local tree the way the engine does.
func scan(t testing.TB, root string) plan.Tree {
	t.Helper()
	tree, err := plan.Scan(root, noneExcluded)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// leftovers lists what Apply may have left in dest besides the tree: staging directories.
func leftovers(t testing.TB, dest string) []string {
	t.Helper()
	entries, err := os.ReadDir(dest)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var stages []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".kindling-stage.") {
			stages = append(stages, e.Name())
		}
	}
	return stages
}
