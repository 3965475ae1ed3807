package plan

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestDiffLeavesUnreadablePathsAlone(t *testing.T) {
	local := Tree{
		"secret.txt": {Kind: Unreadable, Hash: "permission denied"},
		"locked":     {Kind: Unreadable, Hash: "permission denied"},
		"ok.txt":     file("new"),
	}
	remote := Tree{
		"secret.txt":    file("old secret"),
		"locked":        dir,
		"locked/inside": file("kept"),
		"ok.txt":        file("old"),
		"gone.txt":      file("gone"),
	}
	p := Diff(local, remote)
	if fmt.Sprint(p.Deletes) != "[gone.txt]" || len(p.Writes) != 1 || p.Writes[0].Path != "ok.txt" || len(p.Mkdirs) != 0 {
		t.Fatalf("Diff = %+v; want only gone.txt deleted and ok.txt written", p)
	}
	want := Tree{"secret.txt": file("old secret"), "locked": dir, "locked/inside": file("kept"), "ok.txt": file("new")}
	if d := FirstDifference(AfterApply(local, remote), want); d != "" {
		t.Fatalf("AfterApply: %s", d)
	}
}

// withUnreadable marks some of t's paths Unreadable, as a scan that could not read them finds them.
func withUnreadable(r *rand.Rand, t Tree) Tree {
	t = t.Clone()
	for _, p := range t.Paths() {
		if e, ok := t[p]; ok && r.Intn(5) == 0 {
			if e.Kind == Dir { // a directory that cannot be read shows nothing of what is inside
				for q := range t {
					if isUnder(q, p) {
						delete(t, q)
					}
				}
			}
			t[p] = Entry{Kind: Unreadable, Hash: "permission denied"}
		}
	}
	return t
}

// The invariant, over generated trees: a plan never deletes or writes a remote path at or under a local
// Unreadable one, everything else converges, and AfterApply is what the container then holds.
func TestDiffNeverTouchesUnreadableOnRandomTrees(t *testing.T) {
	for seed := int64(0); seed < 2000; seed++ {
		r := rand.New(rand.NewSource(seed))
		local, remote := withUnreadable(r, randomTree(r)), randomTree(r)
		unknown := unreadableSet(local)
		p := Diff(local, remote)
		for _, d := range p.Deletes {
			for u := range unknown {
				if isUnder(d, u) || isUnder(u, d) && remote[d].Kind == local[d].Kind {
					t.Fatalf("seed %d: deletes %s, which holds or is under unreadable %s", seed, d, u)
				}
			}
		}
		for _, w := range append(append([]Item{}, p.Writes...), p.Symlinks...) {
			if deletedAncestor(w.Path, unknown) {
				t.Fatalf("seed %d: writes %s under an unreadable path", seed, w.Path)
			}
		}
		after := apply(remote, p)
		if d := FirstDifference(after, AfterApply(local, remote)); d != "" {
			t.Fatalf("seed %d: AfterApply differs from the applied plan: %s\nlocal %v\nremote %v\nplan %+v", seed, d, local, remote, p)
		}
		for path, e := range local {
			if e.Kind != Unreadable && !deletedAncestor(path, unknown) && after[path] != e {
				t.Fatalf("seed %d: %s not synced: %v vs %v", seed, path, after[path], e)
			}
		}
	}
}

// nobody is the user the unreadable-file tests scan as (root reads everything).
const nobody = 65534

// TestScanFindsUnreadable scans, as an unprivileged user, a tree where one file and one directory are
// root's alone. The scan runs in a child process: a test binary cannot give up root and get it back.
func TestScanFindsUnreadable(t *testing.T) {
	if root := os.Getenv("KINDLING_SCAN_AS_NOBODY"); root != "" {
		printScan(t, root) // the child's part
		return
	}
	root := publicTempDir(t)
	write(t, root, "ok.txt", "fine", 0o644)
	write(t, root, "secret.txt", "root only", 0o600)
	write(t, root, "locked/inside.txt", "root only", 0o644)
	if err := os.Chmod(filepath.Join(root, "locked"), 0o700); err != nil {
		t.Fatal(err)
	}
	out := runAsNobody(t, "TestScanFindsUnreadable", root)
	want := "locked unreadable permission denied\nok.txt file \nsecret.txt unreadable permission denied\n"
	if out != want {
		t.Fatalf("scan as an unprivileged user:\n%s\nwant\n%s", out, want)
	}
}

func printScan(t *testing.T, root string) {
	tree, err := Scan(root, noExcludes)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range tree.Paths() {
		e := tree[p]
		why := ""
		if e.Kind == Unreadable {
			why = e.Hash
		}
		fmt.Fprintf(&b, "%s %s %s\n", p, e.Kind, why)
	}
	fmt.Print("<<" + b.String() + ">>")
}

// publicTempDir is a temporary directory every user can enter (t.TempDir's parent is root's alone).
func publicTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "kindling-plan-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runAsNobody runs the named test of this binary as an unprivileged user (as it is, when not root) and
// returns what it printed between << and >>.
func runAsNobody(t *testing.T, test, arg string) string {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), "KINDLING_SCAN_AS_NOBODY="+arg)
	if os.Geteuid() == 0 {
		// The test binary may sit in a directory only root can enter: give nobody a copy.
		dir := publicTempDir(t)
		copyBin := filepath.Join(dir, "plan.test")
		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(copyBin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd.Path, cmd.Args[0] = copyBin, copyBin
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s as nobody: %v\n%s", test, err, out)
	}
	s := string(out)
	i, j := strings.Index(s, "<<"), strings.LastIndex(s, ">>")
	if i < 0 || j < i {
		t.Fatalf("%s as nobody printed no result:\n%s", test, s)
	}
	return s[i+2 : j]
}
