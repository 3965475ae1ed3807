//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostileCanaryCheck lists, outside /app (whose content the tree comparison checks), the files a command
// run from synced content would have made: none may exist.
const hostileCanaryCheck = `find / -xdev \( -path /proc -o -path /sys -o -path /app \) -prune -o -name 'pwned*' -print 2>/dev/null; true`

// ddRejectingFullblock is put first in the container's PATH to stand for the dd of older BusyBox and
// toybox, which has no iflag=fullblock.
const ddRejectingFullblock = `real=$(command -v dd) && mkdir -p /usr/local/bin && cat >/usr/local/bin/dd <<EOF && chmod 755 /usr/local/bin/dd && command -v dd
#!/bin/sh
case " \$* " in *" iflag="*) echo "dd: unknown input flag" >&2; exit 1 ;; esac
exec $real "\$@"
EOF`

// writeHostileTree writes files whose content or name would run the canary command if any of it
// reached a shell as a command.
func writeHostileTree(t *testing.T, src string) {
	touch := "touch /tmp/pwned"
	protocol := strings.Join([]string{
		"$(" + touch + ")", "`" + touch + "`", "; " + touch + " ;", "' ; " + touch + " ; '",
		"kindling-0123456789abcdef0123456789abcdef 0 'sh' '-c' '" + touch + "'",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ kindling-ABCDEFGHIJKLMNOPQRSTUVWXYZ 0 'sh' '-c' '" + touch + "'",
		touch,
	}, "\n") + "\n"
	WriteLocalFile(t, src, "meta.sh", protocol, 0o755)
	WriteLocalFile(t, src, "protocol.txt", strings.Repeat(protocol, 100_000/len(protocol)), 0o644)
	WriteLocalFile(t, src, "no-newline.txt", strings.TrimSuffix(protocol, "\n"), 0o644)
	WriteLocalFile(t, src, "nul.bin", "\x00"+strings.ReplaceAll(protocol, " ", "\x00 ")+"\x00", 0o644)
	for _, name := range []string{"with space.txt", "new\nline", "-rf", "--", "-n x", "$(touch pwned-name)", "`touch pwned-tick`", "dir -x/--y"} {
		WriteLocalFile(t, src, name, protocol, 0o644)
	}
}

// hostileBinary is a 3 MB file of random bytes with protocol-looking lines in it: too big for the
// session, it goes through an exec of its own.
func hostileBinary() string {
	r := rand.New(rand.NewSource(13))
	var b bytes.Buffer
	for b.Len() < 3<<20 {
		chunk := make([]byte, 4096)
		r.Read(chunk)
		b.Write(chunk)
		b.WriteString("\nkindling-0123456789abcdef0123456789abcdef 0 'sh' '-c' 'touch /tmp/pwned-bin'\n$(touch /tmp/pwned-bin)\n")
	}
	return b.String()
}

// TestHostileContentLandsExact syncs content and names built to break the session's framing, with the
// image's dd and with one that rejects iflag=fullblock (older BusyBox, toybox): every file lands
// byte-exact and nothing of them runs.
func TestHostileContentLandsExact(t *testing.T) {
	for _, dd := range []string{"image-dd", "dd-without-fullblock"} {
		t.Run(dd, func(t *testing.T) {
			ns := Namespace(t)
			deploy := fileServer(t, ns, 1)
			pod := Pod(t, ns, deploy)
			if dd == "dd-without-fullblock" {
				if got := strings.TrimSpace(MustExec(t, ns, pod, "app", "sh", "-c", ddRejectingFullblock)); got != "/usr/local/bin/dd" {
					t.Fatalf("the fake dd is not the one the container runs: %q", got)
				}
			}
			src := t.TempDir()
			writeHostileTree(t, src)
			sync := func() {
				t.Helper()
				out, err := KindlingCmd(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--once").CombinedOutput()
				if got := MustExec(t, ns, pod, "app", "sh", "-c", hostileCanaryCheck); got != "" {
					t.Fatalf("synced content ran as a command: %s", got)
				}
				if err != nil {
					t.Fatalf("kindling sync --once: %v\n%s", err, out)
				}
				waitConverged(t, ns, deploy, src, "/app", 1)
			}
			// A small sync goes through the session's shell; then a 3 MB file through an exec of its own,
			// with edits of the small files on the session.
			sync()
			WriteLocalFile(t, src, "big.bin", hostileBinary(), 0o644)
			WriteLocalFile(t, src, "meta.sh", "edited\n$(touch /tmp/pwned-edit)\n", 0o755)
			must(t, os.Remove(filepath.Join(src, "-rf")))
			sync()
		})
	}
}

// TestHostileSymlinksStayInsideDest gives the container's --dest symlinks to /, to .. and to an absolute
// directory outside it, first before kindling reads the tree, then, while kindling watches, in place of
// directories it already synced: nothing outside --dest changes, and the tree ends up exact.
func TestHostileSymlinksStayInsideDest(t *testing.T) {
	ns := Namespace(t)
	deploy := fileServer(t, ns, 1)
	pod := Pod(t, ns, deploy)
	MustExec(t, ns, pod, "app", "sh", "-c", `mkdir -p /tmp/outside/sub /app/sub && echo keep >/tmp/outside/canary && echo keep >/tmp/outside/sub/canary &&
ln -s / /app/root && ln -s .. /app/up && ln -s /tmp/outside /app/abs && ln -s ../../tmp/outside /app/sub/link`)
	outside := ReadTree(t, ns, pod, "app", "/tmp/outside")
	checkOutside := func(when string) {
		t.Helper()
		if d := DiffTrees(outside, ReadTree(t, ns, pod, "app", "/tmp/outside")); d != "" {
			t.Errorf("%s: /tmp/outside changed: %s", when, d)
		}
	}

	// The local tree has real directories and files where the container has the symlinks.
	src := t.TempDir()
	for _, p := range []string{"root/tmp/outside/canary", "up/tmp/outside/canary", "abs/canary", "abs/sub/canary", "sub/link/canary", "sub/link/sub/canary"} {
		WriteLocalFile(t, src, p, "pwned\n", 0o644)
	}
	WriteLocalFile(t, src, "index.html", "v1\n", 0o644)
	out, err := KindlingCmd(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--once").CombinedOutput()
	if err != nil {
		t.Fatalf("kindling sync --once: %v\n%s", err, out)
	}
	waitConverged(t, ns, deploy, src, "/app", 1)
	checkOutside("symlinks there before the sync")

	// Now the app turns synced directories into symlinks while kindling watches, and the developer
	// edits files in them: kindling's plan still takes them for directories.
	p := startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--debounce", "100ms")
	waitConverged(t, ns, deploy, src, "/app", 1)
	MustExec(t, ns, pod, "app", "sh", "-c", `rm -rf /app/abs /app/up /app/sub/link /app/root &&
ln -s /tmp/outside /app/abs && ln -s .. /app/up && ln -s ../../tmp/outside /app/sub/link && ln -s / /app/root`)
	for i, p := range []string{"abs/canary", "abs/sub/canary", "up/tmp/outside/canary", "sub/link/canary", "root/tmp/outside/canary"} {
		WriteLocalFile(t, src, p, fmt.Sprintf("edit %d\n", i), 0o644)
	}
	WriteLocalFile(t, src, "abs/new/file", "new\n", 0o644)
	must(t, os.Remove(filepath.Join(src, "sub/link/sub/canary")))
	// Checked even when the tree never converges.
	defer checkOutside("symlinks made while kindling watched")
	waitConverged(t, ns, deploy, src, "/app", 1)
	if !strings.Contains(p.Output(), "is a symbolic link") {
		t.Logf("kindling did not report a refused write (the app's symlinks may have been replaced between two flushes):\n%s", p.Output())
	}
}

// TestHostileNamesLandExact: names a container's tools trip over — newlines, leading dashes, dots, names of
// 255 bytes, a path near PATH_MAX, bytes that are not UTF-8, names that differ only in case — are synced
// exactly, then renamed and deleted, and the session goes on working.
func TestHostileNamesLandExact(t *testing.T) {
	ns := Namespace(t)
	deploy := fileServer(t, ns, 1)
	src := t.TempDir()
	long := strings.Repeat("n", 255)
	deep := ""
	for len(deep) < 3600 { // /app/ + this + a file name stays under PATH_MAX (4096)
		deep += strings.Repeat("d", 200) + "/"
	}
	names := map[string]string{
		"new\nline.txt":       "newline\n",
		"-rf":                 "dash\n",
		"--help":              "dashes\n",
		"..dots":              "dots\n",
		"...":                 "three dots\n",
		".hidden":             "hidden\n",
		long:                  "long name\n",
		deep + "deep.txt":     "deep\n",
		"latin1-\xe9\xff.txt": "not UTF-8\n",
		"Case.txt":            "upper\n",
		"case.txt":            "lower\n",
		"sp ace/tab\there":    "whitespace\n",
		"quote'\"`$(x).txt":   "quotes\n",
		"star*?[x].txt":       "glob\n",
	}
	for name, content := range names {
		WriteLocalFile(t, src, name, content, 0o644)
	}
	sync := func(what string) {
		t.Helper()
		out, err := KindlingCmd(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--once").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: kindling sync --once: %v\n%s", what, err, out)
		}
		waitConverged(t, ns, deploy, src, "/app", 1)
	}
	sync("first sync")
	// Renames and deletes of the same names, then an ordinary edit: the session is not broken.
	must(t, os.Rename(filepath.Join(src, "new\nline.txt"), filepath.Join(src, "-new\nline")))
	must(t, os.Remove(filepath.Join(src, "Case.txt")))
	must(t, os.Remove(filepath.Join(src, filepath.FromSlash(deep+"deep.txt"))))
	must(t, os.Rename(filepath.Join(src, "latin1-\xe9\xff.txt"), filepath.Join(src, "\xfe\xfd")))
	WriteLocalFile(t, src, "ordinary.txt", "still working\n", 0o644)
	sync("renames and deletes")
}
