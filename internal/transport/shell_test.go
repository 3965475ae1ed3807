package transport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/plan"
)

// node describes one path of a test tree: a file (with content), an executable, a dir or a symlink.
type node struct {
	kind    plan.Kind
	content string // file content, or symlink target
	exec    bool
}

func file(content string) node   { return node{kind: plan.File, content: content} }
func execFile(c string) node     { return node{kind: plan.File, content: c, exec: true} }
func dir() node                  { return node{kind: plan.Dir} }
func symlink(target string) node { return node{kind: plan.Symlink, content: target} }

// build makes root hold exactly the given paths (parents first), removing anything else.
func build(t testing.TB, root string, tree map[string]node) {
	t.Helper()
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range sortedKeys(tree) {
		put(t, filepath.Join(root, filepath.FromSlash(p)), tree[p])
	}
}

func put(t testing.TB, p string, n node) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	var err error
	switch n.kind {
	case plan.Dir:
		err = os.MkdirAll(p, 0o755)
	case plan.Symlink:
		err = os.Symlink(n.content, p)
	case plan.File:
		mode := os.FileMode(0o644)
		if n.exec {
			mode = 0o755
		}
		if err = os.WriteFile(p, []byte(n.content), mode); err == nil {
			err = os.Chmod(p, mode)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

func sha(content string) string {
	h := sha256.Sum256([]byte(content))
	return hex.EncodeToString(h[:])
}

func sortedKeys(m map[string]node) []string {
	t := plan.Tree{}
	for k := range m {
		t[k] = plan.Entry{}
	}
	return t.Paths()
}

// syncTree makes dest equal src through sh and checks it, as the engine's initial sync does.
func syncTree(t testing.TB, sh *Shell, src, dest string) (plan.Plan, Stats) {
	t.Helper()
	ctx := context.Background()
	local := scan(t, src)
	remote, err := sh.Manifest(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	p := plan.Diff(local, remote)
	stats, err := sh.Apply(ctx, dest, p, DirSource(src))
	if err != nil {
		t.Fatal(err)
	}
	after, err := sh.Manifest(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	if d := plan.FirstDifference(local, after); d != "" {
		t.Fatalf("after sync, local vs container: %s", d)
	}
	if s := leftovers(t, dest); len(s) > 0 {
		t.Fatalf("staging directories left behind: %v", s)
	}
	return p, stats
}

// funnyNames are names that break naive quoting, framing or tar.
var funnyNames = []string{
	"plain.txt", "with space", "it's", `dq"uote`, "co:lon", "new\nline", `back\slash`, `\lead`, "tab\tx",
	"cr\rx", "ends\n", "ünïcødé", "日本語", "-dash", "--", "*", "?", "[ab]", ".hidden", "..dots", "...", "$HOME",
	"`id`", "$(id)", " lead", "trail ", "a;b", "a|b", "x&y", "<>", "\xff\xfe", strings.Repeat("long", 50),
}

func TestSyncFunnyNamesAndKinds(t *testing.T) {
	for _, c := range withSessions(t, containers(t)) {
		t.Run(c.name, func(t *testing.T) {
			sh := newShell(t, c)
			src, dest := t.TempDir(), filepath.Join(t.TempDir(), "app", "dest")
			tree := map[string]node{
				"empty":                    file(""),
				"run.sh":                   execFile("#!/bin/sh\necho hi\n"),
				"deep/er/and/deeper/f.txt": file("deep"),
				"emptydir":                 dir(),
				"link":                     symlink("run.sh"),
				"abs-link":                 symlink("/etc/passwd"),
				"dangling link":            symlink("no such\nfile\n"),
				"up-link":                  symlink("../../outside"),
			}
			for i, n := range funnyNames {
				tree[n] = file(fmt.Sprintf("content %d %q", i, n))
				tree["dir "+n] = dir()
				tree["dir "+n+"/"+n] = execFile(n)
				tree["dir "+n+"/link "+n] = symlink(n)
			}
			for _, n := range []string{"emptydir", "deep"} {
				tree[n] = dir()
			}
			build(t, src, tree)
			syncTree(t, sh, src, dest)

			// Every kind of change at once: contents, exec bit, kinds swapped, renames, deletes.
			tree["empty"] = file("now full")
			tree["run.sh"] = file("#!/bin/sh\necho hi\n") // loses its exec bit
			tree["link"] = symlink("elsewhere")
			delete(tree, "deep/er/and/deeper/f.txt")
			delete(tree, "deep/er/and/deeper")
			tree["deep/er/and/deeper"] = file("was a directory")
			delete(tree, "emptydir")
			tree["emptydir"] = symlink("was a directory")
			delete(tree, "plain.txt")
			tree["plain.txt"] = dir()
			tree["plain.txt/inside"] = file("was a file")
			tree["abs-link"] = file("was a symlink")
			delete(tree, "dir with space/with space")
			tree["dir with space/renamed"] = execFile("with space")
			delete(tree, "dir new\nline")
			delete(tree, "dir new\nline/new\nline")
			delete(tree, "dir new\nline/link new\nline")
			build(t, src, tree)
			p, stats := syncTree(t, sh, src, dest)
			if stats.Written != len(p.Writes)+len(p.Symlinks) || stats.Deleted != len(p.Deletes) || stats.Bytes < p.Bytes() {
				t.Errorf("stats %+v do not match plan (%d writes, %d symlinks, %d deletes, %d bytes)",
					stats, len(p.Writes), len(p.Symlinks), len(p.Deletes), p.Bytes())
			}
			// Nothing changed: nothing to do.
			if p, _ := syncTree(t, sh, src, dest); !p.Empty() {
				t.Errorf("second sync of an unchanged tree planned %+v", p)
			}
		})
	}
}

func TestManifest(t *testing.T) {
	for _, c := range containers(t) {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			dest := t.TempDir()
			build(t, dest, map[string]node{
				"a.txt":                    file("hello"),
				"bin/tool":                 execFile("#!/bin/sh\n"),
				"node_modules/x/index.js":  file("module.exports = 1"),
				"sub/node_modules/y.js":    file("y"),
				"sub/keep.js":              file("keep"),
				".kindling-stage.old/junk": file("from an interrupted apply"),
				".kindling-stage.new/junk": file("from an apply running now"),
			})
			old := time.Now().Add(-2 * time.Hour)
			if err := os.Chtimes(filepath.Join(dest, ".kindling-stage.old"), old, old); err != nil {
				t.Fatal(err)
			}
			sh := newShell(t, c, Excluding(func(rel string, isDir bool) bool {
				return isDir && filepath.Base(rel) == "node_modules"
			}))
			got, err := sh.Manifest(ctx, dest)
			if err != nil {
				t.Fatal(err)
			}
			want := plan.Tree{
				"a.txt":       {Kind: plan.File, Size: 5, Hash: sha("hello")},
				"bin":         {Kind: plan.Dir},
				"bin/tool":    {Kind: plan.File, Exec: true, Size: 10, Hash: sha("#!/bin/sh\n")},
				"sub":         {Kind: plan.Dir},
				"sub/keep.js": {Kind: plan.File, Size: 4, Hash: sha("keep")},
			}
			if d := plan.FirstDifference(want, got); d != "" {
				t.Errorf("manifest vs expected: %s", d)
			}
			if _, err := os.Stat(filepath.Join(dest, ".kindling-stage.old")); !os.IsNotExist(err) {
				t.Errorf("a staging directory older than an hour was not removed: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dest, ".kindling-stage.new")); err != nil {
				t.Errorf("a recent staging directory was removed: %v", err)
			}

			absent, err := sh.Manifest(ctx, filepath.Join(dest, "no", "such"))
			if err != nil || len(absent) != 0 {
				t.Errorf("absent dest: got %v, %v; want an empty tree", absent, err)
			}
			_, err = sh.Manifest(ctx, filepath.Join(dest, "a.txt"))
			if err == nil || !strings.Contains(err.Error(), "pod/test/"+c.name) {
				t.Errorf("dest is a file: got %v, want an error naming the container", err)
			}
		})
	}
}

func TestManifestWithoutSha256sum(t *testing.T) {
	c := container{name: "busybox-no-sha256sum", path: busyboxPath(t, []string{"sha256sum"})}
	var warnings []string
	sh := newShell(t, c, Warn(func(w string) { warnings = append(warnings, w) }))
	src, dest := t.TempDir(), t.TempDir()
	build(t, src, map[string]node{"a": file("a"), "d/b": execFile("bb")})
	p, _ := syncTreeUnhashed(t, sh, src, dest)
	if len(p.Writes) != 2 {
		t.Errorf("first sync wrote %d files, want 2", len(p.Writes))
	}
	p, _ = syncTreeUnhashed(t, sh, src, dest)
	if len(p.Writes) != 2 {
		t.Errorf("without hashes every file must be sent again, but %d were", len(p.Writes))
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "has no sha256sum") {
		t.Errorf("warnings = %q", warnings)
	}
}

// syncTreeUnhashed syncs like syncTree, comparing everything but file hashes.
func syncTreeUnhashed(t *testing.T, sh *Shell, src, dest string) (plan.Plan, Stats) {
	t.Helper()
	ctx := context.Background()
	local := scan(t, src)
	remote, err := sh.Manifest(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	p := plan.Diff(local, remote)
	stats, err := sh.Apply(ctx, dest, p, DirSource(src))
	if err != nil {
		t.Fatal(err)
	}
	after, err := sh.Manifest(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	for path, e := range local {
		if e.Kind == plan.File {
			e.Hash = ""
			local[path] = e
		}
	}
	if d := plan.FirstDifference(local, after); d != "" {
		t.Fatalf("after sync, local vs container: %s", d)
	}
	return p, stats
}

func TestProbe(t *testing.T) {
	tests := []struct {
		name      string
		path      func(t *testing.T) string
		wantErr   error
		wantWarns []string
	}{
		{"gnu", func(*testing.T) string { return "" }, nil, nil},
		{"busybox", func(t *testing.T) string { return busyboxPath(t, nil) }, nil, nil},
		{"no tar", func(t *testing.T) string { return busyboxPath(t, []string{"tar"}) },
			nil, []string{"pod/x/c has no tar: copying files with sh and dd instead"}},
		{"no find", func(t *testing.T) string { return busyboxPath(t, []string{"find"}) },
			nil, []string{"pod/x/c has no find: kindling cannot see the files already there"}},
		{"no sh", func(t *testing.T) string { return t.TempDir() }, ErrNoShell, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh := NewShell(&LocalExecer{Name: "pod/x/c", Path: tt.path(t)})
			warns, err := sh.Probe(context.Background())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				want := "pod/x/c has no sh, which kindling needs to sync files: add --restart, and kindling brings its own (a static BusyBox from --helper-image, through an init container) and restarts the app after each sync"
				if err.Error() != want {
					t.Errorf("error = %q\nwant    %q", err, want)
				}
				return
			}
			if len(warns) != len(tt.wantWarns) {
				t.Fatalf("warnings = %q, want %d", warns, len(tt.wantWarns))
			}
			for i, w := range tt.wantWarns {
				if !strings.HasPrefix(warns[i], w) {
					t.Errorf("warning = %q, want it to start with %q", warns[i], w)
				}
			}
		})
	}
}

func TestProbeOnce(t *testing.T) {
	r := &RecordingExecer{Name: "pod/x/c"}
	sh := NewShell(r)
	ctx := context.Background()
	for range 3 {
		if _, err := sh.Manifest(ctx, "/app"); err != nil {
			t.Fatal(err)
		}
	}
	var ops []Op
	for _, c := range r.Calls() {
		ops = append(ops, c.Op)
	}
	if want := []Op{OpProbe, OpManifest, OpManifest, OpManifest}; fmt.Sprint(ops) != fmt.Sprint(want) {
		t.Errorf("ops = %v, want %v", ops, want)
	}
}

// nobody is the user the non-root tests run the container's commands as.
var nobody = &syscall.Credential{Uid: 65534, Gid: 65534}

// traversable lets nobody reach into a test's temporary directory.
func traversable(t *testing.T, dir string) {
	t.Helper()
	if dir == "" {
		return
	}
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestApplyAsNonRootUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test switches to another user and must run as root")
	}
	for _, c := range containers(t) {
		t.Run(c.name, func(t *testing.T) {
			traversable(t, c.path)
			src, root := t.TempDir(), t.TempDir()
			traversable(t, root)
			build(t, src, map[string]node{"a": file("a"), "d/x": execFile("x"), "l": symlink("a")})
			ctx := context.Background()
			sh := NewShell(&LocalExecer{Name: "pod/x/c", Path: c.path, Credential: nobody})

			// A dest nobody cannot create.
			local := scan(t, src)
			_, err := sh.Apply(ctx, filepath.Join(root, "app"), plan.Diff(local, nil), DirSource(src))
			fix := func(dest string) string {
				return "; add --restart (each new pod then gets " + dest + " as a copy its user owns), " +
					"or make it the container user's (fsGroup in the pod's securityContext, or chown in the Dockerfile)"
			}
			want := "cannot write to " + filepath.Join(root, "app") + " in pod/x/c: permission denied" + fix(filepath.Join(root, "app"))
			if !errors.Is(err, ErrNotWritable) || err.Error() != want {
				t.Fatalf("err = %v\nwant  %s", err, want)
			}
			// A dest that exists but that nobody cannot write to: the manifest says so.
			_, err = sh.Manifest(ctx, root)
			want = "cannot write to " + root + " in pod/x/c: not writable" + fix(root)
			if !errors.Is(err, ErrNotWritable) || err.Error() != want {
				t.Fatalf("manifest of a dest nobody cannot write to: err = %v\nwant  %s", err, want)
			}

			// A dest nobody owns: the files become nobody's, not root's as in the tar stream.
			dest := filepath.Join(root, "owned")
			if err := os.Mkdir(dest, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(dest, int(nobody.Uid), int(nobody.Gid)); err != nil {
				t.Fatal(err)
			}
			syncTree(t, sh, src, dest)
			info, err := os.Stat(filepath.Join(dest, "d", "x"))
			if err != nil {
				t.Fatal(err)
			}
			if st := info.Sys().(*syscall.Stat_t); st.Uid != nobody.Uid {
				t.Errorf("synced file is owned by uid %d, want %d", st.Uid, nobody.Uid)
			}
		})
	}
}

func TestApplyFailuresLeaveNoStage(t *testing.T) {
	for _, c := range containers(t) {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			sh := newShell(t, c)
			src, dest := t.TempDir(), t.TempDir()
			build(t, src, map[string]node{"a": file("aaaa"), "b": file("bbbb")})
			build(t, dest, map[string]node{"old": file("old"), "b": dir(), "b/c": file("c")})

			// The local file changed after the plan: nothing is committed.
			p := plan.Plan{Deletes: []string{"old"}, Writes: []plan.Item{{Path: "a", Entry: plan.Entry{Kind: plan.File, Size: 3}}}}
			_, err := sh.Apply(ctx, dest, p, DirSource(src))
			if !errors.Is(err, ErrSourceChanged) {
				t.Errorf("err = %v, want ErrSourceChanged", err)
			}
			if _, err := os.Stat(filepath.Join(dest, "old")); err != nil {
				t.Errorf("a failed Apply deleted a file: %v", err)
			}

			// A plan made from a stale manifest: b is a directory in the container.
			p = plan.Plan{Writes: []plan.Item{{Path: "b", Entry: scan(t, src)["b"]}}}
			_, err = sh.Apply(ctx, dest, p, DirSource(src))
			if err == nil || !strings.HasPrefix(err.Error(), "writing files to "+dest+" in pod/test/"+c.name+" failed: ") {
				t.Errorf("err = %v, want one line naming dest and the container", err)
			}
			if s := leftovers(t, dest); len(s) > 0 {
				t.Errorf("staging directories left behind: %v", s)
			}
		})
	}
}

// countingExecer counts the commands of each kind that reach a real Execer.
type countingExecer struct {
	Execer
	ops map[Op]int
	// onStdin, when set, receives each command's stdin once the command is done.
	onStdin func(op Op, stdin []byte)
}

func (c *countingExecer) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	op := OpOf(argv)
	c.ops[op]++
	if c.onStdin == nil || stdin == nil {
		return c.Execer.Exec(ctx, argv, stdin, stdout, stderr)
	}
	var seen bytes.Buffer
	err := c.Execer.Exec(ctx, argv, io.TeeReader(stdin, &seen), stdout, stderr)
	c.onStdin(op, seen.Bytes())
	return err
}

func TestApplyExecCounts(t *testing.T) {
	// 300 files whose deletion does not fit in one command line, and 70 files in 70 directories.
	long := strings.Repeat("x", 250)
	initial := map[string]node{}
	for i := range 300 {
		initial[fmt.Sprintf("%s%03d", long, i)] = file("")
	}
	for i := range 70 {
		initial[fmt.Sprintf("d%03d", i)] = dir()
		initial[fmt.Sprintf("d%03d/f", i)] = file("f")
	}
	tests := []struct {
		container string
		want      map[Op]int
	}{
		{"gnu", map[Op]int{OpApply: 1}},
		// 70 changed files in 70 directories: 70 group directories, 70 links to them and 70 files.
		{"busybox-no-tar", map[Op]int{OpFill: 210/maxFillFiles + 1, OpCommit: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.container, func(t *testing.T) {
			var c container
			for _, x := range containers(t) {
				if x.name == tt.container {
					c = x
				}
			}
			counter := &countingExecer{Execer: &LocalExecer{Name: "pod/x/c", Path: c.path}, ops: map[Op]int{}}
			sh := NewShell(counter)
			src, dest := t.TempDir(), t.TempDir()
			tree := maps.Clone(initial)
			build(t, src, tree)
			syncTree(t, sh, src, dest)
			for k := range tree {
				if strings.HasPrefix(k, long) {
					delete(tree, k)
				} else if strings.HasSuffix(k, "/f") {
					tree[k] = file("changed")
				}
			}
			build(t, src, tree)
			clear(counter.ops)
			syncTree(t, sh, src, dest)
			want := maps.Clone(tt.want)
			// Two manifests, each a listing and then a description.
			want[OpManifest], want[OpHash] = 2, 2
			want[OpDelete] = 1 // 300 × 254 bytes of deletions is more than one command line carries
			if fmt.Sprint(counter.ops) != fmt.Sprint(want) {
				t.Errorf("commands = %v, want %v", counter.ops, want)
			}
		})
	}
}
