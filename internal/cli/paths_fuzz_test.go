package cli

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/build"
	"github.com/kindling-dev/kindling/internal/runtime"
)

// destAllowed is the form every directory kindling writes into must have: absolute, clean, not "/".
func destAllowed(dest string) bool {
	return path.IsAbs(dest) && path.Clean(dest) == dest && dest != "/"
}

// FuzzSyncPaths: whatever --src and --dest say, validate either refuses them as a usage error or leaves
// a --dest of the allowed form and a --src that is a directory; a --dest it accepted is accepted again
// unchanged.
func FuzzSyncPaths(f *testing.F) {
	for _, dest := range []string{"/app", "/app/", "//app//x/../y", "/", "//", "/..", "/app/..", "app", "", ".", "./app",
		"/a b/ü/\x00", "/app\n/etc", "/-rf", "\\app", "/./.", "/../../etc"} {
		f.Add("", dest)
	}
	f.Add("sub", "/srv/www")
	f.Add("file.txt", "/app")
	f.Add("../..", "/app")
	f.Add("nope", "/app")
	root := f.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "sub", "dir"), 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "file.txt"), nil, 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src, dest string) {
		o := syncOptions{connection: connection{deployment: "web"}, src: filepath.Join(root, src), dest: dest, debounce: time.Second}
		err := o.validate()
		if err != nil {
			var u usageError
			if !errors.As(err, &u) {
				t.Fatalf("--src %q --dest %q: %v is not a usage error", src, dest, err)
			}
			return
		}
		if !destAllowed(o.dest) {
			t.Fatalf("--dest %q was accepted as %q: not absolute, clean and below /", dest, o.dest)
		}
		if info, err := os.Stat(o.src); err != nil || !info.IsDir() {
			t.Fatalf("--src %q was accepted but is not a directory", o.src)
		}
		accepted := o.dest
		if err := o.validate(); err != nil || o.dest != accepted {
			t.Fatalf("--dest %q: accepted as %q, then %q (%v)", dest, accepted, o.dest, err)
		}
	})
}

// FuzzArtifactTarget: for a compiled app, the artifact lands over the running executable or in --dest; in
// either case the directory it is written into has --dest's form, and it is one name in that directory.
func FuzzArtifactTarget(f *testing.F) {
	f.Add("/app/server\x00-port\x008080", "/app", "/tmp/b/server", "")
	f.Add("", "/app", "/tmp/b/server", "")
	f.Add("/server", "/app", "server", "")
	f.Add("/app/../server", "/app", "x", "")
	f.Add("java\x00-jar\x00/srv/../app.jar", "/srv", "target/*.jar", "/tmp/b/app.jar")
	f.Add("dotnet\x00/app/x.dll", "/app", "", "")
	f.Add("", "/app", "..", "")
	f.Add("", "/a", "/", ".")
	f.Fuzz(func(t *testing.T, cmdline, dest, output, collect string) {
		if !destAllowed(dest) {
			return // validate refused it before
		}
		var running *runtime.Process
		if cmdline != "" {
			running = &runtime.Process{PID: 1, Argv: strings.Split(cmdline, "\x00")}
		}
		target, err := artifactTarget(running, dest, build.Spec{Output: output, Collect: collect})
		if err != nil {
			return
		}
		dir, name := path.Dir(target), path.Base(target)
		if !path.IsAbs(target) || path.Clean(target) != target || !destAllowed(dir) {
			t.Fatalf("artifact target %q (running %q, --dest %q, output %q, collect %q): its directory %q is not of --dest's form",
				target, cmdline, dest, output, collect, dir)
		}
		if name == "." || name == ".." || name == "/" || strings.Contains(name, "/") {
			t.Fatalf("artifact target %q: %q is not one name in %q", target, name, dir)
		}
	})
}
